"""`lint` proves the order of the ladder over the strategy and its compliance packs:
no path to LEGAL_REVIEW without a delivered FINAL_NOTICE first, and no FINAL_NOTICE
before any contact reached the debtor (engine/authoring/lint_steps.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.authoring.cli import main as cli_main
from engine.authoring.lint import Finding, lint_files, lint_policy
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.registry import build_engine
from tests.conftest import AS_OF, REPO, snapshot, write_policy

LEGAL = "legal-without-final-notice"
FIRST = "final-notice-without-contact"
LEGAL_RULE = "legal-review-after-broken-promises"
FN_FACT = "history.final_notice.days_since_delivered"


def only(findings: list[Finding], code: str) -> list[Finding]:
    return [finding for finding in findings if finding.code == code]


def shipped_copy(tmp_path: Path, without: tuple[str, ...] = ("first-steps",)) -> Path:
    """The shipped rules in tmp_path/rules, without the named compliance packs."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    for name in without:
        shutil.rmtree(rules / "compliance" / name)
    return rules


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def write_pack(rules: Path, name: str, countries: str, body: str) -> Path:
    folder = rules / "compliance" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(f'policy: {name}\nversion: "1"\nkind: compliance\napplies_to:\n  countries: {countries}\nrules:\n{body}', encoding="utf-8")
    return path


def requirement(rule_id: str = "final-notice-first", when: str = "{}", delivered: str = "{actions: [FINAL_NOTICE]}") -> str:
    return (
        f"  - id: {rule_id}\n    when: {when}\n    requires:\n      actions: [LEGAL_REVIEW]\n      delivered: {delivered}\n"
        "      instead: {action: FINAL_NOTICE, channel: [letter], template: final-notice}\n    reason: x\n"
    )


STRATEGY = """
policy: p
version: "1"
rules:
  - id: legal
    priority: 20
    when: {days_past_due: {gte: 121}}
    then: {action: LEGAL_REVIEW}
    reason: x
  - id: rest
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
"""  # `legal` starts on line 4


def small(tmp_path: Path, strategy: str = STRATEGY) -> Path:
    write_policy(tmp_path, strategy, name="p.yaml")
    return tmp_path


# --- the shipped rules -------------------------------------------------------------------------


def test_the_shipped_rules_keep_the_ladder_and_first_steps_is_what_proves_it() -> None:
    findings = lint_files(REPO / "rules")
    assert only(findings, LEGAL) == only(findings, FIRST) == [] and not only(findings, "too-complex")
    policy = load_strategy(REPO / "rules" / "strategies")
    packs = load_packs(REPO / "rules" / "compliance")
    without = [pack for pack in packs if pack.name != "first-steps"]
    assert [finding.rule_id for finding in only(lint_policy(policy, without), LEGAL)] == [LEGAL_RULE]


def test_without_first_steps_the_legal_rule_is_an_error_at_its_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = shipped_copy(tmp_path)
    strategy = rules / "strategies" / "default.yaml"
    [finding] = only(lint_files(rules), LEGAL)
    assert (finding.file, finding.line, finding.rule_id, finding.severity) == (str(strategy), line_of(strategy, f"- id: {LEGAL_RULE}"), LEGAL_RULE, "error")
    # The pl pack still requires its pre-suit demand: every other country lacks it.
    assert "can decide LEGAL_REVIEW when no FINAL_NOTICE has reached the debtor, in every country except PL:" in finding.message
    assert f"{FN_FACT}: {{gte: 14}}" in finding.message
    assert cli_main(["lint", "--rules", str(rules)]) == 1
    assert f"default.yaml:{finding.line}: error [{LEGAL}] {LEGAL_RULE}:" in capsys.readouterr().out
    # The engine agrees: a British case nobody ever reached goes to legal review (with first-steps: a first notice).
    case = snapshot(country="GB", time_zone="Europe/London", currency="GBP", amount_due="5000.00", days_past_due=200, payment={"broken_promises": 3})
    assert build_engine(rules).decide(case, AS_OF).action == "LEGAL_REVIEW"
    assert build_engine(REPO / "rules").decide(case, AS_OF).action == "SEND_REMINDER"


def test_requiring_the_final_notice_in_the_rules_own_when_silences_it(tmp_path: Path) -> None:
    rules = shipped_copy(tmp_path)
    strategy = rules / "strategies" / "default.yaml"
    assert [finding.rule_id for finding in only(lint_files(rules), LEGAL)] == [LEGAL_RULE]
    text = strategy.read_text(encoding="utf-8")
    anchor = "      days_past_due: {gte: 121}\n      amount_due: {gte: {PLN: 1000, EUR: 400, GBP: 350, USD: 500}}\n      any:\n        - broken_promises: {gte: 2}"
    assert text.count(anchor) == 1
    strategy.write_text(text.replace(anchor, f"      {FN_FACT}: {{gte: 14}}\n" + anchor), encoding="utf-8")
    findings = lint_files(rules)
    assert only(findings, LEGAL) == [] and not only(findings, "too-complex")


def test_a_final_notice_required_on_one_branch_only_is_not_enough(tmp_path: Path) -> None:
    strategy = STRATEGY.replace(
        "when: {days_past_due: {gte: 121}}", f"when: {{any: [{{{FN_FACT}: {{exists: true}}}}, {{broken_promises: {{gte: 5}}}}]}}"
    )
    [finding] = only(lint_files(small(tmp_path, strategy)), LEGAL)
    assert (finding.line, finding.rule_id) == (4, "legal") and "in every country" in finding.message
    assert "broken_promises at least 5" in finding.message
    small(tmp_path, strategy.replace("any:", "all:"))
    assert only(lint_files(tmp_path), LEGAL) == []


# --- per jurisdiction ----------------------------------------------------------------------------


def test_a_pack_that_covers_only_pl_still_reports_every_other_country(tmp_path: Path) -> None:
    rules = small(tmp_path)
    write_pack(rules, "pl-only", "[PL]", requirement())
    [finding] = only(lint_files(rules), LEGAL)
    assert "in every country except PL:" in finding.message and "country is not PL" in finding.message
    write_pack(rules, "gb-only", "[GB]", requirement())
    [finding] = only(lint_files(rules), LEGAL)
    assert "in every country except GB, PL:" in finding.message
    write_pack(rules, "everywhere", '"*"', requirement())
    assert only(lint_files(rules), LEGAL) == []


def test_packs_whose_countries_cover_every_country_the_rule_matches_prove_it(tmp_path: Path) -> None:
    strategy = STRATEGY.replace("when: {days_past_due: {gte: 121}}", "when: {days_past_due: {gte: 121}, country: {in: [PL, GB]}}")
    rules = small(tmp_path, strategy)
    write_pack(rules, "pl-only", "[PL]", requirement())
    [finding] = only(lint_files(rules), LEGAL)
    assert "in GB:" in finding.message
    write_pack(rules, "gb-only", "[GB]", requirement())
    assert only(lint_files(rules), LEGAL) == []


def test_a_requirement_whose_when_does_not_always_hold_covers_only_its_cases(tmp_path: Path) -> None:
    rules = small(tmp_path)
    write_pack(rules, "everywhere", '"*"', requirement(when="{segment: retail}"))
    [finding] = only(lint_files(rules), LEGAL)
    assert "in every country:" in finding.message and "segment is not retail" in finding.message
    # A `when` the rule's own condition always meets covers it.
    write_pack(rules, "everywhere", '"*"', requirement(when="{days_past_due: {gte: 90}}"))
    assert only(lint_files(rules), LEGAL) == []


def test_a_region_pack_covers_only_its_region(tmp_path: Path) -> None:
    rules = small(tmp_path)
    path = write_pack(rules, "us-ma-only", "[US]", requirement())
    path.write_text(path.read_text(encoding="utf-8").replace("  countries: [US]\n", "  countries: [US]\n  regions: [MA]\n"), encoding="utf-8")
    [finding] = only(lint_files(rules), LEGAL)
    assert "in every country:" in finding.message


@pytest.mark.parametrize("delivered", ["{actions: [FINAL_NOTICE, SEND_REMINDER]}", "{templates: [final-notice]}", "{actions: [FINAL_NOTICE], templates: [x]}", "{}"])
def test_only_a_requirement_met_by_a_final_notice_alone_counts(tmp_path: Path, delivered: str) -> None:
    rules = small(tmp_path)
    write_pack(rules, "everywhere", '"*"', requirement(delivered=delivered))
    assert [finding.rule_id for finding in only(lint_files(rules), LEGAL)] == ["legal"]


# --- other paths to the steps --------------------------------------------------------------------


def test_a_final_notice_before_any_contact_is_a_warning_on_every_path(tmp_path: Path) -> None:
    rules = shipped_copy(tmp_path)
    strategy, pl = rules / "strategies" / "default.yaml", rules / "compliance" / "pl" / "pl.yaml"
    found = {(finding.file, finding.line, finding.rule_id, finding.severity) for finding in only(lint_files(rules), FIRST)}
    assert found == {
        (str(strategy), line_of(strategy, "- id: final-notice"), "final-notice", "warning"),
        (str(strategy), line_of(strategy, "- id: broken-promises-early-final-notice"), "broken-promises-early-final-notice", "warning"),
        # The pre-suit demand the pl pack sends in place of a legal review, when no contact came first.
        (str(pl), line_of(pl, "- id: pre-suit-demand-before-legal-action"), "pl/pre-suit-demand-before-legal-action", "warning"),
    }
    [instead] = [finding for finding in only(lint_files(rules), FIRST) if finding.file == str(pl)]
    assert f"takes FINAL_NOTICE in place of `{LEGAL_RULE}`" in instead.message and "in PL:" in instead.message


def test_a_pack_that_routes_or_replaces_to_legal_review_is_a_path_no_requirement_guards(tmp_path: Path) -> None:
    strategy = STRATEGY.replace("action: LEGAL_REVIEW", "action: HUMAN_REVIEW")
    rules = small(tmp_path, strategy)
    route = "  - id: to-legal\n    when: {legal.vulnerable: true}\n    route: LEGAL_REVIEW\n    reason: x\n"
    replace = "  - id: review-is-legal\n    replace: {actions: [HUMAN_REVIEW], with: LEGAL_REVIEW}\n    reason: x\n"
    path = write_pack(rules, "odd", '"*"', route + replace + requirement())  # the requirement is never checked on them
    found = {(finding.line, finding.rule_id, finding.severity) for finding in only(lint_files(rules), LEGAL)}
    assert found == {(line_of(path, "- id: to-legal"), "odd/to-legal", "error"), (line_of(path, "- id: review-is-legal"), "odd/review-is-legal", "error")}
    route = route.replace("{legal.vulnerable: true}", f"{{legal.vulnerable: true, {FN_FACT}: {{exists: true}}}}")
    write_pack(rules, "odd", '"*"', route + requirement())
    assert only(lint_files(rules), LEGAL) == []


def test_a_requirement_lint_cannot_analyse_gives_a_note_never_a_pass(tmp_path: Path) -> None:
    rules = small(tmp_path)
    write_pack(rules, "everywhere", '"*"', requirement(when='{attributes.book: {matches: "a.*"}}'))
    findings = lint_files(rules)
    assert only(findings, LEGAL) == []
    [note] = [finding for finding in only(findings, "too-complex") if finding.rule_id == "legal"]
    assert note.severity == "info" and "could not prove" in note.message


# --- what lint reads -----------------------------------------------------------------------------


def test_a_strategies_directory_alone_says_the_ladder_was_not_checked(tmp_path: Path) -> None:
    rules = small(tmp_path)
    [note] = only(lint_files(rules / "strategies"), "not-checked")
    assert note.severity == "info" and "`legal`" in note.message
    assert only(lint_files(rules / "strategies"), LEGAL) == []


def test_a_pack_that_does_not_load_is_a_load_error_at_its_line(tmp_path: Path) -> None:
    rules = small(tmp_path)
    path = write_pack(rules, "broken", '"*"', requirement().replace("delivered:", "deliverd:"))
    [problem] = only(lint_files(rules), "load")
    assert problem.file == str(path) and problem.severity == "error" and "deliverd" in problem.message


def test_a_legal_review_the_packs_wait_for_is_still_proved(tmp_path: Path) -> None:
    """The pl pack waits 14 days after the demand; a requirement with days_before counts too."""
    rules = small(tmp_path)
    assert [finding.rule_id for finding in only(lint_files(rules), LEGAL)] == ["legal"]
    body = requirement().replace("      delivered:", "      days_before: 14\n      delivered:")
    write_pack(rules, "everywhere", '"*"', body)
    assert only(lint_files(rules), LEGAL) == []


def test_past_its_bound_on_paths_the_check_says_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.authoring.lint_steps as lint_steps

    rules = shipped_copy(tmp_path, without=())
    rule_count = len(load_strategy(rules / "strategies").rules)
    monkeypatch.setattr(lint_steps, "MAX_PATHS", rule_count + 1)  # the strategy's rules, then one `instead` step: the others are past it
    notes = [finding for finding in only(lint_files(rules), "too-complex") if "paths through the compliance packs" in finding.message]
    assert [(note.severity, note.line, note.rule_id) for note in notes] == [("info", 1, None)]

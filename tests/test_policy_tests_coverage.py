"""`collection-strategy test` as a CI pipeline and a compliance officer use it:
paths as arguments, `-k`, `--coverage` with `--fail-under`, and the shipped
packs' tests beside them (engine/authoring/policy_tests.py, policy_coverage.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.authoring.cli import main
from engine.authoring.policy_tests import run_policy_tests
from engine.registry import COMPLIANCE_DIR
from tests.conftest import REPO, write_policy

POLICY = """
    policy: tiny
    version: "1"
    offer_limits:
      - id: short-plans
        instalments_max: 6
        reason: Short plans only.
    rules:
      - id: remind
        priority: 10
        when: {days_past_due: {between: [0, 30]}}
        then: {action: SEND_REMINDER, channel: [sms, email]}
        reason: Overdue.
      - id: plan
        priority: 8
        when: {days_past_due: {gt: 30}}
        then: {action: OFFER_PAYMENT_PLAN, channel: email, offer: {instalments: [2, 12]}}
        reason: A plan.
      - id: wait
        priority: 5
        when: {}
        then: {action: NO_CONTACT}
        reason: Nothing to do.
    """

PACK = """
    policy: pl
    version: "1"
    kind: compliance
    applies_to: {countries: [PL]}
    contact_hours:
      - id: hours
        opens: "08:00"
        closes: "20:00"
        closed_weekdays: [sun]
        closed_on_public_holidays: true
        reason: Working hours.
    caps:
      - id: sms-cap
        channels: [sms]
        max: 1
        period_days: 7
        reason: One text a week.
    rules:
      - id: no-sms-on-day-six
        when: {days_past_due: 6}
        block: {channels: [sms]}
        reason: Not on day six.
      - id: business-to-review
        when: {segment: business}
        route: HUMAN_REVIEW
        reason: A person handles businesses.
    """

TESTS = """
    as_of: "2026-11-24T10:00:00+01:00"
    defaults:
      country: PL
      time_zone: Europe/Warsaw
      amount_due: "100.00"
      currency: PLN
      segment: retail
      consents: {sms: true, email: true}
    tests:
      - name: An overdue case gets a TEXT
        case: {days_past_due: 5}
        expect: {action: SEND_REMINDER, channel: sms}
      - name: on day six an email
        case: {days_past_due: 6}
        expect: {action: SEND_REMINDER, channel: email}
    """


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    write_policy(tmp_path, POLICY)
    write(tmp_path / "compliance" / "pl" / "pl.yaml", PACK)
    write(tmp_path / "compliance" / "pl" / "tests" / "pl.yaml", TESTS)
    return tmp_path


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_coverage_lists_the_rules_no_test_reaches_with_file_and_line(rules: Path) -> None:
    report = run_policy_tests(rules, coverage=True)
    assert report.ok and report.coverage is not None
    missed = {site.id: (site.kind, site.file, site.line) for site in report.coverage.missed}
    strategy, pack = rules / "strategies" / "policy.yaml", rules / "compliance" / "pl" / "pl.yaml"
    # Reached: `remind` fired, the hours shaped the window, the day-six rule vetoed the text.
    assert missed == {
        "plan": ("rules", str(strategy), line_of(strategy, "id: plan")),
        "tiny/short-plans": ("offer_limits", str(strategy), line_of(strategy, "id: short-plans")),
        "pl/sms-cap": ("caps", str(pack), line_of(pack, "id: sms-cap")),
        "pl/business-to-review": ("rules", str(pack), line_of(pack, "id: business-to-review")),
    }
    assert report.coverage.percent == pytest.approx(100 * 4 / 8)


def test_a_cap_an_offer_limit_and_a_route_are_reached_when_they_take_part(rules: Path) -> None:
    write(rules / "compliance" / "pl" / "tests" / "more.yaml", TESTS.replace("tests:", """tests:
      - name: a second text in a week waits
        case:
          days_past_due: 5
          consents: {email: false}
          prior_contacts: [{channel: sms, outcome: delivered, action: SEND_REMINDER, at: "2026-11-20T10:00:00+01:00"}]
        expect: {action: SEND_REMINDER, channel: sms}
      - name: a long plan is shortened
        case: {days_past_due: 45}
        expect: {action: OFFER_PAYMENT_PLAN, offer: {instalments: [2, 6]}}
      - name: a business goes to a person
        case: {days_past_due: 45, segment: business}
        expect: {action: HUMAN_REVIEW}
    """).split("      - name: An overdue")[0])
    report = run_policy_tests(rules, coverage=True)
    assert report.ok, [result.diff for result in report.results]
    assert report.coverage is not None and report.coverage.missed == ()


def test_fail_under_fails_the_run_below_the_share_of_rules_reached(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(rules), "--coverage", "--fail-under", "50"]) == 0
    out = capsys.readouterr().out
    assert f"{rules / 'compliance' / 'pl' / 'pl.yaml'}:{line_of(rules / 'compliance' / 'pl' / 'pl.yaml', 'id: sms-cap')}: pl/sms-cap (caps) is reached by no policy test" in out
    assert "coverage: 4 of 8 rules reached by a policy test (50.0%)" in out
    assert main(["test", str(rules), "--fail-under", "51"]) == 1  # --fail-under implies --coverage
    assert "coverage 50.0% is below --fail-under 51%" in capsys.readouterr().err


def test_k_selects_tests_by_name_ignoring_case(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(rules), "-k", "text"]) == 0
    out = capsys.readouterr().out
    assert "An overdue case gets a TEXT" in out and "day six" not in out
    assert out.rstrip().endswith("1 passed, 0 failed, 1 deselected")


def test_paths_are_arguments_and_a_folder_inside_the_rules_runs_only_its_tests(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(rules / "strategies" / "tests" / "strategy.yaml", TESTS.replace("An overdue case gets a TEXT", "strategy test"))
    assert main(["test", str(rules)]) == 0
    assert "4 passed" in capsys.readouterr().out
    assert main(["test", "--rules", str(rules)]) == 0  # the alias
    assert "4 passed" in capsys.readouterr().out
    assert main(["test", str(rules / "compliance" / "pl")]) == 0  # a pack's folder: its tests, with the whole rules' engine
    out = capsys.readouterr().out
    assert "2 passed" in out and "strategy test" not in out
    assert main(["test", str(rules / "strategies" / "tests" / "strategy.yaml")]) == 0
    assert "2 passed" in capsys.readouterr().out


def test_two_different_rules_directories_are_a_usage_error(rules: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_policy(other, POLICY)
    assert main(["test", str(rules), "--rules", str(rules)]) == 0  # the same one twice is fine
    with pytest.raises(SystemExit) as usage:
        main(["test", str(rules), "--rules", str(other)])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as missing:
        main(["test", str(rules / "no-such-folder")])
    assert missing.value.code == 2


def test_every_shipped_pack_has_its_policy_tests_beside_it() -> None:
    packs = sorted(path for path in (REPO / "rules" / COMPLIANCE_DIR).iterdir() if path.is_dir())
    assert packs
    assert [pack.name for pack in packs if not list((pack / "tests").glob("*.yaml"))] == []


def test_every_shipped_rule_is_reached_by_a_policy_test() -> None:
    report = run_policy_tests(REPO / "rules", coverage=True)
    assert report.ok
    assert report.coverage is not None
    assert [f"{site.file}:{site.line} {site.id}" for site in report.coverage.missed] == []

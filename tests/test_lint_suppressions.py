"""A deliberate lint finding silenced next to its rule (`lint_ignore: {code: reason}`),
listed with its reason by `lint --show-ignored`; errors cannot be silenced."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from engine.authoring import lint_money, lint_steps
from engine.authoring.cli import main as cli_main
from engine.authoring.lint import Finding, files_report, lint_files
from engine.authoring.lint_suppressions import apply_ignores
from engine.errors import PolicyError
from engine.matching.durable_form import ruleset_definition
from engine.policy.ir import ALWAYS, Policy, Rule, Source
from engine.policy.loader import load_strategy
from engine.policy.model import IGNORABLE_FINDINGS
from engine.vocabulary import Action
from tests.conftest import REPO, write_policy

POLICY = """
policy: p
version: "1"
rules:
  - id: broad
    priority: 100
    when: {days_past_due: {gte: 0}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: fallback
    priority: 10
    when: {days_past_due: {gte: 30}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: rest
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
"""  # `fallback` starts on line 9, its last key (reason) is on line 13
FALLBACK_LINE = 9
REASON = "the email fallback when the guardrails veto sms"


def with_ignores(ignores: str, rule: str = "fallback") -> str:
    """POLICY with `ignores` (the lines under `lint_ignore:`) added to `rule`, from line 14 on."""
    head, tail = POLICY.split(f"  - id: {rule}\n")
    body, *rest = tail.split("  - id: ", 1)
    block = "    lint_ignore:\n" + "".join(f"      {line}\n" for line in ignores.strip().splitlines())
    return head + f"  - id: {rule}\n" + body + block + ("  - id: " + rest[0] if rest else "")


def problems(tmp_path: Path, text: str) -> list[tuple[int, str]]:
    write_policy(tmp_path, text, name="p.yaml")
    with pytest.raises(PolicyError) as refused:
        load_strategy(tmp_path / "strategies")
    return [(problem.line, problem.message) for problem in refused.value.problems]


def test_a_shadowed_rule_silenced_with_a_reason_leaves_the_findings_and_shows_with_show_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_policy(tmp_path, POLICY, name="p.yaml")
    [shadowed] = [finding for finding in lint_files(tmp_path) if finding.code == "shadowed"]
    assert (shadowed.rule_id, shadowed.line) == ("fallback", FALLBACK_LINE)

    write_policy(tmp_path, with_ignores(f"shadowed: {REASON}"), name="p.yaml")
    report = files_report(tmp_path)
    assert [finding for finding in report.findings if finding.rule_id == "fallback"] == []
    [ignored] = report.ignored
    assert (ignored.finding.code, ignored.finding.rule_id, ignored.finding.line, ignored.reason) == ("shadowed", "fallback", FALLBACK_LINE, REASON)

    assert cli_main(["lint", "--rules", str(tmp_path), "--strict"]) == 0  # the only warning was the silenced one
    out = capsys.readouterr().out
    assert "[shadowed]" not in out and "1 ignored (--show-ignored lists them)" in out
    cli_main(["lint", "--rules", str(tmp_path), "--show-ignored"])
    [line] = [line for line in capsys.readouterr().out.splitlines() if "[shadowed]" in line]
    assert line.startswith(f"{tmp_path / 'strategies' / 'p.yaml'}:{FALLBACK_LINE}: ignored warning [shadowed] fallback: is never chosen")
    assert line.endswith(f"(ignored because: {REASON})")


@pytest.mark.parametrize("reason", ["", '""', '"   "'])
def test_an_ignore_without_a_reason_is_refused_at_its_line(tmp_path: Path, reason: str) -> None:
    [(line, message)] = problems(tmp_path, with_ignores(f"shadowed: {reason}"))
    assert line == 15 and message.startswith("lint_ignore.shadowed:") and "needs its reason" in message


def test_an_unknown_code_is_refused_at_its_line_naming_the_codes_a_rule_may_ignore(tmp_path: Path) -> None:
    [(line, message)] = problems(tmp_path, with_ignores(f"shadowd: {REASON}"))
    assert line == 15 and "did you mean `shadowed`?" in message
    assert f"a rule may ignore {', '.join(IGNORABLE_FINDINGS)}" in message
    [(line, message)] = problems(tmp_path, with_ignores(f"gaps: {REASON}"))  # names no rule: nothing to sit on
    assert line == 15 and "not a lint finding a rule may ignore" in message


def test_an_ignore_of_a_pack_rule_is_checked_the_same_way(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY, name="p.yaml")
    pack = tmp_path / "compliance" / "pl" / "pl.yaml"
    pack.parent.mkdir(parents=True)
    pack.write_text(
        'policy: pl\nversion: "1"\nkind: compliance\napplies_to: {countries: [PL]}\nrules:\n'
        "  - id: big\n    when: {amount_due: {gte: 1000}}\n    block: {channels: [sms]}\n    reason: x\n    lint_ignore:\n      shadowed:\n",
        encoding="utf-8",
    )
    [load] = [finding for finding in lint_files(tmp_path) if finding.code == "load"]
    assert (load.file, load.line, load.severity) == (str(pack), 11, "error") and "needs its reason" in load.message
    pack.write_text(pack.read_text(encoding="utf-8").replace("shadowed:", "money-without-currency: every case of this pack is in PLN"), encoding="utf-8")
    report = files_report(tmp_path)
    assert [item.finding.rule_id for item in report.ignored] == ["pl/big"]
    assert [finding for finding in report.findings if finding.rule_id == "pl/big"] == []


def test_an_ignore_nothing_uses_is_a_warning(tmp_path: Path) -> None:
    write_policy(tmp_path, with_ignores(f"shadowed: {REASON}\noverlap-same-priority: nothing ties", rule="broad"), name="p.yaml")
    report = files_report(tmp_path)
    unused = [(finding.line, finding.rule_id, finding.severity) for finding in report.findings if finding.code == "unused-ignore"]
    assert unused == [(4, "broad", "warning"), (4, "broad", "warning")]
    assert [finding.code for finding in report.findings if finding.rule_id == "fallback"] == ["shadowed"]  # still reported on its own rule


def test_an_ignore_of_a_check_lint_did_not_run_is_not_called_unused(tmp_path: Path) -> None:
    # Linting a strategies directory alone does not follow the ladder through the packs.
    write_policy(tmp_path, with_ignores("final-notice-without-contact: the first notice is sent by the dialler", rule="broad"), name="p.yaml")
    assert [finding for finding in lint_files(tmp_path / "strategies") if finding.code == "unused-ignore"] == []
    assert [finding.rule_id for finding in lint_files(tmp_path) if finding.code == "unused-ignore"] == ["broad"]


def test_an_error_cannot_be_silenced(tmp_path: Path) -> None:
    # Chosen: lint refuses a policy with an error (acceptance, reload), so an analyst may not hide one.
    [(line, message)] = problems(tmp_path, with_ignores("never-fires: we know"))
    assert line == 15 and "an error (the rule can never match a case) cannot be ignored" in message
    # A rule built without the loader that still names an error code keeps its error.
    source = Source("p.yaml", 4)
    rule = Rule("r", 1, ALWAYS, Action.HUMAN_REVIEW, (), {"en": "x"}, source, lint_ignore=(("never-fires", "we know"),))
    error = Finding("error", "p.yaml", 4, "r", "never-fires", "can never match any case")
    report = apply_ignores([error], Policy("p", "1", (rule,), "h"), None)
    assert error in report.findings and report.ignored == []


def test_every_code_lint_reports_is_either_ignorable_or_deliberately_not() -> None:
    # Not ignorable: errors (the policy is refused), findings that name no rule, and the silence's own warning.
    not_ignorable = {"never-fires", "legal-without-final-notice", "effective-empty", "gaps", "not-checked", "load", "unused-ignore"}
    not_ignorable |= {"input-out-of-range", "input-unused"}  # an error; a finding about a declaration, not a rule
    sources = "".join(path.read_text(encoding="utf-8") for path in (REPO / "engine" / "authoring").glob("lint*.py"))
    # The first text after a severity in a call, e.g. Finding("warning", file, 1, None, "gaps", line).
    emitted = set(re.findall(r'"(?:info|warning|error)",[^\n"]*"([a-z][a-z-]*)"', sources)) - {"info", "warning", "error"}
    emitted |= {lint_money.CODE, *(order.code for order in lint_steps.ORDERS)}
    assert {"shadowed", "gaps", "too-complex", "effective-overlap"} <= emitted  # the pattern still finds them
    assert emitted <= set(IGNORABLE_FINDINGS) | not_ignorable
    assert not set(IGNORABLE_FINDINGS) & not_ignorable
    assert {order.code for order in lint_steps.ORDERS if order.severity == "error"} <= not_ignorable


def test_the_schema_completes_the_codes_and_asks_for_a_reason() -> None:
    schema = json.loads((REPO / "rules" / "schema" / "policy.schema.json").read_text(encoding="utf-8"))
    policy = {"policy": "p", "version": "1", "rules": [{"id": "a", "priority": 1, "then": {"action": "HUMAN_REVIEW"}, "reason": "x", "lint_ignore": {"shadowed": REASON}}]}
    jsonschema.validate(policy, schema)
    for wrong in ({"shadowd": REASON}, {"shadowed": ""}, {"never-fires": REASON}):
        policy["rules"][0]["lint_ignore"] = wrong  # type: ignore[index]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(policy, schema)


def test_the_ignores_reach_neither_the_compiled_rules_nor_the_shipped_rules_findings(tmp_path: Path) -> None:
    write_policy(tmp_path / "plain", POLICY, name="p.yaml")
    write_policy(tmp_path / "silenced", with_ignores(f"shadowed: {REASON}"), name="p.yaml")
    plain, silenced = (load_strategy(tmp_path / name / "strategies") for name in ("plain", "silenced"))
    assert silenced.rules[1].lint_ignore == (("shadowed", REASON),)
    assert json.dumps(ruleset_definition(plain.rules), sort_keys=True) == json.dumps(ruleset_definition(silenced.rules), sort_keys=True)
    assert [replace(rule, source=Source("", 0)) for rule in plain.rules] == [replace(rule, source=Source("", 0)) for rule in silenced.rules]  # no decision changes
    # The shipped rules silence nothing: `lint rules/` reports as before.
    assert "lint_ignore" not in "".join(path.read_text(encoding="utf-8") for path in (REPO / "rules").rglob("*.yaml"))
    report = files_report(REPO / "rules")
    assert report.ignored == [] and report.findings == lint_files(REPO / "rules") == []

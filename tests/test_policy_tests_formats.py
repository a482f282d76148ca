"""`collection-strategy test --format json|junit|sarif|github`: failures on the
test's line, unreached rules on the rule's line (engine/authoring/policy_test_formats.py)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jsonschema
import pytest

from engine.authoring.cli import main
from tests.conftest import REPO, write_policy

POLICY = """
    policy: tiny
    version: "1"
    rules:
      - id: remind
        priority: 10
        when: {days_past_due: {gte: 0}}
        then: {action: SEND_REMINDER, channel: [email]}
        reason: Overdue.
      - id: never
        priority: 5
        when: {days_past_due: {lt: -100}}
        then: {action: NO_CONTACT}
        reason: Never.
    """

TESTS = """
    as_of: "2026-11-24T10:00:00+01:00"
    defaults: {country: PL, time_zone: Europe/Warsaw, amount_due: "100.00", currency: PLN, segment: retail, consents: {email: true}}
    tests:
      - name: an overdue case gets an email
        case: {days_past_due: 5}
        expect: {action: SEND_REMINDER}
      - name: wrong on purpose
        case: {days_past_due: 5}
        expect: {action: CALL}
    """

SARIF_SCHEMA = REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    write_policy(tmp_path, POLICY)
    tests = tmp_path / "strategies" / "tests" / "tiny.yaml"
    tests.parent.mkdir()
    tests.write_text(textwrap.dedent(TESTS).lstrip(), encoding="utf-8")
    return tmp_path


def test_github_annotates_the_failing_test_and_the_unreached_rule_on_their_lines(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(rules), "--coverage", "--format", "github"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    tests, policy = rules / "strategies" / "tests" / "tiny.yaml", rules / "strategies" / "policy.yaml"
    assert lines[0].startswith(f"::error file={tests},line=7,title=[test-failed] wrong on purpose::action: expected CALL, got SEND_REMINDER")
    assert lines[1] == f"::warning file={policy},line=9,title=[uncovered] never::never (rules) is reached by no policy test"
    assert len(lines) == 2  # the passing test needs nobody's eye
    assert "1 passed, 1 failed; 50.0% of the rules reached" in captured.err


def test_junit_lists_passing_tests_and_sarif_is_valid(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(rules), "--format", "junit"]) == 1
    suite = ElementTree.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert main(["test", str(rules), "--fail-under", "60", "--format", "sarif"]) == 1
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    assert [result["ruleId"] for result in document["runs"][0]["results"]] == ["test-failed", "uncovered", "coverage"]


def test_rules_that_do_not_load_are_annotated_on_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write_policy(tmp_path, POLICY.replace("action: NO_CONTACT", "action: CALLL"))
    assert main(["test", str(tmp_path), "--format", "github"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"::error file={policy},line=12,col=")
    assert "[load] never::then.action: `CALLL`" in captured.out
    assert "the rules were not loaded" in captured.err

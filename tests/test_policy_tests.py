"""Policy tests: YAML scenarios analysts write beside their policies (engine/authoring/policy_tests.py)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from engine.authoring import policy_tests
from engine.errors import PolicyError
from engine.authoring.policy_tests import discover, format_report, load_test_file, run_policy_tests
from tests.conftest import REPO, write_policy

TINY_POLICY = """
    policy: tiny
    version: "1"
    rules:
      - id: remind
        priority: 10
        when: {days_past_due: {gte: 0}}
        then: {action: SEND_REMINDER, channel: [email, letter], template: soft}
        reason: Overdue.
      - id: wait
        priority: 5
        when: {}
        then: {action: NO_CONTACT}
        reason: Nothing to do.
    """

TESTS = """
    as_of: "2026-11-24T10:00:00+01:00"
    defaults:
      country: PL
      time_zone: Europe/Warsaw
      amount_due: "100.00"
      currency: PLN
      segment: retail
      consents: {email: true, letter: true}
    tests:
      - name: an overdue case gets an email
        case: {days_past_due: 5}
        expect: {action: SEND_REMINDER, channel: email, template: soft, fired: [remind, wait], no_vetoes: true}
      - name: wrong on purpose
        case:
          days_past_due: 5
          consents: {email: false}
        expect: {action: SEND_REMINDER, channel: email, no_vetoes: true}
    """


def write_tests(rules: Path, text: str, where: str = "strategies/tests/tiny.yaml") -> Path:
    path = rules / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    write_policy(tmp_path, TINY_POLICY)
    return tmp_path


def test_a_failure_names_file_and_line_and_shows_expected_against_got(rules: Path) -> None:
    path = write_tests(rules, TESTS)
    report = run_policy_tests(rules)
    assert (report.passed, report.failed, report.ok) == (1, 1, False)
    text = format_report(report)
    assert f"PASS {path}:10 an overdue case gets an email" in text
    assert f"FAIL {path}:13 wrong on purpose" in text
    # Defaults are merged deeply: letter consent survives the test's own consents.
    assert "channel: expected email, got letter" in text
    assert "vetoes: expected none, got 1: consent vetoed remind on email" in text
    assert "fired:   remind, wait" in text
    assert text.endswith("1 passed, 1 failed")


def test_the_test_command_exits_1_on_a_failure_and_0_when_all_pass(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    policy_tests.register(parser.add_subparsers())
    path = write_tests(rules, TESTS)
    args = parser.parse_args(["test", "--rules", str(rules)])
    assert args.func(args) == 1
    path.write_text(path.read_text(encoding="utf-8").replace("channel: email, no_vetoes: true", "channel: letter"), encoding="utf-8")
    assert args.func(args) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out


def test_an_unknown_key_is_refused_with_file_and_line(rules: Path) -> None:
    path = write_tests(rules, TESTS.replace("expect: {action: SEND_REMINDER, channel: email, template", "expct: {action: SEND_REMINDER, channel: email, template"))
    with pytest.raises(PolicyError) as error:
        load_test_file(path)
    assert f"{path}:12:5: `expct` is not a known key here; did you mean `expect`?" in str(error.value)
    report = run_policy_tests(rules)
    assert not report.ok and report.results == [] and len(report.problems) == 1  # the misspelt key, not also the missing expect
    assert "problem(s) in test files" in format_report(report)


def test_bad_expectations_are_refused_with_file_and_line(rules: Path) -> None:
    path = write_tests(rules, TESTS.replace("action: SEND_REMINDER, channel: email, template: soft, fired: [remind, wait]", "action: SEND_REMINDR, channel: fax, fired: [remnd], window: {start: x}"))
    report = run_policy_tests(rules)
    messages = [f"{problem.line}: {problem.message}" for problem in report.problems]
    assert any(message.startswith("12: expect.action: `SEND_REMINDR`: not an action (did you mean `SEND_REMINDER`?)") for message in messages)
    assert any(message.startswith("12: expect.channel: `fax`: not a channel") for message in messages)
    assert "12: `start` is not a known key here; did you mean `local_start`?" in messages
    assert all(problem.file == str(path) for problem in report.problems)
    # Rule ids are checked against the policy once the file reads well.
    write_tests(rules, TESTS.replace("fired: [remind, wait]", "fired: [remnd, wait]"))
    assert [f"{problem.line}: {problem.message}" for problem in run_policy_tests(rules).problems] == ["12: `remnd` is not a rule of the policy (did you mean `remind`?)"]


def test_an_invalid_case_fails_the_test_naming_the_field(rules: Path) -> None:
    write_tests(rules, TESTS.replace("case: {days_past_due: 5}", "case: {days_past_due: 5, amount_due: 12.5, segmnt: x}"))
    report = run_policy_tests(rules)
    failure = report.results[0]
    assert not failure.passed
    assert "case.amount_due (line 11): invalid, must be a decimal string" in failure.diff[0]
    assert "case.segmnt (line 11): invalid, unknown field (did you mean `segment`?)" in failure.diff


def test_offers_windows_and_review_times_are_compared(rules: Path) -> None:
    write_tests(rules, TESTS.replace("fired: [remind, wait], no_vetoes: true}", "offer: null, next_review_at: 2026-11-25T10:00:00+01:00,\n                 window: {local_start: '2026-11-24T11:00:00+01:00', time_zone: Europe/Warsaw}}"))
    failure = run_policy_tests(rules).results[0]
    assert failure.diff == ("window.local_start: expected 2026-11-24T11:00:00+01:00, got 2026-11-24T10:00:00+01:00",)


def test_tests_are_discovered_in_every_tests_folder_under_the_rules(rules: Path) -> None:
    strategy = write_tests(rules, TESTS)
    pack = write_tests(rules, TESTS, "compliance/pl/tests/pl.yaml")
    (rules / "compliance" / "pl" / "pack.yaml").write_text("not: a test\n", encoding="utf-8")
    assert discover(rules) == sorted([strategy, pack])


def test_the_shipped_policy_tests_pass() -> None:
    report = run_policy_tests(REPO / "rules")
    assert report.ok, format_report(report, failures_only=True)
    assert report.passed >= 25

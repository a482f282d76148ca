"""`diff`: what changed between two versions of a policy, in words an analyst reads."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from engine.policy.loader import load_strategy
from engine.authoring.cli import main as cli_main
from engine.authoring.policy_diff import diff_policies, format_diff, load_side, register
from tests.conftest import REPO, load_policy, write_policy

OLD = """
policy: ladder
version: "1"
rules:
  - id: firm-reminder
    priority: 570
    when: {days_past_due: {between: [15, 30]}}
    then: {action: SEND_REMINDER, channel: [preferred, email], template: reminder-firm}
    reason: {en: "Please pay.", pl: "Prosimy o wpłatę."}
  - id: plan
    priority: 540
    when: {days_past_due: {between: [31, 60]}, amount_due: {gte: 200}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      offer: {instalments: [2, 12], min_instalment: 50, discount_pct: [0, 5]}
    reason: x
  - id: reordered
    priority: 500
    when: {segment: student, days_past_due: {gte: 61}}
    then: {action: CALL, channel: phone}
    reason: x
  - id: retired
    priority: 100
    when: {days_past_due: {gte: 0}}
    then: {action: SEND_REMINDER, channel: letter}
    reason: x
"""

NEW = """
policy: ladder
version: "2"
rules:
  - id: firm-reminder
    priority: 575
    when: {days_past_due: {between: [16, 30]}}
    then: {action: SEND_REMINDER, channel: [email, preferred], template: reminder-firm}
    reason: {en: "Please pay soon.", pl: "Prosimy o wpłatę."}
  - id: plan
    priority: 540
    when: {days_past_due: {between: [31, 90]}, amount_due: {gte: 200}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      offer: {instalments: [2, 18], min_instalment: 50, discount_pct: [0, 5]}
      review_in_days: 7
    reason: x
  - id: reordered
    priority: 500
    when: {days_past_due: {gte: 61}, segment: student}
    then: {action: CALL, channel: phone}
    reason: x
  - id: brand-new
    priority: 90
    when: {segment: vip}
    then: {action: HUMAN_REVIEW}
    reason: x
"""


def two_sides(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    write_policy(old, OLD)
    write_policy(new, NEW)
    return old, new


def test_identical_policies_have_no_differences(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, OLD)
    assert diff_policies(policy, policy) == []
    assert format_diff([]) == "no differences"


def test_every_kind_of_change_is_named(tmp_path: Path) -> None:
    old_dir, new_dir = two_sides(tmp_path)
    changes = diff_policies(load_strategy(old_dir / "strategies"), load_strategy(new_dir / "strategies"))
    assert [(change.kind, change.rule_id) for change in changes] == [
        ("policy", ""), ("removed", "retired"), ("added", "brand-new"), ("changed", "firm-reminder"), ("changed", "plan"), ("changed", "reordered"),
    ]
    by_id = {change.rule_id: change for change in changes}
    assert [part.part for part in by_id["firm-reminder"].parts] == ["priority", "when", "channels", "reason (en)"]
    assert [part.part for part in by_id["plan"].parts] == ["when", "review_in_days", "offer instalments"]
    when = by_id["reordered"].parts[0]
    assert (when.part, when.note) == ("when", "matches the same cases")


def test_the_diff_reads_as_plain_lines(tmp_path: Path) -> None:
    old_dir, new_dir = two_sides(tmp_path)
    text = format_diff(diff_policies(load_strategy(old_dir / "strategies"), load_strategy(new_dir / "strategies")))
    lines = text.splitlines()
    assert lines[0] == "policy: version 1 -> 2"
    assert lines[1] == f"- retired (priority 100, was at {old_dir / 'strategies' / 'policy.yaml'}:22)"
    assert lines[2] == f"+ brand-new (priority 90, {new_dir / 'strategies' / 'policy.yaml'}:23): when segment == vip; then HUMAN_REVIEW"
    assert lines[3] == (
        "~ firm-reminder: priority 570 -> 575; "
        "when (now matches fewer cases): (days_past_due >= 15 and days_past_due <= 30) -> (days_past_due >= 16 and days_past_due <= 30); "
        "channels preferred, email -> email, preferred; "
        'reason (en): "Please pay." -> "Please pay soon."'
    )
    assert lines[4] == (
        "~ plan: when (now matches more cases): ((days_past_due >= 31 and days_past_due <= 60) and amount_due >= 200) -> "
        "((days_past_due >= 31 and days_past_due <= 90) and amount_due >= 200); review_in_days none -> 7; offer instalments 2-12 -> 2-18"
    )
    assert lines[-1] == "1 added, 1 removed, 3 changed"


def test_action_template_and_whole_offer_changes(tmp_path: Path) -> None:
    old = load_policy(tmp_path / "a", OLD)
    new = load_policy(tmp_path / "b", OLD.replace("then: {action: CALL, channel: phone}", "then: {action: SEND_REMINDER, channel: sms, template: short, offer: {discount_pct: [5, 10]}}"))
    [change] = diff_policies(old, new)
    assert format_diff([change]).splitlines()[0] == (
        "~ reordered: action CALL -> SEND_REMINDER; channels phone -> sms; template none -> short; offer none -> discount 5-10%"
    )


def test_sides_may_be_a_rules_dir_a_strategies_dir_or_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_dir, new_dir = two_sides(tmp_path)
    single = tmp_path / "single.yaml"
    shutil.copyfile(new_dir / "strategies" / "policy.yaml", single)
    assert load_side(single).rules[0].source.file == str(single)
    assert cli_main(["diff", str(old_dir), str(new_dir / "strategies")]) == 0
    by_dirs = capsys.readouterr().out
    assert cli_main(["diff", str(old_dir / "strategies"), str(single)]) == 0
    by_file = capsys.readouterr().out
    assert "~ firm-reminder: priority 570 -> 575" in by_dirs
    assert by_file.replace(str(single), "X") == by_dirs.replace(str(new_dir / "strategies" / "policy.yaml"), "X")
    assert cli_main(["diff", str(REPO / "rules"), str(REPO / "rules" / "strategies")]) == 0
    assert capsys.readouterr().out.strip() == "no differences"


def test_a_side_that_does_not_load_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_dir, new_dir = two_sides(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(NEW.replace("days_past_due: {gte: 61}", "days_past_du: {gte: 61}").lstrip(), encoding="utf-8")
    assert cli_main(["diff", str(old_dir), str(broken)]) == 1
    assert f"{broken}:20:12 (rule reordered): `days_past_du`: unknown fact" in capsys.readouterr().err


def test_register_adds_the_diff_subcommand() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["diff", "a", "b"])
    assert (args.old, args.new) == (Path("a"), Path("b")) and callable(args.func)


def test_a_rule_moved_to_another_file_of_the_policy_is_named(tmp_path: Path) -> None:
    header = 'policy: ladder\nversion: "1"\nrules:\n'
    rule = "  - {id: moved, priority: 1, then: {action: NO_CONTACT}, reason: x}\n"
    other = "  - {id: stays, priority: 2, then: {action: NO_CONTACT}, reason: x}\n"
    write_policy(tmp_path / "old", header + rule, name="a.yaml")
    write_policy(tmp_path / "old", header + other, name="b.yaml")
    write_policy(tmp_path / "new", header + other + rule, name="b.yaml")
    write_policy(tmp_path / "new", header + "  - {id: filler, priority: 3, then: {action: NO_CONTACT}, reason: x}\n", name="a.yaml")
    changes = diff_policies(load_side(tmp_path / "old"), load_side(tmp_path / "new"))
    assert format_diff(changes).splitlines()[1] == "~ moved: file a.yaml -> b.yaml"

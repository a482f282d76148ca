"""A broken policy is refused with file, line, column, rule id and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.policy.ir import AllOf, AnyOf, Compare, Exists
from engine.policy.loader import load_strategy
from tests.conftest import load_policy, write_policy

HEADER = """
policy: errors
version: "1"
rules:
"""


def refused(tmp_path: Path, rules: str) -> list[str]:
    write_policy(tmp_path, HEADER + rules)
    with pytest.raises(PolicyError) as caught:
        load_strategy(tmp_path / "strategies")
    return [str(problem) for problem in caught.value.problems]


def test_unknown_fact_is_refused_with_line_and_a_suggestion(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: early
    priority: 10
    when:
      days_past_du: {gte: 1}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
""")
    assert message.endswith("policy.yaml:8:7 (rule early): `days_past_du`: unknown fact; did you mean `days_past_due`?")


def test_wrong_type_for_a_fact(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: early
    priority: 10
    when: {consent.sms: "yes"}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
""")
    assert ":7:" in message and "`consent.sms` is true or false" in message


def test_unknown_operator_and_channel_and_action(tmp_path: Path) -> None:
    [operator] = refused(tmp_path, """
  - id: a
    priority: 10
    when: {days_past_due: {betwen: [1, 2]}}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert "did you mean `between`" in operator
    problems = refused(tmp_path, """
  - id: b
    priority: 10
    then: {action: SEND_REMINDR, channel: fax}
    reason: x
""")
    assert any("(rule b): then.action:" in problem for problem in problems)
    assert any(":7:" in problem for problem in problems)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: a
    priorty: 10
    then: {action: NO_CONTACT}
    reason: x
""")
    assert "`priorty` is not a known key here; did you mean `priority`?" in message


def test_duplicate_rule_ids_name_both_places(tmp_path: Path) -> None:
    problems = refused(tmp_path, """
  - id: a
    priority: 10
    then: {action: NO_CONTACT}
    reason: x
  - id: a
    priority: 5
    then: {action: NO_CONTACT}
    reason: y
""")
    assert len(problems) == 1 and "already used at" in problems[0] and ":9:" in problems[0]


def test_duplicate_keys_are_not_silently_overwritten(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: a
    priority: 10
    priority: 20
    then: {action: NO_CONTACT}
    reason: x
""")
    assert "appears twice" in message and ":7:" in message


def test_contacting_action_needs_a_channel(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: a
    priority: 10
    then: {action: CALL}
    reason: x
""")
    assert "name a channel" in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    [message] = refused(tmp_path, """
  - id: a
    priority: [10
""")
    assert "not valid YAML" in message


def test_between_low_above_high_and_bad_regex(tmp_path: Path) -> None:
    problems = refused(tmp_path, """
  - id: a
    priority: 10
    when: {days_past_due: {between: [9, 1]}}
    then: {action: NO_CONTACT}
    reason: x
  - id: b
    priority: 10
    when: {attributes.x: {matches: "("}}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert len(problems) == 2 and "never matches" in problems[0] and "regular expression" in problems[1]


def test_conditions_compile_to_the_intermediate_form(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, HEADER + """
  - id: a
    priority: 10
    when:
      segment: {in: [retail, premium]}
      not: {days_past_due: {gte: 30}}
      amount_due: {gt: "99.99"}
    then: {action: NO_CONTACT}
    reason: x
""")
    condition = policy.rules[0].condition
    assert isinstance(condition, AllOf)
    segment, not_late, amount = condition.items
    assert segment == AnyOf((Compare("segment", "eq", "retail"), Compare("segment", "eq", "premium")))
    assert not_late == Compare("days_past_due", "lt", 30)
    assert str(amount.value) == "99.99"  # type: ignore[union-attr]


def test_files_of_one_directory_must_agree_on_policy_and_version(tmp_path: Path) -> None:
    write_policy(tmp_path, HEADER + "  - {id: a, priority: 1, then: {action: NO_CONTACT}, reason: x}\n", "a.yaml")
    write_policy(tmp_path, HEADER.replace('"1"', '"2"') + "  - {id: b, priority: 1, then: {action: NO_CONTACT}, reason: x}\n", "b.yaml")
    with pytest.raises(PolicyError, match="files of one directory form one policy"):
        load_strategy(tmp_path / "strategies")


def test_content_hash_changes_with_the_content(tmp_path: Path) -> None:
    first = load_policy(tmp_path, HEADER + "  - {id: a, priority: 1, then: {action: NO_CONTACT}, reason: x}\n")
    second = load_policy(tmp_path, HEADER + "  - {id: a, priority: 2, then: {action: NO_CONTACT}, reason: x}\n")
    assert first.content_hash != second.content_hash


def test_an_unknown_template_is_refused_when_the_policy_lists_its_templates(tmp_path: Path) -> None:
    write_policy(tmp_path, """
        policy: templated
        version: "1"
        templates: [friendly-reminder, final-notice]
        rules:
          - {id: a, priority: 1, then: {action: SEND_REMINDER, channel: sms, template: friendly-remider}, reason: x}
        """)
    with pytest.raises(PolicyError) as caught:
        load_strategy(tmp_path / "strategies")
    [message] = [str(problem) for problem in caught.value.problems]
    assert ":5:" in message and "(rule a)" in message and "did you mean `friendly-reminder`?" in message


def test_a_durable_rules_condition_is_read_into_the_same_form_and_checked(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, HEADER + """
  - id: raw
    priority: 10
    when:
      durable: {$or: [{$gte: {days_past_due: 30}}, {$and: [{segment: premium}, {$nex: {last_outcome: 1}}]}]}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert policy.rules[0].condition == AnyOf((Compare("days_past_due", "gte", 30), AllOf((Compare("segment", "eq", "premium"), Exists("last_outcome", False)))))
    [message] = refused(tmp_path, """
  - id: raw
    priority: 10
    when:
      durable: {$gte: {days_past_du: 30}}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert "(rule raw)" in message and "did you mean `days_past_due`?" in message
    [message] = refused(tmp_path, """
  - id: raw
    priority: 10
    when: {durable: {$in: {segment: [a]}}}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert "`$in` is not supported here" in message

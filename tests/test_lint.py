"""`lint`: rules that never fire or never win, equal-priority ties, and uncovered cases.

The finding kinds are shown on tiny policies with exact lines; properties check
the analysis against the plain-Python matcher over every case of a small domain
of facts (which contains a witness for every box the generated rules can form).
"""

from __future__ import annotations

import argparse
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.authoring.cli import main as cli_main
import engine.authoring.lint as lint_module
from engine.authoring.lint import Finding, condition_boxes, format_findings, lint_files, lint_policy, register
from engine.matching.python_matcher import PythonMatcher, predicate
from engine.authoring.pattern_analysis import python_re_tree
from engine.policy.ir import AllOf, AnyOf, Compare, Condition, Exists, Matches, Policy, Rule, Source
from engine.policy.patterns import compile_pattern
from engine.vocabulary import Action, Channel
from tests.conftest import REPO, write_policy

HEADER = """
policy: p
version: "1"
rules:
"""  # the first rule starts on line 4


def lint(tmp_path: Path, rules: str) -> list[Finding]:
    write_policy(tmp_path, HEADER + rules.lstrip("\n"), name="p.yaml")
    return lint_files(tmp_path)


def only(findings: list[Finding], code: str) -> list[Finding]:
    return [finding for finding in findings if finding.code == code]


# --- never-fires -------------------------------------------------------------


def test_contradictory_numbers_never_fire(tmp_path: Path) -> None:
    [finding] = only(lint(tmp_path, """
  - id: fine
    priority: 20
    when: {days_past_due: {gt: 30}}
    then: {action: NO_CONTACT}
    reason: x
  - id: impossible
    priority: 10
    when:
      days_past_due: {gt: 30, lt: 10}
    then: {action: NO_CONTACT}
    reason: x
"""), "never-fires")
    assert (finding.severity, finding.line, finding.rule_id) == ("error", 9, "impossible")
    assert finding.file.endswith("strategies/p.yaml")
    assert "`days_past_due > 30 and days_past_due < 10` cannot all be true" in finding.message


def test_whole_numbers_are_tightened_but_money_is_not(tmp_path: Path) -> None:
    findings = only(lint(tmp_path, """
  - id: no-whole-day-between
    priority: 10
    when: {days_past_due: {gt: 30, lt: 31}}
    then: {action: NO_CONTACT}
    reason: x
  - id: money-has-cents-between
    priority: 10
    when: {amount_due: {gt: 30, lt: 31}}
    then: {action: NO_CONTACT}
    reason: x
"""), "never-fires")
    assert [(finding.rule_id, finding.line) for finding in findings] == [("no-whole-day-between", 4)]


def test_two_values_of_one_text_fact_never_fire(tmp_path: Path) -> None:
    [finding] = only(lint(tmp_path, """
  - id: two-segments
    priority: 10
    when:
      all:
        - segment: student
        - segment: {in: [retail, premium]}
    then: {action: NO_CONTACT}
    reason: x
"""), "never-fires")
    assert finding.line == 4
    assert "`segment == student and segment == retail` cannot all be true" in finding.message
    assert "none of its 2 alternatives can hold" in finding.message


def test_absent_and_compared_never_fires(tmp_path: Path) -> None:
    [finding] = only(lint(tmp_path, """
  - id: absent-and-large
    priority: 10
    when:
      attributes.score: {exists: false}
      any:
        - attributes.score: high
        - attributes.score: low
    then: {action: NO_CONTACT}
    reason: x
"""), "never-fires")
    assert finding.line == 4 and "a comparison needs the fact to be present" in finding.message


def test_closed_vocabulary_and_patterns_are_exact(tmp_path: Path) -> None:
    findings = only(lint(tmp_path, """
  - id: no-language-left
    priority: 10
    when: {language: {not_in: [en, pl]}}
    then: {action: NO_CONTACT}
    reason: x
  - id: pattern-excludes-the-set
    priority: 10
    when: {segment: {in: [retail, student], matches: "prem.*"}}
    then: {action: NO_CONTACT}
    reason: x
  - id: pattern-on-open-text-is-kept
    priority: 10
    when: {segment: {not_in: [premium], matches: "prem.*"}}
    then: {action: NO_CONTACT}
    reason: x
  - id: not-true-is-false
    priority: 10
    when:
      consent.sms: {neq: true}
      not: {consent.sms: false}
    then: {action: NO_CONTACT}
    reason: x
"""), "never-fires")
    assert [(finding.rule_id, finding.line) for finding in findings] == [("no-language-left", 4), ("pattern-excludes-the-set", 9), ("not-true-is-false", 19)]
    assert "(`language` is always one of en, pl)" in findings[0].message



def test_patterns_no_text_fits_together_never_fire_and_never_overlap(tmp_path: Path) -> None:
    findings = lint(tmp_path, r"""
  - id: two-patterns-no-text-fits
    priority: 10
    when: {all: [{segment: {matches: "retail-[0-9]+"}}, {segment: {matches: "[a-z]+"}}]}
    then: {action: NO_CONTACT}
    reason: x
  - id: only-text-left-is-excluded
    priority: 10
    when: {segment: {matches: "vip|gold", not_in: [vip, gold]}}
    then: {action: NO_CONTACT}
    reason: x
  - id: retail-by-sms
    priority: 5
    when: {segment: {matches: "retail-[0-9]+"}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: students-by-email
    priority: 5
    when: {segment: {matches: "student-.*"}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: any-digit-code-by-email
    priority: 5
    when: {segment: {matches: ".*-7"}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
""")
    assert [finding.rule_id for finding in only(findings, "never-fires")] == ["two-patterns-no-text-fits", "only-text-left-is-excluded"]
    # "retail-7" fits the retail rule and the "-7" rule, which wins on its id; students share the "-7" rule's outcome.
    [overlap] = only(findings, "overlap-same-priority")
    assert (overlap.rule_id, overlap.line) == ("retail-by-sms", 14)
    assert "`any-digit-code-by-email`" in overlap.message

@pytest.mark.parametrize(
    ("patterns", "witness"),
    [
        (["\\w+", "[^a-z]+"], "A"),  # \w is ASCII to RE2, Unicode to Python's re
        (["(?i)k", "[^kK]"], "\u212a"),  # the Kelvin sign folds to k
        (["[]a-z]+"], "]"),  # a `]` first in a class is a character
        (["a{,3}", ".*,.*"], "a{,3}"),  # text to RE2, a repeat to Python's re
        (["[[:alpha:]]", "[a-z]"], "a"),  # a POSIX class to RE2, three characters and a `]` to Python's re
    ],
)
def test_patterns_the_automata_could_read_differently_stay_opaque(tmp_path: Path, patterns: list[str], witness: str) -> None:
    condition = {"all": [{"segment": {"matches": pattern}} for pattern in patterns]}
    findings = lint(tmp_path, f"""
  - id: unusual
    priority: 10
    when: {json.dumps(condition)}
    then: {{action: NO_CONTACT}}
    reason: x
""")
    assert only(findings, "never-fires") == [] and only(findings, "load") == []
    assert all(compile_pattern(pattern).fullmatch(witness) for pattern in patterns)  # the rule can fire


def test_a_pattern_too_costly_to_analyse_is_taken_as_satisfiable(tmp_path: Path) -> None:
    # Turning `(\w+ ?){1,50}` into an automaton takes minutes, and lint runs before
    # every hot reload: such a pattern stays opaque. (This rule can in truth never
    # fire, since no word is made of hyphens; lint does not claim what it did not compute.)
    findings = lint(tmp_path, r"""
  - id: words
    priority: 10
    when: {all: [{segment: {matches: "(\\w+ ?){1,50}"}}, {segment: {matches: "-+"}}]}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert only(findings, "never-fires") == []


# --- shadowed -----------------------------------------------------------------


def test_a_rule_inside_a_higher_one_is_shadowed(tmp_path: Path) -> None:
    [finding] = only(lint(tmp_path, """
  - id: broad-call
    priority: 30
    when: {days_past_due: {gte: 10}}
    then: {action: CALL, channel: phone}
    reason: x
  - id: narrow-reminder
    priority: 20
    when:
      days_past_due: {between: [15, 20]}
      segment: {in: [student, retail]}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: partly-covered
    priority: 10
    when: {days_past_due: {gte: 5}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
"""), "shadowed")
    assert (finding.severity, finding.line, finding.rule_id) == ("warning", 9, "narrow-reminder")
    assert "rule `broad-call` (" in finding.message and "p.yaml:4, priority 30)" in finding.message
    assert "only be chosen when the guardrails remove `broad-call` (CALL)" in finding.message


def test_shadowed_by_several_rules_together_names_only_those_needed(tmp_path: Path) -> None:
    [finding] = only(lint(tmp_path, """
  - id: overdue
    priority: 30
    when: {days_past_due: {gte: 0}}
    then: {action: NO_CONTACT}
    reason: x
  - id: unrelated
    priority: 25
    when: {segment: student}
    then: {action: NO_CONTACT}
    reason: x
  - id: not-due
    priority: 20
    when: {days_past_due: {lt: 0}}
    then: {action: HUMAN_REVIEW}
    reason: x
  - id: any-days
    priority: 10
    when: {days_past_due: {gte: -1000}}
    then: {action: HUMAN_REVIEW}
    reason: x
"""), "shadowed")
    assert finding.rule_id == "any-days" and finding.line == 19
    assert "`overdue`" in finding.message and "`not-due`" in finding.message and "`unrelated`" not in finding.message
    assert "never remove them: this rule is dead" in finding.message  # neither covering rule can be vetoed


def test_a_fact_that_may_be_absent_keeps_a_fallback_alive(tmp_path: Path) -> None:
    findings = lint(tmp_path, """
  - id: overdue
    priority: 30
    when: {days_past_due: {gte: 0}}
    then: {action: NO_CONTACT}
    reason: x
  - id: not-due
    priority: 20
    when: {days_past_due: {lt: 0}}
    then: {action: NO_CONTACT}
    reason: x
  - id: fallback
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
""")
    assert only(findings, "shadowed") == []  # days_past_due may be absent, and then only `fallback` matches


# --- overlap-same-priority ------------------------------------------------------


def test_equal_priorities_that_overlap_and_differ_are_reported_on_the_loser(tmp_path: Path) -> None:
    findings = lint(tmp_path, """
  - id: tie-b
    priority: 5
    when: {days_past_due: {lt: 12}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: tie-a
    priority: 5
    when: {days_past_due: {lt: 5}, segment: student}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: exclusive
    priority: 5
    when: {days_past_due: {gte: 12}}
    then: {action: CALL, channel: phone}
    reason: x
  - id: same-outcome
    priority: 5
    when: {days_past_due: {lt: 3}, segment: retail}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
""")
    [finding] = only(findings, "overlap-same-priority")
    assert (finding.line, finding.rule_id) == (4, "tie-b")
    assert "same priority 5 as `tie-a` (" in finding.message and "p.yaml:9)" in finding.message
    assert "e.g. days_past_due at most 4, segment = student" in finding.message
    assert "channels (sms vs email)" in finding.message and "`tie-a` wins only because its id sorts first" in finding.message
    assert only(findings, "shadowed") == []  # equal priority is a tie, not shadowing


# --- gaps ---------------------------------------------------------------------


def test_gaps_are_merged_into_readable_lines(tmp_path: Path) -> None:
    findings = only(lint(tmp_path, """
  - id: early
    priority: 50
    when: {days_past_due: {between: [0, 90]}}
    then: {action: NO_CONTACT}
    reason: x
  - id: late-student
    priority: 40
    when: {segment: student, days_past_due: {gte: 91}, amount_due: {gte: 200}}
    then: {action: NO_CONTACT}
    reason: x
  - id: late-retail
    priority: 40
    when: {segment: {in: [retail, premium]}, days_past_due: {gte: 91}}
    then: {action: NO_CONTACT}
    reason: x
  - id: pre-due
    priority: 40
    when: {days_past_due: {lt: 0}, segment: {not_in: [retail]}, amount_due: {lt: 1000}}
    then: {action: NO_CONTACT}
    reason: x
"""), "gaps")
    assert {(finding.severity, finding.line, finding.rule_id) for finding in findings} == {("warning", 1, None)}
    assert [finding.message.split(":")[0] for finding in findings] == [
        "segment premium or segment student or any other segment, days past due < 0, amount >= 1000",
        "segment retail, days past due < 0, any amount",
        "segment student, days past due > 90, amount < 200",
        "any other segment, days past due > 90, any amount",
    ]
    assert findings[0].message.endswith("no rule covers it, so such a case gets no decision from the strategy (NO_CONTACT, no rule matched). Add a rule or widen one.")


def test_a_rule_for_every_case_leaves_no_gaps(tmp_path: Path) -> None:
    assert only(lint(tmp_path, """
  - id: narrow
    priority: 10
    when: {segment: student, days_past_due: {between: [15, 30]}, amount_due: {gte: 20, lt: 200}}
    then: {action: NO_CONTACT}
    reason: x
  - id: everything
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
"""), "gaps") == []


# --- too complex, load errors, format, command line ----------------------------


def test_a_condition_too_large_to_expand_is_noted_not_analysed(tmp_path: Path) -> None:
    facts = ["consent.sms", "consent.email", "consent.phone", "consent.letter", "consent.push", "gdpr.objection", "gdpr.restriction", "legal.dispute", "legal.hardship"]
    blocks = "\n".join(f"        - any: [{{{fact}: true}}, {{attributes.x{index}: y}}]" for index, fact in enumerate(facts))
    findings = lint(tmp_path, f"""
  - id: huge
    priority: 10
    when:
      all:
{blocks}
    then: {{action: NO_CONTACT}}
    reason: x
""")
    assert [(finding.severity, finding.code, finding.line) for finding in findings] == [("info", "too-complex", 4)]


def test_long_in_and_not_in_lists_are_analysed_as_one_set_each(tmp_path: Path) -> None:
    # `in` is an `any` of 2,000 comparisons: once 2,000 alternatives (not analysed, past
    # 256); `not_in` of 5,000 values was folded one value at a time, in quadratic work.
    codes = [f"c{index}" for index in range(2_000)]
    excluded = [f"x{index}" for index in range(5_000)]
    findings = lint(tmp_path, f"""
  - id: listed-codes
    priority: 20
    when: {{attributes.code: {{in: {json.dumps(codes)}}}}}
    then: {{action: NO_CONTACT}}
    reason: x
  - id: some-listed-codes
    priority: 10
    when: {{attributes.code: {{in: {json.dumps(codes[:3])}}}}}
    then: {{action: HUMAN_REVIEW}}
    reason: x
  - id: excluded-then-included
    priority: 5
    when: {{attributes.other: {{not_in: {json.dumps(excluded)}, in: [x42]}}}}
    then: {{action: NO_CONTACT}}
    reason: x
""")
    assert only(findings, "too-complex") == []
    [shadowed] = only(findings, "shadowed")
    assert shadowed.rule_id == "some-listed-codes"
    [never] = only(findings, "never-fires")
    assert never.rule_id == "excluded-then-included"
    assert "attributes.other == x42" in never.message and "and 4,989 more like them" in never.message  # thousands of values are summarised


def test_a_check_past_its_work_budget_says_so_and_claims_nothing_unchecked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = "".join(f"""
  - id: band-{index}
    priority: {index % 3}
    when: {{days_past_due: {{gte: {index}, lte: {index + 5}}}, amount_due: {{gt: {index}}}}}
    then: {{action: {"SEND_REMINDER, channel: sms" if index % 2 else "NO_CONTACT"}}}
    reason: x
""" for index in range(60))
    unbounded = lint(tmp_path, rules)
    monkeypatch.setattr(lint_module, "MAX_WORK", 2_000)
    bounded = lint(tmp_path, rules)
    notes = [finding.message for finding in only(bounded, "too-complex")]
    assert any("lint stopped checking whether a rule is never chosen" in note for note in notes)
    assert any("lint stopped checking equal-priority overlaps" in note for note in notes)
    for code in ("shadowed", "overlap-same-priority"):  # what a stopped check says still holds
        assert {finding.message for finding in only(bounded, code)} <= {finding.message for finding in only(unbounded, code)}


def test_python_re_tree_reads_the_private_parser() -> None:
    # lint reads patterns with CPython's private `re._parser`; this fails loudly when
    # a Python release moves or reshapes it (lint would then leave every pattern opaque).
    tree = python_re_tree("a[b-c]|(d)*?x{2,3}")
    assert not tree.flags
    [branch] = tree.items
    assert branch.kind == "branch"
    first, second = branch.parts
    assert [node.kind for node in first] == ["char", "class"] and first[1].plain
    lazy, counted = second
    assert (lazy.kind, lazy.most, lazy.parts[0][0].kind, lazy.parts[0][0].plain) == ("repeat", None, "group", True)
    assert (counted.kind, counted.most) == ("repeat", 3)
    assert python_re_tree("(?i)a").flags
    assert python_re_tree("[\\d]").items[0].plain is False
    assert python_re_tree("^a$").items[0].kind == "at"
    with pytest.raises(ValueError):
        python_re_tree("(")
    with pytest.raises(ValueError):  # deep nesting: refused before the recursive parser runs
        python_re_tree("(" * 400 + ")" * 400)


def test_a_policy_that_does_not_load_gives_error_findings(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, """
  - id: typo
    priority: 10
    when: {days_past_du: {gte: 1}}
    then: {action: NO_CONTACT}
    reason: x
""")
    assert (finding.severity, finding.code, finding.line, finding.rule_id) == ("error", "load", 6, "typo")
    assert "did you mean `days_past_due`?" in finding.message


def test_format_findings() -> None:
    findings = [
        Finding("error", "rules/strategies/p.yaml", 9, "impossible", "never-fires", "can never match."),
        Finding("warning", "rules/strategies/p.yaml", 1, None, "gaps", "any segment: no rule covers it."),
    ]
    assert format_findings(findings) == (
        "rules/strategies/p.yaml:9: error [never-fires] impossible: can never match.\n"
        "rules/strategies/p.yaml:1: warning [gaps] any segment: no rule covers it."
    )


def test_command_line_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warning_only = """
  - id: a
    priority: 5
    when: {days_past_due: {lt: 12}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: b
    priority: 5
    when: {days_past_due: {lt: 5}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: z
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
"""
    write_policy(tmp_path, HEADER + warning_only.lstrip("\n"), name="p.yaml")
    assert cli_main(["lint", "--rules", str(tmp_path)]) == 0
    assert cli_main(["lint", "--rules", str(tmp_path / "strategies"), "--strict"]) == 1
    assert "0 error(s), 1 warning(s), 0 note(s)" in capsys.readouterr().out
    write_policy(tmp_path, HEADER + warning_only.replace("{lt: 5}", "{lt: 5, gt: 6}"), name="p.yaml")
    assert cli_main(["lint", "--rules", str(tmp_path)]) == 1
    assert "error [never-fires] b:" in capsys.readouterr().out


def test_register_adds_the_lint_subcommand() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["lint", "--rules", str(REPO / "rules"), "--strict"])
    assert args.rules == REPO / "rules" and args.strict and callable(args.func)


def test_the_shipped_rules_have_no_rule_that_never_fires(capsys: pytest.CaptureFixture[str]) -> None:
    findings = lint_files(REPO / "rules")
    with capsys.disabled():  # the lead reviews what lint says about the shipped strategy
        print("\nlint rules/:\n" + (format_findings(findings) or "no findings"))
    assert [finding for finding in findings if finding.severity == "error"] == []


# --- properties: the analysis agrees with the matcher ---------------------------

PATHS = {
    "days_past_due": [-1, 0, 2],
    "amount_due": [Decimal("0"), Decimal("1")],
    "segment": ["a", "b", "c"],
    "language": ["en", "pl"],
    "consent.sms": [True, False],
}
PATTERNS = {"segment": ["a", "[ab]", "a.*", "b|d"], "language": ["e.", "p.*"]}
# Every box built from the values above has a witness among these (absent too).
DOMAIN = {
    "days_past_due": range(-2, 4),
    "amount_due": [Decimal(text) for text in ("-1", "0", "0.5", "1", "2")],
    "segment": ["a", "b", "c", "d", "ab"],
    "language": ["en", "pl"],
    "consent.sms": [True, False],
}
ABSENT = object()
ALL_FACTS = [
    {path: value for path, value in zip(DOMAIN, values) if value is not ABSENT}
    for values in itertools.product(*([*values, ABSENT] for values in DOMAIN.values()))
]
NUMBERS = ("days_past_due", "amount_due")


@st.composite
def leaves(draw: st.DrawFn, with_patterns: bool) -> Condition:
    path = draw(st.sampled_from(sorted(PATHS)))
    kinds = ["compare", "exists"] + (["matches"] if with_patterns and path in PATTERNS else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "exists":
        return Exists(path, draw(st.booleans()))
    if kind == "matches":
        return Matches(path, draw(st.sampled_from(PATTERNS[path])))
    ops = ["eq", "neq", "lt", "lte", "gt", "gte"] if path in NUMBERS else ["eq", "neq"]
    return Compare(path, draw(st.sampled_from(ops)), draw(st.sampled_from(PATHS[path])))


def conditions(with_patterns: bool) -> st.SearchStrategy[Condition]:
    return st.recursive(
        leaves(with_patterns),
        lambda inner: st.tuples(st.sampled_from([AllOf, AnyOf]), st.lists(inner, min_size=1, max_size=3)).map(lambda pair: pair[0](tuple(pair[1]))),
        max_leaves=6,
    )


THENS = [(Action.SEND_REMINDER, (Channel.SMS,)), (Action.SEND_REMINDER, (Channel.EMAIL,)), (Action.NO_CONTACT, ()), (Action.HUMAN_REVIEW, ())]


@st.composite
def policies(draw: st.DrawFn, with_patterns: bool) -> Policy:
    count = draw(st.integers(2, 6))
    rules = []
    for index in range(count):
        action, channels = draw(st.sampled_from(THENS))
        condition = draw(conditions(with_patterns))
        rules.append(Rule(f"r{index}", draw(st.integers(0, 2)), condition, action, channels, {"en": "x"}, Source("p.yaml", index + 4)))
    ordered = tuple(sorted(rules, key=lambda rule: (-rule.priority, rule.id)))
    return Policy("p", "1", ordered, "hash", ("p.yaml",))


def matches_by_case(policy: Policy) -> list[list[str]]:
    matcher = PythonMatcher(policy)
    return [matcher.matching(facts) for facts in ALL_FACTS]


def check_findings_hold(policy: Policy, exact: bool) -> None:
    findings = lint_policy(policy)
    by_code = {code: {finding.rule_id for finding in findings if finding.code == code} for code in ("never-fires", "shadowed", "overlap-same-priority")}
    matching = matches_by_case(policy)
    rules = {rule.id: rule for rule in policy.rules}
    for rule in policy.rules:
        cases = [ids for ids in matching if rule.id in ids]
        if rule.id in by_code["never-fires"]:
            assert cases == [], f"{rule.id} reported never-fires but matches"
        elif exact:
            assert cases, f"{rule.id} matches nothing in the domain but was not reported"
        if rule.id in by_code["shadowed"]:
            assert all(ids[0] != rule.id for ids in cases), f"{rule.id} reported shadowed but wins"
            assert all(rules[ids[0]].priority > rule.priority for ids in cases)
        elif exact and cases:
            assert any(all(rules[other].priority <= rule.priority for other in ids) for ids in cases), f"{rule.id} is shadowed but was not reported"
    for finding in findings:
        if finding.code == "overlap-same-priority":
            assert any(finding.rule_id in ids and any(rules[other].priority == rules[finding.rule_id].priority and other < finding.rule_id for other in ids) for ids in matching)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policies(with_patterns=True))
def test_never_fires_and_shadowed_findings_hold_for_every_case(policy: Policy) -> None:
    check_findings_hold(policy, exact=False)


@SETTINGS
@given(policies(with_patterns=False))
def test_without_patterns_the_analysis_is_exact(policy: Policy) -> None:
    check_findings_hold(policy, exact=True)


@settings(max_examples=100, deadline=None)
@given(conditions(with_patterns=False))
def test_boxes_hold_exactly_the_cases_the_condition_holds(condition: Condition) -> None:
    boxes = condition_boxes(condition)
    assert boxes is not None
    holds = predicate(condition)
    in_a_box = predicate(AnyOf(tuple(AllOf(tuple(_box_leaves(box))) for box in boxes)))
    assert all(holds(facts) == in_a_box(facts) for facts in ALL_FACTS)


def _box_leaves(box: dict[str, Any]) -> list[Condition]:
    """A box back as a condition, to compare it with the original by the matcher."""
    out: list[Condition] = []
    for path, constraint in box.items():
        values = constraint.values
        alternatives: list[Condition] = [Exists(path, False)] if constraint.absent else []
        if not values.empty():
            present: list[Condition] = [Exists(path, True)]
            if path in NUMBERS:
                if values.lo is not None:
                    present.append(Compare(path, "gt" if values.lo_open else "gte", values.lo))
                if values.hi is not None:
                    present.append(Compare(path, "lt" if values.hi_open else "lte", values.hi))
            elif values.finite:
                present.append(AnyOf(tuple(Compare(path, "eq", value) for value in values.values)))
            else:
                present += [Compare(path, "neq", value) for value in values.values]
            alternatives.append(AllOf(tuple(present)))
        out.append(AnyOf(tuple(alternatives)))
    return out

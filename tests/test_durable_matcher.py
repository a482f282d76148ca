"""The durable_rules driver: agreement with plain Python, and each known hazard of durable_rules 2.0.28."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.facts import input_fact
from engine.matching import MatcherFault
from engine.matching.durable_form import ruleset_definition
from engine.matching.durable_matcher import MAX_FACT_PATHS, DurableMatcher
from engine.matching.python_matcher import PythonMatcher
from engine.policy.ir import ALWAYS, AllOf, AnyOf, Compare, Condition, Exists, Matches, Policy, Rule, Source
from engine.vocabulary import Action
from tests.conftest import REPO, load_policy

POLICY = """
policy: matcher-test
version: "1"
rules:
  - id: early
    priority: 100
    when: {days_past_due: {between: [1, 14]}, segment: {in: [retail, premium]}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: early
  - id: big
    priority: 90
    when: {amount_due: {gte: 200.50}}
    then: {action: CALL, channel: phone}
    reason: big
  - id: not-business
    priority: 80
    when: {segment: {not_in: [business]}, not: {consent.sms: true}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: attribute
    priority: 70
    when: {attributes.region_code: {matches: "W[A-Z]+"}}
    then: {action: HUMAN_REVIEW}
    reason: x
  - id: always
    priority: 1
    then: {action: NO_CONTACT}
    reason: fallback
"""


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return load_policy(tmp_path, POLICY)


def facts(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"days_past_due": 5, "segment": "retail", "amount_due": Decimal("100.00"), "consent.sms": True}
    base.update(values)
    return base


def test_every_matching_rule_fires_not_only_the_first(policy: Policy) -> None:
    # durable consumes an *event* at its first matching rule; facts must reach every rule.
    fired = DurableMatcher(policy).matching(facts(amount_due=Decimal("500")))
    assert sorted(fired) == ["always", "big", "early"]


def test_money_is_compared_exactly_as_decimals(policy: Policy) -> None:
    matcher = DurableMatcher(policy)
    assert "big" not in matcher.matching(facts(amount_due=Decimal("200.49")))
    assert "big" in matcher.matching(facts(amount_due=Decimal("200.50")))


def test_a_value_list_reaches_durable_as_one_boolean_fact(policy: Policy) -> None:
    # durable has no `$in`, and an `$or` of N values makes N nodes under one parent.
    definition = ruleset_definition(policy.rules)
    text = json.dumps(definition)
    assert "$in" not in text and "premium" not in text
    assert {"in.0": True} in definition["early"]["all"][0]["m"]["$and"]
    matcher = DurableMatcher(policy)
    assert "early" in matcher.matching(facts(segment="premium"))
    assert "early" not in matcher.matching(facts(segment="business"))
    assert "not-business" in matcher.matching({"segment": "retail", "consent.sms": False})
    assert "not-business" not in matcher.matching({"segment": "business", "consent.sms": False})


def test_absent_facts_never_match_a_comparison(policy: Policy) -> None:
    matcher = DurableMatcher(policy)
    assert "attribute" not in matcher.matching(facts())
    assert "attribute" in matcher.matching(facts(**{"attributes.region_code": "WAW"}))
    assert "not-business" not in matcher.matching({"days_past_due": 5})  # segment absent


def test_more_than_1024_decisions_on_one_ruleset(policy: Policy) -> None:
    # A ruleset accepts at most 1,024 session ids in its life; we reuse one sid.
    matcher = DurableMatcher(policy)
    for index in range(3000):
        assert "early" in matcher.matching(facts(days_past_due=1 + index % 14))


FREE_MATCHERS = """
from engine.matching.durable_matcher import DurableMatcher
from engine.policy.ir import Compare, Policy, Rule, Source
from engine.vocabulary import Action
rule = Rule("rarely", 1, Compare("days_past_due", "gt", 100), Action.NO_CONTACT, (), {"en": "x"}, Source("p.yaml", 4))
policy = Policy("p", "1", (rule,), "h", ("p.yaml",))
for index in range(300):  # one policy version after another, as hot reloads make them
    matcher = DurableMatcher(policy)
    matcher.matching({"days_past_due": 1})  # a version under which no rule ever fired
    del matcher
"""


def test_matchers_of_old_policy_versions_are_freed_without_crashing() -> None:
    # durable's delete_state frees an action context it never initialised when
    # no rule has fired yet: that crashed the process. A subprocess, so that a
    # crash fails this test rather than the whole run.
    result = subprocess.run([sys.executable, "-c", FREE_MATCHERS], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_no_background_threads_are_started(policy: Policy) -> None:
    # The stock durable Host starts timer threads that segfault under load.
    before = threading.active_count()
    matcher = DurableMatcher(policy)
    for _ in range(50):
        matcher.matching(facts())
    assert threading.active_count() == before


def test_facts_carry_only_what_rules_read(policy: Policy) -> None:
    document = json.loads(DurableMatcher(policy).fact_text(facts(**{"legal.deceased": True, "attributes.region_code": "WAW"}), 1))
    assert "legal.deceased" not in document
    assert "attributes.region_code" not in document and document["matches.0"] is True  # read only through its pattern
    assert document["amount_due"] == 1_000_000  # money in ten-thousandths


def test_a_policy_reading_too_many_facts_is_refused() -> None:
    conditions = tuple(Compare(f"attributes.a{index}", "eq", "x") for index in range(MAX_FACT_PATHS + 1))
    rule = Rule("wide", 1, AllOf(conditions), Action.NO_CONTACT, (), {"en": "x"}, Source("f", 1))
    with pytest.raises(ValueError, match="durable_rules holds at most"):
        DurableMatcher(Policy("wide", "1", (rule,), "h"))


def test_an_engine_error_raises_a_fault_and_the_next_request_starts_clean(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.matching.durable_matcher as module

    matcher = DurableMatcher(policy)
    real_complete = module.durable.complete_and_start_action
    calls = {"n": 0}

    def failing(handle: int, state: int) -> Any:
        calls["n"] += 1
        raise RuntimeError("boom")  # leaves actions queued in the old ruleset

    monkeypatch.setattr(module.durable, "complete_and_start_action", failing)
    with pytest.raises(MatcherFault):
        matcher.matching(facts(amount_due=Decimal("500")))
    monkeypatch.setattr(module.durable, "complete_and_start_action", real_complete)
    # A fresh ruleset: nothing left over from the failed request.
    assert sorted(matcher.matching(facts(segment="business", **{"consent.sms": True}, days_past_due=40))) == ["always"]


def test_concurrent_decisions_never_see_each_others_facts(policy: Policy) -> None:
    matcher = DurableMatcher(policy)
    cases = [
        facts(days_past_due=index % 40 - 5, amount_due=Decimal(index % 400), segment=("retail", "business", "premium")[index % 3], **{"consent.sms": index % 2 == 0})
        for index in range(4000)
    ]
    serial = [sorted(matcher.matching(case)) for case in cases]
    with ThreadPoolExecutor(max_workers=16) as pool:
        concurrent = list(pool.map(lambda case: sorted(matcher.matching(case)), cases))
    assert concurrent == serial
    assert len({tuple(answer) for answer in serial}) > 4  # the cases really differ


# --- durable and plain Python agree on any condition and any facts -------------------

PATHS = {
    "days_past_due": st.integers(-5, 60),
    "amount_due": st.decimals(0, 1000, places=2),
    "segment": st.sampled_from(["a", "b", "ab"]),
    "consent.sms": st.booleans(),
    "contacts.all.last_7d": st.integers(0, 9),
    # Typed inputs as derive() gives them: a number to 4 places, a date as its ISO text.
    "inputs.pay_chance": st.floats(0, 1).map(input_fact),
    "inputs.salary_day": st.dates(date(2026, 11, 20), date(2026, 12, 10)).map(input_fact),
}


def leaves() -> st.SearchStrategy[Condition]:
    number = st.tuples(st.sampled_from(["days_past_due", "amount_due", "contacts.all.last_7d"]), st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"]), st.integers(-5, 60)).map(
        lambda t: Compare(t[0], t[1], Decimal(t[2]) if t[0] == "amount_due" else t[2])
    )
    text = st.tuples(st.sampled_from(["eq", "neq"]), st.sampled_from(["a", "b", "ab"])).map(lambda t: Compare("segment", t[0], t[1]))
    flag = st.tuples(st.sampled_from(["eq", "neq"]), st.booleans()).map(lambda t: Compare("consent.sms", t[0], t[1]))
    exists = st.tuples(st.sampled_from(list(PATHS)), st.booleans()).map(lambda t: Exists(*t))
    regex = st.sampled_from(["a", "a.*", "b|ab", "[ab]+"]).map(lambda p: Matches("segment", p))
    comparisons = st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"])
    score = st.tuples(comparisons, st.integers(0, 10_000)).map(lambda t: Compare("inputs.pay_chance", t[0], Decimal(t[1]) / 10_000))
    day = st.tuples(comparisons, st.dates(date(2026, 11, 20), date(2026, 12, 10))).map(lambda t: Compare("inputs.salary_day", t[0], t[1].isoformat()))
    return st.one_of(number, text, flag, exists, regex, score, day)


conditions = st.recursive(leaves(), lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3).map(lambda xs: AllOf(tuple(xs))), st.lists(inner, min_size=1, max_size=3).map(lambda xs: AnyOf(tuple(xs)))), max_leaves=8)
fact_sets = st.fixed_dictionaries({}, optional=PATHS)


@settings(max_examples=150, deadline=None)
@given(st.lists(conditions, min_size=1, max_size=6), st.lists(fact_sets, min_size=1, max_size=10))
def test_durable_and_python_agree(condition_list: list[Condition], fact_list: list[dict[str, Any]]) -> None:
    rules = tuple(Rule(f"r{index}", index, condition, Action.NO_CONTACT, (), {"en": "x"}, Source("f", 1)) for index, condition in enumerate([*condition_list, ALWAYS]))
    policy = Policy("agree", "1", rules, "h")
    durable, python = DurableMatcher(policy), PythonMatcher(policy)
    for case in fact_list:
        assert sorted(durable.matching(case)) == sorted(python.matching(case)), case


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [(r"\d+", "42", True), (r"(?i)yes", "YES", True), (r"\w+", "a_1", True), ("a.*", "a\nb", False), (".{300}", "x" * 300, True), ("ret", "retail", False)],
)
def test_patterns_follow_python_regular_expressions(tmp_path: Path, pattern: str, value: str, matches: bool) -> None:
    # durable's own $mt dialect has no \d, \w or (?i), lets `.` match a newline and
    # cannot compile long repeats: patterns are matched in Python instead.
    policy = load_policy(tmp_path, f"""
        policy: patterns
        version: "1"
        rules:
          - id: coded
            priority: 1
            when: {{attributes.code: {{matches: {json.dumps(pattern)}}}}}
            then: {{action: NO_CONTACT}}
            reason: x
        """)
    assert (DurableMatcher(policy).matching({"attributes.code": value}) == ["coded"]) is matches
    assert DurableMatcher(policy).matching({}) == []


def test_a_rule_fires_once_even_when_several_any_branches_hold(tmp_path: Path) -> None:
    # durable expands an $or into one path per branch and fires the rule once per path.
    policy = load_policy(tmp_path, """
        policy: branches
        version: "1"
        rules:
          - id: either
            priority: 1
            when: {any: [{days_past_due: {gt: 1}}, {segment: retail}]}
            then: {action: NO_CONTACT}
            reason: x
        """)
    assert DurableMatcher(policy).matching(facts(days_past_due=5, segment="retail")) == ["either"]

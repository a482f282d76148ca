"""The decide path derives only the facts its policy reads, and that changes nothing.

An engine works out once which facts its decisions read (its rules' conditions,
the packs', the built-in guardrails', a route's review_after_days) and derive
then skips the groups of work whose facts nobody reads (engine/facts.py,
fact_need). For random cases (the compliance properties' snapshots, and the
synthetic portfolio at random later instants), random debtors, the shipped
policy, a policy per group of facts and random policies over the whole fact
catalogue:

- the narrowed facts are the full facts restricted to the paths read: every
  fact read is there with the full derive's value, and no fact given has a
  value the full derive would not give;
- every field of the decision (and of a debtor's decision) is the same as an
  engine deriving every fact (`facts="all"`) makes;
- explain still prints every fact.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.authoring.portfolio import synthetic_portfolio
from engine.debtor import account_cases, decide_debtor
from engine.debtor_snapshot import parse_debtor
from engine.engine import StrategyEngine
from engine.facts import (
    ARRANGEMENT, BREATHING_SPACE_FACTS, COUNTERS, FACT_TYPES, FAILED, GROUPED, LAST_CONTACT, LOCAL_CLOCK, REACH, STEPS,
    FactNeed, FactType, contact_counts, derive, fact_need,
)
from engine.policy.ir import ALWAYS, AllOf, AnyOf, Compare, Condition, Exists, Policy, Rule, Source
from engine.registry import load_rules
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel
from tests.conftest import AS_OF, REPO
from tests.test_compliance_properties import cases
from tests.test_debtor_properties import debtors

PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
POLICY, PACKS = load_rules(REPO / "rules")
SHIPPED = StrategyEngine(POLICY, PACKS)
SHIPPED_ALL = StrategyEngine(POLICY, PACKS, facts="all")
PORTFOLIO = list(synthetic_portfolio(5000, AS_OF, seed=7))
GROUPS = {
    "local clock": LOCAL_CLOCK, "breathing space": BREATHING_SPACE_FACTS, "last contact": LAST_CONTACT, "reach": REACH, "failed": FAILED,
    "counters": COUNTERS, "steps": frozenset(STEPS), "arrangement": ARRANGEMENT,
}


# --- the check --------------------------------------------------------------------------------


def check_narrowed(snapshot: CaseSnapshot, as_of: datetime, need: FactNeed | None, read: frozenset[str], grace: dict[Any, int]) -> None:
    """derive with `need` gives every fact of `read` as the full derive does, and nothing else differently."""
    full = derive(snapshot, as_of, grace)
    narrow = derive(snapshot, as_of, grace, need=need)
    different = {path: (value, full.facts.get(path, "absent")) for path, value in narrow.facts.items() if full.facts.get(path, ...) != value}
    assert not different, f"facts with another value than the full derive's: {different}"
    missing = sorted(path for path in read if path in full.facts and path not in narrow.facts)
    assert not missing, f"facts read but not derived: {missing}"
    assert (narrow.zones, narrow.language, narrow.arrangements) == (full.zones, full.language, full.arrangements)


def check_same_decision(needed: StrategyEngine, everything: StrategyEngine, snapshot: CaseSnapshot, as_of: datetime) -> None:
    narrowed, full = needed.decide(snapshot, as_of), everything.decide(snapshot, as_of)
    assert vars(narrowed) == vars(full)


def check_case(engine: StrategyEngine, everything: StrategyEngine, snapshot: CaseSnapshot, as_of: datetime) -> None:
    check_narrowed(snapshot, as_of, engine.fact_need, engine.facts_read, dict(engine.policy.posting_grace))
    check_same_decision(engine, everything, snapshot, as_of)


# --- policies reading other facts -------------------------------------------------------------


def _leaf(path: str, choice: int) -> Condition:
    """A test of one fact: present or absent, or a comparison the fact's type allows."""
    spec = FACT_TYPES[path]
    if choice % 3 == 0:
        return Exists(path, choice % 2 == 0)
    if spec.type is FactType.BOOL:
        return Compare(path, "eq", choice % 2 == 0)
    if spec.type is FactType.INT:
        return Compare(path, ("gte", "lt", "eq")[choice % 3], choice % 4)
    if spec.type is FactType.MONEY:
        return Compare(path, "gte", Decimal(("0", "100", "1000")[choice % 3]))
    if spec.choices:
        return Compare(path, "eq", spec.choices[choice % len(spec.choices)])
    return Exists(path, True)


def _policy(name: str, conditions: list[Condition]) -> Policy:
    actions = (Action.CALL, Action.SEND_REMINDER, Action.HUMAN_REVIEW, Action.OFFER_PAYMENT_PLAN)
    rules = [
        Rule(f"{name}-{index}", 1000 - index, condition, actions[index % 4], (Channel.PHONE, Channel.SMS, Channel.EMAIL) if actions[index % 4].contacts else (),
             {"en": "probe"}, Source(f"{name}.yaml", index + 1))
        for index, condition in enumerate(conditions)
    ]
    rules.append(Rule(f"{name}-fallback", 0, ALWAYS, Action.SEND_REMINDER, (Channel.LETTER,), {"en": "fallback"}, Source(f"{name}.yaml", 999)))
    return Policy(name, "1", tuple(rules), name)


def engines(policy: Policy) -> tuple[StrategyEngine, StrategyEngine]:
    """An engine deriving the facts it needs and one deriving them all, on the python matcher (quick to build)."""
    return StrategyEngine(policy, PACKS, "python"), StrategyEngine(policy, PACKS, "python", facts="all")


# One policy per group: each of its facts tested alone, so only that group is needed beyond the packs'.
GROUP_POLICIES = {name: _policy(name.replace(" ", "-"), [_leaf(path, choice) for path in sorted(paths) for choice in (1, 2)]) for name, paths in GROUPS.items()}
GROUP_ENGINES = {name: engines(policy) for name, policy in GROUP_POLICIES.items()}


@st.composite
def catalogue_policies(draw: Any) -> Policy:
    """A policy of 1-6 rules, each testing 1-3 facts drawn from the whole catalogue."""
    conditions: list[Condition] = []
    for _ in range(draw(st.integers(1, 6))):
        leaves = [_leaf(path, draw(st.integers(0, 11))) for path in draw(st.lists(st.sampled_from(sorted(FACT_TYPES)), min_size=1, max_size=3))]
        conditions.append(leaves[0] if len(leaves) == 1 else (AnyOf if draw(st.booleans()) else AllOf)(tuple(leaves)))
    return _policy("random", conditions)


def parsed(index: int, later: int) -> tuple[CaseSnapshot, datetime]:
    """A portfolio case decided `later` minutes after the portfolio's instant: contacts and arrangements age."""
    as_of = AS_OF + timedelta(minutes=later)
    return parse_snapshot(PORTFOLIO[index], as_of), as_of


PORTFOLIO_CASES = st.builds(parsed, st.integers(0, len(PORTFOLIO) - 1), st.integers(0, 120 * 24 * 60))
ANY_CASE = st.one_of(cases(), PORTFOLIO_CASES)


# --- the properties ---------------------------------------------------------------------------


def test_every_catalogue_fact_is_derived_by_default_or_by_one_group():
    always = derive(parse_snapshot(PORTFOLIO[0], AS_OF), AS_OF, need=fact_need(())).facts.keys()
    ungrouped = sorted(path for path in FACT_TYPES if path not in GROUPED and path not in always)
    # Facts given only when present in the snapshot (no group computes them): their absence is the snapshot's.
    assert set(ungrouped) <= {"region", "product", "preferred_channel", "promise.days_until", "days_since_last_payment"}, ungrouped
    overlapping = [(one, other) for one in GROUPS for other in GROUPS if one < other and GROUPS[one] & GROUPS[other]]
    assert not overlapping


def test_a_fact_no_group_knows_derives_everything():
    assert fact_need({"country", "some.new_fact"}) is None
    assert fact_need({"attributes.risk", "inputs.score", "experiments.trial"}) is not None


def test_the_shipped_engine_skips_what_its_policy_does_not_read():
    need = SHIPPED.fact_need
    assert need is not None and SHIPPED_ALL.fact_need is None
    assert not need.local_clock and not need.reach  # the shipped rules read no local.* and no history.*_ever
    assert need.failed and need.counting.zero and need.arrangements and need.last_contact  # read: kept


@PROFILE
@given(case=ANY_CASE)
def test_the_shipped_policy_decides_the_same_on_the_facts_it_needs(case):
    check_case(SHIPPED, SHIPPED_ALL, *case)


@PROFILE
@given(case=ANY_CASE, group=st.sampled_from(sorted(GROUP_POLICIES)))
def test_a_policy_reading_one_group_decides_the_same(case, group):
    check_case(*GROUP_ENGINES[group], *case)


@PROFILE
@given(case=ANY_CASE, policy=catalogue_policies())
def test_a_policy_reading_any_facts_decides_the_same(case, policy):
    check_case(*engines(policy), *case)


@PROFILE
@given(case=debtors(), policy=st.sampled_from(["shipped", *sorted(GROUP_POLICIES)]))
def test_a_debtor_is_decided_the_same_on_the_facts_needed(case, policy):
    data, as_of = case
    needed, everything = (SHIPPED, SHIPPED_ALL) if policy == "shipped" else GROUP_ENGINES[policy]
    debtor = parse_debtor(data, as_of)
    narrowed, full = decide_debtor(needed, debtor, as_of), decide_debtor(everything, debtor, as_of)
    assert vars(narrowed) == vars(full)
    assert [vars(account) for account in narrowed.accounts] == [vars(account) for account in full.accounts]
    # The person's counts: what the accounts' facts take from every contact with the person.
    person = account_cases(debtor, frozenset())[0].person_contacts
    narrow_counts, full_counts = contact_counts(person, as_of, needed.fact_need), contact_counts(person, as_of)
    assert narrow_counts.items() <= full_counts.items()
    assert {path for path in needed.facts_read if path in full_counts} <= narrow_counts.keys()


def test_the_portfolio_is_decided_the_same_on_the_facts_needed():
    for case in PORTFOLIO:
        check_case(SHIPPED, SHIPPED_ALL, parse_snapshot(case, AS_OF), AS_OF)


def test_explain_prints_every_fact():
    snapshot = parse_snapshot(next(case for case in PORTFOLIO if case.get("time_zone") and case["prior_contacts"]), AS_OF)
    printed = SHIPPED.decide(snapshot, AS_OF, explain=True).trace
    assert printed is not None
    assert printed["facts"] == SHIPPED_ALL.decide(snapshot, AS_OF, explain=True).trace["facts"]
    assert {"local.hour", "history.outbound_ever", "contacts.push.last_24h"} <= printed["facts"].keys()


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_the_check_fails_when_a_needed_group_is_skipped(group):
    """The properties above catch a group wrongly skipped: with the group's flag (or its
    counters, or its steps) taken out of the need, some case's facts come out short."""
    read = GROUP_ENGINES[group][0].facts_read
    need = fact_need(read)
    assert need is not None
    wrong = {
        "local clock": replace(need, local_clock=False), "breathing space": replace(need, breathing_space=False),
        "last contact": replace(need, last_contact=False), "reach": replace(need, reach=False), "failed": replace(need, failed=False),
        "counters": replace(need, counting=fact_need(read - COUNTERS).counting),
        "steps": replace(need, steps=frozenset()), "arrangement": replace(need, arrangements=False),
    }[group]
    caught = 0
    for index in range(0, len(PORTFOLIO), 50):
        snapshot = parse_snapshot(PORTFOLIO[index], AS_OF)
        check_narrowed(snapshot, AS_OF, need, read, {})
        try:
            check_narrowed(snapshot, AS_OF, wrong, read, {})
        except AssertionError:
            caught += 1
    assert caught, f"no portfolio case shows the {group} facts missing"


GROUP_POLICIES_READ = {name: engines(policy)[0].facts_read for name, policy in GROUP_POLICIES.items()}
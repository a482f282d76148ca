"""The shortcuts derive takes on the decide path give what the long way gives.

- The flags' facts (consent.*, gdpr.*, legal.*) are worked out once per set of
  flag values and shared: the same facts, in the same order, as reading every
  flag of the snapshot; other values get their own; the store stays bounded.
- A decision without a trace does not build the verdicts on the arrangements;
  asking the context for them still gives the full derive's.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import facts as facts_module
from engine.authoring.portfolio import synthetic_portfolio
from engine.facts import derive, flag_facts
from engine.registry import load_rules
from engine.engine import StrategyEngine
from engine.snapshot import CaseSnapshot, Consents, GdprFlags, LegalFlags, parse_snapshot
from tests.conftest import AS_OF, REPO

BASE = parse_snapshot(next(iter(synthetic_portfolio(1, AS_OF, seed=3))), AS_OF)


def _read_one_by_one(snapshot: CaseSnapshot) -> list[tuple[str, Any]]:
    """The flags' facts the long way: every true-or-false field of each model, in order."""
    return [
        (f"{prefix}.{name}", value)
        for prefix, flags in (("consent", snapshot.consents), ("gdpr", snapshot.gdpr), ("legal", snapshot.legal))
        for name, value in flags.__dict__.items()
        if isinstance(value, bool)
    ]


def _with_flags(consents: dict[str, bool], gdpr: dict[str, bool], legal: dict[str, Any]) -> CaseSnapshot:
    return BASE.model_copy(update={"consents": Consents(**consents), "gdpr": GdprFlags(**gdpr), "legal": LegalFlags(**legal)})


def _flags(model: type) -> Any:
    return st.fixed_dictionaries({}, optional={name: st.booleans() for name in model.model_fields if name != "breathing_space_start"})


@settings(max_examples=200, deadline=None)
@given(consents=_flags(Consents), gdpr=_flags(GdprFlags), legal=_flags(LegalFlags), moratorium=st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1)))
def test_the_flags_facts_are_every_flag_read_one_by_one(consents, gdpr, legal, moratorium):
    snapshot = _with_flags(consents, gdpr, {**legal, "breathing_space_start": moratorium})
    assert list(flag_facts(snapshot).items()) == _read_one_by_one(snapshot)
    assert list(flag_facts(snapshot).items()) == _read_one_by_one(snapshot)  # the second time from the store
    derived = derive(snapshot, AS_OF).facts
    assert [(path, derived[path]) for path, _ in _read_one_by_one(snapshot)] == _read_one_by_one(snapshot)


def test_equal_flags_share_their_facts_and_other_flags_do_not():
    one = _with_flags({"sms": True}, {}, {"hardship": True})
    same = _with_flags({"sms": True}, {}, {"hardship": True})  # equal values, other model objects
    other = _with_flags({"sms": True}, {}, {"hardship": False})
    assert one.legal is not same.legal
    assert flag_facts(one) is flag_facts(same)
    assert flag_facts(other)["legal.hardship"] is False and flag_facts(one)["legal.hardship"] is True


def test_the_flags_store_is_bounded():
    start = date(2000, 1, 1)
    for offset in range(facts_module._MAX_FLAG_FACTS + 50):  # every breathing-space date is another set of values
        flag_facts(_with_flags({}, {}, {"breathing_space_start": start + timedelta(days=offset)}))
        assert len(facts_module._FLAG_FACTS) <= facts_module._MAX_FLAG_FACTS


def test_a_decision_without_a_trace_judges_the_arrangements_only_when_asked():
    policy, packs = load_rules(REPO / "rules")
    need = StrategyEngine(policy, packs).fact_need
    assert need is not None and need.arrangements
    cases = [parse_snapshot(data, AS_OF) for data in synthetic_portfolio(400, AS_OF, seed=5) if data.get("arrangements")]
    assert cases
    for snapshot in cases:
        narrow, full = derive(snapshot, AS_OF, need=need), derive(snapshot, AS_OF)
        assert narrow.judged is None  # not built on the way
        assert full.judged is not None and narrow.arrangements == full.arrangements == full.judged
        assert all(narrow.facts[path] == full.facts[path] for path in narrow.facts if path.startswith("arrangement") or path == "broken_promises")

"""The synthetic portfolio: valid, decided without a fault, deterministic, and calibrated as documented."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from engine.facts import derive
from engine.authoring.portfolio import HOME_ZONE, synthetic_portfolio
from engine.registry import build_engine
from engine.authoring.simulate_report import dpd_bucket
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import ELECTRONIC_CHANNELS, FAILED_DELIVERIES, Direction
from tests.conftest import REPO

AS_OF = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
COUNT = 3000
# The stage a template belongs to, in days past due on the day it was sent (either end open: None).
STAGE_OF_TEMPLATE: dict[str, tuple[tuple[int | None, int | None], ...]] = {
    "pre-due-friendly": ((-5, -1),),
    "due-day-friendly": ((0, 3),),
    "reminder-soft": ((4, 14),),
    "reminder-firm": ((15, 30), (91, 120)),
    "call-personal": ((15, None),),
    "plan-offer": ((31, 60),),
    "plan-offer-extended": ((61, 90),),
    "settlement-offer": ((61, 90),),
    "final-notice": ((91, 100),),
    "pl-pre-suit-demand": ((91, 100),),
    "settlement-last-chance": ((121, None),),
    "reminder-general": ((0, 3), (31, None)),  # the first notice, or a plain reminder later on
    "us-validation-notice": ((None, None),),
}
ARRANGEMENT_TEMPLATES = {"arrangement-confirmation", "instalment-due-soon", "missed-instalment-replan"}
BUCKET_LABELS = {"<0": "not yet due", "0-14": "0-14 days past due", "15-30": "15-30 days", "31-60": "31-60 days", "61-90": "61-90 days", "91-180": "91-180 days", ">180": "over 180 days"}


@pytest.fixture(scope="module")
def engine() -> Any:
    return build_engine(REPO / "rules")


@pytest.fixture(scope="module")
def portfolio(engine: Any) -> list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]:
    """Every case with its snapshot and the facts the shipped policy derives from it."""
    grace = dict(engine.policy.posting_grace)
    return [(case, snapshot, derive(snapshot, AS_OF, grace).facts) for case in synthetic_portfolio(COUNT, AS_OF, seed=7) for snapshot in [parse_snapshot(case, AS_OF)]]


def documented_ranges() -> dict[str, tuple[float, float]]:
    """measure -> (low, high) from the calibration table of docs/simulate.md; percentages as shares."""
    ranges = {}
    for row in re.findall(r"^\| ([^|]+) \| [^|]+ \| ([0-9.]+%?)-([0-9.]+%?) \|$", (REPO / "docs" / "simulate.md").read_text(encoding="utf-8"), re.MULTILINE):
        name, low, high = row
        ranges[name] = tuple(float(value.rstrip("%")) / (100 if value.endswith("%") else 1) for value in (low, high))
    return ranges  # type: ignore[return-value]


def _local_day(instant: datetime, case: dict[str, Any]) -> Any:
    return instant.astimezone(ZoneInfo(case.get("time_zone") or HOME_ZONE[case["country"]])).date()


@pytest.mark.parametrize("as_of", ["2026-11-24T10:00:00+01:00", "2026-12-27T23:30:00Z", "2027-03-28T01:30:00Z", "2027-07-04T16:00:00-04:00"])
def test_every_case_is_valid_and_decided_without_an_engine_fault(engine: Any, as_of: str) -> None:
    instant = datetime.fromisoformat(as_of)
    count = COUNT if as_of == "2026-11-24T10:00:00+01:00" else 1000
    faults = []
    arrangements = 0
    for case in synthetic_portfolio(count, instant, seed=13):
        snapshot = parse_snapshot(case, instant)  # raises InvalidSnapshot naming the field
        decision = engine.decide(snapshot, instant)
        if decision.reasons[0].code in ("ENGINE_FAULT", "NO_RULE_MATCHED"):
            faults.append((case["case_id"], decision.reasons[0].code))
        arrangements += bool(snapshot.arrangements) and any(payment for item in snapshot.arrangements for payment in item.payments)
    assert faults == []
    assert arrangements > count * 0.05  # arrangements with payments were among them


def test_the_shares_are_in_the_documented_ranges(portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    ranges = documented_ranges()
    measured: dict[str, float] = {}
    states = Counter(facts["arrangement.state"] for _, _, facts in portfolio if "arrangement.state" in facts)
    with_arrangement = sum(states.values())
    measured["cases with an arrangement"] = with_arrangement / COUNT
    for state in ("pending", "performing", "missed", "broken", "completed", "cancelled"):
        measured[f"of them, `{state}`"] = states[state] / with_arrangement
    attempts: defaultdict[str, list[int]] = defaultdict(list)
    for _, snapshot, facts in portfolio:
        if "arrangement.state" not in facts:
            attempts[dpd_bucket(snapshot.days_past_due)].append(facts["contacts.all.last_30d"])
    for bucket, label in BUCKET_LABELS.items():
        measured[f"outbound attempts in the last 30 days, {label}"] = statistics.mean(attempts[bucket])
    failed: Counter[str] = Counter()
    known: Counter[str] = Counter()
    for _, snapshot, _ in portfolio:
        for contact in snapshot.prior_contacts:
            if contact.direction is Direction.OUTBOUND and contact.action is not None:  # the legacy system records no delivery
                known[contact.channel.value] += 1
                failed[contact.channel.value] += contact.delivery in FAILED_DELIVERIES
    for channel, label in (("email", "email"), ("sms", "SMS"), ("phone", "phone"), ("letter", "letter")):
        measured[f"failed deliveries, {label}"] = failed[channel] / known[channel]
    measured["failed deliveries on email or SMS, of all failed deliveries"] = (failed["email"] + failed["sms"]) / sum(failed.values())
    measured["cases with an inbound contact"] = sum(any(c.direction is Direction.INBOUND for c in s.prior_contacts) for _, s, _ in portfolio) / COUNT
    measured["cases from the legacy system"] = sum(bool(s.prior_contacts) and all(c.action is None for c in s.prior_contacts) for _, s, _ in portfolio) / COUNT
    assert set(measured) == set(ranges), "docs/simulate.md and this test name the same measures"
    outside = {name: (round(value, 4), ranges[name]) for name, value in measured.items() if not ranges[name][0] <= value <= ranges[name][1]}
    assert outside == {}
    assert states.most_common(1)[0][0] == "performing"  # most arrangements are being kept


_DIGEST = """
import hashlib, json, sys
from datetime import datetime
from engine.authoring.portfolio import synthetic_portfolio
cases = list(synthetic_portfolio(300, datetime.fromisoformat(sys.argv[1]), seed=int(sys.argv[2])))
print(hashlib.sha256(json.dumps(cases, sort_keys=True).encode()).hexdigest(), sum(bool(case.get("arrangements")) for case in cases))
"""


def _digest(seed: int, hash_seed: str) -> tuple[str, int]:
    # A fresh process with its own string hashing: nothing may depend on the order of a set.
    run = subprocess.run([sys.executable, "-c", _DIGEST, AS_OF.isoformat(), str(seed)], cwd=REPO, env={**os.environ, "PYTHONHASHSEED": hash_seed},
                         capture_output=True, text=True, timeout=120, check=True)
    digest, arrangements = run.stdout.split()
    return digest, int(arrangements)


def test_the_same_seed_gives_the_same_cases_with_their_histories_and_arrangements() -> None:
    first, again, other = _digest(5, "1"), _digest(5, "2"), _digest(6, "1")
    assert first == again and first[1] > 20
    assert other[0] != first[0]


def test_each_attempt_carries_the_action_and_template_of_its_stage(portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    policy = yaml.safe_load((REPO / "rules" / "strategies" / "default.yaml").read_text(encoding="utf-8"))
    packs = "".join(path.read_text(encoding="utf-8") for path in (REPO / "rules" / "compliance").rglob("*.yaml"))
    seen: Counter[str] = Counter()
    misplaced = []
    for case, snapshot, _ in portfolio:
        today = _local_day(AS_OF, case)
        agreed = min((arrangement.agreed_at for arrangement in snapshot.arrangements), default=None)
        for contact in snapshot.prior_contacts:
            if contact.direction is Direction.INBOUND or contact.template is None:
                continue
            assert contact.action is not None
            seen[contact.template] += 1
            assert contact.template in policy["templates"] or f"template: {contact.template}" in packs or contact.template in STAGE_OF_TEMPLATE
            if contact.template in ARRANGEMENT_TEMPLATES:
                assert agreed is not None and contact.at > agreed, case["case_id"]
                continue
            if contact.outcome.value == "promise_to_pay":
                continue  # possibly the call an arrangement was agreed in, at any stage
            if contact.template == "us-validation-notice":
                assert snapshot.third_party_collector
            day = snapshot.days_past_due - (today - _local_day(contact.at, case)).days
            # A day either way: a contact timed in the debtor's morning can fall on the day before in another clock.
            if not any((low is None or day >= low - 1) and (high is None or day <= high + 1) for low, high in STAGE_OF_TEMPLATE[contact.template]):
                misplaced.append((case["case_id"], contact.template, day))
    assert misplaced == []
    assert set(seen) == set(STAGE_OF_TEMPLATE) | ARRANGEMENT_TEMPLATES  # every stage is represented


def test_attempts_use_only_channels_the_debtor_consented_to(portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    for case, snapshot, _ in portfolio:
        for contact in snapshot.prior_contacts:
            if contact.direction is Direction.OUTBOUND and contact.outcome.value != "promise_to_pay":
                assert getattr(snapshot.consents, contact.channel.value), case["case_id"]
                assert not (contact.channel in ELECTRONIC_CHANNELS and snapshot.consents.electronic_opt_out), case["case_id"]


def test_nobody_is_chased_while_an_arrangement_holds(portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    held = 0
    for case, snapshot, facts in portfolio:
        if facts.get("arrangement.state") not in ("pending", "performing"):
            continue
        held += 1
        agreed = max(arrangement.agreed_at for arrangement in snapshot.arrangements if arrangement.status.value != "cancelled")
        for contact in snapshot.prior_contacts:
            if contact.at > agreed and contact.direction is Direction.OUTBOUND and contact.template is not None:
                assert contact.template in ARRANGEMENT_TEMPLATES, (case["case_id"], contact.template)
    assert held > 100


def test_arrangements_agree_with_their_case(portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    payments = 0
    for case, snapshot, _ in portfolio:
        for data, arrangement in zip(case.get("arrangements", []), snapshot.arrangements):
            payments += len(arrangement.payments)
            assert data.get("currency", snapshot.currency) == snapshot.currency
            assert all(item.due_date >= _local_day(arrangement.agreed_at, case) for item in arrangement.schedule)
            assert sum(p.amount for p in arrangement.payments) <= sum(i.amount for i in arrangement.schedule)
            for payment in arrangement.payments:
                assert arrangement.agreed_at <= payment.paid_at <= AS_OF
                assert payment.posted_at is None or payment.paid_at <= payment.posted_at <= AS_OF
                assert snapshot.payment.last_payment_at is not None and payment.paid_at <= snapshot.payment.last_payment_at
        assert all(contact.at <= AS_OF for contact in snapshot.prior_contacts)
        assert snapshot.amount_due >= 0
    assert payments > COUNT * 0.1


def test_the_self_cure_score_follows_behaviour_and_is_what_the_shipped_policy_declares(engine: Any, portfolio: list[tuple[dict[str, Any], CaseSnapshot, dict[str, Any]]]) -> None:
    from engine.policy.inputs import check_inputs  # the check the API runs against the policy in force

    scored = [(snapshot, snapshot.inputs["self_cure_score"]) for _, snapshot, _ in portfolio if "self_cure_score" in snapshot.inputs]
    assert 0.85 < len(scored) / COUNT < 0.95  # a tenth of the cases come without a score
    for snapshot, _ in scored:
        check_inputs(snapshot, engine.policy.inputs)  # raises InvalidSnapshot naming the input
    by_stage = {stage: statistics.mean(score for snapshot, score in scored if low <= snapshot.days_past_due <= high) for stage, (low, high) in {"early": (0, 14), "mid": (31, 60), "late": (91, 720)}.items()}
    assert by_stage["early"] > by_stage["mid"] + 20 > by_stage["late"] + 40
    kept = statistics.mean(score for snapshot, score in scored if snapshot.payment.broken_promises == 0 and 0 <= snapshot.days_past_due <= 14)
    broken = statistics.mean(score for snapshot, score in scored if snapshot.payment.broken_promises >= 2 and 0 <= snapshot.days_past_due <= 14)
    assert kept > broken + 20
    early = [snapshot for snapshot, score in scored if score >= 80 and 1 <= snapshot.days_past_due <= 14 and snapshot.payment.broken_promises < 2]
    assert len(early) > COUNT * 0.05  # the self-cure path of the shipped strategy is exercised

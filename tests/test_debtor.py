"""One contact decision for a person with several accounts (engine/debtor.py), in process.

Each test is a situation a collections manager would recognise, decided with the
shipped rules (rules/) unless a test needs a policy the shipped one does not
have (a probe that always calls, another ranking): per-person caps, cool-offs
and quiet periods counted over every account; flags that hold the person or
only their account, as the packs declare; which account leads the contact, which
steps join it and which wait; one offer per currency; a fault on one account
stops the person; and bad debtor input refused naming the field. All decisions
are made on a Tuesday morning in Warsaw, so windows are deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import engine.engine as engine_module
from engine.compliance import FLAG_PATHS, Compliance
from engine.debtor import DebtorDecision, common_bounds, decide_debtor
from engine.debtor_snapshot import MAX_DEBTOR_CONTACTS, parse_debtor
from engine.decision import Decision, OfferBounds
from engine.engine import StrategyEngine
from engine.errors import InvalidSnapshot, PolicyError
from engine.policy.ir import Pack
from engine.policy.loader import load_strategy
from engine.policy.packs import load_pack, load_packs
from engine.authoring.portfolio import synthetic_portfolio
from engine.registry import build_engine
from engine.snapshot import MAX_ACCOUNTS, MAX_PRIOR_CONTACTS, parse_snapshot
from engine.vocabulary import Channel
from tests.conftest import write_policy

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime.fromisoformat("2026-11-24T10:00:00+01:00")  # Tuesday, 10:00 in Warsaw
ALL_CONSENTS = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}
PACKS = load_packs(REPO / "rules" / "compliance")


@pytest.fixture(scope="module")
def shipped() -> StrategyEngine:
    return build_engine(REPO / "rules")


def probe(tmp_path: Path, debtor: str, rule: str = "then: {action: CALL, channel: phone}") -> StrategyEngine:
    """A strategy whose only rule always contacts (no pacing of its own, so the
    packs' caps and quiet periods are what binds), with the shipped packs."""
    write_policy(tmp_path, f"""
        policy: probe
        version: "1"
        debtor: {debtor}
        rules:
          - id: always
            priority: 1
            when: {{}}
            {rule}
            reason: probe
        """)
    return StrategyEngine(load_strategy(tmp_path / "strategies"), PACKS)


@pytest.fixture
def caller(tmp_path: Path) -> StrategyEngine:
    return probe(tmp_path, "{bundle: [[CALL]]}")


def account(account_id: str, days_past_due: int, amount: str = "450.00", currency: str = "PLN", **extra: Any) -> dict[str, Any]:
    return {"account_id": account_id, "amount_due": amount, "currency": currency, "days_past_due": days_past_due, "segment": "retail", **extra}


def debtor(*accounts: dict[str, Any], **person: Any) -> dict[str, Any]:
    """A Warsaw debtor who consented to every channel, unless told otherwise."""
    return {"debtor_id": "D-1", "country": "PL", "time_zone": "Europe/Warsaw", "consents": ALL_CONSENTS, **person, "accounts": list(accounts)}


def contact(channel: str, days_ago: float, outcome: str = "no_answer", **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "at": (AS_OF - timedelta(days=days_ago)).isoformat(), "outcome": outcome, **extra}


def decide(engine: StrategyEngine, data: dict[str, Any], as_of: datetime = AS_OF) -> DebtorDecision:
    return decide_debtor(engine, parse_debtor(data, as_of), as_of)


def by_id(decision: DebtorDecision) -> dict[str, Decision]:
    return {item.case_id: item for item in decision.accounts}


def first_reason(decision: Decision) -> str:
    return decision.reasons[0].code


def contacts_nobody(decision: DebtorDecision) -> bool:
    return decision.action == "NO_CONTACT" and decision.channel is None and not decision.account_ids and all(item.channel is None for item in decision.accounts)


# --- caps, cool-offs and quiet periods are the person's ----------------------------------------


def test_polish_call_cap_counts_the_calls_about_every_account(caller: StrategyEngine) -> None:
    """Two calls about one account and one about another are three calls to the
    person in 7 days: the next call waits until the oldest leaves the week."""
    calm = decide(caller, debtor(account("A1", 40, prior_contacts=[contact("phone", 5), contact("phone", 4)]), account("A2", 45)))
    assert calm.window is not None and calm.window.start == AS_OF  # two calls: a third fits today
    capped = decide(caller, debtor(account("A1", 40, prior_contacts=[contact("phone", 5), contact("phone", 4)]), account("A2", 45, prior_contacts=[contact("phone", 3)])))
    assert capped.action == "CALL" and capped.window is not None
    assert capped.window.start == AS_OF - timedelta(days=5) + timedelta(days=7)
    assert "pl/draft-act-calls" in {reason.code for reason in capped.window_constraints}
    for item in capped.accounts:  # each account, decided alone, already sees the person's calls
        assert item.window is not None and item.window.start >= capped.window.start


def test_a_contact_listed_under_two_accounts_counts_once(caller: StrategyEngine) -> None:
    same_call = contact("phone", 4)
    data = debtor(account("A1", 40, prior_contacts=[contact("phone", 5), same_call]), account("A2", 45, prior_contacts=[same_call]))
    decision = decide(caller, data)
    assert decision.window is not None and decision.window.start == AS_OF  # two calls, not three
    assert "pl/draft-act-calls" not in {reason.code for reason in decision.window_constraints}


def test_a_person_level_contact_naming_both_accounts_counts_once(caller: StrategyEngine) -> None:
    about_both = contact("phone", 3, account_ids=["A1", "A2"])
    capped = decide(caller, debtor(account("A1", 40, prior_contacts=[contact("phone", 5), contact("phone", 4)]), account("A2", 45), contacts=[about_both]))
    assert capped.window is not None and capped.window.start == AS_OF + timedelta(days=2)  # three calls: 5, 4 and 3 days ago
    # The same call also listed under an account (same channel and instant) is still one call.
    listed_again = contact("phone", 4, account_ids=["A1", "A2"])
    calm = decide(caller, debtor(account("A1", 40, prior_contacts=[contact("phone", 5), contact("phone", 4)]), account("A2", 45), contacts=[listed_again]))
    assert calm.window is not None and calm.window.start == AS_OF


def test_the_strategy_weekly_cap_counts_every_account(shipped: StrategyEngine) -> None:
    """The shipped strategy allows three contacts a week on all channels: a text about
    one account, an email about another and a letter about a third make three."""
    data = debtor(
        account("A1", 40, prior_contacts=[contact("sms", 6, "delivered")]),
        account("A2", 45, prior_contacts=[contact("email", 5, "delivered")]),
        account("A3", 50, prior_contacts=[contact("letter", 4, "delivered")]),
    )
    decision = decide(shipped, data)
    assert contacts_nobody(decision)
    assert {first_reason(item) for item in decision.accounts} == {"weekly-contact-cap"}
    # Any one account's contacts alone would not reach the cap.
    alone = decide(shipped, debtor(account("A1", 40, prior_contacts=[contact("sms", 6, "delivered")]), account("A2", 45)))
    assert alone.channel is not None


def test_the_cool_off_counts_a_contact_about_another_account(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40, prior_contacts=[contact("email", 1, "delivered")]), account("A2", 70)))
    assert contacts_nobody(decision)
    assert first_reason(by_id(decision)["A2"]) == "cool-off-after-recent-contact"  # A2 has no contact of its own
    assert decision.reasons[0].code == "NO_ACCOUNT_CONTACT"


def test_a_conversation_about_one_account_starts_the_us_quiet_period_for_every_account(caller: StrategyEngine) -> None:
    """Regulation F: no call within 7 days after a telephone conversation, with the person."""
    data = debtor(
        account("A1", 40, "450.00", "USD", prior_contacts=[contact("phone", 2, "right_party_contact")]),
        account("A2", 45, "450.00", "USD"),
        country="US", region="NY", time_zone="America/New_York",
    )
    decision = decide(caller, data)
    assert decision.window is not None
    conversation = (AS_OF - timedelta(days=2)).astimezone(ZoneInfo("America/New_York"))
    release = datetime.combine(conversation.date() + timedelta(days=7), datetime.min.time(), conversation.tzinfo)
    assert decision.window.start >= release
    assert "us/reg-f-seven-days-after-conversation" in {reason.code for reason in decision.window_constraints}


# --- flags: the packs say which hold the person ------------------------------------------------

PERSON_FLAGS = [
    ("legal", "bankruptcy", "bankruptcy-route-to-insolvency-team"),
    ("legal", "deceased", "deceased-route-to-estate-team"),
    ("legal", "cease_and_desist", "cease-and-desist-route-to-person"),
    ("legal", "attorney_represented", "attorney-route-to-legal-liaison"),
    ("legal", "vulnerable", "vulnerable-forbearance-review"),
    ("legal", "hardship", "hardship-forbearance-review"),
    ("gdpr", "objection", "gdpr-request-route-to-privacy-team"),
    ("gdpr", "restriction", "gdpr-request-route-to-privacy-team"),
    ("gdpr", "erasure_requested", "gdpr-request-route-to-privacy-team"),
]


@pytest.mark.parametrize(("section", "flag", "rule"), PERSON_FLAGS, ids=[f"{s}.{f}" for s, f, _ in PERSON_FLAGS])
def test_a_person_flag_on_one_account_stops_every_account(shipped: StrategyEngine, section: str, flag: str, rule: str) -> None:
    data = debtor(account("A1", 40, **{section: {flag: True}}), account("A2", 70), account("A3", 10))
    decision = decide(shipped, data)
    assert contacts_nobody(decision), decision
    assert {rule} <= {reason.code for item in decision.accounts for reason in item.reasons}
    for item in decision.accounts:  # the accounts without the flag are held by it too
        assert rule in item.fired_rules, (item.case_id, item.fired_rules)


def test_bankruptcy_recorded_on_one_account_holds_the_whole_person(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 100, legal={"bankruptcy": True}), account("A2", 40), account("A3", 70)))
    assert contacts_nobody(decision)
    assert {item.action for item in decision.accounts} == {"HUMAN_REVIEW"}
    assert {first_reason(item) for item in decision.accounts} == {"bankruptcy-route-to-insolvency-team"}


def test_a_dispute_holds_only_its_account(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 70, legal={"dispute": True}), account("A2", 45)))
    accounts = by_id(decision)
    assert first_reason(accounts["A1"]) == "dispute-route-to-disputes-team" and accounts["A1"].channel is None
    assert decision.channel is not None and decision.account_ids == ("A2",)  # the undisputed debt is still collected
    assert accounts["A2"].action == "OFFER_PAYMENT_PLAN"


def test_a_time_barred_debt_holds_only_its_account(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40, legal={"time_barred": True}), account("A2", 45)))
    accounts = by_id(decision)
    assert accounts["A2"].action == "OFFER_PAYMENT_PLAN" and "time-barred-information" not in accounts["A2"].fired_rules
    assert "time-barred-information" in accounts["A1"].fired_rules


def test_steps_are_counted_per_account(shipped: StrategyEngine) -> None:
    """A person-level letter telling the debtor that one debt is time-barred tells
    them nothing about another time-barred debt: history.* reads the account's steps."""
    told_about_a2 = contact("letter", 10, "delivered", action="SEND_NOTICE", account_ids=["A2"])
    data = debtor(account("A1", 40, legal={"time_barred": True}), account("A2", 45, legal={"time_barred": True}), contacts=[told_about_a2])
    accounts = by_id(decide(shipped, data))
    assert first_reason(accounts["A2"]) == "time-barred-told-no-contact"
    assert first_reason(accounts["A1"]) == "time-barred-information" and accounts["A1"].action == "SEND_NOTICE"


def test_hardship_on_one_account_brings_forbearance_to_every_account(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40, legal={"hardship": True}), account("A2", 100), account("A3", 10)))
    assert contacts_nobody(decision)
    for item in decision.accounts:
        assert first_reason(item) == "hardship-forbearance-review" and item.action == "HUMAN_REVIEW"
        assert item.offer is not None and item.offer.payment_holiday  # forbearance: room for a pause


def test_a_breathing_space_of_the_person_holds_every_account(shipped: StrategyEngine) -> None:
    data = debtor(account("A1", 40, "450.00", "GBP"), account("A2", 70, "100.00", "GBP"), country="GB", time_zone="Europe/London", legal={"breathing_space_start": "2026-11-20"})
    decision = decide(shipped, data)
    assert contacts_nobody(decision)
    assert {first_reason(item) for item in decision.accounts} == {"gb/breathing-space-moratorium"}


def test_rules_read_the_persons_facts_beside_the_accounts(shipped: StrategyEngine) -> None:
    """debtor.*: the same for every account, but the total owed is in the reading account's currency."""
    data = debtor(account("A1", 40, "450.00"), account("A2", 70, "100.00", "EUR"), account("A3", 10, "50.00"), contacts=[contact("email", 3, "delivered")])
    decision = decide_debtor(shipped, parse_debtor(data, AS_OF), AS_OF, explain=True)
    facts = {item.case_id: item.trace["facts"] for item in decision.accounts if item.trace is not None}
    assert set(facts) == {"A1", "A2", "A3"}
    for account_id, total in (("A1", "500.00"), ("A2", "100.00"), ("A3", "500.00")):
        found = facts[account_id]
        assert (found["debtor.accounts"], found["debtor.currencies"], found["debtor.worst_days_past_due"]) == (3, 2, 70)
        assert Decimal(found["debtor.total_due"]) == Decimal(total)
        assert found["contacts.all.last_7d"] == 1  # the person-level email, for every account
    assert decision.trace is not None and decision.trace["lead"] == "A2" and decision.trace["waiting"] == ["A3"]


def _pack(name: str, person: frozenset[str] = frozenset(), account_only: frozenset[str] = frozenset()) -> Pack:
    return Pack(name, "1", frozenset({"PL"}), None, False, (), (), (), (), "hash", person_flags=person, account_flags=account_only)


def test_a_pack_may_widen_an_account_flag_to_the_person_never_narrow_it() -> None:
    base = _pack("base", account_only=frozenset({"legal.dispute", "legal.time_barred"}))
    assert Compliance([base]).person_flags("PL", None) == frozenset(FLAG_PATHS) - {"legal.dispute", "legal.time_barred"}
    wider = _pack("wider", person=frozenset({"legal.dispute"}))
    assert "legal.dispute" in Compliance([base, wider]).person_flags("PL", None)
    # A flag no pack in force declares holds the person (the safe side).
    assert Compliance([]).person_flags("PL", None) == frozenset(FLAG_PATHS)
    assert Compliance([base]).person_flags("DE", None) == frozenset(FLAG_PATHS)


# --- which account leads, which steps join -----------------------------------------------------


def test_oldest_arrears_lead_the_contact(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40), account("A2", 70), account("A3", 55)))
    assert [item.case_id for item in decision.accounts] == ["A2", "A3", "A1"]
    assert decision.account_ids[0] == "A2"
    assert decision.reasons[0].code == first_reason(by_id(decision)["A2"])


def test_largest_balance_leads_within_one_currency(tmp_path: Path) -> None:
    engine = probe(tmp_path, "{rank: largest_first, bundle: [[CALL]]}")
    decision = decide(engine, debtor(account("A1", 90, "100.00"), account("A2", 10, "900.00"), account("A3", 40, "500.00")))
    assert [item.case_id for item in decision.accounts] == ["A2", "A3", "A1"]
    assert decision.account_ids == ("A2", "A3", "A1")


def test_largest_first_never_compares_amounts_in_two_currencies(tmp_path: Path) -> None:
    """100 EUR and 300 PLN are not compared: the oldest arrears lead instead."""
    engine = probe(tmp_path, "{rank: largest_first, bundle: [[CALL]]}")
    decision = decide(engine, debtor(account("A1", 90, "100.00", "EUR"), account("A2", 10, "300.00"), account("A3", 40, "200.00")))
    assert [item.case_id for item in decision.accounts] == ["A1", "A3", "A2"]


def test_score_ranks_by_the_attribute_and_an_unreadable_score_last(tmp_path: Path) -> None:
    engine = probe(tmp_path, "{rank: score, rank_attribute: priority, bundle: [[CALL]]}")
    data = debtor(
        account("A1", 90, attributes={"priority": "2"}),
        account("A2", 10, attributes={"priority": "7.5"}),
        account("A3", 40, attributes={"priority": "high"}),
        account("A4", 20),
    )
    assert [item.case_id for item in decide(engine, data).accounts] == ["A2", "A1", "A3", "A4"]


def test_a_bundled_contact_names_every_account_it_covers(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40), account("A2", 70), account("A3", 55)))
    assert decision.action == "OFFER_PAYMENT_PLAN" and decision.channel == Channel.PHONE
    assert decision.account_ids == ("A2", "A3", "A1")
    bundled = next(reason for reason in decision.reasons if reason.code == "DEBTOR_BUNDLED")
    assert all(account_id in bundled.text for account_id in decision.account_ids)
    for item in decision.accounts:  # every covered account on the lead's channel and window
        assert item.channel == decision.channel and item.window == decision.window


def test_a_step_joins_on_the_leads_channel_when_its_rule_allows_that_channel(shipped: StrategyEngine) -> None:
    """A student plan goes by email; the other account's plan (phone first) joins it there."""
    decision = decide(shipped, debtor(account("A1", 70, segment="student"), account("A2", 65, "60.00")))
    assert decision.channel == Channel.EMAIL and decision.account_ids == ("A1", "A2")
    assert by_id(decision)["A2"].channel == Channel.EMAIL and by_id(decision)["A2"].window == decision.window


def test_a_step_that_cannot_join_waits_for_the_end_of_the_leads_window(shipped: StrategyEngine) -> None:
    """A soft reminder is never sent by phone, so it cannot join a call: it waits."""
    decision = decide(shipped, debtor(account("A1", 40), account("A2", 70), account("A3", 10)))
    assert decision.channel == Channel.PHONE and "A3" not in decision.account_ids
    waiting = by_id(decision)["A3"]
    assert waiting.action == "NO_CONTACT" and waiting.channel is None and waiting.window is None
    assert first_reason(waiting) == "DEBTOR_ONE_CONTACT"
    assert decision.window is not None and waiting.next_review_at == decision.window.end
    assert any(veto.guardrail == "debtor/one-contact" for veto in waiting.vetoes)


def test_a_final_notice_goes_alone(shipped: StrategyEngine) -> None:
    """The shipped policy bundles gentle steps only: a plan does not ride on a final notice."""
    reached = contact("email", 20, "delivered")
    decision = decide(shipped, debtor(account("A1", 100, prior_contacts=[reached]), account("A2", 45)))
    assert decision.action == "FINAL_NOTICE" and decision.account_ids == ("A1",)
    assert first_reason(by_id(decision)["A2"]) == "DEBTOR_ONE_CONTACT"


# --- one offer per currency --------------------------------------------------------------------


def within(inner: tuple[Any, Any] | None, outer: tuple[Any, Any] | None) -> bool:
    return outer is None or (inner is not None and outer[0] <= inner[0] <= inner[1] <= outer[1])


def test_a_consolidated_offer_is_within_every_accounts_own(shipped: StrategyEngine) -> None:
    decision = decide(shipped, debtor(account("A1", 40, "450.00"), account("A2", 70, "800.00")))
    [offer] = decision.offers
    accounts = by_id(decision)
    own = [accounts[account_id].offer for account_id in ("A1", "A2")]
    assert all(bounds is not None for bounds in own)
    assert offer.currency == "PLN" and offer.total_due == Decimal("1250.00")
    assert offer.allocation == ("A2", "A1") and offer.allocation_rule == "oldest_first"  # the oldest arrears are paid first
    bounds = offer.bounds
    for single in own:
        assert single is not None
        assert within(bounds.instalments, single.instalments) and within(bounds.discount_pct, single.discount_pct)
        assert bounds.min_instalment is not None and single.min_instalment is not None and bounds.min_instalment >= single.min_instalment
        assert single.max_deferral_days is None or (bounds.max_deferral_days is not None and bounds.max_deferral_days <= single.max_deferral_days)
    # Never below what the accounts allow together (see also the known bug on the floor below).
    assert bounds.settlement_floor is not None
    assert bounds.settlement_floor >= sum((single.settlement_floor for single in own if single and single.settlement_floor), Decimal(0))


def test_accounts_in_two_currencies_get_one_offer_each_never_a_sum(shipped: StrategyEngine) -> None:
    data = debtor(account("A1", 40), account("A2", 45), account("A3", 50, "300.00", "EUR"), account("A4", 55, "200.00", "EUR"))
    decision = decide(shipped, data)
    assert len(decision.account_ids) == 4
    offers = {offer.currency: offer for offer in decision.offers}
    assert set(offers) == {"PLN", "EUR"}
    assert offers["PLN"].total_due == Decimal("900.00") and set(offers["PLN"].allocation) == {"A1", "A2"}
    assert offers["EUR"].total_due == Decimal("500.00") and set(offers["EUR"].allocation) == {"A3", "A4"}
    assert all(offer.bounds.currency == currency for currency, offer in offers.items())
    assert "OFFERS_BY_CURRENCY" in {reason.code for reason in decision.reasons}


def test_offers_whose_instalment_ranges_do_not_meet_are_not_consolidated(shipped: StrategyEngine) -> None:
    """A student plan of 3-24 instalments and a 60 PLN plan of 2 instalments have no common length."""
    decision = decide(shipped, debtor(account("A1", 70, segment="student"), account("A2", 65, "60.00")))
    accounts = by_id(decision)
    assert accounts["A1"].offer is not None and accounts["A2"].offer is not None  # each keeps its own offer
    assert decision.offers == ()
    assert "OFFER_NOT_CONSOLIDATED" in {reason.code for reason in decision.reasons}


def test_common_bounds_take_the_tightest_of_each_bound() -> None:
    wide = OfferBounds("PLN", "a", discount_pct=(Decimal(0), Decimal(10)), instalments=(2, 18), min_instalment=Decimal(30), max_deferral_days=60, settlement_floor=Decimal(90))
    narrow = OfferBounds("PLN", "b", discount_pct=(Decimal(5), Decimal(15)), instalments=(3, 12), min_instalment=Decimal(50), max_deferral_days=30, settlement_floor=Decimal(40))
    bounds = common_bounds([wide, narrow], Decimal(200))
    assert bounds is not None
    assert bounds.discount_pct == (Decimal(5), Decimal(10)) and bounds.instalments == (3, 12)
    assert bounds.min_instalment == Decimal(50) and bounds.max_deferral_days == 30
    assert bounds.settlement_floor == Decimal(180)  # 10% off 200 at most, more than the floors' sum (130)
    assert common_bounds([wide, OfferBounds("PLN", "c", instalments=(20, 24))], Decimal(200)) is None


# Consolidated offers that stay consistent, and steps that keep their own decision when joined.


def test_a_consolidated_floor_allows_no_larger_discount_than_its_own_range(shipped: StrategyEngine) -> None:
    """Two plans (up to 5% and up to 10% off): the common range says at most 5% off
    the total, so the least amount that closes the debts is at least 95% of it."""
    decision = decide(shipped, debtor(account("A1", 40, "450.00"), account("A2", 70, "450.00")))
    [offer] = decision.offers
    bounds = offer.bounds
    assert bounds.discount_pct is not None and bounds.settlement_floor is not None
    least = offer.total_due * (100 - bounds.discount_pct[1]) / 100
    assert bounds.settlement_floor >= least, f"floor {bounds.settlement_floor} < {least}: {100 - bounds.settlement_floor * 100 / offer.total_due:.1f}% off"


def test_a_consolidated_offer_offers_something_or_is_not_made(shipped: StrategyEngine) -> None:
    """A last-chance settlement (10-20% off, no plan) and a plan (0-5% off): nothing is
    common to both, so there is no consolidated offer, and the decision says why."""
    decision = decide(shipped, debtor(account("A1", 130, "500.00"), account("A2", 45)))
    assert decision.account_ids == ("A1", "A2")
    for offer in decision.offers:
        bounds = offer.bounds
        assert bounds.discount_pct or bounds.instalments or bounds.max_deferral_days or bounds.payment_holiday, offer
    if not decision.offers:
        assert "OFFER_NOT_CONSOLIDATED" in {reason.code for reason in decision.reasons}


def test_a_consolidated_offer_names_a_minimum_instalment_only_with_instalments(shipped: StrategyEngine) -> None:
    """As in every account's own offer: no plan, no minimum instalment."""
    decision = decide(shipped, debtor(account("A1", 70, "1500.00"), account("A2", 65)))  # a settlement and a plan
    [offer] = decision.offers
    assert offer.bounds.instalments is not None or offer.bounds.min_instalment is None, offer.bounds


def test_a_step_joined_on_another_channel_keeps_its_experiment_arm_and_trace(tmp_path: Path) -> None:
    write_policy(tmp_path, """
        policy: arms
        version: "1"
        experiments:
          - {id: tone, arms: {a: 50, b: 50}}
        debtor: {bundle: [[CALL, OFFER_PAYMENT_PLAN]]}
        rules:
          - id: late-call
            priority: 10
            when: {days_past_due: {gte: 60}}
            then: {action: CALL, channel: email}
            reason: x
          - id: plan
            priority: 5
            when: {}
            then: {action: OFFER_PAYMENT_PLAN, channel: [phone, email], offer: {instalments: [2, 6]}}
            reason: y
        """)
    engine = StrategyEngine(load_strategy(tmp_path / "strategies"), PACKS)
    alone = by_id(decide(engine, debtor(account("A2", 40))))["A2"]
    assert alone.channel == Channel.PHONE and alone.experiment_arm.startswith("tone:")
    data = parse_debtor(debtor(account("A1", 70), account("A2", 40)), AS_OF)
    decision = decide_debtor(engine, data, AS_OF, explain=True)
    joined = by_id(decision)["A2"]
    assert decision.account_ids == ("A1", "A2") and joined.channel == Channel.EMAIL
    assert joined.experiment_arm == alone.experiment_arm
    assert joined.trace is not None


# --- a fault on one account stops the person ----------------------------------------------------


def test_a_fault_on_one_account_makes_the_whole_person_no_contact(shipped: StrategyEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    derive = engine_module.derive

    def failing(snapshot: Any, *args: Any, **kwargs: Any) -> Any:
        if snapshot.case_id == "A2":
            raise RuntimeError("simulated fault")
        return derive(snapshot, *args, **kwargs)

    data = debtor(account("A1", 40), account("A2", 70), account("A3", 55))
    assert decide(shipped, data).channel is not None  # without the fault, the person is contacted
    monkeypatch.setattr(engine_module, "derive", failing)
    decision = decide(shipped, data)
    assert contacts_nobody(decision)
    assert decision.reasons[0].code == "DEBTOR_FAULT" and decision.offers == ()
    accounts = by_id(decision)
    assert first_reason(accounts["A2"]) == "ENGINE_FAULT"
    assert first_reason(accounts["A1"]) == first_reason(accounts["A3"]) == "DEBTOR_FAULT"
    assert all(item.offer is None and item.window is None for item in decision.accounts)


@pytest.mark.parametrize("stage", ["consolidate", "rank"])
def test_a_fault_while_combining_the_accounts_makes_the_whole_person_no_contact(shipped: StrategyEngine, monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    import engine.debtor as debtor_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("simulated fault")

    monkeypatch.setattr(debtor_module, stage, broken)
    decision = decide(shipped, debtor(account("A1", 40), account("A2", 70)))
    assert contacts_nobody(decision) and decision.reasons[0].code == "DEBTOR_FAULT"
    assert {item.case_id for item in decision.accounts} == {"A1", "A2"}
    assert all(item.action == "NO_CONTACT" and item.channel is None and item.offer is None for item in decision.accounts)


# --- Decide is a one-account DecideDebtor ---------------------------------------------------------

PERSON_FIELDS = ("country", "region", "time_zone", "language", "consents", "gdpr", "preferred_channel", "preferred_hours", "third_party_collector", "attributes")


def one_account_debtor(case: dict[str, Any]) -> dict[str, Any]:
    """A case as a debtor with one account: where and how to reach the person on the
    person, the debt (and its legal flags, Breathing Space apart) on the account."""
    person = {key: case[key] for key in PERSON_FIELDS if key in case}
    legal = dict(case.get("legal", {}))
    breathing_space = legal.pop("breathing_space_start", None)
    if breathing_space:
        person["legal"] = {"breathing_space_start": breathing_space}
    accounts = {key: value for key, value in case.items() if key not in (*PERSON_FIELDS, "case_id", "legal")}
    return {"debtor_id": "P-" + case["case_id"], **person, "accounts": [{**accounts, "account_id": case["case_id"], "legal": legal}]}


def test_decide_equals_decide_debtor_of_a_one_account_debtor(shipped: StrategyEngine) -> None:
    as_of = AS_OF.astimezone(timezone.utc)
    seen: set[str] = set()
    for case in synthetic_portfolio(300, as_of, seed=11):
        single = shipped.decide(parse_snapshot(case, as_of), as_of)
        person = decide_debtor(shipped, parse_debtor(one_account_debtor(case), as_of), as_of)
        [item] = person.accounts
        assert item == single, case["case_id"]
        if single.channel is not None:
            assert (person.action, person.channel, person.window, person.template) == (single.action, single.channel, single.window, single.template)
            assert person.account_ids == (single.case_id,)
        else:  # the person is not contacted; what happens to the account (e.g. a review) is on the account
            assert (person.action, person.channel, person.window, person.account_ids) == ("NO_CONTACT", None, None, ())
        assert person.offers == ()  # one account: its own offer, nothing to consolidate
        assert person.next_review_at == single.next_review_at
        seen.add(single.action)
    assert len(seen) >= 4, seen  # the portfolio reaches contacts, reviews and holds


# --- bad input ---------------------------------------------------------------------------------

BAD_DEBTORS: list[tuple[str, dict[str, Any], str, str]] = [
    ("account listed twice", debtor(account("A1", 40), account("A1", 45)), "accounts[1].account_id", "listed twice"),
    ("another debtor's account", debtor(account("A1", 40, debtor_id="D-2")), "accounts[0].debtor_id", "not this debtor's"),
    ("two countries", debtor(account("A1", 40), account("A2", 40, country="DE")), "accounts[1].country", "one country"),
    ("too many accounts", debtor(*(account(f"A{index}", 40) for index in range(MAX_ACCOUNTS + 1))), "accounts", "at most 50"),
    (
        "breathing space on an account",
        debtor(account("A1", 40, legal={"breathing_space_start": "2026-11-01"})),
        "accounts[0].legal.breathing_space_start",
        "debtor.legal",
    ),
    ("contact about an unknown account", debtor(account("A1", 40), contacts=[contact("phone", 1, account_ids=["A9"])]), "contacts[0].account_ids", "'A9'"),
    (
        "account_ids on an account's contact",
        debtor(account("A1", 40, prior_contacts=[contact("phone", 1, account_ids=["A1"])])),
        "accounts[0].prior_contacts[0].account_ids",
        "person-level",
    ),
    (
        "attribute contradicting the person's",
        debtor(account("A1", 40, attributes={"branch": "south"}), attributes={"branch": "north"}),
        "accounts[0].attributes",
        "'branch'",
    ),
    (
        "too many contacts in all",
        debtor(
            *(account(f"A{index}", 40, prior_contacts=[contact("sms", 1 + index + minute / 1440) for minute in range(MAX_PRIOR_CONTACTS)]) for index in range(4)),
            contacts=[contact("email", 10 + minute / 1440) for minute in range(MAX_PRIOR_CONTACTS)],
        ),
        "contacts",
        f"at most {MAX_DEBTOR_CONTACTS}",
    ),
    ("no accounts", debtor(), "accounts", "at least 1"),
    ("contact after as_of", debtor(account("A1", 40), contacts=[contact("phone", -1)]), "contacts[0].at", "later than as_of"),
    ("an account's currency", debtor(account("A1", 40, currency="XAU")), "accounts[0].currency", "not money"),
]


@pytest.mark.parametrize(("data", "field", "words"), [case[1:] for case in BAD_DEBTORS], ids=[case[0] for case in BAD_DEBTORS])
def test_bad_debtor_input_is_refused_naming_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidSnapshot) as caught:
        parse_debtor(data, AS_OF)
    fields = {problem.field: problem.description for problem in caught.value.problems}
    assert field in fields, fields
    assert words in fields[field], fields[field]


def test_contacts_at_the_documented_limit_are_accepted() -> None:
    per_list = MAX_DEBTOR_CONTACTS // 4
    data = debtor(*(account(f"A{index}", 40, prior_contacts=[contact("sms", 1 + index + minute / 1440) for minute in range(per_list)]) for index in range(4)))
    assert len(parse_debtor(data, AS_OF).accounts) == 4


def test_a_plain_case_may_not_name_accounts_on_its_contacts() -> None:
    case = {
        "case_id": "C-1", "country": "PL", "amount_due": "10.00", "currency": "PLN", "days_past_due": 3, "segment": "retail",
        "prior_contacts": [contact("sms", 1, account_ids=["C-1"])],
    }
    with pytest.raises(InvalidSnapshot) as caught:
        parse_snapshot(case, AS_OF)
    assert [problem.field for problem in caught.value.problems] == ["prior_contacts[0].account_ids"]


# --- policies and packs ------------------------------------------------------------------------

RULES = """
rules:
  - id: always
    priority: 1
    when: {}
    then: {action: CALL, channel: phone}
    reason: probe
"""


@pytest.mark.parametrize(
    ("section", "line", "words"),
    [
        ("debtor:\n  rank: score\n", 3, "rank: score needs rank_attribute"),
        ("debtor:\n  rank_attribute: risk\n", 3, "rank_attribute needs rank: score"),
        ("debtor:\n  bundle:\n    - [CALL, HUMAN_REVIEW]\n", 3, "HUMAN_REVIEW contacts nobody"),
        ("debtor:\n  bundle:\n    - [CALL, NO_CONTACT]\n", 3, "NO_CONTACT contacts nobody"),
        ("debtor:\n  allocation: newest_first\n", 4, "debtor.allocation: `newest_first`"),
        ("debtor:\n  rank: biggest\n", 4, "debtor.rank: `biggest`"),
    ],
    ids=["score-without-attribute", "attribute-without-score", "review-in-a-bundle", "no-contact-in-a-bundle", "unknown-allocation", "unknown-rank"],
)
def test_a_bad_debtor_section_is_refused_with_file_and_line(tmp_path: Path, section: str, line: int, words: str) -> None:
    path = write_policy(tmp_path, 'policy: p\nversion: "1"\n' + section + RULES)  # `debtor:` is line 3
    with pytest.raises(PolicyError) as caught:
        load_strategy(tmp_path / "strategies")
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), line), problem
    assert words in problem.message and str(problem).startswith(f"{path}:{line}:"), problem.message


def test_the_debtor_section_is_set_in_one_file_only(tmp_path: Path) -> None:
    write_policy(tmp_path, 'policy: p\nversion: "1"\ndebtor: {rank: oldest_first}\n' + RULES, "a.yaml")
    second = write_policy(tmp_path, 'policy: p\nversion: "1"\ndebtor: {rank: largest_first}\nrules:\n  - id: other\n    priority: 2\n    when: {}\n    then: {action: NO_CONTACT}\n    reason: x\n', "b.yaml")
    with pytest.raises(PolicyError) as caught:
        load_strategy(tmp_path / "strategies")
    assert [problem.file for problem in caught.value.problems] == [str(second)]


def test_a_pack_scoping_a_flag_to_both_person_and_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(
        'policy: bad-scope\nversion: "1"\nkind: compliance\napplies_to:\n  countries: [PL]\n'
        "flag_scope:\n  person: [legal.dispute, legal.hardship]\n  account: [legal.dispute]\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        load_pack(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert "legal.dispute" in problem.message and "both" in problem.message


def test_the_shipped_packs_scope_a_dispute_and_a_time_barred_debt_to_their_account() -> None:
    scoped = {pack.name: (pack.person_flags, pack.account_flags) for pack in PACKS}
    person, account_only = scoped["default"]
    assert account_only == {"legal.dispute", "legal.time_barred"}
    assert {"legal.bankruptcy", "legal.deceased", "legal.hardship", "gdpr.erasure_requested"} <= person

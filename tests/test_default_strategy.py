"""Behaviour of the shipped default strategy (rules/strategies/default.yaml).

Each test is a case a collections manager would recognise: what the engine
proposes for a debtor at a given stage, and what it must never do. All cases
are decided at a fixed instant, a Tuesday morning in Warsaw, so contact windows
are deterministic.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.policy.ir import Policy
from engine.policy.loader import load_strategy
from engine.snapshot import parse_snapshot
from engine.vocabulary import Action, Channel

STRATEGY_DIR = Path(__file__).resolve().parent.parent / "rules" / "strategies"
AS_OF = datetime.fromisoformat("2026-11-24T10:00:00+01:00")  # Tuesday, 10:00 in Europe/Warsaw
TODAY = date(2026, 11, 24)
ALL_CONSENTS = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}
STOP_FLAGS = [
    ("legal", "deceased"),
    ("legal", "bankruptcy"),
    ("legal", "cease_and_desist"),
    ("legal", "attorney_represented"),
    ("legal", "dispute"),
    ("gdpr", "objection"),
    ("gdpr", "restriction"),
    ("gdpr", "erasure_requested"),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_strategy(STRATEGY_DIR)


@pytest.fixture(scope="module")
def engine(policy: Policy) -> StrategyEngine:
    return StrategyEngine(policy)


@pytest.fixture(scope="module")
def python_engine(policy: Policy) -> StrategyEngine:
    return StrategyEngine(policy, backend="python")


def contact(channel: str, outcome: str, *, days_ago: float = 0, hours_ago: float = 0) -> dict[str, Any]:
    at = AS_OF - timedelta(days=days_ago, hours=hours_ago)
    return {"channel": channel, "outcome": outcome, "at": at.isoformat()}


def case(
    *,
    days_past_due: int = 10,
    amount_due: str = "450.00",
    segment: str = "retail",
    preferred_channel: str | None = "sms",
    consents: dict[str, bool] | None = None,
    legal: dict[str, bool] | None = None,
    gdpr: dict[str, bool] | None = None,
    payment: dict[str, Any] | None = None,
    prior_contacts: list[dict[str, Any]] | None = None,
    language: str = "en",
    arrangements: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Warsaw retail debtor who consented to every channel, unless told otherwise."""
    data: dict[str, Any] = {
        "case_id": "CASE-1",
        "country": "PL",
        "time_zone": "Europe/Warsaw",
        "amount_due": amount_due,
        "currency": "PLN",
        "days_past_due": days_past_due,
        "segment": segment,
        "consents": {**ALL_CONSENTS, **(consents or {})},
        "legal": legal or {},
        "gdpr": gdpr or {},
        "payment": payment or {},
        "prior_contacts": prior_contacts or [],
        "language": language,
        "arrangements": arrangements or [],
    }
    if preferred_channel:
        data["preferred_channel"] = preferred_channel
    return data


def decide(engine: StrategyEngine, data: dict[str, Any], as_of: datetime = AS_OF) -> Decision:
    return engine.decide(parse_snapshot(data, as_of), as_of)


def chosen(decision: Decision) -> str:
    """The rule (or engine reason) that decided the case."""
    return decision.reasons[0].code


def plan(*due: str, paid: int = 0, agreed_days_ago: int = 40, method: str = "card") -> list[dict[str, Any]]:
    """A plan of 100 per instalment, the first `paid` instalments paid on their dates."""
    agreed = AS_OF - timedelta(days=agreed_days_ago)
    payments = [{"amount": "100.00", "paid_at": f"{day}T08:00:00+01:00", "method": method} for day in due[:paid]]
    schedule = [{"due_date": day, "amount": "100.00"} for day in due]
    return [{"arrangement_id": "p-1", "type": "instalment_plan", "agreed_at": agreed.isoformat(), "method": method, "schedule": schedule, "payments": payments}]


CONFIRMED = [{"channel": "letter", "outcome": "delivered", "action": "CONFIRM_ARRANGEMENT", "at": (AS_OF - timedelta(days=30)).isoformat()}]

# One case per shipped rule, built so that this rule is the one that decides it.
RULE_CASES: dict[str, dict[str, Any]] = {
    "arrangement-confirmation": case(arrangements=plan("2026-12-10", agreed_days_ago=1)),
    "arrangement-payment-in-flight": case(arrangements=plan("2026-10-20", "2026-11-20", "2026-12-20", paid=1, method="bank_transfer"), prior_contacts=CONFIRMED),
    "instalment-courtesy-reminder": case(arrangements=plan("2026-10-26", "2026-11-26", paid=1), prior_contacts=CONFIRMED),
    "arrangement-performing-hold": case(arrangements=plan("2026-10-26", "2026-12-26", paid=1), prior_contacts=CONFIRMED),
    "missed-instalment-kind-follow-up": case(arrangements=plan("2026-10-26", "2026-11-16", "2026-12-26", paid=1), prior_contacts=CONFIRMED),
    "deceased-route-to-estate-team": case(legal={"deceased": True}),
    "bankruptcy-route-to-insolvency-team": case(legal={"bankruptcy": True}),
    "attorney-route-to-legal-liaison": case(legal={"attorney_represented": True}),
    "cease-and-desist-route-to-person": case(legal={"cease_and_desist": True}),
    "gdpr-request-route-to-privacy-team": case(gdpr={"erasure_requested": True}),
    "dispute-route-to-disputes-team": case(legal={"dispute": True}),
    "nothing-owed-no-contact": case(days_past_due=45, amount_due="0.00"),
    "vulnerable-forbearance-review": case(legal={"vulnerable": True}),
    "hardship-forbearance-review": case(legal={"hardship": True}),
    "time-barred-information": case(days_past_due=400, legal={"time_barred": True}),
    "currency-without-amounts-review": {**case(days_past_due=45, amount_due="300000"), "currency": "JPY"},
    "time-barred-told-no-contact": case(
        days_past_due=400,
        legal={"time_barred": True},
        prior_contacts=[
            {"channel": "letter", "outcome": "delivered", "action": "SEND_NOTICE", "template": "time-barred-information", "at": (AS_OF - timedelta(days=30)).isoformat()}
        ],
    ),
    "promise-due-soon-hold": case(payment={"promise_to_pay_date": str(TODAY + timedelta(days=1))}),
    "promise-to-pay-hold": case(payment={"promise_to_pay_date": str(TODAY + timedelta(days=10))}),
    "legal-review-after-broken-promises": case(days_past_due=150, amount_due="5000.00", payment={"broken_promises": 2}),
    "small-balance-write-off": case(days_past_due=75, amount_due="12.50"),
    "cool-off-after-recent-contact": case(prior_contacts=[contact("sms", "delivered", hours_ago=5)]),
    "weekly-contact-cap": case(
        days_past_due=20, prior_contacts=[contact("sms", "delivered", days_ago=d) for d in (3, 4, 5)]
    ),
    "pre-due-one-reminder-only": case(days_past_due=-2, prior_contacts=[contact("sms", "delivered", days_ago=4)]),
    "refusal-written-plan-offer": case(days_past_due=45, prior_contacts=[contact("phone", "refused", days_ago=5)]),
    "refusal-written-reminder": case(days_past_due=20, prior_contacts=[contact("phone", "refused", days_ago=5)]),
    "no-answer-written-plan-offer": case(
        days_past_due=45, prior_contacts=[contact("phone", "no_answer", days_ago=d) for d in (3, 10, 20)]
    ),
    "broken-promises-early-call": case(days_past_due=10, payment={"broken_promises": 2}),
    "self-cure-digital-nudge": {**case(days_past_due=10), "inputs": {"self_cure_score": 85}},
    "self-cure-digital-nudge-from-70": {**case(days_past_due=10), "case_id": "self-cure-2", "inputs": {"self_cure_score": 72}},  # the challenger arm
    "broken-promises-early-final-notice": case(days_past_due=75, payment={"broken_promises": 3}),
    "business-account-manager-call": case(segment="business", days_past_due=20, amount_due="2500.00"),
    "premium-relationship-call": case(segment="premium", days_past_due=20),
    "student-flexible-plan": case(segment="student", days_past_due=45),
    "business-pre-due-invoice-reminder": case(segment="business", days_past_due=-3),
    "premium-courtesy-reminder": case(segment="premium", days_past_due=5),
    "pre-due-friendly-reminder": case(days_past_due=-3),
    "due-day-friendly-reminder": case(days_past_due=1),
    "early-soft-reminder": case(days_past_due=7),
    "firm-reminder": case(days_past_due=20),
    "personal-call-mid-stage": case(days_past_due=40, amount_due="120.00"),
    "payment-plan-offer-mid-stage": case(days_past_due=45),
    "payment-plan-offer-late-stage": case(days_past_due=75),
    "settlement-offer-large-balance": case(days_past_due=75, amount_due="2500.00"),
    "final-notice": case(days_past_due=100),
    "last-chance-settlement": case(days_past_due=150),
    "late-small-balance-review": case(days_past_due=150, amount_due="80.00"),
    "written-reminder-fallback": case(days_past_due=40, amount_due="120.00", consents={"phone": False, "letter": False, "email": False}),
    "not-yet-due-no-contact": case(days_past_due=-20),
    "fallback-human-review": case(days_past_due=10, consents={name: False for name in ALL_CONSENTS}),
}


# --- the policy file itself -------------------------------------------------------------------


def test_policy_is_the_default_strategy_with_enough_rules(policy: Policy) -> None:
    assert (policy.name, policy.version) == ("default-strategy", "2026.12.3")
    assert len(policy.rules) >= 25


def test_file_starts_with_the_schema_comment() -> None:
    first_line = (STRATEGY_DIR / "default.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/policy.schema.json"


def test_every_rule_has_a_reason_in_english_and_polish(policy: Policy) -> None:
    for rule in policy.rules:
        assert set(rule.reason) == {"en", "pl"}, rule.id
        assert rule.reason["en"].strip() and rule.reason["pl"].strip(), rule.id
        assert rule.reason["en"] != rule.reason["pl"], f"{rule.id}: the Polish text is not translated"


def test_rules_with_different_actions_never_share_a_priority(policy: Policy) -> None:
    actions_by_priority: dict[int, set[Action]] = {}
    for rule in policy.rules:
        actions_by_priority.setdefault(rule.priority, set()).add(rule.action)
    assert {p: a for p, a in actions_by_priority.items() if len(a) > 1} == {}


def test_every_shipped_rule_has_a_case_here(policy: Policy) -> None:
    assert set(RULE_CASES) == {rule.id for rule in policy.rules}


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_every_rule_can_fire_and_decide_a_case(engine: StrategyEngine, rule_id: str) -> None:
    decision = decide(engine, RULE_CASES[rule_id])
    assert rule_id in decision.fired_rules
    assert chosen(decision) == rule_id


def test_production_matcher_agrees_with_the_python_oracle(engine: StrategyEngine, python_engine: StrategyEngine) -> None:
    for rule_id, data in RULE_CASES.items():
        assert decide(engine, data) == decide(python_engine, data), rule_id


# --- the ladder ------------------------------------------------------------------------------


def test_pre_due_friendly_reminder_goes_to_the_preferred_channel(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=-3, preferred_channel="email"))
    assert decision.action == "SEND_REMINDER"
    assert decision.channel is Channel.EMAIL
    assert decision.template == "pre-due-friendly"
    assert chosen(decision) == "pre-due-friendly-reminder"
    # Tuesday 10:00 in Warsaw is within contact hours: the window opens now and closes at 20:00.
    assert decision.window is not None
    assert decision.window.start == AS_OF.astimezone(timezone.utc)
    assert decision.window.local_end == "2026-11-24T20:00:00+01:00"


def test_without_consent_for_the_preferred_channel_the_next_channel_is_used(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=-3, preferred_channel="sms", consents={"sms": False}))
    assert decision.action == "SEND_REMINDER"
    assert decision.channel is Channel.EMAIL  # [preferred=sms, sms, email, push]: sms vetoed twice over, then email
    assert any(veto.guardrail == "consent" and veto.channel is Channel.SMS for veto in decision.vetoes)


def test_electronic_opt_out_moves_a_firm_reminder_to_a_letter(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=20, consents={"electronic_opt_out": True}))
    assert decision.action == "SEND_REMINDER"
    assert decision.channel is Channel.LETTER
    assert decision.template == "reminder-firm"


def test_the_tone_firms_up_stage_by_stage(engine: StrategyEngine) -> None:
    templates = [decide(engine, case(days_past_due=dpd)).template for dpd in (-3, 1, 7, 20)]
    assert templates == ["pre-due-friendly", "due-day-friendly", "reminder-soft", "reminder-firm"]


def test_mid_stage_plan_offer_never_asks_for_instalments_below_the_minimum(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=45, amount_due="300.00"))
    assert decision.action == "OFFER_PAYMENT_PLAN"
    assert decision.channel is Channel.PHONE
    offer = decision.offer
    assert offer is not None and offer.currency == "PLN"
    assert offer.min_instalment == Decimal("50.00")
    assert offer.instalments == (2, 6)  # 12 instalments of 25 would be under the minimum of 50
    assert offer.discount_pct == (Decimal("0"), Decimal("5"))
    assert offer.max_deferral_days == 30


@pytest.mark.parametrize("amount", ["200.00", "333.33", "999.99", "5000.00", "125000.00"])
def test_plan_bounds_are_consistent_with_the_amount(engine: StrategyEngine, amount: str) -> None:
    offer = decide(engine, case(days_past_due=45, amount_due=amount)).offer
    assert offer is not None and offer.instalments is not None and offer.min_instalment is not None
    low, high = offer.instalments
    assert 2 <= low <= high <= 12
    assert Decimal(amount) / high >= offer.min_instalment


def test_an_amount_too_small_for_instalments_keeps_only_the_discount(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=75, amount_due="50.00"))
    assert chosen(decision) == "payment-plan-offer-late-stage"
    assert decision.offer is not None
    assert decision.offer.instalments is None and decision.offer.min_instalment is None
    assert decision.offer.discount_pct == (Decimal("0"), Decimal("10"))
    assert "OFFER_ADJUSTED" in [reason.code for reason in decision.reasons]


def test_large_balances_get_a_settlement_discount_for_paying_at_once(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=75, amount_due="2500.00"))
    assert decision.action == "OFFER_SETTLEMENT"
    assert decision.offer is not None
    assert decision.offer.discount_pct == (Decimal("5"), Decimal("15"))
    assert decision.offer.instalments is None


def test_final_notice_is_a_letter_after_three_months(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=100))
    assert decision.action == "FINAL_NOTICE"
    assert decision.channel is Channel.LETTER
    assert decision.template == "final-notice"


# --- legal review: the last resort ------------------------------------------------------------


@pytest.mark.parametrize("days_past_due", [10, 45, 75, 100, 120])
def test_no_legal_review_before_the_final_notice_stage_is_over(engine: StrategyEngine, days_past_due: int) -> None:
    decision = decide(engine, case(days_past_due=days_past_due, amount_due="5000.00", payment={"broken_promises": 4}))
    assert decision.action != "LEGAL_REVIEW"
    assert not any(rule.startswith("legal-review") for rule in decision.fired_rules)


def test_legal_review_very_late_for_a_large_balance_after_broken_promises(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=121, amount_due="5000.00", payment={"broken_promises": 2}))
    assert decision.action == "LEGAL_REVIEW"
    assert decision.channel is None and decision.window is None


def test_legal_review_after_repeated_refusals(engine: StrategyEngine) -> None:
    refusals = [contact("phone", "refused", days_ago=d) for d in (3, 12)]
    decision = decide(engine, case(days_past_due=200, amount_due="5000.00", prior_contacts=refusals))
    assert decision.action == "LEGAL_REVIEW"


def test_a_silent_debtor_is_offered_a_settlement_not_sued(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=365, amount_due="5000.00"))
    assert decision.action == "OFFER_SETTLEMENT"
    assert decision.template == "settlement-last-chance"


@pytest.mark.parametrize("amount", ["0.50", "5.00", "19.99", "80.00", "999.99"])
def test_small_balances_are_never_sent_to_legal(engine: StrategyEngine, amount: str) -> None:
    refusals = [contact("phone", "refused", days_ago=d) for d in (3, 12)]
    for days_past_due in (121, 200, 400, 2000):
        data = case(days_past_due=days_past_due, amount_due=amount, payment={"broken_promises": 9}, prior_contacts=refusals)
        decision = decide(engine, data)
        assert decision.action != "LEGAL_REVIEW"
        assert not any(rule.startswith("legal-review") for rule in decision.fired_rules)


def test_a_zero_balance_is_never_chased(engine: StrategyEngine) -> None:
    for days_past_due in (-3, 10, 45, 100, 400):
        decision = decide(engine, case(days_past_due=days_past_due, amount_due="0.00", payment={"broken_promises": 5}))
        assert (decision.action, decision.channel) == ("NO_CONTACT", None)


def test_a_balance_under_20_is_written_off_not_chased_nor_reviewed(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=400, amount_due="19.99", payment={"broken_promises": 5}))
    assert (decision.action, decision.channel) == ("WRITE_OFF", None)
    assert chosen(decision) == "small-balance-write-off"


# --- what the debtor told us -------------------------------------------------------------------


def test_an_open_promise_to_pay_is_honoured_above_everything_on_the_ladder(engine: StrategyEngine) -> None:
    promise = str(TODAY + timedelta(days=2))
    data = case(days_past_due=150, amount_due="5000.00", payment={"broken_promises": 3, "promise_to_pay_date": promise})
    decision = decide(engine, data)
    assert decision.action == "NO_CONTACT"
    assert decision.channel is None and decision.window is None
    assert chosen(decision) == "promise-due-soon-hold"
    assert "promised" in decision.reasons[0].text
    assert decision.next_review_at == AS_OF + timedelta(days=1)
    assert "legal-review-after-broken-promises" in decision.fired_rules  # it matched, and the promise outranked it


def test_a_promise_further_out_is_checked_again_before_its_date(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=20, payment={"promise_to_pay_date": str(TODAY + timedelta(days=6))}))
    assert chosen(decision) == "promise-to-pay-hold"
    assert decision.next_review_at == AS_OF + timedelta(days=3)


def test_a_lapsed_promise_no_longer_holds_the_case(engine: StrategyEngine) -> None:
    data = case(days_past_due=20, payment={"promise_to_pay_date": str(TODAY - timedelta(days=1)), "broken_promises": 2})
    decision = decide(engine, data)
    assert decision.action == "CALL"
    assert chosen(decision) == "broken-promises-early-call"


def test_broken_promises_bring_a_personal_call_forward(engine: StrategyEngine) -> None:
    kept = decide(engine, case(days_past_due=10, payment={"broken_promises": 1}))
    broken = decide(engine, case(days_past_due=10, payment={"broken_promises": 2}))
    assert kept.action == "SEND_REMINDER"
    assert (broken.action, broken.channel) == ("CALL", Channel.PHONE)


def test_a_phone_refusal_switches_the_plan_offer_to_writing(engine: StrategyEngine) -> None:
    usual = decide(engine, case(days_past_due=45))
    refused = decide(engine, case(days_past_due=45, prior_contacts=[contact("phone", "refused", days_ago=5)]))
    assert (usual.action, usual.channel) == ("OFFER_PAYMENT_PLAN", Channel.PHONE)
    assert (refused.action, refused.channel) == ("OFFER_PAYMENT_PLAN", Channel.LETTER)
    no_letter = decide(engine, case(days_past_due=45, consents={"letter": False}, prior_contacts=[contact("phone", "refused", days_ago=5)]))
    assert no_letter.channel is Channel.EMAIL


def test_repeated_unanswered_calls_switch_to_email(engine: StrategyEngine) -> None:
    missed = [contact("phone", "no_answer", days_ago=d) for d in (3, 10, 20)]
    decision = decide(engine, case(days_past_due=45, prior_contacts=missed))
    assert (decision.action, decision.channel) == ("OFFER_PAYMENT_PLAN", Channel.EMAIL)
    assert decision.template == "plan-offer-after-missed-calls"


def test_nobody_is_contacted_twice_within_48_hours(engine: StrategyEngine) -> None:
    decision = decide(engine, case(days_past_due=45, prior_contacts=[contact("phone", "right_party_contact", hours_ago=30)]))
    assert decision.action == "NO_CONTACT"
    assert chosen(decision) == "cool-off-after-recent-contact"


# --- people who must be handled by a person ---------------------------------------------------


@pytest.mark.parametrize("group,flag", STOP_FLAGS)
def test_stop_flags_never_produce_a_contacting_action(engine: StrategyEngine, group: str, flag: str) -> None:
    for days_past_due in (-3, 10, 45, 100, 200):
        data = case(days_past_due=days_past_due, amount_due="5000.00", payment={"broken_promises": 3}, **{group: {flag: True}})
        decision = decide(engine, data)
        assert decision.action in ("HUMAN_REVIEW", "NO_CONTACT")
        assert decision.channel is None and decision.window is None
        assert chosen(decision).endswith(("-team", "-liaison", "-person")), chosen(decision)


def test_deceased_and_cease_and_desist_are_routed_to_a_person_with_a_reason(engine: StrategyEngine) -> None:
    deceased = decide(engine, case(legal={"deceased": True, "vulnerable": True}))
    stop = decide(engine, case(legal={"cease_and_desist": True}))
    assert (deceased.action, chosen(deceased)) == ("HUMAN_REVIEW", "deceased-route-to-estate-team")
    assert (stop.action, chosen(stop)) == ("HUMAN_REVIEW", "cease-and-desist-route-to-person")
    assert "stop contacting" in stop.reasons[0].text


def test_vulnerable_customers_go_to_a_person_with_forbearance(engine: StrategyEngine) -> None:
    data = case(days_past_due=200, amount_due="5000.00", legal={"vulnerable": True}, payment={"broken_promises": 3})
    decision = decide(engine, data)
    assert decision.action == "HUMAN_REVIEW"
    assert decision.channel is None
    assert chosen(decision) == "vulnerable-forbearance-review"
    assert decision.offer is not None
    assert decision.offer.max_deferral_days == 90
    assert decision.offer.instalments == (6, 60) and decision.offer.min_instalment == Decimal("10.00")


def test_hardship_outranks_an_open_promise_and_offers_a_pause(engine: StrategyEngine) -> None:
    data = case(days_past_due=45, legal={"hardship": True}, payment={"promise_to_pay_date": str(TODAY + timedelta(days=1))})
    decision = decide(engine, data)
    assert (decision.action, chosen(decision)) == ("HUMAN_REVIEW", "hardship-forbearance-review")
    assert decision.offer is not None and decision.offer.max_deferral_days == 60


# --- segments ---------------------------------------------------------------------------------


def test_business_invoices_due_soon_go_to_the_accounts_email(engine: StrategyEngine) -> None:
    decision = decide(engine, case(segment="business", days_past_due=-3, preferred_channel="sms"))
    assert (decision.action, decision.channel, decision.template) == ("SEND_REMINDER", Channel.EMAIL, "business-invoice-due-soon")


def test_premium_customers_get_a_call_where_retail_gets_a_firm_reminder(engine: StrategyEngine) -> None:
    retail = decide(engine, case(days_past_due=20))
    premium = decide(engine, case(segment="premium", days_past_due=20))
    assert retail.template == "reminder-firm"
    assert (premium.action, premium.template) == ("CALL", "premium-relationship-call")


def test_students_get_smaller_instalments_and_a_later_start(engine: StrategyEngine) -> None:
    retail = decide(engine, case(days_past_due=45)).offer
    student = decide(engine, case(segment="student", days_past_due=45)).offer
    assert retail is not None and student is not None
    assert student.min_instalment is not None and retail.min_instalment is not None
    assert student.min_instalment < retail.min_instalment
    assert (student.max_deferral_days or 0) > (retail.max_deferral_days or 0)


# --- language, windows, coverage --------------------------------------------------------------


def test_polish_debtors_hear_the_polish_reason(engine: StrategyEngine, policy: Policy) -> None:
    decision = decide(engine, case(days_past_due=-3, language="pl"))
    rule = next(rule for rule in policy.rules if rule.id == "pre-due-friendly-reminder")
    assert decision.reasons[0].text == rule.reason["pl"]
    assert "termin płatności" in decision.reasons[0].text


def test_a_late_evening_decision_waits_for_the_next_morning(engine: StrategyEngine) -> None:
    evening = datetime.fromisoformat("2026-11-24T22:00:00+01:00")
    decision = decide(engine, case(days_past_due=-3), as_of=evening)
    assert decision.action == "SEND_REMINDER"
    assert decision.window is not None
    assert decision.window.local_start == "2026-11-25T08:00:00+01:00"
    assert decision.window.start == datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)


def test_a_sunday_decision_waits_for_monday_morning(engine: StrategyEngine) -> None:
    sunday = datetime.fromisoformat("2026-11-22T11:00:00+01:00")
    decision = decide(engine, case(days_past_due=20), as_of=sunday)
    assert decision.window is not None
    assert decision.window.local_start == "2026-11-23T08:00:00+01:00"


def test_without_any_consent_an_overdue_case_goes_to_a_person(engine: StrategyEngine) -> None:
    decision = decide(engine, RULE_CASES["fallback-human-review"])
    assert (decision.action, decision.channel) == ("HUMAN_REVIEW", None)


@pytest.mark.parametrize("segment", ["retail", "premium", "business", "student"])
def test_every_valid_case_is_answered_by_a_rule(engine: StrategyEngine, segment: str) -> None:
    for days_past_due in range(-30, 401, 3):
        for amount in ("0.00", "15.00", "120.00", "450.00", "2500.00"):
            decision = decide(engine, case(segment=segment, days_past_due=days_past_due, amount_due=amount))
            assert chosen(decision) not in ("NO_RULE_MATCHED", "ALL_CANDIDATES_VETOED", "ENGINE_FAULT")
            if Action(decision.action).contacts:
                assert decision.channel is not None and decision.window is not None

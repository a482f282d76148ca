"""What was done and what was agreed: the caller's history and arrangements, judged
by the engine, and the steps the packs require before the next one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidSnapshot
from engine.policy.packs import load_packs
from engine.registry import build_engine
from tests.conftest import AS_OF, REPO, snapshot
from tests.test_compliance_examples import call_only, case, contact, local, NEW_YORK, strategy_engine, rule

SHIPPED = build_engine(REPO / "rules")
PACKS = load_packs(REPO / "rules" / "compliance")


def ago(days: float = 0, hours: float = 0) -> str:
    return (AS_OF - timedelta(days=days, hours=hours)).isoformat()


# --- what was done ------------------------------------------------------------------------------

def test_the_debtors_own_calls_count_towards_no_cap(tmp_path: Path) -> None:
    # PL: at most 3 calls in 7 days. Three calls the debtor made to us are not ours.
    engine = call_only(tmp_path, PACKS)
    inbound = [{"channel": "phone", "at": ago(days=day), "outcome": "right_party_contact", "direction": "inbound"} for day in (1, 2, 3)]
    assert engine.decide(snapshot(prior_contacts=inbound), AS_OF).window.start == AS_OF  # type: ignore[union-attr]
    outbound = [{**item, "direction": "outbound"} for item in inbound]
    assert engine.decide(snapshot(prior_contacts=outbound), AS_OF).window.start > AS_OF  # type: ignore[union-attr]


def test_a_conversation_the_debtor_started_starts_no_cool_off_period(tmp_path: Path) -> None:
    as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
    called_us = contact("phone", local(NEW_YORK, 2026, 11, 23, 15, 0), "right_party_contact") | {"direction": "inbound"}
    decision = call_only(tmp_path, PACKS).decide(case(as_of, prior_contacts=[called_us]), as_of)
    assert decision.window is not None and decision.window.start == as_of
    facts = SHIPPED.decide(case(as_of, prior_contacts=[called_us]), as_of, explain=True).trace["facts"]  # type: ignore[index]
    assert facts["hours_since_last_inbound"] == 19 and facts["last_inbound_channel"] == "phone" and "hours_since_last_contact" not in facts


def test_a_channel_that_keeps_failing_is_not_chosen_and_the_caller_is_told(tmp_path: Path) -> None:
    engine = strategy_engine(tmp_path, PACKS, rule("remind", 10, "SEND_REMINDER", ["email", "sms"]))
    bounced = [{"channel": "email", "at": ago(days=day), "outcome": "failed", "delivery": "bounced"} for day in (3, 2, 1)]
    decision = engine.decide(snapshot(prior_contacts=bounced), AS_OF)
    assert decision.channel is not None and decision.channel.value == "sms"
    assert [(veto.guardrail, veto.channel.value if veto.channel else None) for veto in decision.vetoes] == [("contact-data", "email")]
    assert [warning.code for warning in decision.data_warnings] == ["CONTACT_DATA_EMAIL"]
    # Delivered since: the channel works again.
    mended = [*bounced, {"channel": "email", "at": ago(hours=2), "outcome": "delivered", "delivery": "delivered"}]
    again = engine.decide(snapshot(prior_contacts=mended), AS_OF)
    assert again.channel is not None and again.channel.value == "email" and not again.data_warnings


def test_history_facts_say_what_reached_the_debtor_and_when() -> None:
    contacts = [
        {"channel": "letter", "at": ago(days=20), "outcome": "delivered", "action": "FINAL_NOTICE", "template": "final-notice"},
        {"channel": "letter", "at": ago(days=5), "outcome": "failed", "delivery": "bounced", "action": "FINAL_NOTICE"},
        {"channel": "sms", "at": ago(days=3), "outcome": "delivered", "delivery": "failed"},
    ]
    facts = SHIPPED.decide(snapshot(prior_contacts=contacts), AS_OF, explain=True).trace["facts"]  # type: ignore[index]
    assert facts["history.final_notice.days_since_delivered"] == 20  # the bounced one does not count
    assert facts["history.outbound_ever"] and facts["history.delivered_ever"]
    assert (facts["failed.letter.last_30d"], facts["failed.sms.last_30d"], facts["failed.letter.in_a_row"]) == (1, 1, 1)


# --- a US debt collector ------------------------------------------------------------------------

def test_a_debt_collectors_first_contact_is_the_validation_notice(tmp_path: Path) -> None:
    as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
    engine = call_only(tmp_path, PACKS)
    first = engine.decide(case(as_of, third_party_collector=True, prior_contacts=[]), as_of)
    assert (first.action, first.template, first.channel.value if first.channel else None) == ("SEND_NOTICE", "us-validation-notice", "letter")
    assert first.reasons[0].code == "us/reg-f-validation-notice-first" and "1006.34" in first.reasons[0].text
    assert [item.code for item in first.required_disclosures] == ["us-debt-collector-disclosure"]
    notice = {**contact("letter", as_of - timedelta(days=10), "delivered"), "action": "SEND_NOTICE", "template": "us-validation-notice"}
    later = engine.decide(case(as_of, third_party_collector=True, prior_contacts=[notice]), as_of)
    assert later.action == "CALL" and [item.code for item in later.required_disclosures] == ["us-debt-collector-disclosure"]
    creditor = engine.decide(case(as_of, prior_contacts=[]), as_of)  # the creditor itself: no validation notice, no disclosure
    assert creditor.action == "CALL" and not creditor.required_disclosures


# --- arrangements -------------------------------------------------------------------------------

PLAN = {
    "arrangement_id": "plan-1",
    "type": "instalment_plan",
    "agreed_at": "2026-09-20T10:00:00Z",
    "agreed_on": "phone",
    "method": "bank_transfer",
    "schedule": [{"due_date": "2026-10-02", "amount": "150.00"}, {"due_date": "2026-11-06", "amount": "150.00"}, {"due_date": "2026-12-04", "amount": "150.00"}],
    "payments": [{"amount": "150.00", "paid_at": "2026-10-01T09:00:00Z", "posted_at": "2026-10-02T09:00:00Z", "method": "bank_transfer"}],
}


def test_the_engine_judges_an_arrangement_and_uses_its_own_count_of_broken_promises() -> None:
    decision = SHIPPED.decide(snapshot(arrangements=[PLAN], payment={"broken_promises": 5}), AS_OF, explain=True)
    facts = decision.trace["facts"]  # type: ignore[index]
    # Due Friday 6 November; Warsaw business days since, 11 November (a holiday) not among them: 11.
    assert (facts["arrangement.state"], facts["arrangement.missed_instalments"], facts["arrangement.business_days_late"]) == ("missed", 1, 11)
    assert (facts["arrangement.type"], facts["arrangement.active"], facts["arrangement.paid_pct"], facts["arrangement.next_due_in_days"]) == ("instalment_plan", True, 33, 10)
    assert facts["broken_promises"] == 0  # the caller said 5; the arrangements show none broken
    assert decision.trace["broken_promises"] == "the engine's count of broken arrangements"  # type: ignore[index]
    assert decision.trace["arrangements"][0]["state"] == "missed"  # type: ignore[index]


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"currency": "EUR"}, "arrangements[0].currency", "case is in PLN"),
        ({"schedule": [{"due_date": "2026-09-01", "amount": "150.00"}]}, "arrangements[0].schedule[0].due_date", "before agreed_at"),
        ({"schedule": [{"due_date": "2026-11-06", "amount": "150.00"}, {"due_date": "2026-10-02", "amount": "150.00"}]}, "arrangements[0].schedule[1].due_date", "due-date order"),
        ({"payments": [{"amount": "500.00", "paid_at": "2026-10-01T09:00:00Z"}]}, "arrangements[0].payments", "more than the 450.00"),
        ({"payments": [{"amount": "150.00", "paid_at": "2026-10-02T09:00:00Z", "posted_at": "2026-10-01T09:00:00Z"}]}, "arrangements[0].payments[0].posted_at", "earlier than paid_at"),
        ({"payments": [{"amount": "150.001", "paid_at": "2026-10-01T09:00:00Z"}]}, "arrangements[0].payments[0].amount", "decimal places"),
        ({"payments": [{"amount": "150.00", "paid_at": "2026-12-01T09:00:00Z"}]}, "arrangements[0].payments[0].paid_at", "later than as_of"),
        ({"agreed_at": "2026-12-01T09:00:00Z", "schedule": [{"due_date": "2026-12-10", "amount": "150.00"}]}, "arrangements[0].agreed_at", "later than as_of"),
        ({"type": "payment_plan"}, "arrangements[0].type", "Input should be"),
        ({"schedule": [{"due_date": "2026-10-02", "amount": "1e3"}]}, "arrangements[0].schedule[0].amount", "not a decimal amount"),
    ],
)
def test_impossible_arrangements_are_refused_naming_the_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidSnapshot) as refused:
        snapshot(arrangements=[{**PLAN, **change}])
    problems = {problem.field: problem.description for problem in refused.value.problems}
    assert field in problems and words in problems[field], problems


def test_a_prior_contacts_action_must_be_one_the_engine_knows() -> None:
    with pytest.raises(InvalidSnapshot) as refused:
        snapshot(prior_contacts=[{"channel": "sms", "at": ago(days=1), "outcome": "delivered", "action": "VISIT"}])
    assert refused.value.problems[0].field == "prior_contacts[0].action"

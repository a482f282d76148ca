"""Facts derived from a snapshot: what the rules see."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.facts import derive
from tests.conftest import AS_OF, snapshot


def contact(channel: str, hours_ago: float, outcome: str = "delivered") -> dict[str, str]:
    return {"channel": channel, "at": (AS_OF - timedelta(hours=hours_ago)).isoformat(), "outcome": outcome}


def test_contacts_are_counted_per_channel_and_rolling_period() -> None:
    case = snapshot(prior_contacts=[contact("phone", 2, "no_answer"), contact("phone", 30, "right_party_contact"), contact("sms", 24 * 6), contact("sms", 24 * 8), contact("email", 24 * 31)])
    facts = derive(case, AS_OF).facts
    assert (facts["contacts.phone.last_24h"], facts["contacts.phone.last_7d"], facts["contacts.phone.last_30d"]) == (1, 2, 2)
    assert (facts["contacts.sms.last_24h"], facts["contacts.sms.last_7d"], facts["contacts.sms.last_30d"]) == (0, 1, 2)
    assert (facts["contacts.email.last_30d"], facts["contacts.all.last_7d"], facts["contacts.all.last_30d"]) == (0, 3, 4)
    assert facts["outcomes.no_answer.last_30d"] == 1 and facts["outcomes.no_answer.phone.last_30d"] == 1
    assert facts["outcomes.delivered.sms.last_30d"] == 2 and facts["outcomes.delivered.email.last_30d"] == 0
    assert (facts["hours_since_last_contact"], facts["last_outcome"], facts["last_contact_channel"]) == (2, "no_answer", "phone")
    assert facts["hours_since_last_conversation"] == 30


def test_no_history_means_absent_facts_not_zero_hours() -> None:
    facts = derive(snapshot(), AS_OF).facts
    assert "hours_since_last_contact" not in facts and "last_outcome" not in facts and "days_since_last_payment" not in facts
    assert facts["contacts.all.last_30d"] == 0


def test_local_time_weekday_and_holiday_in_the_debtors_zone() -> None:
    # 2026-11-10 23:30 UTC is already 11 November (Independence Day) in Warsaw.
    as_of = datetime(2026, 11, 10, 23, 30, tzinfo=timezone.utc)
    facts = derive(snapshot(as_of=as_of), as_of).facts
    assert (facts["local.hour"], facts["local.weekday"], facts["local.is_holiday"]) == (0, "wed", True)
    assert facts["time_zone_known"] is True


def test_promise_to_pay_is_active_until_its_date() -> None:
    today = AS_OF.date()
    active = derive(snapshot(payment={"promise_to_pay_date": (today + timedelta(days=3)).isoformat()}), AS_OF).facts
    lapsed = derive(snapshot(payment={"promise_to_pay_date": (today - timedelta(days=1)).isoformat(), "broken_promises": 2}), AS_OF).facts
    assert (active["promise.active"], active["promise.days_until"]) == (True, 3)
    assert lapsed["promise.active"] is False and "promise.days_until" not in lapsed and lapsed["broken_promises"] == 2


def test_snapshot_fields_and_attributes_become_facts() -> None:
    facts = derive(snapshot(attributes={"risk_band": "c"}, legal={"vulnerable": True}, consents={"sms": True, "electronic_opt_out": True}), AS_OF).facts
    assert facts["attributes.risk_band"] == "c" and facts["legal.vulnerable"] is True
    assert facts["consent.sms"] is True and facts["consent.email"] is False and facts["consent.electronic_opt_out"] is True
    assert str(facts["amount_due"]) == "500.00" and facts["days_past_due"] == 10

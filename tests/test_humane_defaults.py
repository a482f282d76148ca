"""The product's humane defaults: written reminders until a payment is late, no
calls or texts at weekends where no pack sets hours, letters and email may go
on Saturdays."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.errors import PolicyError
from engine.policy.loader import load_strategy
from engine.registry import build_engine
from engine.vocabulary import Channel
from tests.conftest import REPO, snapshot, write_policy

WARSAW, BERLIN = ZoneInfo("Europe/Warsaw"), ZoneInfo("Europe/Berlin")
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=WARSAW)
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return build_engine(REPO / "rules")


@pytest.mark.parametrize("days_past_due", [-5, -1, 0])
def test_no_call_before_a_payment_is_late_even_when_the_debtor_prefers_the_phone(shipped, days_past_due: int) -> None:  # type: ignore[no-untyped-def]
    case = snapshot(TUESDAY, days_past_due=days_past_due, preferred_channel="phone")
    decision = shipped.decide(case, TUESDAY)
    assert decision.action == "SEND_REMINDER"
    assert decision.channel is not None and decision.channel is not Channel.PHONE
    assert any(veto.guardrail == "first-steps/no-call-before-it-is-late" and veto.channel is Channel.PHONE for veto in decision.vetoes)


def test_once_late_the_preferred_phone_is_used(shipped) -> None:  # type: ignore[no-untyped-def]
    case = snapshot(TUESDAY, days_past_due=5, preferred_channel="phone")
    assert shipped.decide(case, TUESDAY).channel is Channel.PHONE


@pytest.mark.parametrize("channel", ["phone", "sms"])
def test_no_call_or_text_at_the_weekend_where_no_pack_sets_hours(shipped, channel: str) -> None:  # type: ignore[no-untyped-def]
    consents = {channel: True}
    case = snapshot(SATURDAY, country="DE", time_zone="Europe/Berlin", currency="EUR", days_past_due=20, consents=consents, preferred_channel=channel)
    decision = shipped.decide(case, SATURDAY)
    assert decision.channel is Channel(channel) and decision.window is not None
    assert decision.window.start.astimezone(BERLIN).weekday() == 0  # Monday
    assert "default/humane-hours" in {reason.code for reason in decision.window_constraints}


def test_a_letter_may_go_on_saturday(shipped) -> None:  # type: ignore[no-untyped-def]
    case = snapshot(SATURDAY, country="DE", time_zone="Europe/Berlin", currency="EUR", days_past_due=20, consents={"letter": True}, preferred_channel="letter")
    decision = shipped.decide(case, SATURDAY)
    assert decision.channel is Channel.LETTER and decision.window is not None
    assert decision.window.start == SATURDAY


POLICY = """
policy: order-test
version: "1"
channel_order: {order}
templates: [plan, call, contact-us]
rules:
  - id: plan
    priority: 20
    when: {{days_past_due: {{gte: 30}}}}
    then: {{action: OFFER_PAYMENT_PLAN, channel: [phone, email], template: plan}}
    reason: A plan.
  - id: call
    priority: 10
    when: {{days_past_due: {{between: [1, 29]}}}}
    then:
      action: CALL
      channel: phone
      template: call
      otherwise: {{action: SEND_REMINDER, channel: [letter, email], template: contact-us}}
    reason: A call.
"""
# Three calls in the last three days: the Polish cap (3 calls in 7 days) closes the phone for four days.
CAPPED = [{"channel": "phone", "at": (TUESDAY - timedelta(days=days)).isoformat(), "outcome": "no_answer"} for days in (1, 2, 3)]


def engine_with(tmp_path: Path, order: str):  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "rules" / "compliance", tmp_path / "compliance")
    write_policy(tmp_path, POLICY.format(order=order))
    return build_engine(tmp_path)


def test_same_day_order_sends_the_email_now_rather_than_call_in_four_days(tmp_path: Path) -> None:
    decision = engine_with(tmp_path, "same_day").decide(snapshot(TUESDAY, days_past_due=40, prior_contacts=CAPPED), TUESDAY)
    assert (decision.action, decision.channel) == ("OFFER_PAYMENT_PLAN", Channel.EMAIL)
    assert decision.window is not None and decision.window.start == TUESDAY


def test_same_day_order_keeps_the_preference_when_both_are_open_today(tmp_path: Path) -> None:
    decision = engine_with(tmp_path, "same_day").decide(snapshot(TUESDAY, days_past_due=40), TUESDAY)
    assert decision.channel is Channel.PHONE


def test_absolute_order_waits_for_the_first_channel(tmp_path: Path) -> None:
    decision = engine_with(tmp_path, "absolute").decide(snapshot(TUESDAY, days_past_due=40, prior_contacts=CAPPED), TUESDAY)
    assert decision.channel is Channel.PHONE
    assert decision.window is not None and decision.window.start == TUESDAY + timedelta(days=4)  # the oldest call leaves the 7 days


def test_a_vetoed_call_keeps_its_intent_in_writing(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, "absolute")
    decision = engine.decide(snapshot(TUESDAY, days_past_due=10, consents={"letter": True, "email": True}), TUESDAY)
    assert (decision.action, decision.channel, decision.template) == ("SEND_REMINDER", Channel.LETTER, "contact-us")
    assert decision.reasons[0].code == "call"
    assert any(veto.rule_id == "call" and veto.guardrail == "consent" for veto in decision.vetoes)


def test_a_written_alternative_of_a_call_must_name_a_written_action(tmp_path: Path) -> None:
    bad = POLICY.format(order="absolute").replace("otherwise: {action: SEND_REMINDER, ", "otherwise: {")
    write_policy(tmp_path, bad)
    with pytest.raises(PolicyError) as error:
        load_strategy(tmp_path / "strategies")
    assert "cannot be written" in str(error.value)


LATE_TUESDAY = datetime(2026, 11, 24, 19, 50, tzinfo=WARSAW)  # ten minutes before the Polish hours close


def test_a_call_window_too_short_to_use_moves_to_the_next_opening(tmp_path: Path) -> None:
    decision = engine_with(tmp_path, "absolute").decide(snapshot(LATE_TUESDAY, days_past_due=40), LATE_TUESDAY)
    assert decision.channel is Channel.PHONE and decision.window is not None
    assert decision.window.start == datetime(2026, 11, 25, 8, 0, tzinfo=WARSAW)


def test_an_email_may_use_the_last_minutes(tmp_path: Path) -> None:
    decision = engine_with(tmp_path, "absolute").decide(snapshot(LATE_TUESDAY, days_past_due=40, consents={"email": True}), LATE_TUESDAY)
    assert decision.channel is Channel.EMAIL and decision.window is not None and decision.window.start == LATE_TUESDAY


def test_the_policy_sets_the_shortest_window(tmp_path: Path) -> None:
    shutil.copytree(REPO / "rules" / "compliance", tmp_path / "compliance")
    write_policy(tmp_path, POLICY.format(order="absolute").replace("channel_order: absolute", "channel_order: absolute\nshortest_window_minutes: {phone: 5}"))
    decision = build_engine(tmp_path).decide(snapshot(LATE_TUESDAY, days_past_due=40), LATE_TUESDAY)
    assert decision.window is not None and decision.window.start == LATE_TUESDAY

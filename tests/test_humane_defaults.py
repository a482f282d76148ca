"""The product's humane defaults: written reminders until a payment is late, no
calls or texts at weekends where no pack sets hours, letters and email may go
on Saturdays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.registry import build_engine
from engine.vocabulary import Channel
from tests.conftest import REPO, snapshot

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

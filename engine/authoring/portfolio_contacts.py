"""Synthetic contact histories: the steps a collection ladder took, stage by stage.

Calibration (docs/simulate.md, "The synthetic portfolio", shows the same figures):

- Outbound attempts per 30 days, by the stage the case was in on the day of the
  attempt, times a per-case intensity between 0.6 and 1.4: pre-due 6, due day 6,
  early (4-14 days) 4, firm (15-30) 5, mid (31-60) 8, late (61-90) 7, final
  (91-120) 5, recovery (121+) 2. Attempts are drawn over the last 120 days; older
  cases also keep their first notice and their final notice (the milestones the
  compliance packs ask about).
- Each attempt carries the action and template of its stage (reminders early,
  calls and plan offers mid-stage, a final notice after 90 days, settlement
  offers late) on a channel the debtor consented to.
- Delivery: an email address, phone number, SMS number, push token or postal
  address is bad for 6%, 3%, 4%, 2% and 1% of cases, and every attempt on it
  fails (bounced, wrong party, failed); otherwise 2-5% of messages fail now and
  then. A call is unanswered 51% of the time (no delivery status: the caller
  cannot know), reaches the debtor 37%, and is a callback request, a wrong
  party, a refusal of the channel or a number not in service for the rest.
- 10% of cases come from a legacy system that sends only channel, time and
  outcome (no action, template, direction or delivery).
- 12% of overdue cases also have one or two inbound contacts (the debtor called
  or wrote), which never count as our attempts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.vocabulary import ELECTRONIC_CHANNELS, Action, Channel, Delivery, Direction, Outcome

LOOKBACK_DAYS = 120  # regular attempts are drawn over at most this many days before as_of
LEGACY_SHARE = 0.10
INBOUND_SHARE = 0.12
THIRD_PARTY_NOTICE_SHARE = 0.9  # US third-party collectors whose validation notice went out
FIRST_NOTICE_SHARE = 0.9  # cases older than the lookback whose first notice is still on record
FINAL_NOTICE_SHARE = 0.85  # cases past day 95 that were sent a final notice
PL_PRE_SUIT_SHARE = 0.5  # Polish final notices written as a pre-suit demand
BAD_CONTACT_DATA = {Channel.EMAIL: 0.06, Channel.PHONE: 0.03, Channel.SMS: 0.04, Channel.PUSH: 0.02, Channel.LETTER: 0.01}
# What an attempt on bad contact data becomes.
_BAD_DATA_DELIVERY = {Channel.EMAIL: Delivery.BOUNCED, Channel.PHONE: Delivery.WRONG_PARTY, Channel.SMS: Delivery.FAILED, Channel.PUSH: Delivery.FAILED, Channel.LETTER: Delivery.BOUNCED}
# Messages on good contact data: (delivery, weight), the rest delivered.
_MESSAGE_FAILURES = {
    Channel.EMAIL: ((Delivery.BOUNCED, 0.02), (Delivery.FAILED, 0.01)),
    Channel.SMS: ((Delivery.FAILED, 0.03), (Delivery.WRONG_PARTY, 0.005), (Delivery.CHANNEL_REFUSED, 0.005)),
    Channel.PUSH: ((Delivery.FAILED, 0.05),),
    Channel.LETTER: ((Delivery.BOUNCED, 0.01),),
}
# Calls to a good number: (outcome, delivery or None when the caller cannot know, weight).
_CALLS = (
    (Outcome.NO_ANSWER, None, 51),  # busy or unanswered: says nothing about the number
    (Outcome.RIGHT_PARTY_CONTACT, Delivery.DELIVERED, 25),
    (Outcome.PROMISE_TO_PAY, Delivery.DELIVERED, 7),
    (Outcome.REFUSED, Delivery.DELIVERED, 5),
    (Outcome.RIGHT_PARTY_CONTACT, Delivery.CALLBACK_REQUESTED, 6),
    (Outcome.FAILED, Delivery.WRONG_PARTY, 3),
    (Outcome.REFUSED, Delivery.CHANNEL_REFUSED, 2),
    (Outcome.FAILED, Delivery.FAILED, 1),  # not in service
)
_INBOUND_CHANNELS = ((Channel.PHONE, 60), (Channel.EMAIL, 30), (Channel.SMS, 10))
_INBOUND_OUTCOMES = ((Outcome.RIGHT_PARTY_CONTACT, 55), (Outcome.PROMISE_TO_PAY, 30), (Outcome.REFUSED, 15))


@dataclass(frozen=True)
class Step:
    """One kind of attempt: its action, template and channels in order of preference."""

    action: Action
    template: str
    channels: tuple[Channel, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class Stage:
    """A span of days past due, how often the ladder reaches out in it, and with what."""

    name: str
    first_day: int  # days past due, inclusive
    last_day: int  # inclusive
    per_30_days: float
    steps: tuple[Step, ...]


_E, _S, _P, _L, _PH = Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.LETTER, Channel.PHONE
_REMIND, _CALL, _PLAN, _SETTLE = Action.SEND_REMINDER, Action.CALL, Action.OFFER_PAYMENT_PLAN, Action.OFFER_SETTLEMENT
STAGES = (
    Stage("pre-due", -5, -1, 6, (Step(_REMIND, "pre-due-friendly", (_S, _E, _P)),)),
    Stage("due day", 0, 3, 6, (Step(_REMIND, "due-day-friendly", (_S, _E, _P)),)),
    Stage("early", 4, 14, 4, (Step(_REMIND, "reminder-soft", (_E, _S, _P)),)),
    Stage("firm", 15, 30, 5, (Step(_REMIND, "reminder-firm", (_E, _S, _L), 0.7), Step(_CALL, "call-personal", (_PH,), 0.3))),
    Stage("mid", 31, 60, 8, (
        Step(_CALL, "call-personal", (_PH,), 0.5), Step(_PLAN, "plan-offer", (_PH, _E, _L), 0.35), Step(_REMIND, "reminder-general", (_E, _S, _L), 0.15),
    )),
    Stage("late", 61, 90, 7, (
        Step(_PLAN, "plan-offer-extended", (_PH, _L, _E), 0.4), Step(_SETTLE, "settlement-offer", (_PH, _L, _E), 0.2),
        Step(_CALL, "call-personal", (_PH,), 0.3), Step(_REMIND, "reminder-general", (_E, _S, _L), 0.1),
    )),
    # The final notice itself is a milestone (below), sent once.
    Stage("final", 91, 120, 5, (Step(_CALL, "call-personal", (_PH,), 0.6), Step(_REMIND, "reminder-firm", (_L, _E, _S), 0.4))),
    Stage("recovery", 121, 36500, 2, (
        Step(_SETTLE, "settlement-last-chance", (_L, _PH, _E), 0.4), Step(_CALL, "call-personal", (_PH,), 0.3), Step(_REMIND, "reminder-general", (_E, _L, _S), 0.3),
    )),
)
FIRST_NOTICE = Step(_REMIND, "reminder-general", (_L, _E))
FINAL_NOTICE = Step(Action.FINAL_NOTICE, "final-notice", (_L, _E))
PL_PRE_SUIT_DEMAND = Step(Action.FINAL_NOTICE, "pl-pre-suit-demand", (_L, _E))
US_VALIDATION_NOTICE = Step(Action.SEND_NOTICE, "us-validation-notice", (_L, _E))


def attempt_result(rng: random.Random, channel: Channel) -> tuple[Outcome, Delivery | None]:
    """What became of an attempt on good contact data: a call's outcome (no delivery
    status when unanswered), or a message delivered or, now and then, not."""
    if channel is Channel.PHONE:
        outcome, status, _ = rng.choices(_CALLS, weights=[item[2] for item in _CALLS])[0]
        return outcome, status
    draw = rng.random()
    for failure, share in _MESSAGE_FAILURES[channel]:
        if draw < share:
            return Outcome.FAILED, failure
        draw -= share
    return Outcome.DELIVERED, Delivery.DELIVERED


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass(frozen=True)
class Clock:
    """The case's own clock: as_of, the debtor's local date, and local times of day."""

    as_of: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.as_of.astimezone(self.zone).date()

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local time on `day`, never later than as_of (then an hour or so before it)."""
        instant = datetime.combine(day, time(hour, minute), self.zone)
        return instant if instant <= self.as_of else self.as_of - timedelta(minutes=30 + minute)


@dataclass
class Contacts:
    """One case's contact data and the attempts made on it."""

    rng: random.Random
    clock: Clock
    allowed: tuple[Channel, ...]  # the channels the debtor consented to, in no order
    preferred: Channel | None
    legacy: bool  # sends only channel, at and outcome
    bad: frozenset[Channel]
    made: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def draw(cls, rng: random.Random, clock: Clock, consents: dict[str, bool], preferred: str | None) -> Contacts:
        allowed = tuple(channel for channel in Channel if consents.get(channel.value) and not (channel in ELECTRONIC_CHANNELS and consents.get("electronic_opt_out")))
        bad = frozenset(channel for channel, share in BAD_CONTACT_DATA.items() if rng.random() < share)
        return cls(rng, clock, allowed, Channel(preferred) if preferred else None, rng.random() < LEGACY_SHARE, bad)

    def channel_for(self, step: Step) -> Channel | None:
        """The debtor's preferred channel when the step may use it (half the time), else the step's first allowed one."""
        usable = [channel for channel in step.channels if channel in self.allowed]
        if self.preferred in usable and self.rng.random() < 0.5:
            return self.preferred
        return usable[0] if usable else None

    def attempt(self, step: Step, at: datetime, channel: Channel | None = None) -> dict[str, Any] | None:
        """An outbound attempt of `step` at `at`, with what became of it; None without a usable channel."""
        channel = channel or self.channel_for(step)
        if channel is None:
            return None
        outcome, delivery = self._result(channel)
        contact: dict[str, Any] = {"channel": channel.value, "at": at.isoformat(), "outcome": outcome.value}
        if not self.legacy:
            contact.update({"action": step.action.value, "template": step.template, "direction": Direction.OUTBOUND.value})
            if delivery is not None:
                contact["delivery"] = delivery.value
        self.made.append(contact)
        return contact

    def agreed(self, step: Step, channel: Channel, at: datetime) -> None:
        """Our attempt in which the debtor agreed to pay."""
        contact: dict[str, Any] = {"channel": channel.value, "at": at.isoformat(), "outcome": Outcome.PROMISE_TO_PAY.value}
        if not self.legacy:
            contact.update({"action": step.action.value, "template": step.template, "direction": Direction.OUTBOUND.value, "delivery": Delivery.DELIVERED.value})
        self.made.append(contact)

    def inbound(self, channel: Channel, at: datetime, outcome: Outcome) -> None:
        """The debtor's own contact; a legacy system records none (it could not tell it from ours)."""
        if not self.legacy:
            self.made.append({"channel": channel.value, "at": at.isoformat(), "outcome": outcome.value, "direction": Direction.INBOUND.value})

    def _result(self, channel: Channel) -> tuple[Outcome, Delivery | None]:
        if channel in self.bad:
            return Outcome.FAILED, _BAD_DATA_DELIVERY[channel]
        return attempt_result(self.rng, channel)

    def local_time(self, days_ago: int) -> datetime:
        """A time of day when collectors work (08:00-19:59 local), `days_ago` days before today."""
        return self.clock.at(self.clock.today - timedelta(days=days_ago), self.rng.randint(8, 19), self.rng.randint(0, 59))


def ladder(contacts: Contacts, days_past_due: int, country: str, third_party: bool, paused: list[tuple[datetime, datetime]]) -> None:
    """The attempts of the ladder up to as_of, none while an arrangement paused it."""
    rng = contacts.rng
    window = min(LOOKBACK_DAYS, days_past_due + 5)  # the first reminder goes out at most five days before the due date
    intensity = rng.uniform(0.6, 1.4)
    attempts: list[tuple[Step, int]] = []
    for stage in STAGES:
        # Days ago during which the case was in this stage, within the window.
        newest, oldest = max(0, days_past_due - stage.last_day), min(window, days_past_due - stage.first_day)
        if oldest < newest:
            continue
        for _ in range(poisson(rng, stage.per_30_days * intensity * (oldest - newest + 1) / 30)):
            step = rng.choices(stage.steps, weights=[step.weight for step in stage.steps])[0]
            attempts.append((step, rng.randint(newest, oldest)))
    if days_past_due > window and rng.random() < FIRST_NOTICE_SHARE:
        attempts.append((FIRST_NOTICE, days_past_due - rng.randint(0, 3)))
    if days_past_due >= 95 and rng.random() < FINAL_NOTICE_SHARE:
        notice = PL_PRE_SUIT_DEMAND if country == "PL" and rng.random() < PL_PRE_SUIT_SHARE else FINAL_NOTICE
        attempts.append((notice, days_past_due - rng.randint(91, min(days_past_due - 1, 100))))
    if third_party and rng.random() < THIRD_PARTY_NOTICE_SHARE:
        attempts.append((US_VALIDATION_NOTICE, min(days_past_due, window) + 1))
    for step, days_ago in attempts:
        at = contacts.local_time(days_ago)
        if not any(start <= at < end for start, end in paused):
            contacts.attempt(step, at)


def inbound(contacts: Contacts, days_past_due: int) -> None:
    """One or two contacts the debtor made of their own accord, for a share of overdue cases."""
    rng = contacts.rng
    if days_past_due < 1 or rng.random() >= INBOUND_SHARE:
        return
    for _ in range(rng.randint(1, 2)):
        channel = rng.choices([item[0] for item in _INBOUND_CHANNELS], weights=[item[1] for item in _INBOUND_CHANNELS])[0]
        outcome = rng.choices([item[0] for item in _INBOUND_OUTCOMES], weights=[item[1] for item in _INBOUND_OUTCOMES])[0]
        contacts.inbound(channel, contacts.local_time(rng.randint(0, min(days_past_due, LOOKBACK_DAYS))), outcome)

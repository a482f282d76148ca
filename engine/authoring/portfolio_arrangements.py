"""Synthetic arrangements: what a share of overdue debtors agreed to, what they paid,
and the contacts around it.

Calibration (docs/simulate.md, "The synthetic portfolio", shows the same figures):

- Cases with an arrangement, by days past due: 4-14 days 8%, 15-30 18%, 31-60
  30%, 61-90 32%, 91-180 25%, over 180 15%; none earlier.
- Type: instalment plan 55%, promise to pay 30%, settlement 10% (after day 60;
  a promise before), payment holiday 5%.
- How it goes: plans perform 60%, are pending 10%, missed 12%, broken 10%,
  completed 4%, cancelled 4%; promises are pending 40%, broken 35%, kept 15%,
  cancelled 10%; settlements pending 25%, performing 20%, broken 25%, completed
  20%, cancelled 10%; holidays pending 70%, over 30%. 15% of performing plans
  have an instalment due yesterday whose transfer is still posting. An outcome
  the case's age cannot hold (a plan broken twice within a month of the due
  date) gives way to the next one (missed, then performing, then pending).
- Agreed on our call (55%), the debtor's call (35%) or web form (10%);
  confirmed in writing within 36 hours for 85%; a courtesy reminder before 70%
  of a plan's instalments; 40% of missed plans were already offered a new plan.
  The ladder does not contact a debtor while the arrangement is kept, and
  resumes three days after it breaks or a week or more after it is cancelled.
- 20% of them had an earlier arrangement: a promise broken (70%) or cancelled.

Everything agrees with the snapshot's validation: the case's currency and minor
units, due dates after agreed_at, payments never above the schedule, nothing
after as_of.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from engine.authoring.portfolio_contacts import Contacts, Step
from engine.vocabulary import Action, ArrangementStatus, ArrangementType, Channel, Outcome, PaymentMethod

_SHARE_BY_DAYS_PAST_DUE = ((4, 0.08), (15, 0.18), (31, 0.30), (61, 0.32), (91, 0.25), (181, 0.15))  # from that day on
_TYPES = ((ArrangementType.INSTALMENT_PLAN, 60), (ArrangementType.PROMISE_TO_PAY, 25), (ArrangementType.SETTLEMENT, 10), (ArrangementType.PAYMENT_HOLIDAY, 5))
SETTLEMENTS_FROM_DAY = 61
# The intended outcome by type: the engine judges it from the schedule and payments.
FATES = {
    ArrangementType.INSTALMENT_PLAN: (("performing", 65), ("pending", 5), ("missed", 12), ("broken", 10), ("completed", 4), ("cancelled", 4)),
    ArrangementType.PROMISE_TO_PAY: (("pending", 35), ("broken", 35), ("completed", 20), ("cancelled", 10)),
    ArrangementType.SETTLEMENT: (("pending", 25), ("performing", 20), ("broken", 25), ("completed", 20), ("cancelled", 10)),
    ArrangementType.PAYMENT_HOLIDAY: (("pending", 70), ("completed", 30)),
}
_METHODS = ((PaymentMethod.BANK_TRANSFER, 45), (PaymentMethod.DIRECT_DEBIT, 20), (PaymentMethod.CARD, 25), (PaymentMethod.CASH, 5), (PaymentMethod.OTHER, 5))
# The outcome to try when the case is too young for the one drawn.
_EASIER = {"broken": "missed", "missed": "performing", "completed": "performing", "performing": "pending", "cancelled": "pending"}
IN_FLIGHT_SHARE = 0.15
CONFIRMED_SHARE = 0.85
COURTESY_REMINDER_SHARE = 0.7
REPLAN_OFFERED_SHARE = 0.4
EARLIER_SHARE = 0.2
MIN_PLAN = Decimal(60)  # a smaller balance is paid at once: a promise, not a plan
PAST_GRACE = 8  # days after a due date by which any posting grace (two business days) is over
_CONFIRMATION = Step(Action.CONFIRM_ARRANGEMENT, "arrangement-confirmation", (Channel.EMAIL, Channel.LETTER))
_COURTESY = Step(Action.SEND_REMINDER, "instalment-due-soon", (Channel.SMS, Channel.EMAIL))
_REPLAN = Step(Action.OFFER_PAYMENT_PLAN, "missed-instalment-replan", (Channel.SMS, Channel.EMAIL, Channel.PHONE))


@dataclass
class Shape:
    """An arrangement's timeline in whole local days before today (negative: later)."""

    agreed_ago: int
    due_ago: list[int]
    paid: list[str]  # per instalment: "on_time", "part" (on time, not all), "late_part" or "no"
    status: ArrangementStatus = ArrangementStatus.OPEN
    resumes_after: int | None = None  # the index of the due date after which the ladder resumes (a break)
    in_flight: bool = False  # the last instalment was due yesterday and its transfer is still posting


@dataclass
class Agreed:
    """What the arrangements add to a case."""

    arrangements: list[dict[str, Any]] = field(default_factory=list)
    paused: list[tuple[datetime, datetime]] = field(default_factory=list)  # no ladder contact in these spans
    paid: Decimal = Decimal(0)  # on the current arrangement
    last_paid_at: datetime | None = None
    broken: int = 0
    settled: bool = False  # a settlement paid in full: nothing more is owed
    promise_date: date | None = None  # a pending promise's date


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([item[0] for item in weighted], weights=[item[1] for item in weighted])[0]


def share_with_arrangement(days_past_due: int) -> float:
    return next((share for first, share in reversed(_SHARE_BY_DAYS_PAST_DUE) if days_past_due >= first), 0.0)


def _timeline(rng: random.Random, kind: ArrangementType, fate: str, latest: int) -> Shape | None:
    """The shape of an arrangement with this outcome agreed at most `latest` days ago; None when none fits."""
    if kind is ArrangementType.PAYMENT_HOLIDAY:
        gap = rng.randint(30, 90)
        if fate == "completed":
            agreed = gap + rng.randint(1, max(1, min(60, latest - gap)))
            return Shape(agreed, [agreed - gap], ["no"]) if agreed <= latest else None
        agreed = rng.randint(0, min(gap - 1, latest))
        return Shape(agreed, [agreed - gap], ["no"])
    if kind is ArrangementType.PROMISE_TO_PAY:
        count, interval, gap = 1, 0, rng.randint(3, 14)
    elif kind is ArrangementType.SETTLEMENT:
        count, interval, gap = (1 if rng.random() < 0.7 else rng.randint(2, 3)), 30, rng.randint(5, 20)
    else:
        count, interval, gap = rng.randint(3, 12), (30 if rng.random() < 0.85 else 14), rng.randint(7, 30)

    def shape(agreed: int, paid: list[str], **extra: Any) -> Shape | None:
        if agreed > latest or agreed < 0:
            return None
        return Shape(agreed, [agreed - gap - index * interval for index in range(count)], paid + ["no"] * (count - len(paid)), **extra)

    if fate == "pending" or (fate == "performing" and count == 1):
        return shape(rng.randint(0, max(0, min(gap - 1, latest))), [])
    if fate == "completed":
        while count > 1 and 1 + gap + (count - 1) * interval > latest:
            count -= 1
        return shape(gap + (count - 1) * interval + rng.randint(1, max(1, min(40, latest - gap - (count - 1) * interval))), ["on_time"] * count)
    if fate == "cancelled":
        made = rng.randint(0, count - 1)  # instalments paid before it was cancelled
        while made and gap + made * interval > latest:
            made -= 1
        earliest = min(latest, gap + made * interval)
        return shape(rng.randint(earliest, min(latest, earliest + 20)), ["on_time"] * made, status=ArrangementStatus.CANCELLED)
    # Performing, missed or broken: `past` instalments are due by today, the last `lag` days ago.
    in_flight = fate == "performing" and kind is ArrangementType.INSTALMENT_PLAN and rng.random() < IN_FLIGHT_SHARE
    needed = {"performing": 1, "missed": 1, "broken": 2 if kind is ArrangementType.INSTALMENT_PLAN else 1}[fate]
    past = rng.randint(needed, max(needed, count - 1)) if count > needed else count
    fewest_days = 1 if fate == "performing" else PAST_GRACE  # since the last due date
    most_days = interval - 1 if interval else 40
    while past > needed and gap + (past - 1) * interval + fewest_days > latest:
        past -= 1
    gap = min(gap, latest - (past - 1) * interval - fewest_days)  # agreed closer to the first due date, if the case is young
    if gap < 3:
        return None
    lag = 1 if in_flight else rng.randint(fewest_days, max(fewest_days, min(most_days, latest - gap - (past - 1) * interval)))
    unpaid = {"performing": 1 if in_flight else 0, "missed": 1, "broken": needed}[fate]
    paid = ["on_time"] * (past - unpaid) + ["no"] * unpaid
    if fate == "missed" and rng.random() < 0.3:
        paid[-1] = "late_part"
    if fate == "broken" and kind is not ArrangementType.INSTALMENT_PLAN and rng.random() < 0.3:
        paid[-1] = "part"
    return shape(lag + gap + (past - 1) * interval, paid, resumes_after=past - 1 if fate == "broken" else None, in_flight=in_flight)


def _split(total: Decimal, count: int, places: Decimal) -> list[Decimal]:
    """`total` in `count` instalments of the currency's minor unit, the last taking the rest."""
    part = (total / count).quantize(places, rounding=ROUND_DOWN)
    return [part] * (count - 1) + [total - part * (count - 1)]


class _Builder:
    def __init__(self, rng: random.Random, contacts: Contacts, case_id: str, currency: str, places: Decimal):
        self.rng, self.contacts, self.case_id, self.currency, self.places = rng, contacts, case_id, currency, places
        self.clock = contacts.clock

    def day(self, ago: int) -> date:
        return self.clock.today - timedelta(days=ago)

    def arrangement(self, kind: ArrangementType, shape: Shape, amount: Decimal, index: int, agreed: Agreed) -> dict[str, Any]:
        rng = self.rng
        method = _pick(rng, _METHODS[:2]) if shape.in_flight else _pick(rng, _METHODS)  # a transfer or a debit: posting takes days
        agreed_at, channel = self.agreement(kind, shape.agreed_ago)
        amounts = [Decimal(0)] if kind is ArrangementType.PAYMENT_HOLIDAY else _split(amount, len(shape.due_ago), self.places)
        payments: list[dict[str, Any]] = []
        for ago, owed, how in zip(shape.due_ago, amounts, shape.paid):
            paid = self.payment(ago, owed, how, shape.agreed_ago, method)
            if paid:
                payments.append(paid[0])
                agreed.last_paid_at = max(paid[1], agreed.last_paid_at or paid[1])
        data: dict[str, Any] = {
            "arrangement_id": f"{self.case_id}-a{index}",
            "type": kind.value,
            "agreed_at": agreed_at.isoformat(),
            "agreed_on": channel.value,
            "schedule": [{"due_date": self.day(ago).isoformat(), "amount": str(owed)} for ago, owed in zip(shape.due_ago, amounts)],
            "payments": payments,
            "method": method.value,
        }
        if rng.random() < 0.5:  # else left out: the case's currency
            data["currency"] = self.currency
        if shape.status is not ArrangementStatus.OPEN:
            data["status"] = shape.status.value
        if rng.random() < CONFIRMED_SHARE:
            at = agreed_at + timedelta(hours=rng.randint(1, 36))
            if at < self.clock.as_of:
                self.contacts.attempt(_CONFIRMATION, at)
        return data

    def agreement(self, kind: ArrangementType, ago: int) -> tuple[datetime, Channel]:
        """The contact the arrangement was agreed in: our call, the debtor's call, or their web form."""
        rng, contacts = self.rng, self.contacts
        at = contacts.local_time(ago)
        draw = rng.random()
        if draw < 0.55 and Channel.PHONE in contacts.allowed:
            step = Step(Action.CALL, "call-personal", (Channel.PHONE,)) if kind is ArrangementType.PROMISE_TO_PAY else Step(Action.OFFER_PAYMENT_PLAN, "plan-offer", (Channel.PHONE,))
            contacts.agreed(step, Channel.PHONE, at)
            return at, Channel.PHONE
        channel = Channel.PHONE if draw < 0.9 else Channel.EMAIL
        contacts.inbound(channel, at, Outcome.PROMISE_TO_PAY)
        return at, channel

    def payment(self, due_ago: int, owed: Decimal, how: str, agreed_ago: int, method: PaymentMethod) -> tuple[dict[str, Any], datetime] | None:
        """A payment towards one instalment (as the snapshot has it, and when it was made), or None."""
        rng = self.rng
        if how == "no" or owed <= 0:
            return None
        if how == "late_part":  # after the due date, before today
            paid_ago = due_ago - rng.randint(1, due_ago - 1)
        else:  # on the due date or up to three days before it, after the day it was agreed
            paid_ago = max(1, min(agreed_ago - 1, due_ago + rng.randint(0, 3)))
        amount = owed if how == "on_time" else (owed * Decimal(rng.uniform(0.2, 0.8))).quantize(self.places, rounding=ROUND_DOWN)
        paid_at = self.clock.at(self.day(paid_ago), rng.randint(8, 20), rng.randint(0, 59))
        item: dict[str, Any] = {"amount": str(amount), "paid_at": paid_at.isoformat(), "method": method.value}
        posted_at = paid_at + timedelta(days=0 if method in (PaymentMethod.CARD, PaymentMethod.CASH) else rng.randint(0, 2), minutes=rng.randint(1, 600))
        if posted_at <= self.clock.as_of:  # else still in flight: not on the books yet
            item["posted_at"] = posted_at.isoformat()
        return item, paid_at

    def pause(self, shape: Shape, agreed: Agreed) -> None:
        """No ladder contact from the agreement until it ends: never while kept, three days
        after the miss that broke it, one to four weeks after it was agreed when cancelled."""
        start = self.clock.at(self.day(shape.agreed_ago), 0)
        if shape.status is ArrangementStatus.CANCELLED:
            end = start + timedelta(days=self.rng.randint(7, 30))
        elif shape.resumes_after is not None:
            end = self.clock.at(self.day(shape.due_ago[shape.resumes_after] - 3), 0)
        else:
            end = self.clock.as_of + timedelta(days=1)
        agreed.paused.append((start, end))

    def courtesy_and_replan(self, shape: Shape, fate: str) -> None:
        rng = self.rng
        if len(shape.due_ago) > 1:
            for ago in shape.due_ago:  # sent one to three days before each due date passed by today
                before = ago + rng.randint(1, 3)
                if 1 <= before < shape.agreed_ago and rng.random() < COURTESY_REMINDER_SHARE:
                    self.contacts.attempt(_COURTESY, self.contacts.local_time(before))
        if fate == "missed" and rng.random() < REPLAN_OFFERED_SHARE:
            missed = shape.due_ago[shape.paid.index("late_part") if "late_part" in shape.paid else shape.paid.index("no")]
            self.contacts.attempt(_REPLAN, self.contacts.local_time(missed - rng.randint(4, missed - 1)))


def draw(rng: random.Random, contacts: Contacts, case_id: str, days_past_due: int, balance: Decimal, currency: str, places: Decimal) -> Agreed:
    """The arrangements of one case (often none), the payments made on them and their contacts."""
    agreed = Agreed()
    if rng.random() >= share_with_arrangement(days_past_due):
        return agreed
    latest = days_past_due - 2  # agreed after a contact about the overdue debt
    kind = _pick(rng, _TYPES)
    if (kind is ArrangementType.SETTLEMENT and days_past_due < SETTLEMENTS_FROM_DAY) or (kind is ArrangementType.INSTALMENT_PLAN and balance < MIN_PLAN):
        kind = ArrangementType.PROMISE_TO_PAY
    fate = _pick(rng, FATES[kind])
    shape = _timeline(rng, kind, fate, latest)
    while shape is None and fate in _EASIER:  # the case is too young for this outcome
        fate = _EASIER[fate]
        if any(fate == name for name, _ in FATES[kind]):
            shape = _timeline(rng, kind, fate, latest)
    if shape is None:
        return agreed
    builder = _Builder(rng, contacts, case_id, currency, places)
    if shape.agreed_ago + 18 <= latest and rng.random() < EARLIER_SHARE:
        _earlier(rng, builder, shape.agreed_ago, latest, balance, agreed)
    amount = balance
    if kind is ArrangementType.PROMISE_TO_PAY and rng.random() < 0.5:
        amount = (balance * Decimal(rng.uniform(0.3, 1.0))).quantize(places, rounding=ROUND_DOWN)
    elif kind is ArrangementType.SETTLEMENT:
        amount = (balance * Decimal(rng.uniform(0.6, 0.9))).quantize(places, rounding=ROUND_DOWN)
    data = builder.arrangement(kind, shape, amount, len(agreed.arrangements) + 1, agreed)
    agreed.arrangements.append(data)
    agreed.paid = sum((Decimal(item["amount"]) for item in data["payments"]), Decimal(0))
    agreed.broken += fate == "broken"
    agreed.settled = kind is ArrangementType.SETTLEMENT and fate == "completed"
    if kind is ArrangementType.PROMISE_TO_PAY and fate == "pending":
        agreed.promise_date = builder.day(shape.due_ago[0])
    builder.pause(shape, agreed)
    builder.courtesy_and_replan(shape, fate)
    return agreed


def _earlier(rng: random.Random, builder: _Builder, current_ago: int, latest: int, balance: Decimal, agreed: Agreed) -> None:
    """A promise made before the current arrangement: broken, or cancelled when the new one replaced it."""
    gap = rng.randint(3, 10)
    ago = rng.randint(current_ago + 18, min(latest, current_ago + 90))  # due at least PAST_GRACE days before the current one
    cancelled = rng.random() < 0.3
    shape = Shape(ago, [ago - gap], ["no"], ArrangementStatus.CANCELLED if cancelled else ArrangementStatus.OPEN, None if cancelled else 0)
    agreed.arrangements.append(builder.arrangement(ArrangementType.PROMISE_TO_PAY, shape, balance, 1, agreed))
    agreed.broken += not cancelled
    builder.pause(shape, agreed)


"""Arrangements: what the debtor agreed to, and the engine's verdict on how it is going.

The caller passes each arrangement as agreed (type, schedule, payments received)
and may mark it cancelled or completed; everything else the engine judges
itself, the same way for the same snapshot and as_of:

- Payments pay the schedule in order: instalment i is *covered* once the
  payments made on or before its due date add up to every amount due up to it.
- A payment made on time can reach the books days later. So an instalment not
  yet covered is *in grace* until the posting grace of the arrangement's payment
  method (business days, declared by the policy) has passed after its due date,
  and only then *missed*: nobody is chased for a transfer in flight.
- A plan with arrears after one missed instalment is `missed`; after two or
  more, `broken` (a promise to pay has one date, so one miss breaks it). Paying
  the arrears brings it back to `performing`. Everything paid: `completed`.
  Agreed, nothing due yet: `pending`. A payment holiday is `pending` until its
  last date, then `completed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any, Callable, Sequence

from engine.history import was_delivered
from engine.vocabulary import Action, ArrangementStatus, ArrangementType, PaymentMethod


class ArrangementState(str, Enum):
    PENDING = "pending"
    PERFORMING = "performing"
    MISSED = "missed"
    BROKEN = "broken"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


IN_FORCE = frozenset({ArrangementState.PENDING, ArrangementState.PERFORMING, ArrangementState.MISSED})
# Business days a payment may take to post, by method, unless the policy says otherwise.
DEFAULT_POSTING_GRACE = {
    PaymentMethod.BANK_TRANSFER: 2,
    PaymentMethod.DIRECT_DEBIT: 2,
    PaymentMethod.CARD: 0,
    PaymentMethod.CASH: 0,
    PaymentMethod.OTHER: 2,
}
MISSES_TO_BREAK_A_PLAN = 2
_NOTHING = Decimal(0)
_DUE_DATE = attrgetter("due_date")
_CONFIRM = Action.CONFIRM_ARRANGEMENT  # a module constant: an Enum member read off its class costs a descriptor call, here per contact


@dataclass(frozen=True)
class Verdict:
    """The engine's judgement of one arrangement at one instant."""

    state: ArrangementState
    missed_instalments: int = 0
    next_due_in_days: int | None = None  # the next instalment not yet covered, due today or later
    paid: Decimal = Decimal(0)
    scheduled: Decimal = Decimal(0)
    arrears: Decimal = Decimal(0)  # due and past its grace, not yet paid
    in_grace: bool = False  # an instalment is due and unpaid, but a payment may still be posting
    business_days_late: int | None = None  # since the first uncovered due date, once its grace has passed
    counted: tuple[int, ...] = field(default=())  # the indices of the payments counted, for the trace

    @property
    def paid_pct(self) -> int:
        return 100 if self.scheduled <= 0 else min(100, int(self.paid * 100 // self.scheduled))


def business_days_after(day: date, count: int, is_business_day: Callable[[date], bool]) -> date:
    """The date `count` business days after `day` (the day itself when count is 0)."""
    while count > 0:
        day += timedelta(days=1)
        count -= is_business_day(day)
    return day


def business_days_between(start: date, end: date, is_business_day: Callable[[date], bool]) -> int:
    """Business days after `start`, up to and including `end`."""
    # The days as ordinals, mapped in C: a late plan may be months late, and only is_business_day need be Python.
    return sum(map(is_business_day, map(date.fromordinal, range(start.toordinal() + 1, end.toordinal() + 1))))


def judge(
    kind: ArrangementType,
    status: ArrangementStatus,
    schedule: Sequence[Any],  # engine.snapshot.Instalment
    payments: Sequence[Any],  # engine.snapshot.Payment
    method: PaymentMethod,
    today: date,
    local_date: Callable[[datetime], date],
    is_business_day: Callable[[date], bool],
    posting_grace: dict[PaymentMethod, int],
) -> Verdict:
    """The verdict on one arrangement on the debtor's local date `today`."""
    scheduled = sum([instalment.amount for instalment in schedule], _NOTHING)
    paid = sum([payment.amount for payment in payments], _NOTHING)
    counted = tuple(range(len(payments)))
    if status is ArrangementStatus.CANCELLED:
        return Verdict(ArrangementState.CANCELLED, paid=paid, scheduled=scheduled, counted=counted)
    if status is ArrangementStatus.COMPLETED:
        return Verdict(ArrangementState.COMPLETED, paid=paid, scheduled=scheduled, counted=counted)
    if kind is ArrangementType.PAYMENT_HOLIDAY:
        ends = max((instalment.due_date for instalment in schedule), default=today)
        state = ArrangementState.PENDING if today <= ends else ArrangementState.COMPLETED
        return Verdict(state, next_due_in_days=(ends - today).days if today <= ends else None, counted=counted)
    grace = posting_grace.get(method, DEFAULT_POSTING_GRACE[method])
    paid_on = sorted((local_date(payment.paid_at), payment.amount) for payment in payments)
    due_so_far = Decimal(0)
    missed = 0
    arrears_due = Decimal(0)
    in_grace = False
    next_due: int | None = None
    first_late: date | None = None
    for instalment in sorted(schedule, key=_DUE_DATE):
        due_so_far += instalment.amount
        on_time = sum([amount for day, amount in paid_on if day <= instalment.due_date], _NOTHING) if paid_on else _NOTHING
        if on_time >= due_so_far:
            continue  # covered in time
        if today <= instalment.due_date:
            next_due = (instalment.due_date - today).days if next_due is None else next_due
            continue
        deadline = business_days_after(instalment.due_date, grace, is_business_day)
        if today <= deadline:
            in_grace = in_grace or paid < due_so_far
            continue
        missed += 1  # past its grace and not paid by its date: a miss, even if paid late since
        arrears_due = due_so_far
        if paid < due_so_far and first_late is None:
            first_late = instalment.due_date
    arrears = max(Decimal(0), arrears_due - paid)
    if scheduled > 0 and paid >= scheduled:
        state = ArrangementState.COMPLETED
    elif arrears > 0:
        breaks_at = 1 if kind in (ArrangementType.PROMISE_TO_PAY, ArrangementType.SETTLEMENT) else MISSES_TO_BREAK_A_PLAN
        state = ArrangementState.BROKEN if missed >= breaks_at else ArrangementState.MISSED
    elif any(instalment.due_date < today for instalment in schedule):
        state = ArrangementState.PERFORMING
    else:
        state = ArrangementState.PENDING
    late = business_days_between(first_late, today, is_business_day) if first_late and arrears > 0 else None
    return Verdict(state, missed, next_due, paid, scheduled, arrears, in_grace, late, counted)


def arrangement_facts(
    arrangements: Sequence[Any], contacts: Sequence[Any], as_of: datetime, today: date,
    local_date: Callable[[datetime], date], is_business_day: Callable[[date], bool], posting_grace: dict[PaymentMethod, int],
    traced: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The facts of the current arrangement (the one agreed last, cancelled ones only
    when nothing else is left) and the verdict on each arrangement, for the trace
    (with `traced` false, no verdicts: a decision without a trace reads none)."""
    facts: dict[str, Any] = {}
    verdicts = [
        judge(item.type, item.status, item.schedule, item.payments, item.method, today, local_date, is_business_day, posting_grace) for item in arrangements
    ]
    trace = [
        {
            "arrangement_id": item.arrangement_id, "type": item.type.value, "state": verdict.state.value, "missed_instalments": verdict.missed_instalments,
            "paid": str(verdict.paid), "scheduled": str(verdict.scheduled), "arrears": str(verdict.arrears), "payments_counted": list(verdict.counted),
        }
        for item, verdict in zip(arrangements, verdicts)
    ] if traced else []
    if not arrangements:
        return facts, trace
    facts["arrangements.broken"] = sum(1 for verdict in verdicts if verdict.state is ArrangementState.BROKEN)
    candidates = [index for index, verdict in enumerate(verdicts) if verdict.state is not ArrangementState.CANCELLED] or list(range(len(verdicts)))
    index = max(candidates, key=lambda position: arrangements[position].agreed_at)
    current, verdict = arrangements[index], verdicts[index]
    confirmed = any(
        contact.action is _CONFIRM and contact.at >= current.agreed_at and was_delivered(contact) for contact in contacts
    )
    facts.update({
        "arrangement.type": current.type.value,
        "arrangement.state": verdict.state.value,
        "arrangement.active": verdict.state in IN_FORCE,
        "arrangement.confirmed": confirmed,
        "arrangement.days_since_agreed": (today - local_date(current.agreed_at)).days,
        "arrangement.missed_instalments": verdict.missed_instalments,
        "arrangement.paid_pct": verdict.paid_pct,
        "arrangement.in_grace": verdict.in_grace,
    })
    if verdict.next_due_in_days is not None:
        facts["arrangement.next_due_in_days"] = verdict.next_due_in_days
    if verdict.business_days_late is not None:
        facts["arrangement.business_days_late"] = verdict.business_days_late
    return facts, trace

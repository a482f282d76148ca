"""The engine's verdict on an arrangement: payments pay the schedule in order, and
an unpaid instalment is missed only once the posting grace of its method has passed."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from engine.arrangements import ArrangementState, ArrangementStatus, ArrangementType, PaymentMethod, Verdict, business_days_after, judge
from engine.snapshot import Instalment, Payment

PLAN = [Instalment(due_date="2026-10-02", amount="100"), Instalment(due_date="2026-11-06", amount="100"), Instalment(due_date="2026-12-04", amount="100")]


def weekday(day: date) -> bool:
    return day.weekday() < 5


def paid(day: str, amount: str = "100", method: PaymentMethod = PaymentMethod.BANK_TRANSFER) -> Payment:
    return Payment(amount=amount, paid_at=datetime.fromisoformat(day).replace(tzinfo=timezone.utc), method=method)


def verdict(today: str, payments: list[Payment], schedule: list[Instalment] = PLAN, kind: ArrangementType = ArrangementType.INSTALMENT_PLAN,
            method: PaymentMethod = PaymentMethod.BANK_TRANSFER, status: ArrangementStatus = ArrangementStatus.OPEN) -> Verdict:
    return judge(kind, status, schedule, payments, method, date.fromisoformat(today), lambda instant: instant.date(), weekday, {PaymentMethod.BANK_TRANSFER: 2, PaymentMethod.CARD: 0})


def test_a_plan_paid_so_far_is_performing_and_says_when_the_next_instalment_is_due() -> None:
    result = verdict("2026-10-20", [paid("2026-10-01T10:00:00")])
    assert (result.state, result.next_due_in_days, result.missed_instalments, result.paid_pct) == (ArrangementState.PERFORMING, 17, 0, 33)


def test_nothing_due_yet_is_pending() -> None:
    assert verdict("2026-09-20", []).state is ArrangementState.PENDING


def test_an_unpaid_instalment_within_the_posting_grace_is_not_missed() -> None:
    # Due Friday 6 November; a bank transfer may take 2 business days: Monday and Tuesday.
    on_monday = verdict("2026-11-09", [paid("2026-10-01T10:00:00")])
    assert (on_monday.state, on_monday.in_grace, on_monday.missed_instalments) == (ArrangementState.PERFORMING, True, 0)
    on_wednesday = verdict("2026-11-11", [paid("2026-10-01T10:00:00")])
    assert (on_wednesday.state, on_wednesday.missed_instalments, on_wednesday.business_days_late) == (ArrangementState.MISSED, 1, 3)
    assert on_wednesday.arrears == Decimal("100")


def test_a_card_payment_has_no_grace() -> None:
    result = verdict("2026-11-09", [paid("2026-10-01T10:00:00")], method=PaymentMethod.CARD)
    assert result.state is ArrangementState.MISSED


def test_a_payment_made_on_the_due_date_counts_even_if_it_posts_later() -> None:
    late_posting = Payment(amount="100", paid_at="2026-11-06T18:00:00Z", posted_at="2026-11-10T09:00:00Z", method=PaymentMethod.BANK_TRANSFER)
    assert verdict("2026-11-20", [paid("2026-10-01T10:00:00"), late_posting]).state is ArrangementState.PERFORMING


def test_a_second_miss_breaks_a_plan_and_paying_the_arrears_mends_it() -> None:
    assert verdict("2026-12-10", [paid("2026-10-01T10:00:00")]).state is ArrangementState.BROKEN
    caught_up = verdict("2026-12-10", [paid("2026-10-01T10:00:00"), paid("2026-12-09T10:00:00", "200")])
    assert (caught_up.state, caught_up.missed_instalments, caught_up.arrears) == (ArrangementState.COMPLETED, 2, 0)
    partly = verdict("2026-12-10", [paid("2026-10-01T10:00:00"), paid("2026-12-09T10:00:00", "100")])
    # November paid late, December not at all: the second miss, with 100 still owed.
    assert (partly.state, partly.missed_instalments, partly.arrears) == (ArrangementState.BROKEN, 2, Decimal("100"))


def test_a_promise_missed_once_is_broken() -> None:
    promise = [Instalment(due_date="2026-11-06", amount="250")]
    result = verdict("2026-11-11", [], schedule=promise, kind=ArrangementType.PROMISE_TO_PAY)
    assert (result.state, result.business_days_late) == (ArrangementState.BROKEN, 3)


def test_the_callers_status_wins() -> None:
    assert verdict("2026-12-10", [], status=ArrangementStatus.CANCELLED).state is ArrangementState.CANCELLED
    assert verdict("2026-12-10", [], status=ArrangementStatus.COMPLETED).state is ArrangementState.COMPLETED


def test_a_payment_holiday_is_pending_until_its_last_day() -> None:
    holiday = [Instalment(due_date="2026-12-31", amount="0")]
    assert verdict("2026-12-10", [], schedule=holiday, kind=ArrangementType.PAYMENT_HOLIDAY).state is ArrangementState.PENDING
    assert verdict("2027-01-01", [], schedule=holiday, kind=ArrangementType.PAYMENT_HOLIDAY).state is ArrangementState.COMPLETED


def test_business_days_skip_weekends() -> None:
    assert business_days_after(date(2026, 11, 6), 2, weekday) == date(2026, 11, 10)
    assert business_days_after(date(2026, 11, 6), 0, weekday) == date(2026, 11, 6)

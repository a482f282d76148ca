"""Bad snapshots are refused with every bad field named; good ones are normalised."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import InvalidSnapshot
from engine.snapshot import parse_snapshot

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
GOOD: dict[str, Any] = {"case_id": "c-1", "country": "pl", "amount_due": "1250.50", "currency": "pln", "days_past_due": -3, "segment": "retail"}


def fields_of(error: InvalidSnapshot) -> dict[str, str]:
    return {problem.field: problem.description for problem in error.problems}


def refused(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidSnapshot) as caught:
        parse_snapshot({**GOOD, **changes}, AS_OF)
    return fields_of(caught.value)


def test_a_good_snapshot_is_normalised() -> None:
    case = parse_snapshot(GOOD, AS_OF)
    assert (case.country, case.currency, case.amount_due, case.days_past_due) == ("PL", "PLN", Decimal("1250.50"), -3)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("country", "XX", "ISO 3166-1"),
        ("currency", "EURO", "ISO 4217"),
        ("time_zone", "Europe/Atlantis", "IANA"),
        ("amount_due", "-1.00", "zero or more"),
        ("amount_due", "12,50", "not a decimal"),
        ("amount_due", 12.5, "decimal string"),
        ("amount_due", "1.005", "decimal places"),
        ("case_id", "", "at least 1"),
        ("language", "pl_PL", "BCP 47"),
        ("region", "ZZ", "not a subdivision"),
        ("attributes", {"Bad Key": "x"}, "lower_snake_case"),
    ],
)
def test_each_bad_field_is_named(field: str, value: Any, words: str) -> None:
    problems = refused(**{field: value})
    assert field in problems and words in problems[field]


def test_every_bad_field_is_reported_at_once() -> None:
    problems = refused(country="XX", currency="ABC", amount_due="x")
    assert set(problems) == {"country", "currency", "amount_due"}


def test_nested_fields_are_named_with_their_index() -> None:
    problems = refused(prior_contacts=[{"channel": "sms", "at": "2026-11-20T10:00:00Z", "outcome": "delivered"}, {"channel": "fax", "at": "2026-11-20T10:00:00Z", "outcome": "delivered"}])
    assert list(problems) == ["prior_contacts[1].channel"]


def test_instants_after_as_of_are_refused() -> None:
    problems = refused(prior_contacts=[{"channel": "sms", "at": "2026-11-25T10:00:00Z", "outcome": "delivered"}])
    assert problems == {"prior_contacts[0].at": "is later than as_of"}
    assert refused(payment={"last_payment_at": "2027-01-01T00:00:00Z"}) == {"payment.last_payment_at": "is later than as_of"}


def test_instants_without_offset_are_refused() -> None:
    problems = refused(prior_contacts=[{"channel": "sms", "at": "2026-11-20T10:00:00", "outcome": "delivered"}])
    assert "time zone offset" in problems["prior_contacts[0].at"]


def test_currency_minor_units_are_respected() -> None:
    assert parse_snapshot({**GOOD, "currency": "JPY", "amount_due": "1200"}, AS_OF).amount_due == Decimal(1200)
    assert "decimal places" in refused(currency="JPY", amount_due="1200.5")["amount_due"]


def test_unknown_fields_are_refused_not_ignored() -> None:
    assert "consents.fax" in refused(consents={"fax": True})


def test_preferred_hours_are_local_clock_times() -> None:
    assert "without an offset" in refused(preferred_hours={"opens": "09:00Z", "closes": "17:00"})["preferred_hours.opens"]
    assert "preferred_hours" in refused(preferred_hours={"opens": "17:00", "closes": "09:00"})

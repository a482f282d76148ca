"""The contact-window arithmetic keeps each local day's openings: requests at the
server's clock (every as_of different) reuse them, and the answer is the one
computed afresh, across daylight-saving changes, holidays and several zones."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine import window
from engine.policy.ir import ContactHours
from engine.window import next_window

UTC = timezone.utc
WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
SYDNEY = ZoneInfo("Australia/Sydney")
US_ZONES = (NEW_YORK, ZoneInfo("America/Chicago"), ZoneInfo("America/Denver"), LOS_ANGELES)


def _afresh(*args: object, **kwargs: object) -> object:
    """The answer with every kept result forgotten first: as computed before any cache."""
    window._horizon.cache_clear()
    window._first_common_opening.cache_clear()
    return next_window(*args, **kwargs)  # type: ignore[arg-type]


def test_requests_a_second_apart_reuse_the_days_openings() -> None:
    """Three hundred as_of on one local day: the openings are computed once per zone, not per request."""
    window._horizon.cache_clear()
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    answers = [next_window(start + timedelta(seconds=second), US_ZONES, "US", None) for second in range(300)]
    assert all(answer is not None for answer in answers)
    assert window._horizon.cache_info().misses == len(US_ZONES)
    assert window._horizon.cache_info().hits >= 299 * len(US_ZONES)


@pytest.mark.parametrize(
    ("zones", "country", "region", "first"),
    [
        ((WARSAW,), "PL", None, datetime(2026, 3, 27, 0, 0, tzinfo=UTC)),  # clocks go forward on 29 March
        ((WARSAW,), "PL", None, datetime(2026, 10, 23, 0, 0, tzinfo=UTC)),  # and back on 25 October
        ((NEW_YORK,), "US", "NY", datetime(2026, 10, 30, 0, 0, tzinfo=UTC)),  # back on 1 November
        (US_ZONES, "US", None, datetime(2026, 3, 5, 0, 0, tzinfo=UTC)),  # forward on 8 March, in four zones
        ((SYDNEY,), "AU", "NSW", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),  # back on 5 April; Easter
        ((WARSAW,), "PL", None, datetime(2026, 12, 22, 0, 0, tzinfo=UTC)),  # Christmas, then New Year
    ],
)
@pytest.mark.parametrize(
    "hours",
    [
        ContactHours(),  # the baseline: 08:00-20:00, closed on Sundays and holidays
        ContactHours(time(2, 30), time(9, 0), frozenset(), False),  # opening in the hour a clock change skips or repeats
        ContactHours(time(9, 0), time(9, 45), frozenset({5, 6}), True),  # shorter than some `shortest`: the walk moves on
    ],
    ids=["baseline", "at-the-clock-change", "narrow"],
)
def test_kept_openings_give_the_window_computed_afresh(
    zones: tuple[ZoneInfo, ...], country: str, region: str | None, first: datetime, hours: ContactHours
) -> None:
    """Every 37 minutes over ten days around a clock change or holidays, with and
    without a cap (not_before) and a moratorium ahead (not_after), and a shortest
    length: the answer with kept openings equals the one computed from nothing."""
    window._horizon.cache_clear()
    moment = first
    checked = 0
    while moment < first + timedelta(days=8):
        for not_before, not_after, shortest in (
            (None, None, timedelta(0)),
            (moment + timedelta(hours=30), None, timedelta(0)),
            (None, moment + timedelta(days=3, hours=5), timedelta(hours=2)),
        ):
            kept = next_window(moment, zones, country, region, hours, not_before, not_after, shortest)
            assert kept == _afresh(moment, zones, country, region, hours, not_before, not_after, shortest), (moment, not_before, not_after)
            checked += 1
        moment += timedelta(minutes=131)
    assert checked > 250


def test_closed_days_and_narrow_hours_are_kept_apart() -> None:
    """Two hours specifications on the same day and zone do not share openings."""
    as_of = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # a Saturday
    open_saturday = ContactHours()
    closed_saturday = ContactHours(closed_weekdays=frozenset({5, 6}))
    first = next_window(as_of, (WARSAW,), "PL", None, open_saturday)
    second = next_window(as_of, (WARSAW,), "PL", None, closed_saturday)
    assert first is not None and second is not None
    assert first.local_start.startswith("2026-11-28")
    assert second.local_start.startswith("2026-11-30")  # Monday
    assert second == _afresh(as_of, (WARSAW,), "PL", None, closed_saturday)

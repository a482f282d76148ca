"""The next lawful contact window: contact hours, Sundays, public holidays, daylight saving, several zones.

Expected values are written out by hand or computed by an independent oracle
(hour-by-hour scan with the `holidays` package), never by the engine's own code.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.policy.ir import ContactHours
from engine.window import HORIZON, next_window

UTC = timezone.utc
WARSAW = ZoneInfo("Europe/Warsaw")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
DENVER = ZoneInfo("America/Denver")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
HONOLULU = ZoneInfo("Pacific/Honolulu")
TOKYO = ZoneInfo("Asia/Tokyo")
SYDNEY = ZoneInfo("Australia/Sydney")

COUNTRY_OF = {
    "Europe/Warsaw": "PL",
    "Europe/London": "GB",
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Los_Angeles": "US",
    "Pacific/Honolulu": "US",
    "Asia/Tokyo": "JP",
    "Australia/Sydney": "AU",
}
ALL_ZONES = tuple(ZoneInfo(name) for name in COUNTRY_OF)


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def poland(as_of: datetime):
    return next_window(as_of, (WARSAW,), "PL", None)


# --- an independent oracle ----------------------------------------------------


@lru_cache(maxsize=None)
def _calendar(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


def oracle_open(instant: datetime, zones: tuple[ZoneInfo, ...], country: str) -> bool:
    """08:00 <= local time < 20:00, not Sunday, not a public holiday of `country`, in every zone."""
    for zone in zones:
        local = instant.astimezone(zone)
        if not time(8) <= local.time() < time(20):
            return False
        if local.weekday() == 6:
            return False
        if local.date() in _calendar(country, local.year):
            return False
    return True


def oracle_window(
    as_of: datetime, zones: tuple[ZoneInfo, ...], country: str, step: timedelta = timedelta(hours=1)
) -> tuple[datetime, datetime] | None:
    """The first open interval at or after as_of, starting before as_of + HORIZON.

    When every zone's UTC offset, and every instant it changes, is a whole
    multiple of `step` (an hour for most zones, 15 minutes for all), open/closed
    can only change at as_of or at a multiple of `step` in UTC: scanning those
    instants is exact.
    """
    limit = as_of + HORIZON
    instant = as_of
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first_hour = epoch + ((as_of - epoch) // step + 1) * step
    start = None
    while True:
        if start is None and instant >= limit:
            return None
        is_open = oracle_open(instant, zones, country)
        if is_open and start is None:
            start = instant
        elif not is_open and start is not None:
            return start, instant
        instant = first_hour if instant == as_of else instant + step


# --- Poland, one zone ------------------------------------------------------------


def test_before_opening_the_window_opens_at_eight_the_same_day():
    window = poland(warsaw(2026, 11, 24, 7, 59))  # a Tuesday
    assert window is not None
    assert window.start == warsaw(2026, 11, 24, 8, 0)
    assert window.end == warsaw(2026, 11, 24, 20, 0)


def test_within_hours_the_window_opens_now_and_closes_at_eight_pm():
    as_of = warsaw(2026, 11, 24, 10, 15, 30)
    window = poland(as_of)
    assert window is not None
    assert window.start == as_of
    assert window.end == warsaw(2026, 11, 24, 20, 0)


@pytest.mark.parametrize("hour, minute", [(20, 0), (22, 30), (23, 59)])
def test_at_or_after_closing_the_window_opens_at_eight_the_next_day(hour: int, minute: int):
    window = poland(warsaw(2026, 11, 24, hour, minute))
    assert window is not None
    assert window.start == warsaw(2026, 11, 25, 8, 0)
    assert window.end == warsaw(2026, 11, 25, 20, 0)


def test_one_second_before_closing_is_still_open():
    as_of = warsaw(2026, 11, 24, 19, 59, 59)
    window = poland(as_of)
    assert window is not None
    assert window.start == as_of
    assert window.end - window.start == timedelta(seconds=1)


def test_window_is_returned_in_utc_and_in_local_form_with_the_offset():
    winter = poland(warsaw(2026, 11, 24, 7, 0))
    assert winter is not None
    assert winter.start.utcoffset() == timedelta(0) and winter.end.utcoffset() == timedelta(0)
    assert winter.start == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert winter.local_start == "2026-11-24T08:00:00+01:00"
    assert winter.local_end == "2026-11-24T20:00:00+01:00"
    assert winter.time_zone == "Europe/Warsaw"
    summer = poland(warsaw(2026, 7, 14, 7, 0))
    assert summer is not None
    assert summer.start == datetime(2026, 7, 14, 6, 0, tzinfo=UTC)
    assert summer.local_start == "2026-07-14T08:00:00+02:00"
    assert summer.local_end == "2026-07-14T20:00:00+02:00"
    assert datetime.fromisoformat(summer.local_start) == summer.start
    assert datetime.fromisoformat(summer.local_end) == summer.end


def test_as_of_in_another_zone_gives_the_same_window():
    as_of = warsaw(2026, 11, 24, 7, 59)
    assert poland(as_of) == poland(as_of.astimezone(UTC)) == poland(as_of.astimezone(TOKYO))


# --- weekdays ----------------------------------------------------------------------


def test_saturday_evening_waits_for_monday_because_sunday_is_closed():
    window = poland(warsaw(2026, 11, 14, 21, 0))  # a Saturday
    assert window is not None
    assert window.start == warsaw(2026, 11, 16, 8, 0)  # Monday
    assert window.end == warsaw(2026, 11, 16, 20, 0)


def test_saturday_is_a_contact_day():
    window = poland(warsaw(2026, 11, 14, 9, 0))
    assert window is not None
    assert window.start == warsaw(2026, 11, 14, 9, 0)
    assert window.end == warsaw(2026, 11, 14, 20, 0)


def test_sunday_midday_waits_for_monday():
    window = poland(warsaw(2026, 11, 15, 12, 0))
    assert window is not None
    assert window.start == warsaw(2026, 11, 16, 8, 0)


# --- Polish public holidays ----------------------------------------------------------


def test_christmas_eve_is_a_polish_public_holiday_from_2025_on():
    # The law making 24 December a day off in Poland applies from 2025.
    assert date(2024, 12, 24) not in holidays.country_holidays("PL", years=2024)
    for year in (2025, 2026, 2027, 2028):
        assert date(year, 12, 24) in holidays.country_holidays("PL", years=year)


def test_independence_day_is_skipped():
    window = poland(warsaw(2026, 11, 10, 21, 0))  # Tuesday evening; Wednesday 11 November is closed
    assert window is not None
    assert window.start == warsaw(2026, 11, 12, 8, 0)
    assert window.end == warsaw(2026, 11, 12, 20, 0)


def test_christmas_eve_christmas_and_the_weekend_are_skipped():
    # Thu 24, Fri 25, Sat 26 (holidays), Sun 27 (Sunday): the next window is Monday 28 December.
    window = poland(warsaw(2026, 12, 23, 21, 0))
    assert window is not None
    assert window.start == warsaw(2026, 12, 28, 8, 0)


def test_new_year_is_skipped():
    window = poland(warsaw(2026, 12, 31, 20, 0))  # 1 January 2027 is a Friday
    assert window is not None
    assert window.start == warsaw(2027, 1, 2, 8, 0)


def test_may_holidays_are_skipped():
    # Sat 1 May (holiday), Sun 2 May, Mon 3 May (Constitution Day): Tuesday 4 May.
    window = poland(warsaw(2027, 4, 30, 20, 30))
    assert window is not None
    assert window.start == warsaw(2027, 5, 4, 8, 0)


def test_as_of_during_a_holiday_waits_for_the_next_day():
    window = poland(warsaw(2026, 11, 11, 10, 0))
    assert window is not None
    assert window.start == warsaw(2026, 11, 12, 8, 0)


_PL_HOLIDAYS = sorted(day for year in (2026, 2027, 2028) for day in holidays.country_holidays("PL", years=year))


@pytest.mark.parametrize("holiday", _PL_HOLIDAYS, ids=str)
@pytest.mark.parametrize("hour", [0, 7, 12])
def test_a_window_never_starts_or_runs_on_a_polish_holiday(holiday: date, hour: int):
    window = poland(warsaw(holiday.year, holiday.month, holiday.day, hour, 0))
    assert window is not None
    local_start = window.start.astimezone(WARSAW)
    local_last = (window.end - timedelta(seconds=1)).astimezone(WARSAW)
    for local in (local_start, local_last):
        assert local.date() not in _calendar("PL", local.year)
        assert local.weekday() != 6
        assert time(8) <= local.time() < time(20)
    assert local_start.date() > holiday
    assert local_start.time() == time(8)


# --- daylight saving -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_of, start_utc, end_utc",
    [
        # Europe springs forward on Sunday 2027-03-28 (also Easter; Monday 29 is Easter Monday).
        (warsaw(2027, 3, 26, 7, 0), datetime(2027, 3, 26, 7, 0, tzinfo=UTC), datetime(2027, 3, 26, 19, 0, tzinfo=UTC)),
        (warsaw(2027, 3, 27, 7, 0), datetime(2027, 3, 27, 7, 0, tzinfo=UTC), datetime(2027, 3, 27, 19, 0, tzinfo=UTC)),
        (warsaw(2027, 3, 27, 21, 0), datetime(2027, 3, 30, 6, 0, tzinfo=UTC), datetime(2027, 3, 30, 18, 0, tzinfo=UTC)),
        # Europe falls back on Sunday 2026-10-25.
        (warsaw(2026, 10, 24, 7, 0), datetime(2026, 10, 24, 6, 0, tzinfo=UTC), datetime(2026, 10, 24, 18, 0, tzinfo=UTC)),
        (warsaw(2026, 10, 24, 21, 0), datetime(2026, 10, 26, 7, 0, tzinfo=UTC), datetime(2026, 10, 26, 19, 0, tzinfo=UTC)),
        # and on Sunday 2027-10-31 (Monday 1 November is All Saints' Day).
        (warsaw(2027, 10, 30, 7, 0), datetime(2027, 10, 30, 6, 0, tzinfo=UTC), datetime(2027, 10, 30, 18, 0, tzinfo=UTC)),
        (warsaw(2027, 10, 30, 21, 0), datetime(2027, 11, 2, 7, 0, tzinfo=UTC), datetime(2027, 11, 2, 19, 0, tzinfo=UTC)),
    ],
    ids=["spring-fri", "spring-sat", "spring-after", "fall-2026-sat", "fall-2026-after", "fall-2027-sat", "fall-2027-after"],
)
def test_european_daylight_saving_keeps_local_hours_and_shifts_utc(as_of: datetime, start_utc: datetime, end_utc: datetime):
    window = poland(as_of)
    assert window is not None
    assert (window.start, window.end) == (start_utc, end_utc)
    assert window.start.astimezone(WARSAW).time() == time(8)
    assert window.end.astimezone(WARSAW).time() == time(20)
    assert window.end - window.start == timedelta(hours=12)


def test_in_the_spring_forward_night_the_window_is_local_eight_to_eight():
    window = poland(warsaw(2027, 3, 28, 1, 30))  # Sunday, Easter, Easter Monday: Tuesday 30 March
    assert window is not None
    assert window.local_start == "2027-03-30T08:00:00+02:00"
    assert window.local_end == "2027-03-30T20:00:00+02:00"


def test_in_the_repeated_fall_back_hour_the_window_is_local_eight_to_eight():
    first = datetime(2026, 10, 25, 2, 30, tzinfo=WARSAW, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=WARSAW, fold=1)
    assert first.astimezone(UTC) != second.astimezone(UTC)
    for as_of in (first, second):
        window = poland(as_of)
        assert window is not None
        assert window.local_start == "2026-10-26T08:00:00+01:00"
        assert window.local_end == "2026-10-26T20:00:00+01:00"


@pytest.mark.parametrize("zone", [NEW_YORK, CHICAGO, DENVER, LOS_ANGELES])
def test_us_daylight_saving_on_2027_03_14(zone: ZoneInfo):
    saturday = next_window(datetime(2027, 3, 13, 7, 0, tzinfo=zone), (zone,), "US", None)
    monday = next_window(datetime(2027, 3, 13, 21, 0, tzinfo=zone), (zone,), "US", None)
    assert saturday is not None and monday is not None
    assert saturday.start == datetime(2027, 3, 13, 8, 0, tzinfo=zone)
    assert monday.start == datetime(2027, 3, 15, 8, 0, tzinfo=zone)  # Sunday 14 is closed
    assert saturday.end - saturday.start == monday.end - monday.start == timedelta(hours=12)
    # Same local hours, one hour earlier in UTC after the change.
    assert saturday.start.astimezone(UTC).hour - monday.start.astimezone(UTC).hour == 1
    assert saturday.local_start.endswith(datetime(2027, 3, 13, 8, 0, tzinfo=zone).isoformat()[-6:])
    assert monday.local_start == datetime(2027, 3, 15, 8, 0, tzinfo=zone).isoformat()


def test_each_day_around_the_spring_change_is_twelve_local_hours():
    for offset in range(-5, 6):
        day = date(2027, 3, 28) + timedelta(days=offset)
        window = poland(datetime.combine(day, time(7, 0), tzinfo=WARSAW))
        assert window is not None
        local_start, local_end = window.start.astimezone(WARSAW), window.end.astimezone(WARSAW)
        assert (local_start.time(), local_end.time()) == (time(8), time(20))
        assert local_start.date() == local_end.date()
        assert window.end - window.start == timedelta(hours=12)


# --- several possible zones: the intersection ------------------------------------------------


def test_new_york_and_los_angeles_are_both_within_hours():
    as_of = datetime(2026, 11, 24, 8, 0, tzinfo=NEW_YORK)  # 05:00 in Los Angeles
    window = next_window(as_of, (NEW_YORK, LOS_ANGELES), "US", None)
    assert window is not None
    assert window.start == datetime(2026, 11, 24, 8, 0, tzinfo=LOS_ANGELES)  # 11:00 in New York
    assert window.end == datetime(2026, 11, 24, 20, 0, tzinfo=NEW_YORK)  # 17:00 in Los Angeles
    assert window.end - window.start == timedelta(hours=9)
    assert window.time_zone == "America/New_York"
    assert window.zones == ("America/Los_Angeles", "America/New_York")
    assert window.local_start == "2026-11-24T11:00:00-05:00"  # in the first zone
    assert window.local_end == "2026-11-24T20:00:00-05:00"


def test_zone_order_does_not_change_the_interval():
    as_of = datetime(2026, 11, 24, 8, 0, tzinfo=NEW_YORK)
    one = next_window(as_of, (NEW_YORK, LOS_ANGELES), "US", None)
    two = next_window(as_of, (LOS_ANGELES, NEW_YORK), "US", None)
    assert one is not None and two is not None
    assert (one.start, one.end) == (two.start, two.end)
    assert two.local_start == "2026-11-24T08:00:00-08:00"


def test_late_in_new_york_but_open_in_los_angeles_waits_for_the_next_day():
    as_of = datetime(2026, 11, 24, 21, 0, tzinfo=NEW_YORK)  # 18:00 in Los Angeles
    window = next_window(as_of, (NEW_YORK, LOS_ANGELES), "US", None)
    assert window is not None
    assert window.start == datetime(2026, 11, 25, 8, 0, tzinfo=LOS_ANGELES)


def test_the_sunday_of_any_zone_closes_the_intersection():
    # Saturday 21:00 in Honolulu is Sunday 16:00 in Tokyo: Tokyo is closed.
    as_of = datetime(2026, 11, 14, 21, 0, tzinfo=HONOLULU)
    window = next_window(as_of, (HONOLULU, TOKYO), "US", None)
    assert window is not None
    for zone in (HONOLULU, TOKYO):
        assert window.start.astimezone(zone).weekday() != 6
        assert (window.end - timedelta(seconds=1)).astimezone(zone).weekday() != 6


def test_no_zone_gives_no_window():
    assert next_window(warsaw(2026, 11, 24, 10, 0), (), "PL", None) is None


def test_zones_that_never_overlap_give_no_window():
    # In the European summer, 08:00-20:00 in Warsaw (06-18 UTC) and in Honolulu (18-06 UTC) never overlap.
    assert next_window(warsaw(2026, 7, 1, 10, 0), (WARSAW, HONOLULU), "PL", None) is None


def test_a_window_opening_just_inside_the_horizon_is_found():
    # Warsaw and Honolulu overlap only from the end of European summer time (Sunday 2026-10-25):
    # the first shared hour is Monday 26 October 18:00-19:00 UTC (19:00-20:00 in Warsaw, 08:00-09:00 in Honolulu).
    as_of = datetime(2026, 10, 12, 18, 30, tzinfo=UTC)  # limit: 26 October 18:30 UTC, inside that hour
    assert oracle_window(as_of, (WARSAW, HONOLULU), "PL") == (
        datetime(2026, 10, 26, 18, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 19, 0, tzinfo=UTC),
    )
    window = next_window(as_of, (WARSAW, HONOLULU), "PL", None)
    assert window is not None
    assert window.start == datetime(2026, 10, 26, 18, 0, tzinfo=UTC)


def test_a_window_wholly_inside_the_horizon_is_found_at_its_edge():
    as_of = datetime(2026, 10, 12, 19, 0, tzinfo=UTC)  # limit: 26 October 19:00 UTC, the end of the shared hour
    window = next_window(as_of, (WARSAW, HONOLULU), "PL", None)
    assert window is not None
    assert (window.start, window.end) == (datetime(2026, 10, 26, 18, 0, tzinfo=UTC), datetime(2026, 10, 26, 19, 0, tzinfo=UTC))
    assert next_window(datetime(2026, 10, 12, 19, 0, 1, tzinfo=UTC), (WARSAW, HONOLULU), "PL", None) == window


# --- property: any instant, any subset of real zones ---------------------------------------------

_AS_OF = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
_ZONES = st.lists(st.sampled_from(ALL_ZONES), min_size=1, max_size=4, unique=True).map(tuple)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(as_of=_AS_OF, zones=_ZONES)
def test_any_window_is_lawful_in_every_zone_and_the_earliest(as_of: datetime, zones: tuple[ZoneInfo, ...]):
    country = COUNTRY_OF[str(zones[0])]
    window = next_window(as_of, zones, country, None)
    expected = oracle_window(as_of, zones, country)
    if window is None:
        assert expected is None, f"missed the window {expected}"
        return
    start, end = window.start, window.end
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert as_of <= start < end
    assert end - start <= timedelta(hours=12)
    assert start < as_of + HORIZON
    # Every sampled instant of the window is open in every zone.
    step = (end - timedelta(seconds=1) - start) / 24
    samples = [start + step * index for index in range(25)] + [start, end - timedelta(seconds=1)]
    for instant in samples:
        assert oracle_open(instant, zones, country), f"{instant} in {window}"
    # The window is maximal: closed just before it (unless it starts at as_of) and at its end.
    if start > as_of:
        assert not oracle_open(start - timedelta(seconds=1), zones, country)
    assert not oracle_open(end, zones, country)
    # And the earliest: exactly what the hour-by-hour oracle finds.
    assert expected == (start, end)
    assert datetime.fromisoformat(window.local_start) == start
    assert datetime.fromisoformat(window.local_end) == end
    assert datetime.fromisoformat(window.local_start).utcoffset() == start.astimezone(zones[0]).utcoffset()


# Zones with half- and quarter-hour offsets, a 30-minute daylight-saving shift (Lord Howe)
# and clock changes at local midnight (Santiago, Havana): boundaries fall on UTC quarter hours.
UNUSUAL_COUNTRY_OF = {
    "Asia/Kolkata": "IN",
    "Asia/Kathmandu": "NP",
    "Asia/Tehran": "IR",
    "Australia/Adelaide": "AU",
    "Australia/Lord_Howe": "AU",
    "America/St_Johns": "CA",
    "Pacific/Chatham": "NZ",
    "America/Santiago": "CL",
    "America/Havana": "CU",
    "Europe/Warsaw": "PL",
    "America/New_York": "US",
}
_UNUSUAL_ZONES = st.lists(st.sampled_from([ZoneInfo(name) for name in UNUSUAL_COUNTRY_OF]), min_size=1, max_size=3, unique=True).map(tuple)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(as_of=_AS_OF, zones=_UNUSUAL_ZONES)
def test_unusual_offsets_and_midnight_clock_changes(as_of: datetime, zones: tuple[ZoneInfo, ...]):
    country = UNUSUAL_COUNTRY_OF[str(zones[0])]
    window = next_window(as_of, zones, country, None)
    expected = oracle_window(as_of, zones, country, step=timedelta(minutes=15))
    assert (None if window is None else (window.start, window.end)) == expected
    if window is not None:
        assert window.end - window.start <= timedelta(hours=12)
        for instant in (window.start, window.end - timedelta(seconds=1)):
            assert oracle_open(instant, zones, country)


def test_hours_that_fall_in_a_daylight_saving_gap_end_when_the_clock_jumps() -> None:
    # 2026-03-08 in New York: 02:00 EST becomes 03:00 EDT, so 02:30 never happens.
    new_york = ZoneInfo("America/New_York")
    hours = ContactHours(time(1, 0), time(2, 30), frozenset(), False)
    window = next_window(datetime(2026, 3, 8, 5, 30, tzinfo=timezone.utc), (new_york,), "US", None, hours)
    assert window is not None
    assert window.local_start == "2026-03-08T01:00:00-05:00"
    assert window.end == datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)  # 03:00 EDT, the jump

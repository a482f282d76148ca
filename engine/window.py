"""The next lawful contact window, in the debtor's local time.

The window is the first opening at or after as_of in which the local time is
within contact hours, the local day is not a closed weekday and, where closed,
not a public holiday, in every zone the debtor may be in. Whether contact is
allowed only changes at local opening, closing and midnight instants, so the
search walks those instants in order: exact to the second and safe across
daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from engine.decision import Window
from engine.facts import is_public_holiday

HORIZON = timedelta(days=14)


@dataclass(frozen=True)
class ContactHours:
    opens: time = time(8, 0)
    closes: time = time(20, 0)  # exclusive
    closed_weekdays: frozenset[int] = frozenset({6})  # Monday is 0, Sunday 6
    closed_on_holidays: bool = True


BASELINE_HOURS = ContactHours()


def next_window(
    as_of: datetime,
    zones: tuple[ZoneInfo, ...],
    country: str,
    region: str | None,
    hours: ContactHours = BASELINE_HOURS,
) -> Window | None:
    """The next opening within HORIZON, or None when there is none (or no zone)."""
    if not zones:
        return None
    limit = as_of + HORIZON

    def open_at(instant: datetime) -> bool:
        for zone in zones:
            local = instant.astimezone(zone)
            if not hours.opens <= local.time() < hours.closes or local.weekday() in hours.closed_weekdays:
                return False
            if hours.closed_on_holidays and is_public_holiday(country, region, local.date()):
                return False
        return True

    start: datetime | None = None
    for instant in _boundaries(as_of, limit, zones, hours):
        is_open = open_at(instant)
        if is_open and start is None:
            start = instant
        elif not is_open and start is not None:
            return _window(start, instant, zones)
    return None


def _boundaries(as_of: datetime, limit: datetime, zones: tuple[ZoneInfo, ...], hours: ContactHours) -> list[datetime]:
    instants = {as_of}
    for zone in zones:
        first_day = as_of.astimezone(zone).date()
        for offset in range(HORIZON.days + 2):
            day = first_day + timedelta(days=offset)
            for moment in (time(0), hours.opens, hours.closes):
                instant = _local_instant(day, moment, zone)
                if as_of < instant <= limit:
                    instants.add(instant)
    return sorted(instants)


def _local_instant(day: date, moment: time, zone: ZoneInfo) -> datetime:
    # In a spring-forward gap fold=0 gives the instant of the transition itself,
    # which is exactly when the new local day or hour begins.
    return datetime.combine(day, moment, tzinfo=zone).astimezone(timezone.utc)


def _window(start: datetime, end: datetime, zones: tuple[ZoneInfo, ...]) -> Window:
    zone = zones[0]
    return Window(
        start=start.astimezone(timezone.utc),
        end=end.astimezone(timezone.utc),
        time_zone=",".join(str(item) for item in zones),
        local_start=start.astimezone(zone).isoformat(),
        local_end=end.astimezone(zone).isoformat(),
    )

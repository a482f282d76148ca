"""The next lawful contact window, in the debtor's local time.

The window is the first opening at or after as_of in which the local time is
within contact hours, the local day is not a closed weekday and, where closed,
not a public holiday, in every zone the debtor may be in (the intersection).
Openings are computed per local calendar day from local clock times, so they
stay right across daylight-saving changes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from engine.decision import Window
from engine.facts import is_public_holiday
from engine.policy.ir import ContactHours

HORIZON = timedelta(days=14)


# Used for a channel when no compliance pack sets hours for it.
BASELINE_HOURS = ContactHours()


def next_window(
    as_of: datetime,
    zones: tuple[ZoneInfo, ...],
    country: str,
    region: str | None,
    hours: ContactHours = BASELINE_HOURS,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Window | None:
    """The next opening within HORIZON of as_of, at or after `not_before` (a cap
    or quiet period) and ending by `not_after` (a moratorium ahead), or None when
    there is none (or no zone)."""
    if not zones or hours.opens >= hours.closes:
        return None
    limit = min(as_of + HORIZON, not_after) if not_after else as_of + HORIZON
    moment = max(as_of, not_before) if not_before else as_of
    while moment < limit:
        openings = [_opening(moment, zone, country, region, hours) for zone in zones]
        if None in openings:
            return None
        # Each zone's first opening that ends after `moment`; instants before a
        # zone's opening are closed there, so the earliest common instant is:
        start = max(moment, *(opens for opens, _ in openings))  # type: ignore[misc]
        end = min(closes for _, closes in openings)  # type: ignore[misc]
        if start < end:
            return _window(start, min(end, not_after) if not_after else end, zones) if start < limit else None
        moment = end  # the zone that closes first has nothing before its next opening
    return None


def _opening(moment: datetime, zone: ZoneInfo, country: str, region: str | None, hours: ContactHours) -> tuple[datetime, datetime] | None:
    """The first opening of one zone that ends after `moment` (it may have begun before)."""
    first_day = moment.astimezone(zone).date()
    for offset in range(HORIZON.days + 2):
        day = first_day + timedelta(days=offset)
        if day.weekday() in hours.closed_weekdays or (hours.closed_on_holidays and is_public_holiday(country, region, day)):
            continue
        closes = _local_instant(day, hours.closes, zone)
        if closes > moment:
            return _local_instant(day, hours.opens, zone), closes
    return None


def _local_instant(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The instant the local clock first reads `moment` on `day`.

    Ambiguous (clocks go back): the first occurrence. Missing (clocks go
    forward past it): the transition itself, when the clock jumps over it.
    """
    wall = datetime.combine(day, moment)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    if first <= second:
        return first
    low, high = int(second.timestamp()), int(first.timestamp())  # the jump lies between
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, timezone.utc)


def _window(start: datetime, end: datetime, zones: tuple[ZoneInfo, ...]) -> Window:
    zone = zones[0]
    return Window(
        start=start.astimezone(timezone.utc),
        end=end.astimezone(timezone.utc),
        time_zone=",".join(str(item) for item in zones),
        local_start=start.astimezone(zone).isoformat(),
        local_end=end.astimezone(zone).isoformat(),
    )

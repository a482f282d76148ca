"""The next lawful contact window, in the debtor's local time.

The window is the first opening at or after as_of in which the local time is
within contact hours, the local day is not a closed weekday and, where closed,
not a public holiday, in every zone the debtor may be in (the intersection).
Openings are computed per local calendar day from local clock times, so they
stay right across daylight-saving changes.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from operator import itemgetter
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
    shortest: timedelta = timedelta(0),
) -> Window | None:
    """The next opening within HORIZON of as_of, at or after `not_before` (a cap
    or quiet period) and ending by `not_after` (a moratorium ahead), at least
    `shortest` long (a window too short to use is not a window: the next opening
    is taken), or None when there is none (or no zone). Local times are told in
    the first of `zones`."""
    if not zones or hours.opens >= hours.closes:
        return None
    limit = min(as_of + HORIZON, not_after) if not_after else as_of + HORIZON
    moment = max(as_of, not_before) if not_before else as_of
    while True:
        common = _first_common_opening(moment, limit, zones, country, region, hours)
        if common is None:
            return None
        start, end = common
        end = min(end, not_after) if not_after else end
        if end - start >= shortest:
            return _window(start, end, zones, moment)
        moment = end  # closed from `end`: the walk moves to the next opening


# A decision asks for the same window once per candidate channel, often with the
# same hours: the answer is kept for the few calls that follow (bounded, as the
# keys are the caller's instants).
@lru_cache(maxsize=256)
def _first_common_opening(
    moment: datetime, limit: datetime, zones: tuple[ZoneInfo, ...], country: str, region: str | None, hours: ContactHours
) -> tuple[datetime, datetime] | None:
    """The earliest instant from `moment`, before `limit`, at which every zone is
    open, and the first instant after it at which one of them closes.

    Each zone's openings (its kept days, _horizon) are walked forward: when the
    openings in hand have no instant in common, the zone that opens last is
    closed until it opens, so nothing common begins earlier and the walk moves
    there, each zone to its first opening that ends after that instant. Many zones
    far apart (Antarctica) thus cost one pass over each zone's days, not one
    per closing of any zone; and when their clocks are spread too far apart
    to be open at once, the two or three that show it are walked first, alone.
    """
    if moment >= limit:
        return None
    few = _spread_out(moment, zones, hours) if len(zones) > 3 else None
    if few:
        # Nothing is common to all the zones before it is common to these few.
        common = _first_common_opening(moment, limit, few, country, region, hours)
        if common is None:
            return None
        moment = common[0]
    days = [_horizon(moment.astimezone(zone).date(), zone, country, region, hours) for zone in zones]
    while True:
        held = []
        for openings in days:
            opening = _first_ending_after(moment, openings)
            if opening is None:
                return None  # a zone has no opening within the horizon
            held.append(opening)
        start = max(moment, max(held)[0])  # the opening that begins last
        end = min(map(_CLOSES, held))
        if start < end:
            return (start, end) if start < limit else None
        if start >= limit:
            return None
        moment = start


def _spread_out(moment: datetime, zones: tuple[ZoneInfo, ...], hours: ContactHours) -> tuple[ZoneInfo, ...] | None:
    """Two or three of the zones whose clocks now spread over more of the day
    than the contact hours last, so that they are not all open at once (e.g.
    Antarctica: UTC-3, UTC+5 and UTC+12 for 08:00-20:00); None if all fit.

    The clocks are points on a 24-hour circle; they fit in the hours when they
    fit in an arc that long. The smallest arc holding them all ends at the two
    clocks either side of the widest gap; a clock near its middle keeps the
    three from fitting the other way round.
    """
    day = 86400
    by_offset: dict[int, ZoneInfo] = {}
    for zone in zones:
        offset = moment.astimezone(zone).utcoffset()
        by_offset.setdefault(int(offset.total_seconds()) % day if offset else 0, zone)
    clocks = sorted(by_offset)
    if len(clocks) < 2:
        return None
    gap, last = max(((clocks[(index + 1) % len(clocks)] - clock) % day, index) for index, clock in enumerate(clocks))
    first = clocks[(last + 1) % len(clocks)]
    arc = day - gap
    if arc < _seconds(hours.closes) - _seconds(hours.opens):
        return None
    middle = (first + arc // 2) % day
    centre = min(clocks, key=lambda clock: min(abs(clock - middle), day - abs(clock - middle)))
    return tuple(by_offset[clock] for clock in dict.fromkeys((first, centre, clocks[last])))


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


# The openings of a zone's local days depend only on the zone, the place (its
# holidays), the hours and the first day: computed once per local day and kept,
# they serve every request of that day in that place (as_of is the server's clock,
# so a cache keyed by the instant, as _first_common_opening's, never hits there).
@lru_cache(maxsize=4096)
def _horizon(first_day: date, zone: ZoneInfo, country: str, region: str | None, hours: ContactHours) -> tuple[tuple[datetime, datetime], ...]:
    """Every opening of the local days from `first_day`, over the horizon and two days more, in order."""
    openings = []
    for offset in range(HORIZON.days + 2):
        day = first_day + timedelta(days=offset)
        if day.weekday() in hours.closed_weekdays or (hours.closed_on_holidays and is_public_holiday(country, region, day)):
            continue
        openings.append((_local_instant(day, hours.opens, zone), _local_instant(day, hours.closes, zone)))
    return tuple(openings)


def _first_ending_after(moment: datetime, openings: tuple[tuple[datetime, datetime], ...]) -> tuple[datetime, datetime] | None:
    """The first of a zone's openings (in order, none overlapping) that ends after `moment`."""
    index = bisect_right(openings, moment, key=_CLOSES)
    return openings[index] if index < len(openings) else None


_CLOSES = itemgetter(1)


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


def _window(start: datetime, end: datetime, zones: tuple[ZoneInfo, ...], moment: datetime) -> Window:
    """The window told in the first zone, the debtor's most likely clock
    (engine.zones.possible_zones puts it first), with every zone it is lawful in.
    A bound other than `moment` (where the search began) is an opening's or a
    moratorium's, the same for many requests: its local text is kept."""
    zone = zones[0]
    return Window(
        start=start.astimezone(timezone.utc),
        end=end.astimezone(timezone.utc),
        time_zone=str(zone),
        local_start=start.astimezone(zone).isoformat() if start == moment else _local_text(start, zone),
        local_end=_local_text(end, zone),
        zones=_names(zones),
    )


# Bounded: the keys are the openings of the days in use (and moratorium starts).
@lru_cache(maxsize=4096)
def _local_text(instant: datetime, zone: ZoneInfo) -> str:
    """The instant on the zone's clock, in ISO 8601 with its offset (datetime.isoformat)."""
    return instant.astimezone(zone).isoformat()


@lru_cache(maxsize=1024)
def _names(zones: tuple[ZoneInfo, ...]) -> tuple[str, ...]:
    """The zones' names, sorted, each once."""
    return tuple(sorted({str(item) for item in zones}))

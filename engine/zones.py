"""Which IANA time zones a case may be in: its own, or every zone of its country."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import us

from engine.snapshot import CaseSnapshot


@lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    # tzdata ships the IANA zone.tab: "CC<TAB>coordinates<TAB>zone[<TAB>comment]".
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            zones.setdefault(country, []).append(zone)
    return {country: tuple(sorted(names)) for country, names in zones.items()}


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Where the `us` package's lists miss a zone in use: the Navajo Nation in Arizona
# keeps daylight saving time (America/Denver), unlike the rest of the state.
_MISSING_STATE_ZONES = {"AZ": ("America/Denver",)}


@lru_cache(maxsize=128)
def _us_state_zones(state: str) -> tuple[str, ...]:
    found = us.states.lookup(state)
    listed = tuple(found.time_zones) if found is not None and found.time_zones else ()
    return tuple(sorted({*listed, *_MISSING_STATE_ZONES.get(state, ())})) if listed else ()


_DAY = timedelta(days=1)


@lru_cache(maxsize=4096)  # zone names are IANA names; callers choose the year (1970-9000)
def _same_clock(zone: str, other: str, year: int) -> bool:
    """Two zone names that keep the same clock all year (e.g. America/Detroit
    and America/New_York); computed once per pair and year.

    The clocks are compared at every UTC midnight of the year and, on a day
    they change, at the second they change. That is exact for tzdata, whose
    clock changes since 1970 are at least six days apart in every zone.
    """
    if zone == other:
        return True
    first, second = _zone(zone), _zone(other)
    midnight = datetime(year, 1, 1, tzinfo=timezone.utc)
    before = _offset(midnight, first)
    if before != _offset(midnight, second):
        return False
    for _ in range(366):
        previous, midnight = midnight, midnight + _DAY
        after = _offset(midnight, first)
        if after != _offset(midnight, second):
            return False
        if after != before and _change(previous, first) != _change(previous, second):
            return False
        before = after
    return True


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _change(midnight: datetime, zone: ZoneInfo) -> int:
    """The second of the day from `midnight` (UTC) at which the zone's one clock change that day happens."""
    low, high, start = 0, 86400, _offset(midnight, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(midnight + timedelta(seconds=middle), zone) == start:
            low = middle
        else:
            high = middle
    return high


def region_zones(country: str, region: str | None) -> tuple[str, ...]:
    """Every zone the country (or, where we know it, the region) spans."""
    if country == "US" and region and _us_state_zones(region):
        return _us_state_zones(region)
    return _zones_by_country().get(country, ())


def possible_zones(snapshot: CaseSnapshot, as_of: datetime | None = None) -> tuple[ZoneInfo, ...]:
    """The zones the debtor may be in; a window must be lawful in all of them.

    The snapshot's zone when it keeps the clock of a zone of the region (or
    country); when there is no zone, every zone of the region (or country); when
    zone and place disagree, all of them. So doubt about where the debtor is
    only ever narrows the window.
    """
    where = region_zones(snapshot.country, snapshot.region)
    if snapshot.time_zone:
        year = (as_of or datetime.now(timezone.utc)).year
        if where and not any(_same_clock(snapshot.time_zone, name, year) for name in where):
            return tuple(_zone(name) for name in sorted({snapshot.time_zone, *where}))
        return (_zone(snapshot.time_zone),)
    return tuple(_zone(name) for name in where)

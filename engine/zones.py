"""Which IANA time zones a case may be in: its own, or every zone of its
region or country, the debtor's most likely clock first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Protocol
from zoneinfo import ZoneInfo

import us


class Place(Protocol):
    """Where a debtor lives, as a case or a debtor says it."""

    @property
    def country(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def time_zone(self) -> str | None: ...


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


# The clock most of a place's people keep, for a debtor whose zone is not given:
# for each country with several zones in zone.tab and each US state with several
# zones (the `us` package's lists), the zone of the largest city or, where noted,
# of most of the people (census figures). zone.tab and `us` list zones in no
# population order (Lord_Howe first for Australia, Chicago first for Indiana).
# tests/test_window_zone.py fails when a new tzdata or `us` adds a place missing here.
MOST_POPULOUS_ZONE: dict[str, str] = {
    "AQ": "Antarctica/McMurdo",  # McMurdo, the largest station
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",  # Beijing time
    "CY": "Asia/Nicosia",
    "DE": "Europe/Berlin",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "FM": "Pacific/Chuuk",  # Chuuk and Yap: most of the people (2010 census), not the capital
    "GL": "America/Nuuk",
    "ID": "Asia/Jakarta",  # Java and Sumatra
    "KI": "Pacific/Tarawa",  # the Gilbert Islands
    "KZ": "Asia/Almaty",  # Almaty and Astana
    "MH": "Pacific/Majuro",
    "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",  # the peninsula
    "NZ": "Pacific/Auckland",
    "PF": "Pacific/Tahiti",
    "PG": "Pacific/Port_Moresby",
    "PS": "Asia/Hebron",  # the West Bank: most of the people
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UM": "Pacific/Wake",  # Wake Island: the larger staffed post
    "US": "America/New_York",
    "UZ": "Asia/Tashkent",
}
MOST_POPULOUS_STATE_ZONE: dict[str, str] = {
    "AK": "America/Anchorage",
    "AZ": "America/Phoenix",  # all but the Navajo Nation
    "FL": "America/New_York",  # all but the western Panhandle
    "ID": "America/Denver",  # Boise, southern Idaho
    "IN": "America/Indiana/Indianapolis",
    "KS": "America/Chicago",  # all but four western counties
    "KY": "America/New_York",  # Lexington, Frankfort; Louisville keeps the same clock
    "MI": "America/New_York",  # Detroit
    "ND": "America/Chicago",  # Fargo, Bismarck
    "NE": "America/Chicago",  # Omaha, Lincoln
    "NV": "America/Los_Angeles",  # Las Vegas
    "OR": "America/Los_Angeles",  # Portland
    "SD": "America/Chicago",  # Sioux Falls
    "TN": "America/Chicago",  # Nashville, Memphis
    "TX": "America/Chicago",  # all but El Paso
}


def most_likely_zone(country: str, region: str | None) -> str | None:
    """The zone of the region's (a US state's) or else the country's most people,
    among region_zones; None when the place has no zone."""
    where = region_zones(country, region)
    if len(where) < 2:
        return where[0] if where else None
    state = _us_state(region) if country == "US" and region and _us_state_zones(region) else None
    likely = MOST_POPULOUS_STATE_ZONE.get(state, "") if state else MOST_POPULOUS_ZONE.get(country, "")
    # A place missing from the tables (a newer tzdata) keeps the first zone by name.
    return likely if likely in where else where[0]


@lru_cache(maxsize=128)
def _us_state(region: str) -> str | None:
    found = us.states.lookup(region)
    return found.abbr if found is not None else None


def region_zones(country: str, region: str | None) -> tuple[str, ...]:
    """Every zone the country (or, where we know it, the region) spans."""
    if country == "US" and region and _us_state_zones(region):
        return _us_state_zones(region)
    return _zones_by_country().get(country, ())


def possible_zones(snapshot: Place, as_of: datetime | None = None) -> tuple[ZoneInfo, ...]:
    """The zones the debtor may be in; a window must be lawful in all of them.

    The snapshot's zone when it keeps the clock of a zone of the region (or
    country); when there is no zone, every zone of the region (or country); when
    zone and place disagree, all of them. So doubt about where the debtor is
    only ever narrows the window.

    The first is the debtor's most likely clock, the one local times are told
    in: the snapshot's zone, else the most populous of the region (or
    country); the others follow by name.
    """
    year = (as_of or datetime.now(timezone.utc)).year if snapshot.time_zone else 0  # the year matters only to a given zone
    return _possible_zones(snapshot.country, snapshot.region, snapshot.time_zone, year)


# Worked out once per place and year rather than per case: a few thousand entries at most
# (callers choose the year through as_of, as for _same_clock).
@lru_cache(maxsize=4096)
def _possible_zones(country: str, region: str | None, time_zone: str | None, year: int) -> tuple[ZoneInfo, ...]:
    where = region_zones(country, region)
    if time_zone:
        if where and not any(_same_clock(time_zone, name, year) for name in where):
            return _first_then_by_name(time_zone, where)
        return (_zone(time_zone),)
    likely = most_likely_zone(country, region)
    return _first_then_by_name(likely, where) if likely else ()


def _first_then_by_name(first: str, others: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    return tuple(_zone(name) for name in (first, *sorted(set(others) - {first})))

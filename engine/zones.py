"""Which IANA time zones a case may be in: its own, or every zone of its country."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

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


def possible_zones(snapshot: CaseSnapshot) -> tuple[ZoneInfo, ...]:
    """The zone the debtor is in; when unknown, every zone of the country.

    A window must then be lawful in all of them (the intersection), so an unknown
    zone can only narrow when a debtor may be contacted, never widen it.
    """
    if snapshot.time_zone:
        return (_zone(snapshot.time_zone),)
    names = _zones_by_country().get(snapshot.country, ())
    return tuple(_zone(name) for name in names)

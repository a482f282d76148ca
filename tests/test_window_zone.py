"""The window's time_zone is one IANA zone, the debtor's most likely clock (the
case's zone, else the most populous of its region, else of its country), and its
local times are told in it; every zone the window was intersected over is listed
apart (Window.zones, ContactWindow.intersected_time_zones)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pycountry
import pytest
import us

from engine import zones
from engine.decision import Window
from engine.engine import StrategyEngine
from engine.facts import derive
from engine.window import next_window
from tests.conftest import load_policy, snapshot
from transport.mapping import window_to_proto

UTC = timezone.utc
TUESDAY = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles, 11:00 in Boise (winter)
CALL = """
policy: zone-test
version: "1"
rules:
  - id: call
    priority: 10
    when: {}
    then: {action: CALL, channel: phone}
    reason: A call.
"""


@pytest.fixture
def engine(tmp_path: Path) -> StrategyEngine:
    return StrategyEngine(load_policy(tmp_path, CALL))  # no packs: the baseline hours, 08:00-20:00


def us_case(**changes: Any) -> dict[str, Any]:
    return {"country": "US", "currency": "USD", "time_zone": None, **changes}


def window_of(engine: StrategyEngine, as_of: datetime = TUESDAY, **changes: Any) -> Window:
    decision = engine.decide(snapshot(as_of, **changes), as_of)
    assert decision.window is not None, decision.reasons
    return decision.window


def likely_window(as_of: datetime, **changes: Any) -> Window:
    case = snapshot(as_of, **changes)
    found = next_window(as_of, zones.possible_zones(case, as_of), case.country, case.region)
    assert found is not None
    return found


def test_oregon_without_a_zone_is_told_in_portland_time(engine: StrategyEngine) -> None:
    window = window_of(engine, **us_case(region="OR"))
    assert window.time_zone == "America/Los_Angeles"
    assert window.zones == ("America/Boise", "America/Los_Angeles")
    # Lawful in both (08:00 in Los Angeles, 20:00 in Boise), told in Los Angeles time.
    assert window.local_start == "2026-11-24T10:00:00-08:00"
    assert window.local_end == "2026-11-24T19:00:00-08:00"


def test_the_local_facts_keep_the_same_clock_as_the_window() -> None:
    facts = derive(snapshot(TUESDAY, **us_case(region="OR")), TUESDAY).facts
    assert facts["local.hour"] == 10  # Los Angeles, not Boise (11)


def test_australia_without_a_zone_is_told_in_sydney_time() -> None:
    as_of = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tuesday 11:00 in Sydney (AEDT, UTC+11)
    window = likely_window(as_of, country="AU", currency="AUD", time_zone=None)
    assert window.time_zone == "Australia/Sydney"
    assert {"Australia/Lord_Howe", "Australia/Perth", "Australia/Sydney"} <= set(window.zones)
    assert window.zones == tuple(sorted(window.zones))
    assert datetime.fromisoformat(window.local_start).utcoffset() == timedelta(hours=11)


def test_indiana_without_a_zone_is_told_in_indianapolis_time(engine: StrategyEngine) -> None:
    window = window_of(engine, **us_case(region="IN"))
    assert window.time_zone == "America/Indiana/Indianapolis"
    assert {"America/Chicago", "America/Indiana/Indianapolis", "America/New_York"} <= set(window.zones)
    assert datetime.fromisoformat(window.local_start).utcoffset() == timedelta(hours=-5)


def test_a_country_without_a_region_is_told_in_its_most_populous_zone(engine: StrategyEngine) -> None:
    window = window_of(engine, **us_case())
    assert window.time_zone == "America/New_York"
    assert "Pacific/Honolulu" in window.zones


def test_a_given_zone_is_the_time_zone(engine: StrategyEngine) -> None:
    window = window_of(engine, **us_case(region="OR", time_zone="America/Boise"))
    assert (window.time_zone, window.zones) == ("America/Boise", ("America/Boise",))
    assert window.local_start == "2026-11-24T11:00:00-07:00"


def test_a_given_zone_that_disagrees_with_the_region_is_still_the_time_zone(engine: StrategyEngine) -> None:
    # A New York debtor who says Warsaw: lawful in both, told in Warsaw time.
    as_of = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York, 16:00 in Warsaw
    window = window_of(engine, as_of, **us_case(region="NY", time_zone="Europe/Warsaw"))
    assert window.time_zone == "Europe/Warsaw"
    assert window.zones == ("America/New_York", "Europe/Warsaw")
    assert window.local_start == "2026-11-24T16:00:00+01:00"
    assert window.local_end == "2026-11-24T20:00:00+01:00"


def test_the_api_carries_the_time_zone_and_every_intersected_zone(engine: StrategyEngine) -> None:
    message = window_to_proto(window_of(engine, **us_case(region="OR")))
    assert message.time_zone == "America/Los_Angeles"
    assert list(message.intersected_time_zones) == ["America/Boise", "America/Los_Angeles"]
    assert message.local_start == "2026-11-24T10:00:00-08:00"


# --- the tables cover every place with several zones -------------------------------


def zone_tab() -> dict[str, set[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            found.setdefault(country, set()).add(zone)
    return found


def test_every_country_with_several_zones_has_its_most_populous_zone() -> None:
    several = {country: names for country, names in zone_tab().items() if len(names) > 1}
    assert {"AU", "US", "RU", "BR"} <= set(several)
    missing = {country: sorted(names) for country, names in several.items() if zones.MOST_POPULOUS_ZONE.get(country) not in names}
    assert not missing, f"add these countries' most populous zone to engine.zones.MOST_POPULOUS_ZONE: {missing}"
    assert set(zones.MOST_POPULOUS_ZONE) == set(several), "entries for countries with one zone (or none)"


def test_every_us_state_with_several_zones_has_its_most_populous_zone() -> None:
    codes = {item.code.split("-")[1] for item in pycountry.subdivisions.get(country_code="US")}
    codes |= {state.abbr for state in [*us.states.STATES_AND_TERRITORIES, *us.states.OBSOLETE, us.states.DC]}
    country = zones.region_zones("US", None)  # a region without zones of its own falls back to these
    several = {code: found for code in codes if len(found := zones.region_zones("US", code)) > 1 and found != country}
    assert {"OR", "IN", "KY", "TX", "AZ"} <= set(several)
    missing = {code: names for code, names in several.items() if zones.MOST_POPULOUS_STATE_ZONE.get(code) not in names}
    assert not missing, f"add these states' most populous zone to engine.zones.MOST_POPULOUS_STATE_ZONE: {missing}"
    assert set(zones.MOST_POPULOUS_STATE_ZONE) == set(several), "entries for states with one zone"


def test_the_most_likely_zone_comes_first_then_the_others_by_name() -> None:
    for country in zone_tab():
        case = snapshot(TUESDAY, country=country, time_zone=None, region=None)
        names = [str(zone) for zone in zones.possible_zones(case, TUESDAY)]
        assert names[0] == zones.most_likely_zone(country, None), country
        assert names[1:] == sorted(names[1:]) and len(set(names)) == len(names), country

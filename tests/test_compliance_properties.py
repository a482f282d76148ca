"""Compliance properties over random cases, instants and strategies.

For random snapshots (countries with and without a pack of their own, zones
known, unknown or contradicting the region, random consents, legal flags,
Breathing Space dates, preferred hours and contact histories) and random
instants across 2026-2028 (weighted towards daylight-saving changes and public
holidays), with the shipped strategy, single-channel probe strategies and
hostile random strategies, every decision must keep to the shipped packs and the
built-in guardrails. The expected hours, caps and quiet periods are recomputed
here from the pack objects, with the `holidays` package as the calendar; a
window must be lawful in every zone of engine.zones.possible_zones and in every
zone of a hand-written second reading of the same data (zones_that_bind).

Profiles: HYPOTHESIS_PROFILE=default (the normal run) or HYPOTHESIS_PROFILE=soak
(10,000 examples per property). They are applied to the tests of this module
only, so loading them does not change the settings of other test modules.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.policy.ir import ALWAYS, PREFERRED, AllOf, AnyOf, Compare, Pack, Policy, Rule, Source
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.registry import build_engine
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel, Outcome
from engine.window import HORIZON
from engine.zones import possible_zones

# --- profiles ----------------------------------------------------------------------------

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("compliance-default", max_examples=100, deadline=None, suppress_health_check=_HEALTH)
settings.register_profile("compliance-soak", max_examples=10_000, deadline=None, suppress_health_check=_HEALTH)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "default")
PROFILE = settings.get_profile(f"compliance-{PROFILE_NAME if PROFILE_NAME in ('default', 'soak') else 'default'}")

# --- the engines, built once per module ---------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
UTC = timezone.utc
PACKS: tuple[Pack, ...] = load_packs(REPO / "rules" / "compliance")
SHIPPED = build_engine(REPO / "rules")
CHANNELS = tuple(Channel)
ELECTRONIC = frozenset({Channel.SMS, Channel.EMAIL, Channel.PUSH})
CONTACTING = frozenset(action for action in Action if action.contacts)
EU_EEA = frozenset(next(pack for pack in PACKS if pack.name == "eu-baseline").countries or ())
STOP_FLAGS = (
    ("gdpr", "objection"),
    ("gdpr", "restriction"),
    ("gdpr", "erasure_requested"),
    ("legal", "cease_and_desist"),
    ("legal", "attorney_represented"),
    ("legal", "bankruptcy"),
    ("legal", "deceased"),
    ("legal", "dispute"),
)
BREATHING_SPACE = timedelta(days=60)
LONDON = ZoneInfo("Europe/London")


def _probe_engines() -> dict[str, StrategyEngine]:
    """One strategy per channel whose only rule always contacts on that channel."""
    root = Path(tempfile.mkdtemp(prefix="compliance-probes-"))
    engines = {}
    try:
        for channel in CHANNELS:
            action = "CALL" if channel == Channel.PHONE else "SEND_REMINDER"
            folder = root / channel.value
            folder.mkdir()
            (folder / "s.yaml").write_text(
                f'policy: probe-{channel.value}\nversion: "1"\nrules:\n'
                f"  - id: always-{channel.value}\n    priority: 1\n    when: {{}}\n"
                f"    then: {{action: {action}, channel: {channel.value}}}\n    reason: probe\n",
                encoding="utf-8",
            )
            engines[channel.value] = StrategyEngine(load_strategy(folder), PACKS)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return engines


PROBES = _probe_engines()
FIXED_ENGINES = {"shipped": SHIPPED, **{f"probe-{name}": engine for name, engine in PROBES.items()}}

# --- random cases ------------------------------------------------------------------------

COUNTRIES: dict[str, tuple[str, tuple[str, ...], tuple[str | None, ...]]] = {
    # country: (currency, its zones, regions to try)
    "PL": ("PLN", ("Europe/Warsaw",), (None,)),
    "DE": ("EUR", ("Europe/Berlin",), (None, "BY")),
    "FR": ("EUR", ("Europe/Paris",), (None,)),
    "NO": ("NOK", ("Europe/Oslo",), (None,)),
    "IE": ("EUR", ("Europe/Dublin",), (None,)),
    "GB": ("GBP", ("Europe/London",), (None, "SCT", "NIR")),
    "US": (
        "USD",
        (
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "America/Adak",
            "Pacific/Honolulu",
            "America/Detroit",
            "America/Boise",
            "America/Indiana/Indianapolis",
        ),
        ("NY", "CA", "TX", "AK", "HI", "AZ", "FL", "IN", "MI", "ID"),
    ),
    "CA": ("CAD", ("America/Toronto", "America/Vancouver", "America/Halifax", "America/St_Johns", "America/Regina"), (None, "ON", "QC", "NL")),
    "JP": ("JPY", ("Asia/Tokyo",), (None,)),
}
COUNTRY_WEIGHTS = ["PL", "PL", "DE", "FR", "NO", "IE", "IE", "GB", "GB", "GB", "US", "US", "US", "US", "CA", "JP"]
CONTACTABLE_WEIGHTS = ["PL", "PL", "PL", "DE", "IE", "IE", "GB", "GB", "US", "US", "US", "US", "US", "US", "CA", "JP"]
FOREIGN_ZONES = ("Europe/Warsaw", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/London")
AMOUNTS = ("0", "15", "150", "1200", "5000")

# Daylight-saving changes (US and EU) and public holidays of the packs' countries, 2026-2028.
FOCUS_DAYS = [
    date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7), date(2028, 3, 12), date(2028, 11, 5),
    date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31), date(2028, 3, 26), date(2028, 10, 29),
    date(2026, 12, 25), date(2026, 12, 28), date(2027, 5, 3), date(2027, 5, 1), date(2026, 11, 26), date(2027, 7, 1),
    date(2026, 11, 23), date(2027, 3, 17), date(2026, 8, 31), date(2028, 1, 1),
]  # fmt: skip
PLAIN_INSTANTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31, 23, 59), timezones=st.just(UTC))
FOCUSED_INSTANTS = st.builds(
    lambda day, seconds: datetime.combine(day, time(0), UTC) + timedelta(seconds=seconds),
    st.sampled_from(FOCUS_DAYS),
    st.integers(-3 * 86400, 3 * 86400),
)
INSTANTS = st.one_of(PLAIN_INSTANTS, FOCUSED_INSTANTS)
RARE = st.integers(0, 11).map(lambda value: value == 0)
QUARTERS = st.integers(6 * 4, 23 * 4 + 3).map(lambda quarter: time(quarter // 4, quarter % 4 * 15))


@st.composite
def preferred_hours(draw) -> dict[str, str] | None:
    if draw(st.integers(0, 3)):
        return None
    opens, closes = sorted(draw(st.lists(QUARTERS, min_size=2, max_size=2, unique=True)))
    return {"opens": f"{opens:%H:%M}", "closes": f"{closes:%H:%M}"}


@st.composite
def contacts(draw, as_of: datetime, dense: bool = False) -> list[dict[str, Any]]:
    count = draw(st.integers(2, 12) if dense else st.integers(0, 12))
    focus = draw(st.sampled_from((Channel.PHONE, Channel.SMS) if dense else CHANNELS))
    span = draw(st.sampled_from([7, 9] if dense else [7, 30]))  # sometimes dense enough to meet the caps
    history = []
    for _ in range(count):
        channel = draw(st.sampled_from((focus,) * (9 if dense else 3) + CHANNELS))
        age = timedelta(seconds=draw(st.integers(0, span * 86400)))
        outcome = draw(st.sampled_from(tuple(Outcome)))
        history.append({"channel": channel.value, "at": (as_of - age).isoformat(), "outcome": outcome.value})
    return history


@st.composite
def cases(
    draw,
    force_stop: bool = False,
    country: str | None = None,
    breathing_space: str | None = None,
    contactable: bool = False,
    dense: bool | None = None,
) -> tuple[CaseSnapshot, datetime]:
    """A random case and instant. `contactable`: nothing stops contact (no stop,
    GDPR, vulnerability or Breathing Space, every consent), and the contact
    history is often dense, so that windows, caps and quiet periods are exercised."""
    as_of = draw(INSTANTS)
    weights = ("PL", "US", "US") if dense else CONTACTABLE_WEIGHTS if contactable else COUNTRY_WEIGHTS
    country = country or draw(st.sampled_from(weights))
    currency, zones, regions = COUNTRIES[country]
    zone_kind = draw(st.integers(0, 9))
    time_zone = None if zone_kind < 3 else draw(st.sampled_from(FOREIGN_ZONES)) if zone_kind == 9 else draw(st.sampled_from(zones))
    if country == "US":  # Massachusetts (its own overlay) often; no region often
        region = draw(st.one_of(st.none(), st.just("MA"), st.sampled_from(regions)))
    else:
        region = draw(st.one_of(st.none(), st.sampled_from(regions)))
    gdpr = {name: draw(RARE) for section, name in STOP_FLAGS if section == "gdpr"}
    legal: dict[str, Any] = {name: draw(RARE) for section, name in STOP_FLAGS if section == "legal"}
    legal.update(vulnerable=draw(RARE), hardship=draw(RARE), time_barred=draw(st.integers(0, 4).map(lambda value: value == 0)))
    if force_stop:
        section, name = draw(st.sampled_from(STOP_FLAGS))
        (gdpr if section == "gdpr" else legal)[name] = True
    # A Breathing Space that began at least a day before as_of (UTC date), so it
    # has begun on the local date in every zone too. One that starts after
    # as_of has a property of its own (test_a_breathing_space_that_starts_...).
    if breathing_space == "active":
        legal["breathing_space_start"] = (as_of.date() - timedelta(days=draw(st.integers(1, 58)))).isoformat()
    elif breathing_space == "future":
        legal["breathing_space_start"] = (as_of.date() + timedelta(days=draw(st.integers(1, 2)))).isoformat()
    elif draw(st.integers(0, 3)) == 0:
        legal["breathing_space_start"] = (as_of.date() - timedelta(days=draw(st.integers(1, 90)))).isoformat()
    amount = draw(st.sampled_from(AMOUNTS))
    data: dict[str, Any] = {
        "case_id": "prop-1",
        "country": country,
        "region": region,
        "time_zone": time_zone,
        "amount_due": amount if currency == "JPY" else f"{amount}.00",
        "currency": currency,
        "days_past_due": draw(st.integers(-10, 400)),
        "segment": draw(st.sampled_from(("retail", "premium", "business", "student"))),
        "consents": {channel.value: draw(st.integers(0, 9).map(lambda value: value < 7)) for channel in CHANNELS}
        | {"electronic_opt_out": draw(RARE)},
        "gdpr": gdpr,
        "legal": legal,
        "payment": {"broken_promises": draw(st.integers(0, 4))},
        "prior_contacts": draw(contacts(as_of)),
        "preferred_channel": draw(st.none() | st.sampled_from(CHANNELS).map(lambda channel: channel.value)),
        "preferred_hours": draw(preferred_hours()),
        "language": draw(st.sampled_from(("en", "pl"))),
    }
    if contactable:
        data["consents"] = {channel.value: True for channel in CHANNELS}
        data["gdpr"] = {}
        # Poland's pack stops every contact on a time-barred consumer debt (Civil Code art. 117 § 2¹).
        data["legal"] = {"hardship": legal["hardship"], "time_barred": legal["time_barred"] and country != "PL"}
        if breathing_space == "future":
            data["legal"]["breathing_space_start"] = legal["breathing_space_start"]
        data["prior_contacts"] = draw(contacts(as_of, dense=draw(st.booleans()) if dense is None else dense))
    if draw(st.integers(0, 5)) == 0:
        data["payment"]["promise_to_pay_date"] = (as_of.date() + timedelta(days=draw(st.integers(-5, 10)))).isoformat()
    return parse_snapshot(data, as_of), as_of


# --- hostile strategies --------------------------------------------------------------------

CONDITIONS = (
    ("days_past_due", "gte", (0, 30, 121)),
    ("days_past_due", "lt", (0, 60)),
    ("amount_due", "gte", (Decimal("20"), Decimal("1000"))),
    ("legal.time_barred", "eq", (True, False)),
    ("legal.hardship", "eq", (True, False)),
    ("legal.vulnerable", "eq", (True,)),
    ("gdpr.objection", "eq", (True, False)),
    ("legal.dispute", "eq", (True,)),
    ("breathing_space.active", "eq", (True, False)),
    ("consent.phone", "eq", (True, False)),
    ("country", "eq", ("US", "GB", "PL", "IE")),
    ("contacts.phone.last_7d", "gte", (3, 7)),
    ("local.is_holiday", "eq", (True,)),
    ("local.weekday", "eq", ("sun", "sat")),
)
CHANNEL_CHOICES = (*CHANNELS, PREFERRED)


def _hostile_rule(index: int, priority: int, action: Action, channels: tuple[Any, ...], leaves: list[tuple[str, str, Any]], any_of: bool) -> Rule:
    compares = tuple(Compare(path, op, value) for path, op, value in leaves)
    condition = ALWAYS if not compares else (AnyOf(compares) if any_of else AllOf(compares))
    return Rule(
        id=f"hostile-{index}",
        priority=priority,
        condition=condition,
        action=action,
        channels=channels if action.contacts else (),
        reason={"en": "hostile"},
        source=Source("hostile.yaml", index + 1),
    )


def _policy(rules: list[Rule], name: str) -> Policy:
    ordered = tuple(sorted(rules, key=lambda rule: (-rule.priority, rule.id)))  # as the loader orders them
    return Policy(name, "1", ordered, "hostile")


@st.composite
def hostile_policies(draw) -> Policy:
    rules = []
    for index in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(tuple(Action)))
        channels = tuple(dict.fromkeys(draw(st.lists(st.sampled_from(CHANNEL_CHOICES), min_size=1, max_size=4))))
        leaves = [(path, op, draw(st.sampled_from(values))) for path, op, values in draw(st.lists(st.sampled_from(CONDITIONS), max_size=3))]
        rules.append(_hostile_rule(index, draw(st.integers(0, 1000)), action, channels, leaves, draw(st.booleans())))
    return _policy(rules, "hostile")


def _seeded_hostile_policy(seed: int) -> Policy:
    rng = random.Random(seed)
    rules = []
    for index in range(rng.randint(2, 6)):
        action = rng.choice(tuple(Action))
        channels = tuple(dict.fromkeys(rng.choices(CHANNEL_CHOICES, k=rng.randint(1, 4))))
        leaves = [(path, op, rng.choice(values)) for path, op, values in rng.choices(CONDITIONS, k=rng.randint(0, 2))]
        rules.append(_hostile_rule(index, rng.randint(0, 1000), action, channels, leaves, rng.random() < 0.3))
    # Make sure escalation is always on offer: the most tempting candidates come first.
    rules.append(_hostile_rule(90, 2000, Action.LEGAL_REVIEW, (), [], False))
    rules.append(_hostile_rule(91, 1990, Action.FINAL_NOTICE, (Channel.LETTER, PREFERRED), [], False))
    return _policy(rules, f"hostile-pool-{seed}")


# A fixed pool on the production matcher (durable_rules keeps every ruleset it
# ever creates, so a fresh durable engine per example would grow without bound).
DURABLE_POOL = tuple(StrategyEngine(_seeded_hostile_policy(seed), PACKS) for seed in range(12))

# --- the independent oracle --------------------------------------------------------------


@lru_cache(maxsize=None)
def _calendar(country: str, region: str | None, year: int) -> frozenset[date]:
    for subdivision in (region, None) if region else (None,):
        try:
            return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))
        except NotImplementedError:
            continue
    return frozenset()


def packs_in_force(snapshot: CaseSnapshot) -> list[Pack]:
    return [
        pack
        for pack in PACKS
        if (pack.countries is None or snapshot.country in pack.countries) and (pack.regions is None or snapshot.region in pack.regions)
    ]


def hours_rules(snapshot: CaseSnapshot, channel: Channel):
    packs = packs_in_force(snapshot)
    rules = [rule for pack in packs if not pack.fallback for rule in pack.hours if channel in rule.channels]
    return rules or [rule for pack in packs if pack.fallback for rule in pack.hours if channel in rule.channels]


# Where a debtor in each place may be, written out by hand (the real zones of
# each state and country we generate, or a subset of them), as a second opinion
# beside engine.zones.possible_zones.
US_STATE_ZONES = {
    "MA": ("America/New_York",),
    "NY": ("America/New_York",),
    "CA": ("America/Los_Angeles",),
    "TX": ("America/Chicago", "America/Denver"),
    "AK": ("America/Anchorage", "America/Adak"),
    "HI": ("Pacific/Honolulu",),
    "AZ": ("America/Phoenix", "America/Denver"),  # the Navajo Nation keeps daylight saving time
    "FL": ("America/New_York", "America/Chicago"),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "MI": ("America/Detroit", "America/Menominee"),
    "ID": ("America/Boise", "America/Los_Angeles"),
}


def place_zones(snapshot: CaseSnapshot) -> list[ZoneInfo]:
    if snapshot.country == "US" and snapshot.region in US_STATE_ZONES:
        return [ZoneInfo(name) for name in US_STATE_ZONES[snapshot.region]]
    return [ZoneInfo(name) for name in COUNTRIES[snapshot.country][1]]


def zones_that_bind(snapshot: CaseSnapshot, instant: datetime) -> list[ZoneInfo]:
    """The debtor's own zone; with none, every zone of the place; with one whose
    clock differs (now) from every zone of the place, the place's zones as well."""
    place = place_zones(snapshot)
    if not snapshot.time_zone:
        return place
    own = ZoneInfo(snapshot.time_zone)
    if any(instant.astimezone(own).utcoffset() == instant.astimezone(zone).utcoffset() for zone in place):
        return [own]
    return [own, *place]


def sample_instants(start: datetime, end: datetime) -> list[datetime]:
    instants = {start, end - timedelta(seconds=1), end - timedelta(minutes=1)}
    moment = start
    while moment < end:
        instants.add(moment)
        moment += timedelta(minutes=10)
    return sorted(instant for instant in instants if start <= instant < end)


def stop_flags_set(snapshot: CaseSnapshot) -> list[str]:
    return [f"{section}.{name}" for section, name in STOP_FLAGS if getattr(getattr(snapshot, section), name)]


def local_dates(snapshot: CaseSnapshot, instant: datetime) -> set[date]:
    return {instant.astimezone(zone).date() for zone in possible_zones(snapshot, instant)} or {instant.date()}


def uk_date(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()


def breathing_space_on(snapshot: CaseSnapshot, day: date) -> bool:
    start = snapshot.legal.breathing_space_start
    return snapshot.country == "GB" and start is not None and start <= day < start + BREATHING_SPACE


def check_compliance(decision: Decision, snapshot: CaseSnapshot, as_of: datetime) -> None:
    """Everything a decision must respect, whatever the strategy proposed."""
    action = Action(decision.action)
    country = snapshot.country
    event(f"{country}{'-' + snapshot.region if snapshot.region else ''}: {'contact' if action.contacts else action.value}")

    # Stops: built in for every country.
    stops = stop_flags_set(snapshot)
    if stops:
        assert action not in CONTACTING and action != Action.LEGAL_REVIEW, f"{action} despite {stops}"
    # Breathing Space (GB): at as_of it stops every contact when it runs on the UK
    # date or on the local date of any possible zone (doubt only narrows); and no
    # window instant may fall on a UK date inside it (checked below).
    moratorium = any(breathing_space_on(snapshot, day) for day in {*local_dates(snapshot, as_of), uk_date(as_of)})
    if moratorium:
        assert action not in CONTACTING and action != Action.LEGAL_REVIEW, f"{action} during a Breathing Space"
    # Time-barred debts are never escalated (US Reg F 1006.26(b), CONC 7.15.4R).
    if snapshot.legal.time_barred and country in ("US", "GB"):
        assert action not in (Action.LEGAL_REVIEW, Action.FINAL_NOTICE)
    # EU/EEA: no automated legal escalation (GDPR art. 22); forbearance first (CCD art. 35).
    if country in EU_EEA:
        assert action != Action.LEGAL_REVIEW
        if snapshot.legal.hardship:
            assert action != Action.FINAL_NOTICE
    # GDPR requests in the EU/EEA and the UK go to a person.
    if country in EU_EEA or country == "GB":
        if snapshot.gdpr.objection or snapshot.gdpr.restriction or snapshot.gdpr.erasure_requested:
            assert action == Action.HUMAN_REVIEW, f"{action} despite a GDPR request"
    if country == "GB" and snapshot.legal.vulnerable:  # during a moratorium nothing is decided until it ends
        assert action == Action.HUMAN_REVIEW or (moratorium and action == Action.NO_CONTACT)

    if not action.contacts:
        assert decision.channel is None and decision.window is None
        return
    # Contact: a channel the debtor consented to, in a lawful window.
    channel = decision.channel
    assert channel is not None and decision.window is not None
    assert getattr(snapshot.consents, channel.value), f"no consent for {channel.value}"
    if channel in ELECTRONIC:
        assert not snapshot.consents.electronic_opt_out
    check_window(decision, snapshot, as_of, channel)


def check_window(decision: Decision, snapshot: CaseSnapshot, as_of: datetime, channel: Channel) -> None:
    window = decision.window
    assert window is not None
    start, end = window.start, window.end
    assert start.tzinfo is not None and as_of <= start < end and start < as_of + HORIZON
    engine_zones = possible_zones(snapshot, as_of)
    assert engine_zones
    if snapshot.time_zone:
        assert ZoneInfo(snapshot.time_zone) in engine_zones
    # The window must be lawful where the engine thinks the debtor may be, and
    # where our own, hand-written reading of the data says so.
    zones = list(dict.fromkeys([*engine_zones, *zones_that_bind(snapshot, start), *zones_that_bind(snapshot, end)]))
    rules = hours_rules(snapshot, channel)
    assert rules, f"no pack sets hours for {channel.value} in {snapshot.country}"
    codes = {reason.code for reason in decision.window_constraints}
    assert {rule.id for rule in rules} <= codes, "the window must name the hours rules that shaped it"
    preferred = snapshot.preferred_hours

    # Hours, closed weekdays and public holidays of every pack rule in force, and
    # the debtor's preferred hours, at every sampled instant, in every possible zone.
    for instant in sample_instants(start, end):
        for zone in zones:
            here = instant.astimezone(zone)
            clock = here.time().replace(tzinfo=None)
            for rule in rules:
                hours = rule.hours
                assert hours.opens <= clock < hours.closes, f"{here} outside {rule.id} {hours.opens}-{hours.closes}"
                assert here.weekday() not in hours.closed_weekdays, f"{here} is a closed weekday under {rule.id}"
                if hours.closed_on_holidays:
                    assert here.date() not in _calendar(snapshot.country, snapshot.region, here.year), f"{here} is a public holiday"
            if preferred:
                assert preferred.opens <= clock < preferred.closes, f"{here} outside preferred hours {preferred.opens}-{preferred.closes}"
        assert not breathing_space_on(snapshot, uk_date(instant)), f"{instant} falls in a Breathing Space (UK date {uk_date(instant)})"
    if preferred:
        assert "debtor/preferred-hours" in codes

    # Caps: one more contact at the window's start keeps every cap in force.
    history = snapshot.prior_contacts
    for pack in packs_in_force(snapshot):
        for cap in pack.caps:
            if channel not in cap.channels:
                continue
            counted = sum(1 for item in history if item.channel in cap.channels and start - cap.period < item.at <= start)
            assert counted < cap.max, f"{cap.id}: {counted} contacts in the {cap.period} before {start}"
            if sum(1 for item in history if item.channel in cap.channels and as_of - cap.period < item.at <= as_of) >= cap.max:
                assert cap.id in codes
        # Quiet periods: no contact before local midnight starting day `days + 1`, in every zone.
        for quiet in pack.quiet:
            if channel not in quiet.channels:
                continue
            for item in history:
                if item.channel in quiet.after_channels and item.outcome in quiet.outcomes:
                    for zone in zones:
                        day = item.at.astimezone(zone).date() + timedelta(days=quiet.days)
                        release = datetime.combine(day, time(0), tzinfo=zone)
                        assert start >= release, f"{quiet.id}: {start} is before {release} ({zone})"
                        if release > as_of:
                            assert quiet.id in codes


# --- properties ----------------------------------------------------------------------------


@PROFILE
@given(case=cases(force_stop=True), engine=st.sampled_from(sorted(FIXED_ENGINES)))
def test_no_contact_when_a_stop_flag_is_set(case, engine):
    snapshot, as_of = case
    decision = FIXED_ENGINES[engine].decide(snapshot, as_of)
    assert decision.action not in {action.value for action in CONTACTING} | {"LEGAL_REVIEW"}
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(country="GB", breathing_space="active"), engine=st.sampled_from(sorted(FIXED_ENGINES)))
def test_no_contact_during_an_active_breathing_space(case, engine):
    snapshot, as_of = case
    decision = FIXED_ENGINES[engine].decide(snapshot, as_of)
    assert decision.action not in {action.value for action in CONTACTING} | {"LEGAL_REVIEW"}
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(country="GB", breathing_space="future", contactable=True), engine=st.sampled_from(sorted(PROBES)))
def test_a_breathing_space_that_starts_after_as_of_is_kept_by_the_window(case, engine):
    """The moratorium starts the day after the creditor is told: a window must end before it."""
    snapshot, as_of = case
    decision = PROBES[engine].decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(contactable=True, dense=True), engine=st.sampled_from(["phone", "phone", "sms"]))
def test_caps_and_quiet_periods_hold_for_busy_histories(case, engine):
    """Many recent calls and texts, where the caps (PL, US, MA) and the US quiet period bind."""
    snapshot, as_of = case
    decision = PROBES[engine].decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(), engine=st.sampled_from(sorted(FIXED_ENGINES)))
def test_every_window_is_lawful_in_every_possible_zone(case, engine):
    snapshot, as_of = case
    decision = FIXED_ENGINES[engine].decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)
    assert FIXED_ENGINES[engine].decide(snapshot, as_of) == decision  # deterministic


@PROFILE
@given(case=cases(contactable=True), engine=st.sampled_from(sorted(PROBES)))
def test_windows_of_contactable_cases_are_lawful(case, engine):
    """Probes on cases nothing stops: almost every decision has a window to check."""
    snapshot, as_of = case
    decision = PROBES[engine].decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)
    if decision.window is None:
        # Only the debtor's preferred hours, or caps and quiet periods beyond the horizon, leave no window.
        assert decision.action == "NO_CONTACT", decision
        assert snapshot.preferred_hours or snapshot.prior_contacts, decision.vetoes


@PROFILE
@given(case=cases(), policy=hostile_policies())
def test_hostile_strategies_cannot_break_compliance(case, policy):
    """Random strategies (python matcher: a fresh engine per example)."""
    snapshot, as_of = case
    decision = StrategyEngine(policy, PACKS, backend="python").decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(), index=st.integers(0, len(DURABLE_POOL) - 1))
def test_hostile_strategies_on_durable_rules_cannot_break_compliance(case, index):
    """A fixed pool of random strategies on the production matcher."""
    snapshot, as_of = case
    decision = DURABLE_POOL[index].decide(snapshot, as_of)
    check_compliance(decision, snapshot, as_of)


@PROFILE
@given(case=cases(), engine=st.sampled_from(sorted(FIXED_ENGINES)))
def test_the_python_and_durable_matchers_agree_on_compliance(case, engine):
    """Pack rules are matched by durable_rules in production; the python matcher is the oracle."""
    snapshot, as_of = case
    durable = FIXED_ENGINES[engine]
    oracle = _PYTHON_TWINS[engine]
    assert oracle.decide(snapshot, as_of) == durable.decide(snapshot, as_of)


_PYTHON_TWINS = {name: StrategyEngine(engine.policy, PACKS, backend="python") for name, engine in FIXED_ENGINES.items()}


def test_the_generators_reach_every_pack():
    """The random cases put every shipped pack in force (a guard against a silently narrow generator)."""
    seen: set[str] = set()

    @settings(max_examples=100, deadline=None, suppress_health_check=_HEALTH, database=None, derandomize=True)
    @given(case=cases())
    def collect(case):
        seen.update(pack.name for pack in packs_in_force(case[0]))

    collect()
    assert seen == {pack.name for pack in PACKS}


@pytest.mark.parametrize("seed", range(len(DURABLE_POOL)))
def test_the_durable_pool_offers_escalation(seed):
    names = {rule.action for rule in DURABLE_POOL[seed].policy.rules}
    assert {Action.LEGAL_REVIEW, Action.FINAL_NOTICE} <= names

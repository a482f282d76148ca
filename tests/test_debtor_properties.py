"""A person with several accounts is never contacted more often than the packs allow.

For random debtors (1-6 accounts; Poland, Great Britain, Ireland, the US with
and without Massachusetts, Germany, France; random consents, flags, currencies,
days past due and contact histories listed under the person or the accounts,
some listed twice), each debtor is decided again and again for three weeks, as
a dialer would: each time the person is contacted, the contact is made at the
window's start, on the decision's channel, and recorded as a person-level
contact naming the accounts it covered. The oracle below, written apart from
the engine, then checks every contact made against the packs in force
(engine.compliance.in_force): no cap's rolling period holds more of the
person's contacts than the cap allows, counting every account and each contact
once; no contact falls in a quiet period or outside the packs' hours, on a
closed weekday or a public holiday (the `holidays` package as the calendar);
and no flag that holds the person (or a disputed account) is contacted about.

The strategies are the shipped one (whose own pacing is stricter than most
caps) and probes that contact on every decision, so that the packs' caps bind.

Profiles: HYPOTHESIS_PROFILE=default (the normal run, derandomized so that CI
is repeatable) or HYPOTHESIS_PROFILE=soak (1,000 random examples per property).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from engine.debtor import DebtorDecision, decide_debtor
from engine.debtor_snapshot import parse_debtor
from engine.engine import StrategyEngine
from engine.policy.ir import Pack
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.registry import build_engine
from engine.vocabulary import Channel, Outcome

# --- profiles ----------------------------------------------------------------------------

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
# An example is three weeks of decisions: shrinking a failure could take many
# minutes, so the normal run reports the failing example as found (the
# assertion names the cap, the instants and the accounts); the soak shrinks.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
settings.register_profile("debtor-default", max_examples=80, deadline=None, suppress_health_check=_HEALTH, derandomize=True, database=None, phases=NO_SHRINK)
settings.register_profile("debtor-soak", max_examples=1_000, deadline=None, suppress_health_check=_HEALTH)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "default")
PROFILE = settings.get_profile(f"debtor-{PROFILE_NAME if PROFILE_NAME in ('default', 'soak') else 'default'}")

# --- the engines -------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
PACKS: tuple[Pack, ...] = load_packs(REPO / "rules" / "compliance")
SHIPPED = build_engine(REPO / "rules")
RUN = timedelta(days=21)

PROBES = {
    # Always a call: the phone caps (PL, US, MA) bind.
    "call": ("{bundle: [[CALL]]}", ["when: {}\n    then: {action: CALL, channel: phone}"]),
    # Always a text: the text caps (PL, MA) bind.
    "text": ("{bundle: [[SEND_REMINDER]]}", ["when: {}\n    then: {action: SEND_REMINDER, channel: sms}"]),
    # Some accounts call and others text: steps that cannot share the lead's channel
    # wait, and Massachusetts counts calls and texts together.
    "mixed": (
        "{rank: largest_first, bundle: [[CALL, SEND_REMINDER]]}",
        ["when: {attributes.probe: sms}\n    then: {action: SEND_REMINDER, channel: [sms, email]}", "when: {}\n    then: {action: CALL, channel: [phone, sms]}"],
    ),
}


def _probe_engines() -> dict[str, StrategyEngine]:
    root = Path(tempfile.mkdtemp(prefix="debtor-probes-"))
    engines = {}
    try:
        for name, (debtor, rules) in PROBES.items():
            folder = root / name
            folder.mkdir()
            body = "".join(f"  - id: rule-{index}\n    priority: {100 - index}\n    {rule}\n    reason: probe\n" for index, rule in enumerate(rules))
            (folder / "s.yaml").write_text(f'policy: probe-{name}\nversion: "1"\ndebtor: {debtor}\nrules:\n{body}', encoding="utf-8")
            engines[name] = StrategyEngine(load_strategy(folder), PACKS)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return engines


ENGINES = {"shipped": SHIPPED, **_probe_engines()}

# --- random debtors ------------------------------------------------------------------------

PLACES: dict[str, tuple[str, tuple[tuple[str | None, str], ...]]] = {
    # country: (currency, (region, time zone) pairs)
    "PL": ("PLN", ((None, "Europe/Warsaw"),)),
    "GB": ("GBP", ((None, "Europe/London"), ("SCT", "Europe/London"), ("NIR", "Europe/London"))),
    "IE": ("EUR", ((None, "Europe/Dublin"),)),
    "US": ("USD", (("NY", "America/New_York"), ("MA", "America/New_York"), ("TX", "America/Chicago"), (None, "America/New_York"))),
    "DE": ("EUR", ((None, "Europe/Berlin"), ("BY", "Europe/Berlin"))),
    "FR": ("EUR", ((None, "Europe/Paris"),)),
}
COUNTRY_WEIGHTS = ("PL", "PL", "PL", "PL", "US", "US", "US", "GB", "IE", "DE", "FR")
CHANNELS = tuple(Channel)
RARE = st.sampled_from((False,) * 14 + (True,))  # about one in 15, shrinking to False
AMOUNTS = ("15.00", "150.00", "450.00", "1200.00", "5000.00")
ACCOUNT_FLAGS = ("dispute", "time_barred", "hardship", "bankruptcy", "vulnerable", "cease_and_desist")
STEPS = st.sampled_from((24, 24, 24, 24, 12, 6)).map(lambda hours: timedelta(hours=hours))
START = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc))


@st.composite
def past_contacts(draw, start: datetime, account_ids: list[str]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Contacts in the days before `start`, often as many calls or texts as a cap
    allows: some the person's (about some or all accounts), others listed under an
    account, a few listed under two. Spread over the accounts, they reach a cap
    only when counted for the person."""
    person: list[dict[str, Any]] = []
    by_account: dict[str, list[dict[str, Any]]] = {account_id: [] for account_id in account_ids}
    focus = draw(st.sampled_from((Channel.PHONE, Channel.SMS)))
    span = draw(st.sampled_from((6, 10)))  # days
    for _ in range(draw(st.integers(0, 9))):
        contact: dict[str, Any] = {
            "channel": draw(st.sampled_from((focus,) * 6 + CHANNELS)).value,
            "at": (start - timedelta(seconds=draw(st.integers(0, span * 86400)))).isoformat(),
            "outcome": draw(st.sampled_from(tuple(Outcome))).value,
        }
        if draw(RARE):
            contact["direction"] = "inbound"
        where = draw(st.integers(0, 2))
        if where == 0:
            contact["account_ids"] = draw(st.lists(st.sampled_from(account_ids), unique=True, max_size=len(account_ids)))
            person.append(contact)
        else:
            listed = draw(st.lists(st.sampled_from(account_ids), unique=True, min_size=1, max_size=2 if where == 2 else 1))
            for account_id in listed:
                by_account[account_id].append(dict(contact))
    return person, by_account


@st.composite
def debtors(draw, countries: tuple[str, ...] = COUNTRY_WEIGHTS) -> tuple[dict[str, Any], datetime]:
    start = draw(START)
    country = draw(st.sampled_from(countries))
    currency, places = PLACES[country]
    region, zone = draw(st.sampled_from(places))
    count = draw(st.integers(1, 6))
    ids = [f"A{index}" for index in range(1, count + 1)]
    person, listed = draw(past_contacts(start, ids))
    accounts = []
    for account_id in ids:
        flag = draw(st.sampled_from((None,) * 30 + ACCOUNT_FLAGS))  # most accounts carry no flag
        legal = {flag: True} if flag else {}
        accounts.append({
            "account_id": account_id,
            "amount_due": draw(st.sampled_from(AMOUNTS)),
            "currency": draw(st.sampled_from((currency,) * 4 + ("EUR", "USD"))),
            "days_past_due": draw(st.integers(-5, 200)),
            "segment": draw(st.sampled_from(("retail", "retail", "premium", "business", "student"))),
            "legal": legal,
            "prior_contacts": listed[account_id],
            "attributes": {"probe": draw(st.sampled_from(("sms", "phone")))},
        })
    data: dict[str, Any] = {
        "debtor_id": "P-1",
        "country": country,
        "region": region,
        "time_zone": zone,
        "language": draw(st.sampled_from(("en", "pl"))),
        "consents": {channel.value: draw(st.integers(0, 9).map(lambda value: value < 9)) for channel in CHANNELS} | {"electronic_opt_out": draw(RARE)},
        "gdpr": {draw(st.sampled_from(("objection", "erasure_requested"))): True} if draw(RARE) else {},
        "preferred_channel": draw(st.none() | st.sampled_from(CHANNELS).map(lambda channel: channel.value)),
        "contacts": person,
        "accounts": accounts,
    }
    return data, start


# --- a dialer that follows the decisions ----------------------------------------------------


@dataclass(frozen=True)
class Made:
    """A contact the engine asked for, as it was made."""

    at: datetime
    channel: Channel
    decision: DebtorDecision


def follow(engine: StrategyEngine, data: dict[str, Any], start: datetime, steps: list[timedelta], outcomes: list[Outcome]) -> list[Made]:
    """Decide the debtor for RUN from `start`, the debts ageing day by day; make each
    contact at its window's start and record it with the person; decide next after
    the step, or after the contact."""
    made: list[Made] = []
    as_of = start
    overdue = {account["account_id"]: account["days_past_due"] for account in data["accounts"]}
    for step, outcome in zip(steps, outcomes):
        if as_of >= start + RUN:
            break
        for account in data["accounts"]:
            account["days_past_due"] = overdue[account["account_id"]] + (as_of - start).days
        decision = decide_debtor(engine, parse_debtor(data, as_of), as_of)
        following = as_of + step
        if decision.channel is not None:
            assert decision.window is not None and decision.account_ids, decision
            at = decision.window.start
            assert as_of <= at < decision.window.end
            data["contacts"].append({"channel": decision.channel.value, "at": at.isoformat(), "outcome": outcome.value, "action": decision.action, "account_ids": list(decision.account_ids)})
            made.append(Made(at, decision.channel, decision))
            following = max(following, at + timedelta(minutes=1))  # the next decision knows of this contact
        as_of = following
    return made


# --- the independent oracle --------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    channel: Channel
    at: datetime
    outcome: Outcome
    outbound: bool


def every_contact(data: dict[str, Any]) -> list[Seen]:
    """Each contact with the person once: one listed under two accounts, or under an
    account and the person, is the same contact (same channel, instant, direction)."""
    listed = [*data["contacts"], *(contact for account in data["accounts"] for contact in account["prior_contacts"])]
    unique: dict[tuple[Any, ...], Seen] = {}
    for contact in listed:
        at = datetime.fromisoformat(contact["at"])
        outbound = contact.get("direction", "outbound") == "outbound"
        unique.setdefault((contact["channel"], at, outbound), Seen(Channel(contact["channel"]), at, Outcome(contact["outcome"]), outbound))
    return list(unique.values())


@lru_cache(maxsize=None)
def _calendar(country: str, region: str | None, year: int) -> frozenset[date]:
    for subdivision in (region, None) if region else (None,):
        try:
            return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))
        except NotImplementedError:
            continue
    return frozenset()


def check_caps_and_hours(engine: StrategyEngine, data: dict[str, Any], made: list[Made]) -> None:
    country, region, zone = data["country"], data["region"], ZoneInfo(data["time_zone"])
    packs = engine.compliance.in_force(country, region)
    contacts = [contact for contact in every_contact(data) if contact.outbound]
    for contact in made:
        # Caps: the rolling period (at - period, at] holds at most `max` of the person's contacts.
        for cap in (cap for pack in packs for cap in pack.caps if contact.channel in cap.channels):
            counted = sum(1 for other in contacts if other.channel in cap.channels and contact.at - cap.period < other.at <= contact.at)
            assert counted <= cap.max, f"{cap.id}: {counted} contacts with the person in the {cap.period} up to {contact.at}"
            event(f"{cap.id}: {counted} of {cap.max}")
        # Quiet periods: from the contact's local date, `days` whole days without contact.
        for quiet in (quiet for pack in packs for quiet in pack.quiet if contact.channel in quiet.channels):
            for other in contacts:
                if other.at < contact.at and other.channel in quiet.after_channels and other.outcome in quiet.outcomes:
                    release = datetime.combine(other.at.astimezone(zone).date() + timedelta(days=quiet.days), time(0), zone)
                    assert contact.at >= release, f"{quiet.id}: {contact.at} is before {release}"
        # Hours: the contact is made at a lawful local time, day and date.
        rules = [rule for pack in packs if not pack.fallback for rule in pack.hours if contact.channel in rule.channels]
        rules = rules or [rule for pack in packs if pack.fallback for rule in pack.hours if contact.channel in rule.channels]
        assert rules, f"no pack sets hours for {contact.channel.value} in {country}"
        local = contact.at.astimezone(zone)
        for rule in rules:
            assert rule.hours.opens <= local.time().replace(tzinfo=None) < rule.hours.closes, f"{local} outside {rule.id}"
            assert local.weekday() not in rule.hours.closed_weekdays, f"{local} is a closed weekday under {rule.id}"
            if rule.hours.closed_on_holidays:
                assert local.date() not in _calendar(country, region, local.year), f"{local} is a public holiday in {country}"


def check_flags(engine: StrategyEngine, data: dict[str, Any], made: list[Made]) -> None:
    """A flag the packs scope to the person, on the person or any account, stops every
    account; an account-scoped stop (a dispute) keeps only its own account out."""
    person_scope = engine.compliance.person_flags(data["country"], data["region"])
    stops = {"legal.bankruptcy", "legal.deceased", "legal.cease_and_desist", "legal.attorney_represented", "legal.dispute", "gdpr.objection", "gdpr.restriction", "gdpr.erasure_requested"}
    person_stopped = any(data["gdpr"].get(name.split(".")[1]) for name in stops if name.startswith("gdpr."))
    for account in data["accounts"]:
        for name in account["legal"]:
            if f"legal.{name}" in stops and f"legal.{name}" in person_scope:
                person_stopped = True
    if person_stopped:
        assert not made, f"contacted despite a flag that holds the person: {made[0].decision.account_ids}"
    disputed = {account["account_id"] for account in data["accounts"] if account["legal"].get("dispute")}
    for contact in made:
        assert not disputed & set(contact.decision.account_ids), f"contacted about a disputed account: {contact.decision.account_ids}"


# --- properties ----------------------------------------------------------------------------

RUNS = st.tuples(st.lists(STEPS, min_size=90, max_size=90), st.lists(st.sampled_from(tuple(Outcome)), min_size=90, max_size=90))


@PROFILE
@given(case=debtors(), engine=st.sampled_from(sorted(ENGINES)), run=RUNS)
def test_no_person_is_contacted_more_often_than_the_strictest_pack_allows(case, engine, run):
    data, start = case
    steps, outcomes = run
    made = follow(ENGINES[engine], data, start, steps, outcomes)
    event(f"{engine}: {len(made)} contacts in 3 weeks")
    check_caps_and_hours(ENGINES[engine], data, made)
    check_flags(ENGINES[engine], data, made)


CALL_OUTCOMES = (Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.RIGHT_PARTY_CONTACT, Outcome.REFUSED)  # no failed deliveries: the phone stays usable


@PROFILE
@given(case=debtors(countries=("PL", "US")), steps=st.lists(STEPS, min_size=90, max_size=90), outcomes=st.lists(st.sampled_from(CALL_OUTCOMES), min_size=90, max_size=90))
def test_a_probe_that_always_calls_reaches_the_phone_caps_and_keeps_them(case, steps, outcomes):
    """Nothing stops the calls but the packs: in Poland the person is called three
    times in seven days, never a fourth, whichever accounts the calls are about."""
    data, start = case
    data["consents"] = {channel.value: True for channel in CHANNELS}
    data["gdpr"] = {}
    for account in data["accounts"]:
        account["legal"] = {}
    engine = ENGINES["call"]
    made = follow(engine, data, start, steps, outcomes)
    check_caps_and_hours(engine, data, made)
    assert made, "nothing stops the probe: the person is called in three weeks"
    if data["country"] == "PL":
        calls = sorted(contact.at for contact in every_contact(data) if contact.outbound and contact.channel == Channel.PHONE)
        busiest = max(sum(1 for other in calls if at - timedelta(days=7) < other <= at) for at in (contact.at for contact in made))
        assert busiest == 3, f"the Polish cap of 3 calls in 7 days was never reached ({busiest})"

"""Facts: what the rules see, derived once per request from the snapshot and as_of.

Facts are a flat mapping from dotted paths ("consent.sms", "contacts.phone.last_7d")
to plain values. A fact that is unknown for a case (no prior contact, no
attribute of that name) is absent, and every comparison with an absent fact is
false. FACT_TYPES is the catalogue the policy compiler checks rules against.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import holidays

from engine.snapshot import CaseSnapshot
from engine.arrangements import ArrangementState, arrangement_facts
from engine.history import reach_facts, step_facts
from engine.contact_counts import CHANNEL_TEXT, CHANNELS, CONTACT_PERIODS, OUTCOMES, Counting, count_contacts, counting_of
from engine.vocabulary import Action, ArrangementType, PaymentMethod
from engine.zones import possible_zones


class FactType(str, Enum):
    BOOL = "bool"
    INT = "int"
    MONEY = "money"
    TEXT = "text"
    NUMBER = "number"  # a declared input: a decimal compared to 4 places, no currency
    DATE = "date"  # a declared input: a calendar day, compared as its ISO text (YYYY-MM-DD)


@dataclass(frozen=True)
class FactSpec:
    type: FactType
    description: str
    choices: tuple[str, ...] = ()  # the only values a TEXT fact can take, when closed


BREATHING_SPACE = timedelta(days=60)  # UK Debt Respite Scheme: a standard moratorium lasts 60 days
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _catalogue() -> dict[str, FactSpec]:
    B, I, M, T = FactType.BOOL, FactType.INT, FactType.MONEY, FactType.TEXT
    facts = {
        "country": FactSpec(T, "ISO 3166-1 alpha-2 country code, e.g. PL"),
        "region": FactSpec(T, "ISO 3166-2 subdivision without the country, e.g. MA"),
        "segment": FactSpec(T, "customer segment, e.g. retail"),
        "product": FactSpec(T, "product, e.g. credit_card"),
        "currency": FactSpec(T, "ISO 4217 currency code"),
        "language": FactSpec(T, "language of the reasons: the snapshot's language when the engine has texts in it, else en", ("en", "pl")),
        "amount_due": FactSpec(M, "amount owed, compared as a decimal"),
        "days_past_due": FactSpec(I, "days since the due date; negative before it"),
        "preferred_channel": FactSpec(T, "the debtor's preferred channel", CHANNELS),
        "broken_promises": FactSpec(I, "promises to pay that were not kept: the engine's count of broken arrangements when the snapshot has arrangements, else the caller's"),
        "days_since_last_payment": FactSpec(I, "whole days since the last payment"),
        "promise.active": FactSpec(B, "a promise to pay whose date is today or later"),
        "promise.days_until": FactSpec(I, "days until the promised payment date"),
        "hours_since_last_contact": FactSpec(I, "whole hours since the last contact attempt"),
        "hours_since_last_conversation": FactSpec(I, "whole hours since the last right-party conversation"),
        "last_outcome": FactSpec(T, "outcome of the most recent contact attempt", OUTCOMES),
        "last_contact_channel": FactSpec(T, "channel of the most recent contact attempt", CHANNELS),
        "local.hour": FactSpec(I, "hour of day (0-23) in the debtor's time zone"),
        "local.weekday": FactSpec(T, "weekday in the debtor's time zone", WEEKDAYS),
        "local.is_holiday": FactSpec(B, "today is a public holiday where the debtor lives"),
        "time_zone_known": FactSpec(B, "the snapshot named the debtor's time zone"),
        "breathing_space.active": FactSpec(B, "a UK Breathing Space moratorium is running (60 days from its start)"),
        "breathing_space.days_left": FactSpec(I, "days left in the Breathing Space moratorium"),
    }
    for name in ("sms", "email", "phone", "letter", "push", "electronic_opt_out"):
        facts[f"consent.{name}"] = FactSpec(B, f"consent for {name}" if name != "electronic_opt_out" else "opted out of electronic communications")
    for name in ("objection", "restriction", "erasure_requested"):
        facts[f"gdpr.{name}"] = FactSpec(B, f"GDPR {name.replace('_', ' ')}")
    for name in ("dispute", "bankruptcy", "cease_and_desist", "attorney_represented", "deceased", "vulnerable", "hardship", "time_barred"):
        facts[f"legal.{name}"] = FactSpec(B, name.replace("_", " "))
    for channel in (*CHANNELS, "all"):
        for period in CONTACT_PERIODS:
            facts[f"contacts.{channel}.{period}"] = FactSpec(I, f"contact attempts by {channel} in the {period[5:]}")
    facts["third_party_collector"] = FactSpec(B, "we collect as a third party (a debt collector under the US FDCPA), not as the creditor")
    facts["history.outbound_ever"] = FactSpec(B, "we ever contacted (or tried to contact) the debtor")
    facts["history.delivered_ever"] = FactSpec(B, "a contact of ours ever reached the debtor")
    for action in Action:
        if action.contacts:
            facts[f"history.{action.value.lower()}.days_since_delivered"] = FactSpec(I, f"days since a {action.value} last reached the debtor")
    for channel in CHANNELS:
        facts[f"failed.{channel}.last_30d"] = FactSpec(I, f"{channel} contacts that bounced, failed or reached the wrong party in the last 30 days")
        facts[f"failed.{channel}.in_a_row"] = FactSpec(I, f"{channel} contacts that failed since the last one delivered")
    facts["hours_since_last_inbound"] = FactSpec(I, "whole hours since the debtor last contacted us")
    facts["debtor.accounts"] = FactSpec(I, "accounts the person has in the request (1 for Decide)")
    facts["debtor.currencies"] = FactSpec(I, "currencies the person's accounts are in")
    facts["debtor.total_due"] = FactSpec(M, "the total the person owes in this account's currency, over all their accounts in it")
    facts["debtor.worst_days_past_due"] = FactSpec(I, "the most days past due of any of the person's accounts")
    facts["last_inbound_channel"] = FactSpec(T, "the channel the debtor last contacted us on", CHANNELS)
    arrangement_types = tuple(kind.value for kind in ArrangementType)
    facts["arrangement.type"] = FactSpec(T, "the current arrangement (agreed last, not cancelled)", arrangement_types)
    facts["arrangement.state"] = FactSpec(T, "the engine's verdict on the current arrangement", tuple(state.value for state in ArrangementState))
    facts["arrangement.active"] = FactSpec(B, "the current arrangement is in force: pending, performing or missed (not broken)")
    facts["arrangement.confirmed"] = FactSpec(B, "a written confirmation of the current arrangement reached the debtor")
    facts["arrangement.days_since_agreed"] = FactSpec(I, "days since the current arrangement was agreed")
    facts["arrangement.next_due_in_days"] = FactSpec(I, "days until the next instalment not yet paid")
    facts["arrangement.missed_instalments"] = FactSpec(I, "instalments not paid by their due date once the posting grace passed")
    facts["arrangement.paid_pct"] = FactSpec(I, "share of the schedule paid, in percent")
    facts["arrangement.in_grace"] = FactSpec(B, "an instalment is due and unpaid, but a payment may still be posting")
    facts["arrangement.business_days_late"] = FactSpec(I, "business days since the first unpaid due date, once its grace passed")
    for outcome in OUTCOMES:
        facts[f"outcomes.{outcome}.last_30d"] = FactSpec(I, f"contacts with outcome {outcome} in the last 30 days")
        for channel in CHANNELS:
            facts[f"outcomes.{outcome}.{channel}.last_30d"] = FactSpec(I, f"{channel} contacts with outcome {outcome} in the last 30 days")
    return facts


FACT_TYPES: dict[str, FactSpec] = _catalogue()
ATTRIBUTE_PREFIX = "attributes."
EXPERIMENT_PREFIX = "experiments."  # experiments.<id> = the case's arm; set by the engine, used through `arm:`


INPUT_PREFIX = "inputs."  # inputs.<name>: a typed input the policy declares (engine/policy/inputs.py)
INPUT_DECIMALS = Decimal("0.0001")  # number inputs are compared to 4 places, as money is
# The inputs of the policy being compiled or linted (path -> spec). Set around that
# work only: the catalogue itself stays the same for every policy.
_declared_inputs: ContextVar[Mapping[str, FactSpec] | None] = ContextVar("declared_inputs", default=None)


def declare_inputs(specs: Mapping[str, FactSpec]) -> Any:
    """Make `inputs.<name>` known to fact_spec in this context; returns the token to reset it with."""
    return _declared_inputs.set(specs)


def forget_inputs(token: Any) -> None:
    _declared_inputs.reset(token)


def declared_inputs() -> Mapping[str, FactSpec]:
    return _declared_inputs.get() or {}


def fact_spec(path: str) -> FactSpec | None:
    """The type of a fact path, including free-form attributes and the inputs the
    policy in hand declares; None if unknown."""
    if path.startswith(ATTRIBUTE_PREFIX) and len(path) > len(ATTRIBUTE_PREFIX):
        return FactSpec(FactType.TEXT, "free-form attribute from the snapshot")
    if path.startswith(INPUT_PREFIX):
        return (_declared_inputs.get() or {}).get(path)
    return FACT_TYPES.get(path)


def input_fact(value: Any) -> Any:
    """A checked input as rules compare it: a number as a decimal to 4 places (so both
    matchers compare it exactly), a date as its ISO text (which orders as the calendar
    does for the 4-digit years a snapshot allows), anything else as it is."""
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(INPUT_DECIMALS)
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Person:
    """What a case's facts take from the debtor's other accounts (engine/debtor.py),
    worked out once per person."""

    contacts: tuple[Any, ...]  # every contact with the person, each once
    facts: dict[str, Any]  # the debtor.* facts and the contact counts over `contacts` (person_facts)


# --- the facts a policy needs --------------------------------------------------------------
# derive's work comes in groups, each giving a set of facts; a decision skips a group
# none of whose facts its policy (or the engine around it) reads. The facts in no group
# (the snapshot's own fields and flags, attributes, inputs, promise, debtor.*) cost a
# dict entry each and are always given.
LOCAL_CLOCK = frozenset({"local.hour", "local.weekday", "local.is_holiday"})  # the holiday calendar is the cost
BREATHING_SPACE_FACTS = frozenset({"breathing_space.active", "breathing_space.days_left"})
LAST_CONTACT = frozenset({"hours_since_last_contact", "hours_since_last_conversation", "last_outcome", "last_contact_channel"})
REACH = frozenset({"history.outbound_ever", "history.delivered_ever", "hours_since_last_inbound", "last_inbound_channel"})
FAILED = frozenset(path for path in FACT_TYPES if path.startswith("failed."))
COUNTERS = frozenset(path for path in FACT_TYPES if path.startswith(("contacts.", "outcomes.")))
STEPS = {f"history.{action.value.lower()}.days_since_delivered": action for action in Action if action.contacts}
# With arrangements in the snapshot, broken_promises is the engine's count of broken ones.
ARRANGEMENT = frozenset(path for path in FACT_TYPES if path.startswith("arrangement.")) | {"broken_promises"}
GROUPED = LOCAL_CLOCK | BREATHING_SPACE_FACTS | LAST_CONTACT | REACH | FAILED | COUNTERS | frozenset(STEPS) | ARRANGEMENT


@dataclass(frozen=True)
class FactNeed:
    """The work derive does for one policy: which groups of facts (decided once per
    engine, so each case pays a flag test per group) and which counters and steps."""

    local_clock: bool = True
    breathing_space: bool = True
    last_contact: bool = True
    reach: bool = True
    failed: bool = True
    arrangements: bool = True
    counting: Counting = field(default_factory=lambda: counting_of(lambda key: True))
    steps: frozenset[Action] | None = None  # the actions whose days_since_delivered is read; None: every action


def _known(path: str) -> bool:
    return path in FACT_TYPES or path.startswith((ATTRIBUTE_PREFIX, INPUT_PREFIX, EXPERIMENT_PREFIX))


def fact_need(paths: Iterable[str]) -> FactNeed | None:
    """What derive must work out to give every fact in `paths`. None (derive them all)
    when a path is neither in the catalogue nor an attribute, input or experiment:
    nothing is skipped on a guess. (A catalogue fact in no group is always derived.)"""
    read = frozenset(paths)
    if not all(_known(path) for path in read):
        return None
    return FactNeed(
        local_clock=bool(read & LOCAL_CLOCK),
        breathing_space=bool(read & BREATHING_SPACE_FACTS),
        last_contact=bool(read & LAST_CONTACT),
        reach=bool(read & REACH),
        failed=bool(read & FAILED),
        arrangements=bool(read & ARRANGEMENT),
        counting=counting_of(read.__contains__),
        steps=frozenset(action for path, action in STEPS.items() if path in read),
    )


def contact_counts(contacts: Sequence[Any], as_of: datetime, need: FactNeed | None = None) -> dict[str, Any]:
    """The facts counted over the contacts with a person: attempts per channel and
    period, outcomes, the last contact, failed deliveries, the debtor's own contacts
    (with `need`, only those it asks for)."""
    facts: dict[str, Any] = {}
    _count_into(facts, contacts, as_of, need or ALL_FACTS)
    return facts


def _count_into(facts: dict[str, Any], contacts: Sequence[Any], as_of: datetime, need: FactNeed) -> None:
    if need.counting.zero or need.last_contact:
        count_contacts(contacts, as_of, facts, need.counting, need.last_contact)
    if need.reach or need.failed:
        facts.update(reach_facts(contacts, as_of, reach=need.reach, failed=need.failed))


@dataclass(frozen=True)
class CaseContext:
    """Everything derived once per request that later stages share."""

    snapshot: CaseSnapshot
    as_of: datetime
    zones: tuple[ZoneInfo, ...]
    facts: dict[str, Any]
    language: str  # the reasons' language (snapshot.reason_language), worked out once per case
    judged: tuple[dict[str, Any], ...] | None = ()  # the verdict on each arrangement; None: not judged yet (`arrangements` judges them)
    person_contacts: Sequence[Any] = ()  # every contact with the person: caps and quiet periods count these
    posting_grace: Mapping[PaymentMethod, int] = field(default_factory=dict)

    @property
    def contacts_with_person(self) -> Sequence[Any]:
        return self.person_contacts or self.snapshot.prior_contacts

    @property
    def arrangements(self) -> tuple[dict[str, Any], ...]:
        """The verdict on each arrangement, for the trace (judged now if derive skipped them)."""
        if self.judged is not None:
            return self.judged
        return tuple(judged_arrangements(self.snapshot, self.as_of, self.zones, dict(self.posting_grace), self.snapshot.prior_contacts)[1])


def is_public_holiday(country: str, region: str | None, day: date) -> bool:
    return day in _calendar(country, region, day.year)


# Callers choose the year (through as_of), so the calendars kept are bounded:
# a few thousand (country, region, year) calendars of a dozen days each.
@lru_cache(maxsize=2048)
def _calendar(country: str, region: str | None, year: int) -> frozenset[date]:
    for subdivision in (region, None) if region else (None,):
        try:  # a region the holidays package does not know falls back to the national calendar
            return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))
        except NotImplementedError:
            continue
    return frozenset()  # no calendar for this country: no public holidays known


# The flags' facts by the flags' values: cases share a few sets (none set, the usual
# consents). Bounded: breathing-space dates make the legal flags' values many.
_FLAG_FACTS: dict[tuple[Any, ...], dict[str, bool]] = {}
_MAX_FLAG_FACTS = 4096


def flag_facts(snapshot: CaseSnapshot) -> dict[str, bool]:
    """consent.*, gdpr.* and legal.*: each true-or-false flag of the snapshot (shared: not to be changed)."""
    key = (*snapshot.consents.__dict__.values(), *snapshot.gdpr.__dict__.values(), *snapshot.legal.__dict__.values())
    found = _FLAG_FACTS.get(key)
    if found is None:
        found = {
            f"{prefix}.{name}": value
            for prefix, flags in (("consent", snapshot.consents), ("gdpr", snapshot.gdpr), ("legal", snapshot.legal))
            for name, value in flags.__dict__.items()
            if isinstance(value, bool)
        }
        if len(_FLAG_FACTS) >= _MAX_FLAG_FACTS:
            _FLAG_FACTS.clear()
        _FLAG_FACTS[key] = found
    return found


def derive(
    snapshot: CaseSnapshot, as_of: datetime, posting_grace: dict[PaymentMethod, int] | None = None, person: Person | None = None,
    need: FactNeed | None = None,
) -> CaseContext:
    """The facts of one case; with `person`, of one account of a debtor: contacts are
    counted over the person (caps, cool-offs, failed channels), steps and
    arrangements over the account. With `need` (fact_need), the work whose facts
    nobody reads is skipped: every fact given is still the value the full derive
    gives, and the needed ones are all there."""
    need = need or ALL_FACTS
    zones = possible_zones(snapshot, as_of)
    language = snapshot.reason_language
    facts: dict[str, Any] = {
        "country": snapshot.country,
        "segment": snapshot.segment,
        "currency": snapshot.currency,
        "language": language,
        "amount_due": snapshot.amount_due,
        "days_past_due": snapshot.days_past_due,
        "broken_promises": snapshot.payment.broken_promises,
        "time_zone_known": snapshot.time_zone is not None,
    }
    for name, value in (("region", snapshot.region), ("product", snapshot.product)):
        if value:
            facts[name] = value
    if snapshot.preferred_channel:
        facts["preferred_channel"] = CHANNEL_TEXT[snapshot.preferred_channel]
    facts.update(flag_facts(snapshot))
    for key, value in snapshot.attributes.items():
        facts[ATTRIBUTE_PREFIX + key] = value
    for key, item in snapshot.inputs.items():
        facts[INPUT_PREFIX + key] = input_fact(item)

    if zones:
        # With several possible zones, the first one, the debtor's most likely clock, stands for the local clock.
        local = as_of.astimezone(zones[0])
        today = local.date()
        if need.local_clock:
            facts["local.hour"] = local.hour
            facts["local.weekday"] = WEEKDAYS[local.weekday()]
            facts["local.is_holiday"] = is_public_holiday(snapshot.country, snapshot.region, today)
    else:
        today = as_of.date()

    if need.breathing_space:
        moratorium = snapshot.legal.breathing_space_start
        # Running if it runs on the local date of any zone the debtor may be in.
        running = [day for day in {as_of.astimezone(zone).date() for zone in zones} or {today} if moratorium <= day < moratorium + BREATHING_SPACE] if moratorium else []
        facts["breathing_space.active"] = bool(running)
        if running:
            facts["breathing_space.days_left"] = (moratorium + BREATHING_SPACE - min(running)).days  # type: ignore[operator]
    promise = snapshot.payment.promise_to_pay_date
    facts["promise.active"] = promise is not None and promise >= today
    if promise is not None and promise >= today:
        facts["promise.days_until"] = (promise - today).days
    if snapshot.payment.last_payment_at:
        facts["days_since_last_payment"] = (as_of - snapshot.payment.last_payment_at).days

    if person:
        facts.update(person.facts)
    else:
        _count_into(facts, snapshot.prior_contacts, as_of, need)
        facts.update(_one_account(snapshot))
    if need.steps is None or need.steps:
        facts.update(step_facts(snapshot.prior_contacts, as_of, zones, need.steps))
    facts["third_party_collector"] = snapshot.third_party_collector
    judged: tuple[dict[str, Any], ...] | None = ()
    if snapshot.arrangements and need.arrangements:
        traced = need is ALL_FACTS  # only a full derive's verdicts are read (explain's trace); others are judged again if asked
        found, verdicts = judged_arrangements(snapshot, as_of, zones, posting_grace or {}, snapshot.prior_contacts, traced)
        facts["broken_promises"] = found.pop("arrangements.broken")  # the engine's own verdict replaces the caller's counter
        facts.update(found)
        judged = tuple(verdicts) if traced else None
    elif snapshot.arrangements:  # not judged: the caller's counter is not the fact rules would see, so none is given
        del facts["broken_promises"]
        judged = None
    return CaseContext(snapshot, as_of, zones, facts, language, judged, person.contacts if person else (), posting_grace or {})


def _one_account(snapshot: CaseSnapshot) -> dict[str, Any]:
    return {"debtor.accounts": 1, "debtor.currencies": 1, "debtor.total_due": snapshot.amount_due, "debtor.worst_days_past_due": snapshot.days_past_due}


def judged_arrangements(
    snapshot: CaseSnapshot, as_of: datetime, zones: tuple[ZoneInfo, ...], posting_grace: dict[PaymentMethod, int], contacts: Sequence[Any] = (),
    traced: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The arrangement facts and verdicts on the debtor's local calendar (the first
    possible zone's date; business days skip weekends and public holidays); with
    `traced` false, the facts alone."""
    local_date: Callable[[datetime], date] = (lambda instant: instant.astimezone(zones[0]).date()) if zones else (lambda instant: instant.date())

    def is_business_day(day: date) -> bool:  # is_public_holiday without its call: this runs per day of a late plan
        return day.weekday() < 5 and day not in _calendar(snapshot.country, snapshot.region, day.year)

    return arrangement_facts(snapshot.arrangements, contacts, as_of, local_date(as_of), local_date, is_business_day, posting_grace, traced)


ALL_FACTS = FactNeed()  # derive everything: explain, the authoring tools, a policy reading a fact no group knows

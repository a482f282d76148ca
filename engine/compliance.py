"""Compliance packs at decision time: which packs are in force for a case, which
of their rules hold, and how their hours, caps and quiet periods shape a window.

Packs come from rules/compliance/ and are chosen by the case's country and
region and, when dated (`effective_from`/`effective_until`), by as_of on the
debtor's clock (docs/effective-dates.md). They add to the built-in guardrails
(engine.guardrails), which no file can remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache, reduce
from typing import Sequence, get_args
from zoneinfo import ZoneInfo

from engine.facts import CaseContext
from engine.history import is_outbound
from engine.policy.model import FlagPath
from engine.policy.ir import ALWAYS, AllOf, AnyOf, CapRule, Compare, Condition, ContactHours, GuardRule, Pack, QuietRule
from engine.vocabulary import Channel
from engine.window import BASELINE_HOURS

# The moment a decision is made: as_of and its date on the debtor's clock, what
# effective periods are judged against (engine.policy.ir.Effective).
When = tuple[datetime, date]


def when_of(as_of: datetime, zones: Sequence[ZoneInfo]) -> When:
    """as_of with its date on the debtor's most likely clock (the first possible
    zone, as the local.* facts read it; UTC when no zone is known)."""
    return as_of, as_of.astimezone(zones[0] if zones else timezone.utc).date()


@dataclass(frozen=True)
class ScopedRule:
    """A pack rule with its pack's country and region test folded into its
    condition, so that it can be matched beside the strategy's rules."""

    id: str
    condition: Condition


@dataclass(frozen=True)
class Shaping:
    """What the packs make of one channel's window."""

    hours: ContactHours
    not_before: datetime | None
    not_after: datetime | None
    constraints: tuple[tuple[str, dict[str, str]], ...]  # (rule id, reason texts)


def _scope(pack: Pack) -> Condition:
    parts: list[Condition] = []
    for path, codes in (("country", pack.countries), ("region", pack.regions)):
        if codes is not None:
            parts.append(AnyOf(tuple(Compare(path, "eq", code) for code in sorted(codes))))
    return AllOf(tuple(parts)) if parts else ALWAYS


FLAG_PATHS: tuple[str, ...] = get_args(FlagPath)


class Compliance:
    def __init__(self, packs: Sequence[Pack]):
        self.packs = tuple(packs)
        self._rules = {rule.id: rule for pack in self.packs for rule in pack.rules}
        self._order = {rule_id: index for index, rule_id in enumerate(self._rules)}
        self.scoped_rules = tuple(ScopedRule(rule.id, AllOf((_scope(pack), rule.condition))) for pack in self.packs for rule in pack.rules)
        self._placed = lru_cache(maxsize=4096)(self._for_place)
        self._placed_channel = lru_cache(maxsize=4096)(self._for_place_channel)
        self.dated = any(pack.effective for pack in self.packs)
        # Each pack rule's periods: its pack's and its own (both must hold); undated rules are absent.
        self.periods = {
            rule.id: tuple(period for period in (pack.effective, rule.effective) if period)
            for pack in self.packs
            for rule in pack.rules
            if pack.effective or rule.effective
        }

    def _for_place(self, country: str, region: str | None) -> tuple[Pack, ...]:
        return tuple(pack for pack in self.packs if pack.applies_to(country, region))

    def _for_place_channel(self, country: str, region: str | None, channel: Channel) -> ChannelRules:
        return channel_rules(self._placed(country, region), channel)

    def in_force(self, country: str, region: str | None, when: When | None = None) -> tuple[Pack, ...]:
        """The packs for a place, in force at `when`. Without `when`, every pack of
        the place whatever its dates: for tools that read the packs, not for a decision."""
        packs = self._placed(country, region)
        if when is None or not self.dated:
            return packs
        return tuple(pack for pack in packs if pack.effective is None or pack.effective.holds(*when))

    def for_case(self, context: CaseContext) -> tuple[Pack, ...]:
        """The packs in force for a case at its as_of."""
        snapshot = context.snapshot
        if not self.dated:
            return self._placed(snapshot.country, snapshot.region)
        return self.in_force(snapshot.country, snapshot.region, when_of(context.as_of, context.zones))

    def person_flags(self, country: str, region: str | None, when: When | None = None) -> frozenset[str]:
        """The flags that, set on one of a person's accounts, hold every account: all
        of them but those the packs in force scope to their account (and no pack in
        force scopes to the person)."""
        packs = self.in_force(country, region, when)
        account_only = set().union(*(pack.account_flags for pack in packs)) - set().union(*(pack.person_flags for pack in packs))
        return frozenset(FLAG_PATHS) - account_only

    def guards(self, matched_ids: Sequence[str]) -> list[GuardRule]:
        """The pack rules among the matched rule ids, in pack order."""
        ordered = sorted(filter(self._order.__contains__, matched_ids), key=self._order.__getitem__)  # no Python code per rule
        return [self._rules[rule_id] for rule_id in ordered]

    def shaping(self, context: CaseContext, channel: Channel) -> Shaping:
        """The packs' hours, caps and quiet periods for one channel, and the case's own
        limits (its preferred hours, a Breathing Space ahead) on top of them."""
        snapshot = context.snapshot
        if self.dated:
            rules = channel_rules(self.for_case(context), channel)
        else:  # the same for every case of the place: worked out once
            rules = self._placed_channel(snapshot.country, snapshot.region, channel)
        hours = rules.shaping.hours
        added: list[tuple[str, dict[str, str]]] = []
        if snapshot.preferred_hours:
            preferred = ContactHours(snapshot.preferred_hours.opens, snapshot.preferred_hours.closes, frozenset(), False)
            hours = hours.intersect(preferred)
            added.append(("debtor/preferred-hours", {"en": "Only within the hours the debtor asked to be contacted in.", "pl": "Tylko w godzinach wskazanych przez dłużnika."}))
        not_before: datetime | None = None
        for cap in rules.caps:
            release = cap_release(cap, context)
            if release:
                not_before = max(not_before or release, release)
                added.append((cap.id, cap.reason))
        for quiet in rules.quiet:
            release = quiet_release(quiet, context)
            if release and release > context.as_of:
                not_before = max(not_before or release, release)
                added.append((quiet.id, quiet.reason))
        not_after = moratorium_ahead(context)
        if not_after:
            added.append(("debtor/breathing-space-ahead", BREATHING_SPACE_AHEAD))
        if not added:  # the place's shaping as it is (most cases)
            return rules.shaping
        return Shaping(hours, not_before, not_after, rules.shaping.constraints + tuple(added))


@dataclass(frozen=True)
class ChannelRules:
    """What the packs in force say of one channel whatever the case: its hours (as
    `shaping`, with no case's limits yet), and the caps and quiet periods that may hold it back."""

    shaping: Shaping
    caps: tuple[CapRule, ...]
    quiet: tuple[QuietRule, ...]


def channel_rules(packs: Sequence[Pack], channel: Channel) -> ChannelRules:
    """The packs' rules for one channel. Fallback packs set hours only where no other pack does."""
    hours_rules = [rule for pack in packs if not pack.fallback for rule in pack.hours if channel in rule.channels]
    if not hours_rules:
        hours_rules = [rule for pack in packs if pack.fallback for rule in pack.hours if channel in rule.channels]
    hours = reduce(ContactHours.intersect, (rule.hours for rule in hours_rules)) if hours_rules else BASELINE_HOURS
    return ChannelRules(
        Shaping(hours, None, None, tuple((rule.id, rule.reason) for rule in hours_rules)),
        tuple(cap for pack in packs for cap in pack.caps if channel in cap.channels),
        tuple(quiet for pack in packs for quiet in pack.quiet if channel in quiet.channels),
    )


BREATHING_SPACE_AHEAD = {
    "en": "A Breathing Space moratorium starts soon: no contact from its first day.",
    "pl": "Wkrótce zaczyna się moratorium Breathing Space: od jego pierwszego dnia nie kontaktujemy się.",
}


def moratorium_ahead(context: CaseContext) -> datetime | None:
    """The start of a Breathing Space that has not begun yet: contact must end
    before it (the earliest local midnight among the debtor's possible zones)."""
    start = context.snapshot.legal.breathing_space_start
    if start is None:
        return None
    midnights = [datetime.combine(start, datetime.min.time(), tzinfo=zone).astimezone(timezone.utc) for zone in context.zones or (timezone.utc,)]
    first = min(midnights)
    return first if first > context.as_of else None


def cap_release(cap: CapRule, context: CaseContext) -> datetime | None:
    """When one more contact fits under the cap; None if it fits now. The debtor's
    own (inbound) contacts are not ours to count.

    Contacts are counted in the rolling period (as_of - period, as_of]; the cap
    frees a place when the oldest counted contact leaves the period.
    """
    start = context.as_of - cap.period
    counted = sorted(contact.at for contact in context.contacts_with_person if contact.channel in cap.channels and contact.at > start and is_outbound(contact))
    if len(counted) < cap.max:
        return None
    return counted[len(counted) - cap.max] + cap.period


def quiet_release(quiet: QuietRule, context: CaseContext) -> datetime | None:
    """Local midnight starting day `days + 1` after the last qualifying contact
    (that contact's day is day 1), in the latest of the debtor's possible zones."""
    last = max(
        (
            contact.at
            for contact in context.contacts_with_person
            if contact.channel in quiet.after_channels and contact.outcome in quiet.outcomes and is_outbound(contact)
        ),
        default=None,
    )
    if last is None:
        return None
    releases = []
    for zone in context.zones or (timezone.utc,):
        day = last.astimezone(zone).date() + timedelta(days=quiet.days)
        releases.append(datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(timezone.utc))
    return max(releases)



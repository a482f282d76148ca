"""What a simulation of debtors counts: per person, over the days of the run.

The humane promise is a promise to a person, not to an account: how many times
a week one person is contacted, however many accounts they have, and whether
any cap of the packs in force was exceeded for anyone. The figures per person
come from engine/authoring/simulate_debtor_run.py; this module adds them up.

Each worker tallies the persons it ran (`DebtorTally`) and the reader merges the
tallies in file order, as simulate_report.Tally does for cases: a tally holds
counts, not persons, so what comes back from a worker and what the reader adds
up is a few counters per chunk, however many persons and days it ran.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from engine.authoring.simulate_input import Invalid
from engine.authoring.simulate_report import EXAMPLES, NO_CHANNEL, action_order, channel_order, policy_of

if TYPE_CHECKING:  # the runner tallies with this module: imported at run time, the two would import each other
    from engine.authoring.simulate_debtor_run import CapSeen, PersonRun

# Persons by their number of accounts, in these groups.
ACCOUNT_GROUPS: tuple[tuple[str, int, int], ...] = (("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4-5", 4, 5), ("6-10", 6, 10), (">10", 11, 10**6))


@dataclass
class Distribution:
    """A count per person: nearest-rank percentiles, the maximum, the mean and how many persons had each count."""

    persons: int
    p50: int
    p90: int
    p99: int
    max: int
    mean: float
    histogram: dict[str, int]  # count -> persons, from 0 to the maximum


def distribution(values: Sequence[int]) -> Distribution:
    return distribution_of(Counter(values))


def distribution_of(counts: Counter[int]) -> Distribution:
    """The distribution of the values counted in `counts` (value -> persons with it)."""
    persons = sum(counts.values())
    values = sorted(value for value, count in counts.items() if count)
    ends = list(itertools.accumulate(counts[value] for value in values))  # persons with this value or less

    def rank(share: float) -> int:
        # The value at nearest rank ceil(share * persons) of the values in order.
        return values[bisect.bisect_left(ends, max(1, math.ceil(share * persons)))] if persons else 0

    top = values[-1] if values else 0
    return Distribution(
        persons, rank(0.5), rank(0.9), rank(0.99), top, round(sum(value * count for value, count in counts.items()) / persons, 3) if persons else 0.0,
        {str(count): counts[count] for count in range(top + 1)},
    )


@dataclass
class CapFigures:
    """One cap of a pack, over the persons it is in force for."""

    cap: str
    channels: list[str]
    max: int
    period_days: int
    persons: int  # persons it is in force for
    contacts: int  # contacts the run made to them on its channels
    most: int  # the most contacts on its channels with one person in one period, at a contact the run made
    persons_over: int
    contacts_over: int
    examples: list[str]  # debtor ids of persons taken over it, the first in the file


@dataclass
class ChannelFigures:
    contacts: int  # contacts the run made on it
    most_in_7_days: int  # with one person, counting their earlier contacts, at a contact the run made
    strictest_cap: str | None  # the cap in force with the fewest contacts a period, per 7 days (None: no cap on it)
    strictest_max: int | None
    strictest_period_days: int | None
    most_under_strictest: int | None  # the most with one person under that cap, in its period


@dataclass
class DebtorSimulationReport:
    debtors_file: str
    rules: str
    policy: dict[str, str]
    as_of: str
    days: int
    workers: int
    seconds: float
    total: int  # lines read
    invalid: int
    persons: int  # decided persons
    accounts: int
    persons_by_accounts: dict[str, int]  # accounts -> persons
    persons_with_several_currencies: int
    decisions: int  # persons x days
    by_action: dict[str, int]  # of the decisions
    by_channel: dict[str, int]
    by_reason: dict[str, int]  # first reason code: the deciding rule, or why nobody is contacted
    contacts: int  # contacts the run made
    contacts_covering_several_accounts: int
    contacts_per_person_week: Distribution  # the most contacts the run made with a person in any 7 days
    week_by_accounts: dict[str, Distribution]  # the same, by accounts per person (ACCOUNT_GROUPS)
    channels: dict[str, ChannelFigures]
    caps: list[CapFigures]
    persons_over_a_cap: int
    over_examples: list[dict[str, Any]]  # {debtor_id, cap, max, most, first_over}
    invalid_by_field: dict[str, int]
    invalid_examples: list[dict[str, Any]]
    actions: list[str] = field(default_factory=list)
    at_review: bool = False  # decided only when the last decision's next_review_at fell due, not every day

    @property
    def several_share(self) -> float:
        """The share of the run's contacts that covered more than one account."""
        return self.contacts_covering_several_accounts / self.contacts if self.contacts else 0.0

    def share(self, count: int) -> float:
        """A share of the decisions (persons x days)."""
        return count / self.decisions if self.decisions else 0.0

    def person_share(self, count: int) -> float:
        return count / self.persons if self.persons else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["form"] = "debtors"
        data["contacts_covering_several_accounts_share"] = round(self.several_share, 6)
        data["decisions_per_second"] = round(self.decisions / self.seconds, 1) if self.seconds else 0.0
        for key in ("by_action", "by_channel", "by_reason"):
            data[key] = {name: {"count": count, "share": round(self.share(count), 6)} for name, count in getattr(self, key).items()}
        return data


def _group(accounts: int) -> str:
    return next(label for label, low, high in ACCOUNT_GROUPS if low <= accounts <= high)


class CapTally:
    """One cap's counts over the persons it is in force for (CapFigures without the cap's rule)."""

    def __init__(self) -> None:
        self.persons = 0
        self.contacts = 0
        self.most = 0
        self.persons_over = 0
        self.contacts_over = 0
        self.examples: list[str] = []  # debtor ids of persons taken over it, the first in the file

    def add(self, debtor_id: str, seen: CapSeen) -> None:
        self.persons += 1
        self.contacts += seen.contacts
        self.most = max(self.most, seen.most)
        if seen.over:
            self.persons_over += 1
            self.contacts_over += seen.over
            if len(self.examples) < EXAMPLES:
                self.examples.append(debtor_id)

    def merge(self, later: CapTally) -> None:
        self.persons += later.persons
        self.contacts += later.contacts
        self.most = max(self.most, later.most)
        self.persons_over += later.persons_over
        self.contacts_over += later.contacts_over
        self.examples.extend(later.examples[:EXAMPLES - len(self.examples)])


class DebtorTally:
    """Adds up the persons as their runs arrive, in file order.

    A worker tallies the persons of its chunk and the reader `merge`s the chunks'
    tallies in file order: the same counts, the same examples (the first of the file)
    and the same order among ties (first seen first) as one tally of every person.
    A tally pickles (a worker sends it back): no lambdas in its defaultdicts."""

    def __init__(self) -> None:
        self.total = 0
        self.decisions = 0
        self.actions: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.invalid_fields: Counter[str] = Counter()
        self.invalid_examples: list[dict[str, Any]] = []
        self.persons = 0
        self.accounts = 0
        self.by_accounts: Counter[int] = Counter()  # accounts -> persons
        self.several_currencies = 0
        self.contacts = 0
        self.covering_several = 0
        self.week: Counter[int] = Counter()  # the most contacts in 7 days -> persons
        self.week_by_group: defaultdict[str, Counter[int]] = defaultdict(Counter)  # the same by ACCOUNT_GROUPS
        self.channel_contacts: Counter[str] = Counter()
        self.channel_most: Counter[str] = Counter()  # the most with one person in 7 days
        self.caps: dict[str, CapTally] = {}
        self.persons_over = 0  # persons taken over any cap
        self.over_persons: list[tuple[str, tuple[CapSeen, ...]]] = []  # the first of them in the file: (debtor id, caps they went over)

    def add(self, results: Sequence[PersonRun | Invalid]) -> None:
        for result in results:
            self.total += 1
            if isinstance(result, Invalid):
                self.invalid_fields[result.field] += 1
                if len(self.invalid_examples) < EXAMPLES:
                    self.invalid_examples.append(result._asdict())
            else:
                self._person(result)

    def _person(self, run: PersonRun) -> None:
        self.decisions += len(run.actions)
        self.actions.update(run.actions)
        self.channels.update(run.channels)
        self.reasons.update(run.reasons)
        self.persons += 1
        self.accounts += run.accounts
        self.by_accounts[run.accounts] += 1
        self.several_currencies += run.currencies > 1
        self.contacts += run.contacts
        self.covering_several += run.covering_several
        self.week[run.week_most] += 1
        self.week_by_group[_group(run.accounts)][run.week_most] += 1
        for channel, made, seen in run.channel_most:
            self.channel_contacts[channel] += made
            self.channel_most[channel] = max(self.channel_most[channel], seen)
        for cap in run.caps:
            self.caps.setdefault(cap.cap, CapTally()).add(run.debtor_id, cap)
        over = tuple(cap for cap in run.caps if cap.over)
        if over:
            self.persons_over += 1
            if len(self.over_persons) < EXAMPLES:
                self.over_persons.append((run.debtor_id, over))

    def merge(self, later: DebtorTally) -> None:
        """Add `later`, the tally of the persons that follow this one's in the file."""
        for name in ("total", "decisions", "persons", "accounts", "several_currencies", "contacts", "covering_several", "persons_over"):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        counters: tuple[tuple[Counter[Any], Counter[Any]], ...] = (
            (self.actions, later.actions), (self.channels, later.channels), (self.reasons, later.reasons), (self.invalid_fields, later.invalid_fields),
            (self.by_accounts, later.by_accounts), (self.week, later.week), (self.channel_contacts, later.channel_contacts),
        )
        for counts, more in counters:
            counts.update(more)  # a name first seen in `later` goes after this tally's: first seen, first among ties
        for group, week in later.week_by_group.items():
            self.week_by_group[group].update(week)
        for channel, seen in later.channel_most.items():
            self.channel_most[channel] = max(self.channel_most[channel], seen)
        for cap, counted in later.caps.items():
            self.caps.setdefault(cap, CapTally()).merge(counted)
        # Examples are the file's first ones: this tally's, then `later`'s while there is room.
        self.invalid_examples.extend(later.invalid_examples[:EXAMPLES - len(self.invalid_examples)])
        self.over_persons.extend(later.over_persons[:EXAMPLES - len(self.over_persons)])


def build_debtor_report(
    tally: DebtorTally, rules_dir: Path, path: Path, engine: Any, as_of: datetime, days: int, workers: int, seconds: float, at_review: bool = False
) -> DebtorSimulationReport:
    actions, channels = tally.actions, tally.channels
    caps = _caps(tally.caps, engine)
    return DebtorSimulationReport(
        debtors_file=str(path),
        rules=str(rules_dir),
        policy=policy_of(engine),
        as_of=as_of.isoformat(),
        days=days,
        workers=workers,
        seconds=round(seconds, 3),
        total=tally.total,
        invalid=sum(tally.invalid_fields.values()),
        persons=tally.persons,
        accounts=tally.accounts,
        persons_by_accounts={str(count): persons for count, persons in sorted(tally.by_accounts.items())},
        persons_with_several_currencies=tally.several_currencies,
        decisions=tally.decisions,
        by_action={name: actions[name] for name in action_order(actions)},
        by_channel={name: channels[name] for name in channel_order(channels)},
        by_reason=dict(tally.reasons.most_common()),
        contacts=tally.contacts,
        contacts_covering_several_accounts=tally.covering_several,
        contacts_per_person_week=distribution_of(tally.week),
        week_by_accounts={label: distribution_of(tally.week_by_group[label]) for label, _, _ in ACCOUNT_GROUPS if tally.week_by_group.get(label)},
        channels=_channels(tally.channel_contacts, tally.channel_most, caps),
        caps=caps,
        persons_over_a_cap=tally.persons_over,
        over_examples=[
            {"debtor_id": debtor_id, "cap": seen.cap, "most": seen.most, "first_over": seen.first_over}
            for debtor_id, over in tally.over_persons for seen in over
        ],
        invalid_by_field=dict(tally.invalid_fields.most_common()),
        invalid_examples=tally.invalid_examples,
        actions=action_order(actions),
        at_review=at_review,
    )


def _caps(counted: dict[str, CapTally], engine: Any) -> list[CapFigures]:
    rules = {cap.id: cap for pack in engine.compliance.packs for cap in pack.caps}
    figures = [
        CapFigures(
            name, channel_order(c.value for c in rules[name].channels), rules[name].max, rules[name].period.days,
            cap.persons, cap.contacts, cap.most, cap.persons_over, cap.contacts_over, cap.examples,
        )
        for name, cap in counted.items()
    ]
    return sorted(figures, key=lambda row: (row.max / row.period_days, row.cap))


def _channels(contacts: Counter[str], most: Counter[str], caps: Sequence[CapFigures]) -> dict[str, ChannelFigures]:
    figures = {}
    for channel in channel_order(contacts):
        if channel == NO_CHANNEL:
            continue
        # The strictest cap in force for someone: the fewest contacts per 7 days (caps is sorted so).
        strictest = next((cap for cap in caps if channel in cap.channels), None)
        figures[channel] = ChannelFigures(
            contacts[channel], most[channel],
            strictest.cap if strictest else None, strictest.max if strictest else None,
            strictest.period_days if strictest else None, strictest.most if strictest else None,
        )
    return figures

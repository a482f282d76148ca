"""What a simulation of debtors counts: per person, over the days of the run.

The humane promise is a promise to a person, not to an account: how many times
a week one person is contacted, however many accounts they have, and whether
any cap of the packs in force was exceeded for anyone. The figures per person
come from engine/authoring/simulate_debtor_run.py; this module adds them up.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from engine.authoring.simulate_debtor_run import PersonRun
from engine.authoring.simulate_input import Invalid
from engine.authoring.simulate_report import EXAMPLES, NO_CHANNEL, action_order, channel_order, policy_of

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
    ordered = sorted(values)

    def rank(share: float) -> int:
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0

    counts = Counter(ordered)
    top = ordered[-1] if ordered else 0
    return Distribution(
        len(ordered), rank(0.5), rank(0.9), rank(0.99), top, round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
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


class DebtorTally:
    """Adds up the persons as their runs arrive, in file order."""

    def __init__(self) -> None:
        self.total = 0
        self.runs: list[PersonRun] = []  # without their daily lists, which are counted as they arrive
        self.decisions = 0
        self.actions: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.invalid_fields: Counter[str] = Counter()
        self.invalid_examples: list[dict[str, Any]] = []

    def add(self, results: Sequence[PersonRun | Invalid]) -> None:
        for result in results:
            self.total += 1
            if isinstance(result, Invalid):
                self.invalid_fields[result.field] += 1
                if len(self.invalid_examples) < EXAMPLES:
                    self.invalid_examples.append(result._asdict())
            else:
                self.decisions += len(result.actions)
                self.actions.update(result.actions)
                self.channels.update(result.channels)
                self.reasons.update(result.reasons)
                self.runs.append(result._replace(actions=(), channels=(), reasons=()))


def build_debtor_report(
    tally: DebtorTally, rules_dir: Path, path: Path, engine: Any, as_of: datetime, days: int, workers: int, seconds: float, at_review: bool = False
) -> DebtorSimulationReport:
    runs, actions, channels = tally.runs, tally.actions, tally.channels
    by_group: defaultdict[str, list[int]] = defaultdict(list)
    for run in runs:
        by_group[_group(run.accounts)].append(run.week_most)
    caps = _caps(runs, engine)
    over = [run for run in runs if any(seen.over for seen in run.caps)]
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
        persons=len(runs),
        accounts=sum(run.accounts for run in runs),
        persons_by_accounts={str(count): persons for count, persons in sorted(Counter(run.accounts for run in runs).items())},
        persons_with_several_currencies=sum(1 for run in runs if run.currencies > 1),
        decisions=tally.decisions,
        by_action={name: actions[name] for name in action_order(actions)},
        by_channel={name: channels[name] for name in channel_order(channels)},
        by_reason=dict(tally.reasons.most_common()),
        contacts=sum(run.contacts for run in runs),
        contacts_covering_several_accounts=sum(run.covering_several for run in runs),
        contacts_per_person_week=distribution([run.week_most for run in runs]),
        week_by_accounts={label: distribution(by_group[label]) for label, _, _ in ACCOUNT_GROUPS if by_group[label]},
        channels=_channels(runs, caps),
        caps=caps,
        persons_over_a_cap=len(over),
        over_examples=[
            {"debtor_id": run.debtor_id, "cap": seen.cap, "most": seen.most, "first_over": seen.first_over}
            for run in over[:EXAMPLES] for seen in run.caps if seen.over
        ],
        invalid_by_field=dict(tally.invalid_fields.most_common()),
        invalid_examples=tally.invalid_examples,
        actions=action_order(actions),
        at_review=at_review,
    )


def _caps(runs: Sequence[PersonRun], engine: Any) -> list[CapFigures]:
    rules = {cap.id: cap for pack in engine.compliance.packs for cap in pack.caps}
    figures: dict[str, CapFigures] = {}
    for run in runs:
        for seen in run.caps:
            cap = rules[seen.cap]
            row = figures.setdefault(seen.cap, CapFigures(seen.cap, channel_order(c.value for c in cap.channels), cap.max, cap.period.days, 0, 0, 0, 0, 0, []))
            row.persons += 1
            row.contacts += seen.contacts
            row.most = max(row.most, seen.most)
            if seen.over:
                row.persons_over += 1
                row.contacts_over += seen.over
                if len(row.examples) < EXAMPLES:
                    row.examples.append(run.debtor_id)
    return sorted(figures.values(), key=lambda row: (row.max / row.period_days, row.cap))


def _channels(runs: Sequence[PersonRun], caps: Sequence[CapFigures]) -> dict[str, ChannelFigures]:
    contacts: Counter[str] = Counter()
    most: Counter[str] = Counter()
    for run in runs:
        for channel, made, seen in run.channel_most:
            contacts[channel] += made
            most[channel] = max(most[channel], seen)
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

"""What a simulation counts: each case's result, the tally, and the report built from it.

Shares are of the decided (valid) cases; shares among arrangements are of the
decided cases that have one. A comparison reads from the baseline (`--compare`)
to the rules under study (`--rules`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

from engine.arrangements import ArrangementState
from engine.authoring.simulate_input import Invalid
from engine.authoring.work_load import QueueLoad, WorkTally, queue_load
from engine.decision_record import data_versions
from engine.vocabulary import Action, Channel

EXAMPLES = 20  # example case ids kept per kind of change and per invalid field
NO_CHANNEL = "none"
NO_ARRANGEMENT = "none"
ARRANGEMENT_STATES = (*(state.value for state in ArrangementState), NO_ARRANGEMENT)
# The debtor paid everything due so far: the plan is performing, or done.
KEPT_STATES = (ArrangementState.PERFORMING.value, ArrangementState.COMPLETED.value)
DPD_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("<0", None, -1),
    ("0-14", 0, 14),
    ("15-30", 15, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    (">180", 181, None),
)


class Decided(NamedTuple):
    line: int
    case_id: str
    segment: str
    days_past_due: int
    action: str
    channel: str  # NO_CHANNEL when the decision has none
    rule: str  # the first reason's code: the deciding rule, or why nobody is contacted
    guardrails: tuple[str, ...]  # the guardrail of each veto
    arms: str  # the decision's experiment arms, "<experiment>:<arm>,..." or ""
    baseline_action: str | None = None  # with --compare: what the baseline rules decide
    baseline_channel: str | None = None
    arrangement: str = NO_ARRANGEMENT  # the engine's verdict on the current arrangement (arrangement.state)
    baseline_arrangement: str | None = None  # the same under the baseline's posting grace
    work_queue: str | None = None  # a review's work item: its queue, priority, and due time less as_of
    work_priority: str | None = None
    work_due_in: timedelta | None = None


@dataclass
class Change:
    before: str
    after: str
    count: int
    examples: list[str]


@dataclass
class Comparison:
    compare: str
    policy: dict[str, str]
    changed_action: int
    changed_channel: int
    changed_any: int
    action_matrix: dict[str, dict[str, int]]  # from (--compare, the baseline) -> to (--rules) -> cases
    channel_matrix: dict[str, dict[str, int]]
    action_changes: list[Change]
    channel_changes: list[Change]
    # Cases that change action, by the state of their current arrangement under --rules.
    changed_action_by_arrangement_state: dict[str, int] = field(default_factory=dict)
    # From the state under the baseline to the state under --rules: off the diagonal
    # only when the two policies declare a different posting grace.
    arrangement_matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    changed_arrangement_state: int = 0


@dataclass
class SimulationReport:
    cases_file: str
    rules: str
    policy: dict[str, str]
    as_of: str
    workers: int
    seconds: float
    total: int
    invalid: int
    by_action: dict[str, int]
    by_channel: dict[str, int]
    by_rule: dict[str, int]
    by_segment: dict[str, dict[str, int]]
    by_dpd_bucket: dict[str, dict[str, int]]
    vetoes_by_guardrail: dict[str, dict[str, int]]  # guardrail -> {"vetoes": n, "cases": m}
    by_experiment_arm: dict[str, dict[str, dict[str, int]]]  # experiment -> arm -> action -> cases
    invalid_by_field: dict[str, int]
    invalid_examples: list[dict[str, Any]]
    comparison: Comparison | None = None
    actions: list[str] = field(default_factory=list)  # every action seen, in a stable order
    by_arrangement_state: dict[str, int] = field(default_factory=dict)  # state of the current arrangement, "none" last
    by_arrangement_state_action: dict[str, dict[str, int]] = field(default_factory=dict)  # state -> action -> cases
    # The holiday and time-zone data the windows were computed with: a new release of either can move decisions.
    data_versions: dict[str, str] = field(default_factory=dict)
    # The review decisions per queue against its capacity (engine/authoring/work_load.py).
    work_queues: list[QueueLoad] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.total - self.invalid

    @property
    def cases_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    @property
    def with_arrangement(self) -> int:
        """Decided cases that have an arrangement."""
        return sum(count for state, count in self.by_arrangement_state.items() if state != NO_ARRANGEMENT)

    @property
    def kept(self) -> int:
        """Cases whose current arrangement is kept: performing or completed."""
        return sum(self.by_arrangement_state.get(state, 0) for state in KEPT_STATES)

    def share(self, count: int) -> float:
        """A share of the decided (valid) cases."""
        return count / self.decided if self.decided else 0.0

    def arrangement_share(self, count: int) -> float:
        """A share of the decided cases that have an arrangement."""
        return count / self.with_arrangement if self.with_arrangement else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided"] = self.decided
        data["cases_per_second"] = round(self.cases_per_second, 1)
        for key in ("by_action", "by_channel", "by_rule"):
            data[key] = {name: {"count": count, "share": round(self.share(count), 6)} for name, count in getattr(self, key).items()}
        data["by_arrangement_state"] = {
            state: {
                "count": count,
                "share": round(self.share(count), 6),
                "share_of_arrangements": None if state == NO_ARRANGEMENT else round(self.arrangement_share(count), 6),
            }
            for state, count in self.by_arrangement_state.items()
        }
        data["arrangements"] = {
            "cases": self.with_arrangement,
            "share": round(self.share(self.with_arrangement), 6),
            "kept": self.kept,
            "kept_share": round(self.arrangement_share(self.kept), 6),
        }
        if data["comparison"]:
            for key in ("action_changes", "channel_changes"):
                data["comparison"][key] = [{"from": c["before"], "to": c["after"], "count": c["count"], "examples": c["examples"]} for c in data["comparison"][key]]
        return data


def dpd_bucket(days_past_due: int) -> str:
    for label, low, high in DPD_BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return label
    raise AssertionError(days_past_due)


def _in_order(known: list[str]) -> Callable[[Iterable[str]], list[str]]:
    """Names in the order of `known`, any others after them by name."""
    return lambda names: sorted(set(names), key=lambda name: (known.index(name) if name in known else len(known), name))


action_order = _in_order([action.value for action in Action])
channel_order = _in_order([channel.value for channel in Channel] + [NO_CHANNEL])
arrangement_order = _in_order(list(ARRANGEMENT_STATES))


class Tally:
    """Counts results as they arrive, in file order.

    A worker tallies the rows of its chunk and the reader `merge`s the chunks' tallies
    in file order: the same counts, the same examples (the first ones of the file) and
    the same order among ties (first seen first) as one tally of every row. So the
    reader, the run's one serial part, adds up a few counters per chunk, not every row.
    A tally pickles (a helper sends it back): no lambdas in its defaultdicts."""

    def __init__(self) -> None:
        self.total = 0
        self.actions: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.segments: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.buckets: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.arrangements: defaultdict[str, Counter[str]] = defaultdict(Counter)  # state -> action -> cases
        self.vetoes: Counter[str] = Counter()
        self.vetoed_cases: Counter[str] = Counter()
        self.invalid_fields: Counter[str] = Counter()
        self.invalid_examples: list[dict[str, Any]] = []
        self.action_moves: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.channel_moves: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.action_pairs: Counter[tuple[str, str]] = Counter()
        self.channel_pairs: Counter[tuple[str, str]] = Counter()
        self.arrangement_pairs: Counter[tuple[str, str]] = Counter()
        self.moved_by_arrangement: Counter[str] = Counter()
        self.changed_any = 0
        self.arms: defaultdict[str, defaultdict[str, Counter[str]]] = defaultdict(partial(defaultdict, Counter))
        self.work = WorkTally()

    def add(self, results: list[Decided | Invalid]) -> None:
        for result in results:
            self.total += 1
            if isinstance(result, Invalid):
                self._invalid(result)
            else:
                self._decided(result)

    def merge(self, later: Tally) -> None:
        """Add `later`, the tally of the rows that follow this one's in the file."""
        self.total += later.total
        self.changed_any += later.changed_any
        counters: tuple[tuple[Counter[Any], Counter[Any]], ...] = (
            (self.actions, later.actions), (self.channels, later.channels), (self.rules, later.rules), (self.vetoes, later.vetoes),
            (self.vetoed_cases, later.vetoed_cases), (self.invalid_fields, later.invalid_fields), (self.action_pairs, later.action_pairs),
            (self.channel_pairs, later.channel_pairs), (self.arrangement_pairs, later.arrangement_pairs),
            (self.moved_by_arrangement, later.moved_by_arrangement),
        )
        for counts, more in counters:
            counts.update(more)  # a name first seen in `later` goes after this tally's: first seen, first among ties
        for rows, more_rows in ((self.segments, later.segments), (self.buckets, later.buckets), (self.arrangements, later.arrangements)):
            for row, more in more_rows.items():
                rows[row].update(more)
        for experiment, arms in later.arms.items():
            for arm, more in arms.items():
                self.arms[experiment][arm].update(more)
        # Examples are the file's first ones: this tally's, then `later`'s while there is room.
        self.invalid_examples.extend(later.invalid_examples[:EXAMPLES - len(self.invalid_examples)])
        for moves, more_moves in ((self.action_moves, later.action_moves), (self.channel_moves, later.channel_moves)):
            for pair, cases in more_moves.items():
                moves[pair].extend(cases[:EXAMPLES - len(moves[pair])])
        self.work.merge(later.work)

    def _invalid(self, result: Invalid) -> None:
        self.invalid_fields[result.field] += 1
        if len(self.invalid_examples) < EXAMPLES:
            self.invalid_examples.append(result._asdict())

    def _decided(self, result: Decided) -> None:
        self.actions[result.action] += 1
        self.channels[result.channel] += 1
        self.rules[result.rule] += 1
        self.segments[result.segment][result.action] += 1
        self.buckets[dpd_bucket(result.days_past_due)][result.action] += 1
        self.arrangements[result.arrangement][result.action] += 1
        self.vetoes.update(result.guardrails)
        self.vetoed_cases.update(set(result.guardrails))
        self.work.add(result.action, result.work_queue, result.work_priority, result.work_due_in)
        for arm in filter(None, result.arms.split(",")):
            experiment, _, name = arm.partition(":")
            self.arms[experiment][name][result.action] += 1
        if result.baseline_action is None or result.baseline_channel is None:
            return
        # From the baseline (--compare) to the rules under study (--rules).
        self._compare(result, (result.baseline_action, result.action), (result.baseline_channel, result.channel))

    def _compare(self, result: Decided, action: tuple[str, str], channel: tuple[str, str]) -> None:
        self.action_pairs[action] += 1
        self.channel_pairs[channel] += 1
        self.arrangement_pairs[(result.baseline_arrangement or result.arrangement, result.arrangement)] += 1
        self.moved_by_arrangement[result.arrangement] += action[0] != action[1]
        for pair, moves in ((action, self.action_moves), (channel, self.channel_moves)):
            if pair[0] != pair[1] and len(moves[pair]) < EXAMPLES:
                moves[pair].append(result.case_id)
        self.changed_any += action[0] != action[1] or channel[0] != channel[1]

    def comparison(self, compare: str, policy: dict[str, str]) -> Comparison:
        return Comparison(
            compare=compare,
            policy=policy,
            changed_action=sum(count for (before, after), count in self.action_pairs.items() if before != after),
            changed_channel=sum(count for (before, after), count in self.channel_pairs.items() if before != after),
            changed_any=self.changed_any,
            action_matrix=_matrix(self.action_pairs, action_order),
            channel_matrix=_matrix(self.channel_pairs, channel_order),
            action_changes=_changes(self.action_pairs, self.action_moves),
            channel_changes=_changes(self.channel_pairs, self.channel_moves),
            changed_action_by_arrangement_state={state: self.moved_by_arrangement[state] for state in arrangement_order(self.moved_by_arrangement)},
            arrangement_matrix=_matrix(self.arrangement_pairs, arrangement_order),
            changed_arrangement_state=sum(count for (before, after), count in self.arrangement_pairs.items() if before != after),
        )


def _matrix(pairs: Counter[tuple[str, str]], order: Callable[[Iterable[str]], list[str]]) -> dict[str, dict[str, int]]:
    names = order([name for pair in pairs for name in pair])
    return {before: {after: pairs[(before, after)] for after in names if pairs[(before, after)]} for before in names if any(pairs[(before, after)] for after in names)}


def _changes(pairs: Counter[tuple[str, str]], moves: dict[tuple[str, str], list[str]]) -> list[Change]:
    changed = [(pair, count) for pair, count in pairs.items() if pair[0] != pair[1]]
    changed.sort(key=lambda item: (-item[1], item[0]))
    return [Change(before, after, count, moves[(before, after)]) for (before, after), count in changed]


def _ordered_matrix(rows: dict[str, Counter[str]], row_order: list[str]) -> dict[str, dict[str, int]]:
    """Rows in the given order, actions within a row in the ladder's order."""
    return {row: {action: rows[row][action] for action in action_order(rows[row])} for row in row_order if row in rows}


def policy_of(engine: Any) -> dict[str, str]:
    ref = engine.ref
    return {"name": ref.name, "version": ref.version, "hash": ref.hash}


def build_report(
    tally: Tally, rules_dir: Path, cases_path: Path, compare_dir: Path | None, engines: tuple[Any, Any], as_of: datetime, workers: int, seconds: float
) -> SimulationReport:
    buckets = [label for label, _, _ in DPD_BUCKETS]
    segments = sorted(tally.segments, key=lambda name: (-sum(tally.segments[name].values()), name))
    states = arrangement_order(tally.arrangements)
    return SimulationReport(
        cases_file=str(cases_path),
        rules=str(rules_dir),
        policy=policy_of(engines[0]),
        data_versions=data_versions(),
        as_of=as_of.isoformat(),
        workers=workers,
        seconds=round(seconds, 3),
        total=tally.total,
        invalid=sum(tally.invalid_fields.values()),
        by_action={name: tally.actions[name] for name in action_order(tally.actions)},
        by_channel={name: tally.channels[name] for name in channel_order(tally.channels)},
        by_rule=dict(tally.rules.most_common()),
        by_segment=_ordered_matrix(tally.segments, segments),
        by_dpd_bucket=_ordered_matrix(tally.buckets, buckets),
        vetoes_by_guardrail={name: {"vetoes": count, "cases": tally.vetoed_cases[name]} for name, count in tally.vetoes.most_common()},
        by_experiment_arm={experiment: _ordered_matrix(arms, sorted(arms)) for experiment, arms in sorted(tally.arms.items())},
        invalid_by_field=dict(tally.invalid_fields.most_common()),
        invalid_examples=tally.invalid_examples,
        comparison=tally.comparison(str(compare_dir), policy_of(engines[1])) if compare_dir and engines[1] else None,
        actions=action_order(list(tally.actions) + [name for pair in tally.action_pairs for name in pair]),
        by_arrangement_state={state: sum(tally.arrangements[state].values()) for state in states},
        by_arrangement_state_action=_ordered_matrix(tally.arrangements, states),
        work_queues=queue_load(tally.work, engines[0].work_plan, tally.total - sum(tally.invalid_fields.values())),
    )

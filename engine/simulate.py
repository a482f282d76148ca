"""Simulate: decide a whole portfolio with a rules directory and count what happens.

Analysts use it before a change goes live: how many cases get which action, on
which channel, at which stage, what the guardrails stop, and (with `--compare
OLD_RULES`) exactly which cases the change moves, from what OLD_RULES decide to
what `--rules` decide. Every case is decided at the
same `as_of`, so two runs over the same file agree. See docs/simulate.md.

The engine's durable_rules C code never releases the GIL, so the work is spread
over processes (spawn, so no worker inherits a half-initialised C engine), each
building its engine once and deciding cases in chunks.
"""

from __future__ import annotations

import argparse
import csv
import html
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
import types
import typing
from collections import Counter, defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple, Union

from pydantic import BaseModel

from engine.errors import InvalidSnapshot, PolicyError
from engine.registry import build_engine
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel

CHUNK = 500  # cases per task: large enough that pickling is cheap next to deciding
EXAMPLES = 20  # example case ids kept per kind of change and per invalid field
NO_CHANNEL = "none"
DPD_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("<0", None, -1),
    ("0-14", 0, 14),
    ("15-30", 15, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    (">180", 181, None),
)


# --- what one case becomes ----------------------------------------------------------------------


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


class Invalid(NamedTuple):
    line: int
    case_id: str | None
    field: str
    problem: str


Payload = Union[str, dict[str, Any], Invalid]  # a JSON line, a CSV row made a snapshot dict, or already refused


# --- reading cases ------------------------------------------------------------------------------


_GROUP_PREFIX = {"consents": "consent_", "gdpr": "gdpr_", "legal": "legal_", "payment": ""}
_NOT_IN_CSV = ("prior_contacts", "attributes")  # a list and a free-form map: JSON Lines only, or attr_<name>
ATTRIBUTE_PREFIX = "attr_"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is Union else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def csv_columns() -> dict[str, tuple[str, ...]]:
    """CSV column -> path in the snapshot, derived from the snapshot model so new flags appear by themselves."""
    columns: dict[str, tuple[str, ...]] = {}
    for name, spec in CaseSnapshot.model_fields.items():
        if name in _NOT_IN_CSV:
            continue
        model = _nested_model(spec.annotation)
        if model is None:
            columns[name] = (name,)
            continue
        prefix = _GROUP_PREFIX.get(name, f"{name}_")
        for inner in model.model_fields:
            columns[prefix + inner] = (name, inner)
    return columns


def case_from_row(row: dict[str, str], columns: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A snapshot dict from a CSV row. Empty cells are left out (the default applies);
    text is passed on as it is, so the snapshot's own validation names a bad cell."""
    case: dict[str, Any] = {}
    for column, text in row.items():
        if text is None or text.strip() == "":
            continue
        if column.startswith(ATTRIBUTE_PREFIX):
            case.setdefault("attributes", {})[column[len(ATTRIBUTE_PREFIX):]] = text.strip()
            continue
        path = columns[column]
        target = case
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = text.strip()
    return case


def row_from_case(case: dict[str, Any], columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The CSV row of a snapshot dict (prior contacts are not carried)."""
    row: dict[str, str] = {}
    for column, path in columns.items():
        value: Any = case
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            row[column] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for key, value in (case.get("attributes") or {}).items():
        row[ATTRIBUTE_PREFIX + key] = str(value)
    return row


def _read_csv(path: Path) -> Iterator[tuple[int, Payload]]:
    columns = csv_columns()
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel writes a BOM
        reader = csv.DictReader(handle)
        unknown = [name for name in reader.fieldnames or () if name not in columns and not name.startswith(ATTRIBUTE_PREFIX)]
        if unknown:
            # A misspelt header would silently drop a flag for every case: refuse the file.
            raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(columns)} and attr_<name>")
        if "case_id" not in (reader.fieldnames or ()):
            raise ValueError(f"{path}: the header has no case_id column")
        for row in reader:
            line = reader.line_num
            if None in row:
                yield line, Invalid(line, row.get("case_id"), "row", "has more cells than the header")
                continue
            yield line, case_from_row(row, columns)


def _read_json_lines(path: Path) -> Iterator[tuple[int, Payload]]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield line, text  # parsed in the worker, in parallel


def read_cases(path: Path) -> Iterator[tuple[int, Payload]]:
    """(line number, case) for every case of a JSON Lines or CSV file (by its suffix)."""
    return _read_csv(path) if path.suffix.lower() == ".csv" else _read_json_lines(path)


def _chunks(items: Iterator[tuple[int, Payload]], workers: int) -> Iterator[list[tuple[int, Payload]]]:
    head = list(itertools.islice(items, workers * CHUNK))
    # A small file is shared evenly, so that every worker helps.
    size = CHUNK if len(head) == workers * CHUNK else max(1, math.ceil(len(head) / workers))
    for start in range(0, len(head), size):
        yield head[start:start + size]
    while batch := list(itertools.islice(items, CHUNK)):
        yield batch


# --- deciding (in the workers) ------------------------------------------------------------------


class _Decider:
    def __init__(self, rules_dir: Path, compare_dir: Path | None, as_of: datetime, engines: tuple[Any, Any] | None = None):
        self.engine, self.other = engines or (build_engine(rules_dir), build_engine(compare_dir) if compare_dir else None)
        self.as_of = as_of

    def chunk(self, items: list[tuple[int, Payload]]) -> list[Decided | Invalid]:
        return [self.one(line, payload) for line, payload in items]

    def one(self, line: int, payload: Payload) -> Decided | Invalid:
        if isinstance(payload, Invalid):
            return payload
        data: Any = payload
        if isinstance(payload, str):
            try:
                data = json.loads(payload)
            except json.JSONDecodeError as error:
                return Invalid(line, None, "line", f"not valid JSON: {error.msg} (column {error.colno})")
        if not isinstance(data, dict):
            return Invalid(line, None, "line", "is not a JSON object (one case per line)")
        case_id = data.get("case_id") if isinstance(data.get("case_id"), str) else None
        try:
            snapshot = parse_snapshot(data, self.as_of)
        except InvalidSnapshot as error:
            first = error.problems[0]
            return Invalid(line, case_id, first.field, first.description)
        except (ValueError, TypeError) as error:  # a shape validation did not foresee: still one bad case, not a dead worker
            return Invalid(line, case_id, "case", str(error))
        decision = self.engine.decide(snapshot, self.as_of)
        result = Decided(
            line,
            snapshot.case_id,
            snapshot.segment,
            snapshot.days_past_due,
            decision.action,
            decision.channel.value if decision.channel else NO_CHANNEL,
            decision.reasons[0].code if decision.reasons else "",
            tuple(veto.guardrail for veto in decision.vetoes),
            getattr(decision, "experiment_arm", "") or "",
        )
        if self.other is None:
            return result
        other = self.other.decide(snapshot, self.as_of)
        return result._replace(baseline_action=other.action, baseline_channel=other.channel.value if other.channel else NO_CHANNEL)


_worker: _Decider | None = None


def _start_worker(rules_dir: str, compare_dir: str | None, as_of: datetime) -> None:
    global _worker
    _worker = _Decider(Path(rules_dir), Path(compare_dir) if compare_dir else None, as_of)


def _decide_chunk(items: list[tuple[int, Payload]]) -> list[Decided | Invalid]:
    assert _worker is not None, "the worker was not started"
    return _worker.chunk(items)


# --- the report ---------------------------------------------------------------------------------


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

    @property
    def decided(self) -> int:
        return self.total - self.invalid

    @property
    def cases_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def share(self, count: int) -> float:
        """A share of the decided (valid) cases."""
        return count / self.decided if self.decided else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided"] = self.decided
        data["cases_per_second"] = round(self.cases_per_second, 1)
        for key in ("by_action", "by_channel", "by_rule"):
            data[key] = {name: {"count": count, "share": round(self.share(count), 6)} for name, count in getattr(self, key).items()}
        if data["comparison"]:
            for key in ("action_changes", "channel_changes"):
                data["comparison"][key] = [{"from": c["before"], "to": c["after"], "count": c["count"], "examples": c["examples"]} for c in data["comparison"][key]]
        return data


def dpd_bucket(days_past_due: int) -> str:
    for label, low, high in DPD_BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return label
    raise AssertionError(days_past_due)


def _action_order(actions: Iterable[str]) -> list[str]:
    known = [action.value for action in Action]
    return sorted(set(actions), key=lambda action: (known.index(action) if action in known else len(known), action))


def _channel_order(channels: Iterable[str]) -> list[str]:
    known = [channel.value for channel in Channel] + [NO_CHANNEL]
    return sorted(set(channels), key=lambda channel: (known.index(channel) if channel in known else len(known), channel))


class _Tally:
    """Counts results as they arrive, in file order."""

    def __init__(self) -> None:
        self.total = 0
        self.actions: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.segments: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.buckets: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.vetoes: Counter[str] = Counter()
        self.vetoed_cases: Counter[str] = Counter()
        self.invalid_fields: Counter[str] = Counter()
        self.invalid_examples: list[dict[str, Any]] = []
        self.action_moves: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.channel_moves: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.action_pairs: Counter[tuple[str, str]] = Counter()
        self.channel_pairs: Counter[tuple[str, str]] = Counter()
        self.changed_any = 0
        self.arms: defaultdict[str, defaultdict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))

    def add(self, results: list[Decided | Invalid]) -> None:
        for result in results:
            self.total += 1
            if isinstance(result, Invalid):
                self._invalid(result)
            else:
                self._decided(result)

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
        self.vetoes.update(result.guardrails)
        self.vetoed_cases.update(set(result.guardrails))
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
            action_matrix=_matrix(self.action_pairs, _action_order),
            channel_matrix=_matrix(self.channel_pairs, _channel_order),
            action_changes=_changes(self.action_pairs, self.action_moves),
            channel_changes=_changes(self.channel_pairs, self.channel_moves),
        )


def _matrix(pairs: Counter[tuple[str, str]], order: Any) -> dict[str, dict[str, int]]:
    names = order([name for pair in pairs for name in pair])
    return {before: {after: pairs[(before, after)] for after in names if pairs[(before, after)]} for before in names if any(pairs[(before, after)] for after in names)}


def _changes(pairs: Counter[tuple[str, str]], moves: dict[tuple[str, str], list[str]]) -> list[Change]:
    changed = [(pair, count) for pair, count in pairs.items() if pair[0] != pair[1]]
    changed.sort(key=lambda item: (-item[1], item[0]))
    return [Change(before, after, count, moves[(before, after)]) for (before, after), count in changed]


def _ordered_matrix(rows: dict[str, Counter[str]], row_order: list[str]) -> dict[str, dict[str, int]]:
    """Rows in the given order, actions within a row in the ladder's order."""
    return {row: {action: rows[row][action] for action in _action_order(rows[row])} for row in row_order if row in rows}


def _policy(engine: Any) -> dict[str, str]:
    ref = engine.ref
    return {"name": ref.name, "version": ref.version, "hash": ref.hash}


# --- running ------------------------------------------------------------------------------------


def simulate(
    rules_dir: Path,
    cases_path: Path,
    compare_dir: Path | None = None,
    workers: int | None = os.cpu_count(),
    as_of: datetime | None = None,
) -> SimulationReport:
    """Decide every case of `cases_path` with `rules_dir` (and `compare_dir`) at one instant.

    Raises PolicyError when a rules directory does not load, ValueError or OSError
    when the file cannot be read; an invalid case is only counted.
    """
    as_of = as_of or datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone offset")
    workers = max(1, workers or 1)
    started = time.perf_counter()
    # Build here first: a rules directory that does not load fails before any worker starts.
    engines = (build_engine(rules_dir), build_engine(compare_dir) if compare_dir else None)
    tally = _Tally()
    chunks = _chunks(read_cases(cases_path), workers)
    if workers == 1:
        decider = _Decider(rules_dir, compare_dir, as_of, engines)
        for chunk in chunks:
            tally.add(decider.chunk(chunk))
    else:
        initargs = (str(rules_dir), str(compare_dir) if compare_dir else None, as_of)
        # An executor, not a Pool: a worker that dies raises BrokenProcessPool instead of hanging.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=initargs) as pool:
            for results in _in_order(pool, chunks, depth=4 * workers):
                tally.add(results)
    return _report(tally, rules_dir, cases_path, compare_dir, engines, as_of, workers, time.perf_counter() - started)


def _in_order(pool: ProcessPoolExecutor, chunks: Iterator[list[tuple[int, Payload]]], depth: int) -> Iterator[list[Decided | Invalid]]:
    """Results in file order (so examples are the file's first cases), with at most
    `depth` chunks in flight, so a large file is never all in memory."""
    pending: deque[Future[list[Decided | Invalid]]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(_decide_chunk, chunk))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _report(
    tally: _Tally, rules_dir: Path, cases_path: Path, compare_dir: Path | None, engines: tuple[Any, Any], as_of: datetime, workers: int, seconds: float
) -> SimulationReport:
    buckets = [label for label, _, _ in DPD_BUCKETS]
    segments = sorted(tally.segments, key=lambda name: (-sum(tally.segments[name].values()), name))
    return SimulationReport(
        cases_file=str(cases_path),
        rules=str(rules_dir),
        policy=_policy(engines[0]),
        as_of=as_of.isoformat(),
        workers=workers,
        seconds=round(seconds, 3),
        total=tally.total,
        invalid=sum(tally.invalid_fields.values()),
        by_action={name: tally.actions[name] for name in _action_order(tally.actions)},
        by_channel={name: tally.channels[name] for name in _channel_order(tally.channels)},
        by_rule=dict(tally.rules.most_common()),
        by_segment=_ordered_matrix(tally.segments, segments),
        by_dpd_bucket=_ordered_matrix(tally.buckets, buckets),
        vetoes_by_guardrail={name: {"vetoes": count, "cases": tally.vetoed_cases[name]} for name, count in tally.vetoes.most_common()},
        by_experiment_arm={experiment: _ordered_matrix(arms, sorted(arms)) for experiment, arms in sorted(tally.arms.items())},
        invalid_by_field=dict(tally.invalid_fields.most_common()),
        invalid_examples=tally.invalid_examples,
        comparison=tally.comparison(str(compare_dir), _policy(engines[1])) if compare_dir and engines[1] else None,
        actions=_action_order(list(tally.actions) + [name for pair in tally.action_pairs for name in pair]),
    )


# --- the text summary ---------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{share * 100:5.1f}%"


def _table(title: str, counts: dict[str, int], report: SimulationReport) -> list[str]:
    width = max([len(title), *map(len, counts)]) + 2
    lines = [f"{title:<{width}}{'cases':>9}  {'share':>6}"]
    lines += [f"{name:<{width}}{count:>9,}  {_pct(report.share(count))}" for name, count in counts.items()]
    return lines


def _mix(rows: dict[str, dict[str, int]], title: str) -> list[str]:
    lines = [title]
    width = max(map(len, rows), default=0) + 2
    for row, counts in rows.items():
        total = sum(counts.values())
        top = sorted(counts.items(), key=lambda item: -item[1])[:4]
        lines.append(f"  {row:<{width}}{total:>8,}  " + ", ".join(f"{action} {count / total:.0%}" for action, count in top))
    return lines


def format_summary(report: SimulationReport) -> str:
    policy = report.policy
    lines = [
        f"Simulated {report.total:,} cases from {report.cases_file} with {report.rules} ({policy['name']} {policy['version']}) as of {report.as_of}",
        f"  decided {report.decided:,}, invalid {report.invalid:,}; {report.workers} worker(s), {report.seconds:.1f} s, {report.cases_per_second:,.0f} cases/s",
    ]
    if report.invalid:
        lines.append("  invalid cases by first bad field: " + ", ".join(f"{name} {count:,}" for name, count in report.invalid_by_field.items()))
        lines += [f"    line {item['line']}: {item['field']}: {item['problem']}" for item in report.invalid_examples[:5]]
    lines += ["", *_table("action", report.by_action, report), "", *_table("channel", report.by_channel, report)]
    lines += ["", *_mix(report.by_dpd_bucket, "by days past due (cases, top actions)"), "", *_mix(report.by_segment, "by segment (cases, top actions)")]
    if report.vetoes_by_guardrail:
        width = max(len("vetoes by guardrail"), *map(len, report.vetoes_by_guardrail)) + 2
        lines += ["", f"{'vetoes by guardrail':<{width}}{'vetoes':>9}{'cases':>9}"]
        lines += [f"{name:<{width}}{item['vetoes']:>9,}{item['cases']:>9,}" for name, item in report.vetoes_by_guardrail.items()]
    for experiment, arms in report.by_experiment_arm.items():
        lines += ["", *_mix(arms, f"experiment {experiment} by arm (cases, top actions)")]
    if report.comparison:
        lines += ["", *_comparison_lines(report, report.comparison)]
    return "\n".join(lines)


def _comparison_lines(report: SimulationReport, comparison: Comparison) -> list[str]:
    other = comparison.policy
    lines = [
        f"compared with the baseline {comparison.compare} ({other['name']} {other['version']}); changes read from baseline -> {report.rules}:",
        f"  {comparison.changed_action:,} cases ({_pct(report.share(comparison.changed_action)).strip()}) change action, "
        f"{comparison.changed_channel:,} change channel, {comparison.changed_any:,} change either",
    ]
    for title, changes in (("action", comparison.action_changes), ("channel", comparison.channel_changes)):
        if changes:
            lines.append(f"  {title} changes (from -> to):")
            width = max(len(f"{change.before} -> {change.after}") for change in changes) + 2
            for change in changes:
                label = f"{change.before} -> {change.after}"
                lines.append(f"    {label:<{width}}{change.count:>8,}  e.g. {', '.join(change.examples[:3])}")
    return lines


# --- the HTML page ------------------------------------------------------------------------------

_PALETTE = {
    "SEND_REMINDER": "#4e79a7", "CALL": "#f28e2b", "OFFER_PAYMENT_PLAN": "#59a14f", "OFFER_SETTLEMENT": "#76b7b2",
    "FINAL_NOTICE": "#edc948", "LEGAL_REVIEW": "#e15759", "HUMAN_REVIEW": "#b07aa1", "NO_CONTACT": "#9c9c9c",
}
_SPARE = ("#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d")
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}td.moved{background:#fdecea;font-weight:600}
.meta{color:#555}.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
svg text{font:12px system-ui,sans-serif;fill:#222}code{font-size:.9em}details{margin:.4rem 0}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _colours(actions: list[str]) -> dict[str, str]:
    spare = itertools.cycle(_SPARE)
    return {action: _PALETTE.get(action) or next(spare) for action in actions}


def _label_width(labels: Iterable[str]) -> int:
    # About 7 px per character of 12 px text, so long guardrail names are not cut off.
    return min(420, max(90, 7 * max(map(len, labels), default=0) + 16))


def _svg_open(title: str, width: float, height: int) -> str:
    return f'<svg role="img" aria-label="{_esc(title)}" width="{width:.0f}" height="{height}" viewBox="0 0 {width:.0f} {height}" style="max-width:100%;height:auto">'


def _bar_chart(title: str, counts: dict[str, int], total: int, colour: str | dict[str, str] = "#4e79a7") -> str:
    """Horizontal bars, one per row, labelled with count and share."""
    label_width, bar_room, row = _label_width(counts), 560, 24
    height = row * len(counts) + 8
    most = max(counts.values(), default=0) or 1
    parts = [_svg_open(title, label_width + bar_room + 110, height)]
    for index, (name, count) in enumerate(counts.items()):
        y = index * row + 4
        width = count / most * bar_room
        fill = colour.get(name, "#4e79a7") if isinstance(colour, dict) else colour
        share = f"{count / total:.1%}" if total else "-"
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{_esc(name)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{row - 6}" fill="{fill}"><title>{_esc(name)}: {count:,} ({share})</title></rect>')
        parts.append(f'<text x="{label_width + width + 6:.1f}" y="{y + 15}">{count:,} ({share})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stacked_chart(title: str, rows: dict[str, dict[str, int]], colours: dict[str, str]) -> str:
    """One full-width bar per row, split by action in proportion to its cases."""
    label_width, bar_room, row = _label_width(rows), 720, 26
    height = row * len(rows) + 8
    parts = [_svg_open(title, label_width + bar_room + 90, height)]
    for index, (name, counts) in enumerate(rows.items()):
        y, x, total = index * row + 4, float(label_width), sum(counts.values())
        parts.append(f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{_esc(name)}</text>')
        for action, count in counts.items():
            width = count / total * bar_room if total else 0
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row - 6}" fill="{colours[action]}"><title>{_esc(name)}: {_esc(action)} {count:,} ({count / total:.1%})</title></rect>')
            x += width
        parts.append(f'<text x="{label_width + bar_room + 6}" y="{y + 16}">{total:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(colours: dict[str, str]) -> str:
    return '<p class="legend">' + "".join(f'<span><i style="background:{colour}"></i>{_esc(action)}</span>' for action, colour in colours.items()) + "</p>"


def _count_table(heading: str, counts: dict[str, int], total: int) -> str:
    rows = "".join(f"<tr><td>{_esc(name)}</td><td>{count:,}</td><td>{count / total:.1%}</td></tr>" if total else "" for name, count in counts.items())
    return f"<table><thead><tr><th>{_esc(heading)}</th><th>cases</th><th>share</th></tr></thead><tbody>{rows}</tbody></table>"


def _matrix_table(heading: str, rows: dict[str, dict[str, int]], columns: list[str], moved: bool = False) -> str:
    head = "".join(f"<th>{_esc(column)}</th>" for column in columns)
    body = ""
    for name, counts in rows.items():
        cells = "".join(
            f'<td{" class=moved" if moved and column != name and counts.get(column) else ""}>{counts.get(column, 0):,}</td>' for column in columns
        )
        body += f"<tr><td>{_esc(name)}</td>{cells}<td>{sum(counts.values()):,}</td></tr>"
    return f"<table><thead><tr><th>{_esc(heading)}</th>{head}<th>all</th></tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>{''.join(parts)}</section>"


def render_html(report: SimulationReport) -> str:
    """A self-contained page: inline SVG charts, each followed by its table; no script, no external file."""
    colours = _colours(report.actions)
    policy = report.policy
    sections = [
        _section("Actions", _bar_chart("cases by action", report.by_action, report.decided, colours), _count_table("action", report.by_action, report.decided)),
        _section("Channels", _bar_chart("cases by channel", report.by_channel, report.decided), _count_table("channel", report.by_channel, report.decided)),
        _section(
            "Actions by days past due",
            _legend(colours),
            _stacked_chart("actions by days past due", report.by_dpd_bucket, colours),
            _matrix_table("days past due", report.by_dpd_bucket, report.actions),
        ),
        _section(
            "Actions by segment", _legend(colours), _stacked_chart("actions by segment", report.by_segment, colours), _matrix_table("segment", report.by_segment, report.actions)
        ),
        _section("Deciding rule", _count_table("rule or reason", report.by_rule, report.decided)),
    ]
    if report.vetoes_by_guardrail:
        cases = {name: item["cases"] for name, item in report.vetoes_by_guardrail.items()}
        rows = "".join(f"<tr><td>{_esc(name)}</td><td>{item['vetoes']:,}</td><td>{item['cases']:,}</td></tr>" for name, item in report.vetoes_by_guardrail.items())
        sections.append(
            _section(
                "Guardrail vetoes",
                "<p>Cases in which each guardrail removed a candidate or a channel (a case can be vetoed by several).</p>",
                _bar_chart("cases vetoed by guardrail", cases, report.decided, "#e15759"),
                f"<table><thead><tr><th>guardrail</th><th>vetoes</th><th>cases</th></tr></thead><tbody>{rows}</tbody></table>",
            )
        )
    for experiment, arms in report.by_experiment_arm.items():
        sections.append(
            _section(f"Experiment {experiment}", _legend(colours), _stacked_chart(f"actions by arm of {experiment}", arms, colours), _matrix_table("arm", arms, report.actions))
        )
    if report.comparison:
        sections.append(_comparison_html(report, report.comparison, colours))
    if report.invalid:
        sections.append(_invalid_html(report))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Simulation: {_esc(policy['name'])} {_esc(policy['version'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>Simulation of {_esc(policy['name'])} {_esc(policy['version'])}</h1>"
        f'<p class="meta">{report.total:,} cases from <code>{_esc(report.cases_file)}</code> with <code>{_esc(report.rules)}</code> '
        f"(policy hash {_esc(policy['hash'])}), all decided as of {_esc(report.as_of)}: {report.decided:,} decided, {report.invalid:,} invalid. "
        f"Shares are of the decided cases.</p>{''.join(sections)}</body></html>\n"
    )


def _comparison_html(report: SimulationReport, comparison: Comparison, colours: dict[str, str]) -> str:
    other = comparison.policy
    summary = (
        f"<p>Compared with <code>{_esc(comparison.compare)}</code> ({_esc(other['name'])} {_esc(other['version'])}, hash {_esc(other['hash'])}): "
        f"<strong>{comparison.changed_action:,}</strong> cases ({report.share(comparison.changed_action):.1%}) change action, "
        f"{comparison.changed_channel:,} change channel, {comparison.changed_any:,} change either. Rows: what the baseline <code>{_esc(comparison.compare)}</code> decides; "
        f"columns: what <code>{_esc(report.rules)}</code> decides.</p>"
    )
    action_columns = _action_order(name for row in comparison.action_matrix.values() for name in row)
    channel_columns = _channel_order(name for row in comparison.channel_matrix.values() for name in row)
    moves = {f"{change.before} → {change.after}": change.count for change in comparison.action_changes}
    parts = [summary]
    if moves:
        parts.append(_bar_chart("cases by action change", moves, report.decided, "#e15759"))
    parts += [
        "<h3>Action: from → to</h3>",
        _matrix_table("from \\ to", comparison.action_matrix, action_columns, moved=True),
        "<h3>Channel: from → to</h3>",
        _matrix_table("from \\ to", comparison.channel_matrix, channel_columns, moved=True),
        _examples_html("Example cases per action change", comparison.action_changes),
        _examples_html("Example cases per channel change", comparison.channel_changes),
    ]
    return _section("What the change moves", *parts)


def _examples_html(title: str, changes: list[Change]) -> str:
    if not changes:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(change.before)} → {_esc(change.after)}</td><td>{change.count:,}</td><td>{_esc(', '.join(change.examples))}</td></tr>" for change in changes
    )
    return f"<h3>{_esc(title)}</h3><table><thead><tr><th>change</th><th>cases</th><th>examples (up to {EXAMPLES})</th></tr></thead><tbody>{rows}</tbody></table>"


def _invalid_html(report: SimulationReport) -> str:
    by_field = "".join(f"<tr><td>{_esc(name)}</td><td>{count:,}</td></tr>" for name, count in report.invalid_by_field.items())
    examples = "".join(
        f"<tr><td>{item['line']}</td><td>{_esc(item['case_id'] or '')}</td><td>{_esc(item['field'])}</td><td>{_esc(item['problem'])}</td></tr>" for item in report.invalid_examples
    )
    return _section(
        "Invalid cases",
        f"<p>{report.invalid:,} cases were not decided; each is counted by its first bad field.</p>",
        f"<table><thead><tr><th>field</th><th>cases</th></tr></thead><tbody>{by_field}</tbody></table>",
        f"<table><thead><tr><th>line</th><th>case</th><th>field</th><th>problem</th></tr></thead><tbody>{examples}</tbody></table>",
    )


def write_outputs(report: SimulationReport, json_path: Path | None = None, html_path: Path | None = None) -> None:
    if json_path:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if html_path:
        html_path.write_text(render_html(report), encoding="utf-8")


# --- command line -------------------------------------------------------------------------------


def instant(text: str) -> datetime:
    """An argparse type: an ISO 8601 instant that must carry its offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant such as 2026-11-24T10:00:00+01:00") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. 2026-11-24T10:00:00+01:00")
    return value


def register(subparsers: Any) -> None:
    """Add `simulate` to the `collection-strategy` command line."""
    parser = subparsers.add_parser("simulate", help="decide a portfolio (JSON Lines or CSV) and count actions, channels and vetoes; compare two rule sets")
    parser.add_argument("cases", type=Path, help="cases: .jsonl (one snapshot per line) or .csv (see docs/simulate.md)")
    parser.add_argument("--rules", type=Path, default=Path("rules"), help="the rules directory (default: rules/)")
    parser.add_argument("--compare", type=Path, help="another rules directory to decide the same cases with, e.g. a proposed change")
    parser.add_argument("--as-of", type=instant, help="the instant every case is decided at (default: now)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--html", type=Path, help="write a self-contained HTML report here")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    try:
        report = simulate(args.rules, args.cases, args.compare, args.workers, args.as_of)
    except PolicyError as error:
        print(error, file=sys.stderr)
        print(f"\n{len(error.problems)} problem(s); the rules were not loaded.", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"cannot simulate: {error}", file=sys.stderr)
        return 1
    print(format_summary(report))
    write_outputs(report, args.json, args.html)
    for label, path in (("JSON", args.json), ("HTML", args.html)):
        if path:
            print(f"wrote {label} report to {path}")
    return 0

"""The charts of a report, laid out as shares of a track; the browser places the text.

Nothing here guesses how wide a label is: a chart is a grid whose label column
wraps its text (at underscores first, then anywhere) and whose bars are
percentages of the track beside it, so a long guardrail or cap name takes two
lines instead of running off the chart. Each chart is followed on the page by
a table with the same numbers (engine/authoring/report/tables.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from engine.authoring.report.tables import Column, Table, table

PALETTE = {
    "SEND_REMINDER": "#4e79a7", "CALL": "#f28e2b", "OFFER_PAYMENT_PLAN": "#59a14f", "OFFER_SETTLEMENT": "#76b7b2",
    "FINAL_NOTICE": "#edc948", "LEGAL_REVIEW": "#e15759", "HUMAN_REVIEW": "#b07aa1", "NO_CONTACT": "#9c9c9c",
}
SPARE = ("#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d", "#499894", "#f1ce63")
BLUE, RED, GREEN, GREY = "#4e79a7", "#e15759", "#59a14f", "#9c9c9c"


def colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per name: the palette's for the known actions, the spare ones in turn for the others."""
    spare = itertools.cycle(SPARE)
    return {name: PALETTE.get(name) or next(spare) for name in names}


@dataclass(frozen=True)
class Bar:
    name: str
    count: float
    text: str  # what is written after the bar, e.g. "1,234 (12.3%)"
    width: float  # percent of the track: the longest bar fills it
    fill: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per name, each labelled with its count and share."""

    title: str
    bars: tuple[Bar, ...]


def bar_chart(title: str, counts: Mapping[str, int], total: int, colour: str | Mapping[str, str] = BLUE) -> BarChart:
    most = max(counts.values(), default=0) or 1
    return BarChart(title, tuple(
        Bar(name, count, f"{count:,} ({count / total:.1%})" if total else f"{count:,} (-)", 100 * count / most, colour if isinstance(colour, str) else colour.get(name, BLUE))
        for name, count in counts.items()
    ))


@dataclass(frozen=True)
class Part:
    name: str
    count: int
    width: float  # percent of the row
    fill: str


@dataclass(frozen=True)
class StackedRow:
    name: str
    total: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class StackedChart:
    """One full-width bar per row, split by action in proportion to its cases."""

    title: str
    rows: tuple[StackedRow, ...]


def stacked_chart(title: str, rows: Mapping[str, Mapping[str, int]], fills: Mapping[str, str]) -> StackedChart:
    laid_out = []
    for name, counts in rows.items():
        total = sum(counts.values())
        parts = tuple(Part(part, count, 100 * count / total if total else 0.0, fills.get(part, GREY)) for part, count in counts.items())
        laid_out.append(StackedRow(name, total, parts))
    return StackedChart(title, tuple(laid_out))


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval, e.g. a rate and its 95% interval."""

    name: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Interval:
    name: str
    text: str  # e.g. "12.3% [10.1%, 14.8%]"
    low: float  # percent of the track, from the axis' start
    width: float  # percent of the track, low to high
    at: float  # percent of the track: the value


@dataclass(frozen=True)
class IntervalChart:
    """Values with error bars on one shared axis, from `start` to `end`."""

    title: str
    start: str
    end: str
    intervals: tuple[Interval, ...]
    zero: float | None  # percent of the track where 0 lies, when the axis crosses it


def interval_chart(
    title: str, estimates: Sequence[Estimate], shown: Callable[[float], str] = lambda value: f"{value:.1%}", from_zero: bool = True,
) -> IntervalChart:
    """Error bars: each estimate's interval as a line, its value as a dot, `shown` formats the numbers.

    The axis includes zero unless `from_zero` is off (then it spans the intervals
    alone, which magnifies small differences). An estimate whose interval does
    not hold its value is refused, naming it."""
    for estimate in estimates:
        if not estimate.low <= estimate.value <= estimate.high:
            raise ValueError(f"estimate {estimate.name!r}: the interval [{estimate.low}, {estimate.high}] does not hold the value {estimate.value}")
    start = min((estimate.low for estimate in estimates), default=0.0)
    end = max((estimate.high for estimate in estimates), default=1.0)
    if from_zero:
        start, end = min(start, 0.0), max(end, 0.0)
    span = (end - start) or 1.0

    def place(value: float) -> float:
        return 100 * (value - start) / span

    return IntervalChart(
        title, shown(start), shown(end),
        tuple(
            Interval(e.name, f"{shown(e.value)} [{shown(e.low)}, {shown(e.high)}]", place(e.low), place(e.high) - place(e.low), place(e.value))
            for e in estimates
        ),
        place(0.0) if start <= 0 <= end else None,
    )


SHARE = Column("value", "share")


def interval_table(key: str, title: str, heading: str, estimates: Sequence[Estimate], kind: Column = SHARE) -> Table:
    """The numbers of an interval chart: value, low and high per name."""
    return table(key, title, [heading, kind, Column("low", kind.kind), Column("high", kind.kind)], [(e.name, e.value, e.low, e.high) for e in estimates])


@dataclass(frozen=True)
class Compared:
    """One name under the baseline and under the change."""

    name: str
    baseline: int
    change: int
    baseline_share: float
    change_share: float
    baseline_width: float  # percent of the track: the largest count of either fills it
    change_width: float

    @property
    def delta(self) -> int:
        return self.change - self.baseline

    @property
    def delta_share(self) -> float:
        return self.change_share - self.baseline_share


@dataclass(frozen=True)
class ComparisonChart:
    """The baseline and the change side by side, one row per name, with the difference."""

    title: str
    baseline_label: str
    change_label: str
    rows: tuple[Compared, ...]

    def table(self, key: str, heading: str) -> Table:
        return table(key, self.title, [
            heading, Column(self.baseline_label, "count"), Column(self.change_label, "count"), Column("difference", "count"),
            Column(f"share, {self.baseline_label}", "share"), Column(f"share, {self.change_label}", "share"), Column("difference in share", "share"),
        ], [(row.name, row.baseline, row.change, row.delta, row.baseline_share, row.change_share, row.delta_share) for row in self.rows])


def comparison_chart(
    title: str, baseline: Mapping[str, int], change: Mapping[str, int], names: Sequence[str] | None = None,
    baseline_label: str = "baseline", change_label: str = "change",
) -> ComparisonChart:
    """Counts under the baseline and the change; shares are of each side's own total."""
    names = list(names) if names is not None else list(dict.fromkeys([*baseline, *change]))
    totals = sum(baseline.values()), sum(change.values())
    most = max([*baseline.values(), *change.values(), 0]) or 1
    rows = tuple(
        Compared(
            name, baseline.get(name, 0), change.get(name, 0),
            baseline.get(name, 0) / totals[0] if totals[0] else 0.0, change.get(name, 0) / totals[1] if totals[1] else 0.0,
            100 * baseline.get(name, 0) / most, 100 * change.get(name, 0) / most,
        )
        for name in names
    )
    return ComparisonChart(title, baseline_label, change_label, rows)

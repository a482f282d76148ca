"""The HTML page of a simulation: self-contained, no script, nothing fetched.

Inline SVG charts, each followed by a table with the same numbers. This module
lays the charts out (positions and widths in pixels); the page itself is the
Jinja2 template of engine/authoring/simulate_page.py (for debtors,
engine/authoring/simulate_debtor_page.py), autoescaped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable

import jinja2
from markupsafe import Markup

from engine.authoring.simulate_debtor_page import DEBTOR_TEMPLATE
from engine.authoring.simulate_debtor_report import DebtorSimulationReport
from engine.authoring.simulate_page import TEMPLATE
from engine.authoring.simulate_report import ARRANGEMENT_STATES, EXAMPLES, NO_ARRANGEMENT, SimulationReport, action_order, arrangement_order, channel_order

_PALETTE = {
    "SEND_REMINDER": "#4e79a7", "CALL": "#f28e2b", "OFFER_PAYMENT_PLAN": "#59a14f", "OFFER_SETTLEMENT": "#76b7b2",
    "FINAL_NOTICE": "#edc948", "LEGAL_REVIEW": "#e15759", "HUMAN_REVIEW": "#b07aa1", "NO_CONTACT": "#9c9c9c",
}
_SPARE = ("#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d")
_STATE_COLOURS = dict(zip(ARRANGEMENT_STATES, ("#a0cbe8", "#59a14f", "#f28e2b", "#e15759", "#4e79a7", "#bab0ac", "#dddddd")))  # pending ... none
_BLUE, _RED = "#4e79a7", "#e15759"
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}td.moved{background:#fdecea;font-weight:600}
.meta{color:#555}.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
svg text{font:12px system-ui,sans-serif;fill:#222}code{font-size:.9em}details{margin:.4rem 0}
"""


@dataclass(frozen=True)
class Bar:
    name: str
    count: int
    share: str  # "12.3%", or "-" when there is nothing to share
    y: int
    width: float
    fill: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per row, labelled with count and share."""

    title: str
    label_width: int
    width: float
    height: int
    bars: list[Bar]
    row: int = 24


@dataclass(frozen=True)
class Part:
    name: str
    count: int
    x: float
    width: float
    fill: str


@dataclass(frozen=True)
class StackedRow:
    name: str
    y: int
    total: int
    parts: list[Part]


@dataclass(frozen=True)
class StackedChart:
    """One full-width bar per row, split by action in proportion to its cases."""

    title: str
    label_width: int
    width: float
    height: int
    rows: list[StackedRow]
    row: int = 26
    bar_room: int = 720


def _colours(actions: list[str]) -> dict[str, str]:
    spare = itertools.cycle(_SPARE)
    return {action: _PALETTE.get(action) or next(spare) for action in actions}


def _label_width(labels: Iterable[str]) -> int:
    # About 7 px per character of 12 px text, so long guardrail names are not cut off.
    return min(420, max(90, 7 * max(map(len, labels), default=0) + 16))


def bar_chart(title: str, counts: dict[str, int], total: int, colour: str | dict[str, str] = _BLUE) -> BarChart:
    label_width, bar_room, row = _label_width(counts), 560, 24
    most = max(counts.values(), default=0) or 1
    bars = [
        Bar(name, count, f"{count / total:.1%}" if total else "-", index * row + 4, count / most * bar_room, colour.get(name, _BLUE) if isinstance(colour, dict) else colour)
        for index, (name, count) in enumerate(counts.items())
    ]
    return BarChart(title, label_width, label_width + bar_room + 110, row * len(counts) + 8, bars, row)


def stacked_chart(title: str, rows: dict[str, dict[str, int]], colours: dict[str, str]) -> StackedChart:
    label_width, bar_room, row = _label_width(rows), 720, 26
    laid_out = []
    for index, (name, counts) in enumerate(rows.items()):
        x, total, parts = float(label_width), sum(counts.values()), []
        for action, count in counts.items():
            width = count / total * bar_room if total else 0
            parts.append(Part(action, count, x, width, colours[action]))
            x += width
        laid_out.append(StackedRow(name, index * row + 4, total, parts))
    return StackedChart(title, label_width, label_width + bar_room + 90, row * len(rows) + 8, laid_out, row, bar_room)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters.update({
        "count": lambda value: f"{value:,}",
        "pct": lambda value: f"{value:.1%}",
        "f0": lambda value: f"{value:.0f}",
        "f1": lambda value: f"{value:.1f}",
    })
    environment.globals.update({"css": Markup(_CSS), "example_count": EXAMPLES, "no_arrangement": NO_ARRANGEMENT})
    return environment


_ENVIRONMENT = _environment()
_PAGE = _ENVIRONMENT.from_string(TEMPLATE)
_DEBTOR_PAGE = _ENVIRONMENT.from_string(DEBTOR_TEMPLATE)


def render_html(report: SimulationReport) -> str:
    """A self-contained page: inline SVG charts, each followed by its table; no script, no external file."""
    colours = _colours(report.actions)
    comparison = report.comparison
    charts: dict[str, Any] = {
        "actions": bar_chart("cases by action", report.by_action, report.decided, colours),
        "channels": bar_chart("cases by channel", report.by_channel, report.decided),
        "dpd": stacked_chart("actions by days past due", report.by_dpd_bucket, colours),
        "segments": stacked_chart("actions by segment", report.by_segment, colours),
        # Of the cases with an arrangement: beside the cases without one, the states would not show.
        "arrangements": bar_chart(
            "cases with an arrangement, by its state", {state: count for state, count in report.by_arrangement_state.items() if state != NO_ARRANGEMENT},
            report.with_arrangement, _STATE_COLOURS,
        ),
        "arrangement_actions": stacked_chart("actions by current arrangement", report.by_arrangement_state_action, colours),
        "vetoes": bar_chart("cases vetoed by guardrail", {name: item["cases"] for name, item in report.vetoes_by_guardrail.items()}, report.decided, _RED),
        "experiments": {experiment: stacked_chart(f"actions by arm of {experiment}", arms, colours) for experiment, arms in report.by_experiment_arm.items()},
        "moves": None,
    }
    context: dict[str, Any] = {"report": report, "policy": report.policy, "colours": colours, "comparison": comparison, "charts": charts}
    if comparison:
        moves = {f"{change.before} → {change.after}": change.count for change in comparison.action_changes}
        charts["moves"] = bar_chart("cases by action change", moves, report.decided, _RED) if moves else None
        context.update({
            "action_columns": action_order(name for row in comparison.action_matrix.values() for name in row),
            "channel_columns": channel_order(name for row in comparison.channel_matrix.values() for name in row),
            "arrangement_columns": arrangement_order(name for row in comparison.arrangement_matrix.values() for name in row),
        })
    return _PAGE.render(context).lstrip()


def render_debtor_html(report: DebtorSimulationReport) -> str:
    """The debtors' page: the caps first, then contacts per person per week, per channel, the decisions."""
    colours = _colours(report.actions)
    week = report.contacts_per_person_week
    charts = {
        "week": bar_chart("persons by the most contacts in 7 days", week.histogram, report.persons),
        "actions": bar_chart("decisions by action", report.by_action, report.decisions, colours),
    }
    return _DEBTOR_PAGE.render({"report": report, "policy": report.policy, "week": week, "charts": charts}).lstrip()

"""The `evaluate` report as text for a terminal, JSON for a pipeline, or a page an analyst presents.

All three read the same dict (engine.authoring.evaluate.evaluate); the page is
templates/evaluate.html on the shared report layout: the verdicts first, then one
chart per measure with every arm's interval as an error bar, arms side by side.
"""

from __future__ import annotations

import json
from typing import Any

from engine.authoring.evaluate_metrics import NEITHER
from engine.authoring.report import render
from engine.authoring.report.charts import Estimate, IntervalChart, interval_chart


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _interval(estimate: dict[str, Any], places: int, signed: bool = False) -> str:
    if estimate["value"] is None:
        return "-"
    sign = "+" if signed else ""
    return f"{estimate['value']:{sign},.{places}f} [{estimate['low']:{sign},.{places}f}, {estimate['high']:{sign},.{places}f}]"


def as_text(report: dict[str, Any]) -> str:
    """The verdicts; all accounts measure by measure (each arm, and its difference from the
    champion); then each segment's and stage's verdicts."""
    level = f"{report['confidence'] * 100:g}%"
    join = report["join"]
    lines = [
        f"{join['decisions']:,} decisions evaluated, {join['outcome_rows_counted']:,} of {join['outcome_rows']:,} outcome rows counted "
        f"({join['outcome_rows_without_decision']:,} without a decision, {join['outcome_rows_before_decision']:,} before the decision, "
        f"{join['outcome_rows_after_window']:,} after the window); {join['accounts_without_outcomes']:,} decisions without outcome rows",
        f"Intervals at {level}. {report['multiple_comparisons']}",
    ]
    for experiment in report["experiments"]:
        lines.append("")
        if experiment["id"] is None:
            lines.append("No experiment: all accounts, without comparisons.")
        else:
            lines.append(f"Experiment {experiment['id']}: champion {experiment['champion']} ({experiment['champion_chosen_as']})")
            lines.extend(f"  {text}" for text in experiment["verdicts"])
        overall, *groups = experiment["groups"]
        lines.append("")
        lines.append("  All accounts: " + ", ".join(f"{arm['arm']} n={arm['accounts']:,}" for arm in overall["arms"]))
        for metric in report["metrics"]:
            lines.append(f"  {metric['label']}:" if metric["unit"] in metric["label"] else f"  {metric['label']} ({metric['unit']}):")
            for arm in overall["arms"]:
                lines.append(f"    {arm['arm']:<20} {_interval(arm['metrics'][metric['key']], metric['places'])}")
            for comparison in overall["comparisons"]:
                found = comparison["metrics"].get(metric["key"])
                if found:
                    difference = {"value": found["difference"], "low": found["low"], "high": found["high"]}
                    lines.append(f"    {comparison['arm'] + ' - ' + comparison['champion']:<20} {_interval(difference, metric['places'], signed=True)} {found['judgement']}")
        for group in groups:
            counts = ", ".join(f"{arm['arm']} n={arm['accounts']:,}" for arm in group["arms"])
            lines.append(f"  {group['by']} {group['value']} ({counts})")
            lines.extend(f"    {comparison['summary']}" for comparison in group["comparisons"])
    return "\n".join(lines) + "\n"


def _title(metric: dict[str, Any]) -> str:
    title = metric["label"] if metric["unit"] in metric["label"] else f"{metric['label']} ({metric['unit']})"
    return title + (f": {metric['better']} is better" if metric["better"] != NEITHER else "")


def _chart(title: str, named: list[tuple[str, dict[str, Any]]], places: int) -> IntervalChart | None:
    """An interval chart of the (name, {value, low, high}) that have a value; None when none has."""
    estimates = [Estimate(name, found["value"], found["low"], found["high"]) for name, found in named if found["value"] is not None]
    return interval_chart(title, estimates, lambda value: f"{value:,.{places}f}") if estimates else None


def _experiment_page(experiment: dict[str, Any], metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """The charts of one experiment: all accounts (each arm, then each difference from the
    champion), then per segment and per stage every arm side by side."""
    overall, *groups = experiment["groups"]
    charts = []
    for metric in metrics:
        key, places = metric["key"], metric["places"]
        arms = _chart(_title(metric), [(f"{arm['arm']} (n={arm['accounts']:,})", arm["metrics"][key]) for arm in overall["arms"]], places)
        found = [(f"{c['arm']} - {c['champion']}", {"value": c["metrics"][key]["difference"], "low": c["metrics"][key]["low"], "high": c["metrics"][key]["high"]})
                 for c in overall["comparisons"] if c["judged"]]
        # The zero row puts "no difference" on the axis: an interval that crosses it is not significant.
        differences = _chart(f"{metric['label']}: difference from {experiment['champion']} ({metric['difference_unit']})",
                             [("no difference", {"value": 0.0, "low": 0.0, "high": 0.0}), *found], places) if found else None
        charts.append({"arms": arms, "differences": differences})
    dimensions = []
    for by in ("segment", "stage"):
        members = [group for group in groups if group["by"] == by]
        by_metric = [
            _chart(_title(metric), [(f"{group['value']} · {arm['arm']} (n={arm['accounts']:,})", arm["metrics"][metric["key"]]) for group in members for arm in group["arms"]], metric["places"])
            for metric in metrics
        ]
        dimensions.append({"by": by, "groups": members, "charts": [chart for chart in by_metric if chart is not None]})
    return {"experiment": experiment, "overall": overall, "charts": charts, "dimensions": dimensions}


def as_html(report: dict[str, Any]) -> str:
    """The page: the verdicts at the top, then per experiment a chart per measure."""
    pages = [_experiment_page(experiment, report["metrics"]) for experiment in report["experiments"]]
    return render("evaluate.html", report=report, experiments=pages, level=f"{report['confidence'] * 100:g}%")

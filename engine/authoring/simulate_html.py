"""The HTML page of a simulation and the tables it exports.

The page is the template engine/authoring/report/templates/simulate.html (for
debtors, simulate_debtors.html), filled here with charts and tables built from
the report. Every table is a report.tables.Table: the page shows it and
engine/authoring/report/exports.py writes the same rows as CSV and XLSX beside
the page (`exports` names that folder, relative to the page, for the links).
Self-contained: no script, nothing fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.authoring import report as pages
from engine.authoring.report import charts
from engine.authoring.report.tables import Column, Table, count_table, matrix, slug, table
from engine.authoring.simulate_debtor_report import DebtorSimulationReport
from engine.authoring.simulate_report import ARRANGEMENT_STATES, EXAMPLES, NO_ARRANGEMENT, SimulationReport, action_order, arrangement_order, channel_order

_STATE_COLOURS = dict(zip(ARRANGEMENT_STATES, ("#a0cbe8", "#59a14f", "#f28e2b", "#e15759", "#4e79a7", "#bab0ac", "#dddddd")))  # pending ... none
CORNER = "from \\ to"  # a from→to matrix's corner: rows are the baseline's, columns the change's


@dataclass(frozen=True)
class Page:
    """What a page shows: the template's values, and every table on it (for the exports)."""

    template: str
    context: dict[str, Any]
    tables: list[Table]


def simulation_page(report: SimulationReport) -> Page:
    """The cases' page: the comparison first when there is one, then the counts."""
    colours = charts.colours(report.actions)
    decided = report.decided
    figures: dict[str, Any] = {
        "actions": charts.bar_chart("cases by action", report.by_action, decided, colours),
        "channels": charts.bar_chart("cases by channel", report.by_channel, decided),
        "dpd": charts.stacked_chart("actions by days past due", report.by_dpd_bucket, colours),
        "segments": charts.stacked_chart("actions by segment", report.by_segment, colours),
        # Of the cases with an arrangement: beside the cases without one, the states would not show.
        "arrangements": charts.bar_chart(
            "cases with an arrangement, by its state", {state: count for state, count in report.by_arrangement_state.items() if state != NO_ARRANGEMENT},
            report.with_arrangement, _STATE_COLOURS,
        ),
        "arrangement_actions": charts.stacked_chart("actions by current arrangement", report.by_arrangement_state_action, colours),
        "vetoes": charts.bar_chart("cases vetoed by guardrail", {name: item["cases"] for name, item in report.vetoes_by_guardrail.items()}, decided, charts.RED),
        "experiments": {experiment: charts.stacked_chart(f"actions by arm of {experiment}", arms, colours) for experiment, arms in report.by_experiment_arm.items()},
        "moves": None,
    }
    tables: dict[str, Any] = {
        "actions": count_table("actions", "cases by action", "action", report.by_action, decided),
        "channels": count_table("channels", "cases by channel", "channel", report.by_channel, decided),
        "dpd": matrix("actions-by-days-past-due", "actions by days past due", "days past due", report.by_dpd_bucket, report.actions),
        "segments": matrix("actions-by-segment", "actions by segment", "segment", report.by_segment, report.actions),
        "rules": count_table("deciding-rules", "cases by deciding rule or reason", "rule or reason", report.by_rule, decided),
        "arrangements": table("current-arrangements", "cases by current arrangement", [
            "current arrangement", Column("cases", "count"), Column("share", "share"), Column("of arrangements", "share"),
        ], [
            (state, count, report.share(count), None if state == NO_ARRANGEMENT else report.arrangement_share(count))
            for state, count in report.by_arrangement_state.items()
        ]),
        "arrangement_actions": matrix("actions-by-current-arrangement", "actions by current arrangement", "current arrangement", report.by_arrangement_state_action, report.actions),
        "vetoes": table("guardrail-vetoes", "vetoes by guardrail", ["guardrail", Column("vetoes", "count"), Column("cases", "count")], [
            (name, item["vetoes"], item["cases"]) for name, item in report.vetoes_by_guardrail.items()
        ]),
        "experiments": {
            experiment: matrix(f"experiment-{slug(experiment)}", f"actions by arm of {experiment}", "arm", arms, report.actions)
            for experiment, arms in report.by_experiment_arm.items()
        },
        "work_queues": table("work-queues", "review work by queue", [
            "queue", Column("items", "count"), Column("share", "share"), Column("high", "count"), Column("normal", "count"), Column("low", "count"),
            Column("due within 24 h", "count"), Column("capacity per day", "count"), Column("load", "share"), "over capacity",
        ], [
            (load.queue or "(no queue)", load.items, load.share, load.by_priority.get("high", 0), load.by_priority.get("normal", 0), load.by_priority.get("low", 0),
             load.due_within_24h, load.capacity_per_day, None if load.load_pct is None else load.load_pct / 100, "yes" if load.over_capacity else "")
            for load in report.work_queues
        ]),
        **_invalid_tables(report.invalid_by_field, report.invalid_examples, "cases", "case"),
    }
    shown: list[Table | None] = [tables["actions"], tables["channels"], tables["dpd"], tables["segments"], tables["rules"]]
    if report.work_queues:
        shown.append(tables["work_queues"])
    if report.with_arrangement:
        shown += [tables["arrangements"], tables["arrangement_actions"]]
    if report.vetoes_by_guardrail:
        shown.append(tables["vetoes"])
    shown += tables["experiments"].values()
    comparison = report.comparison
    if comparison:
        compared = _comparison(report, figures, tables)
        shown = compared + shown
    if report.invalid:
        shown += [tables["invalid_by_field"], tables["invalid_examples"]]
    context = {"report": report, "policy": report.policy, "colours": colours, "comparison": comparison, "charts": figures, "tables": tables}
    return Page("simulate.html", context, pages.tables_of(*shown))


def _comparison(report: SimulationReport, figures: dict[str, Any], tables: dict[str, Any]) -> list[Table | None]:
    """The charts and tables of what the change moves; the tables, in the page's order."""
    comparison = report.comparison
    assert comparison is not None
    baseline, change = f"baseline {comparison.policy['name']} {comparison.policy['version']}", f"change {report.policy['name']} {report.policy['version']}"
    action_columns = action_order(name for row in comparison.action_matrix.values() for name in row)
    channel_columns = channel_order(name for row in comparison.channel_matrix.values() for name in row)
    # What each side decides: the baseline's are the matrix's rows, the change's its columns.
    figures["compared_actions"] = charts.comparison_chart(
        "cases by action, baseline and change", _row_totals(comparison.action_matrix), _column_totals(comparison.action_matrix),
        action_order([*comparison.action_matrix, *action_columns]), baseline, change,
    )
    figures["compared_channels"] = charts.comparison_chart(
        "cases by channel, baseline and change", _row_totals(comparison.channel_matrix), _column_totals(comparison.channel_matrix),
        channel_order([*comparison.channel_matrix, *channel_columns]), baseline, change,
    )
    moves = {f"{item.before} → {item.after}": item.count for item in comparison.action_changes}
    figures["moves"] = charts.bar_chart("cases by action change", moves, report.decided, charts.RED) if moves else None
    tables.update({
        "compared_actions": figures["compared_actions"].table("actions-baseline-and-change", "action"),
        "compared_channels": figures["compared_channels"].table("channels-baseline-and-change", "channel"),
        "action_matrix": matrix("action-from-to", "action: from the baseline to the change", CORNER, comparison.action_matrix, action_columns, moved=True),
        "channel_matrix": matrix("channel-from-to", "channel: from the baseline to the change", CORNER, comparison.channel_matrix, channel_columns, moved=True),
        "moved_by_arrangement": table("action-changes-by-arrangement", "cases that change action, by current arrangement", [
            "current arrangement", Column("cases", "count"), Column("change action", "count"), Column("share", "share"),
        ], [
            (state, count, comparison.changed_action_by_arrangement_state.get(state, 0), comparison.changed_action_by_arrangement_state.get(state, 0) / count)
            for state, count in report.by_arrangement_state.items()
        ]),
        "arrangement_matrix": matrix(
            "arrangement-from-to", "current arrangement: from the baseline to the change", CORNER, comparison.arrangement_matrix,
            arrangement_order(name for row in comparison.arrangement_matrix.values() for name in row), moved=True,
        ),
        "action_examples": _examples("action-change-examples", "example cases per action change", comparison.action_changes),
        "channel_examples": _examples("channel-change-examples", "example cases per channel change", comparison.channel_changes),
    })
    return [
        tables["compared_actions"], tables["compared_channels"], tables["action_matrix"], tables["channel_matrix"],
        tables["moved_by_arrangement"] if report.with_arrangement else None,
        tables["arrangement_matrix"] if comparison.changed_arrangement_state else None,
        tables["action_examples"] if comparison.action_changes else None,
        tables["channel_examples"] if comparison.channel_changes else None,
    ]


def _row_totals(rows: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name: sum(counts.values()) for name, counts in rows.items()}


def _column_totals(rows: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in rows.values():
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    return totals


def _examples(key: str, title: str, changes: list[Any]) -> Table:
    return table(key, title, ["change", Column("cases", "count"), Column(f"examples (up to {EXAMPLES})", "free")], [
        (f"{item.before} → {item.after}", item.count, ", ".join(item.examples)) for item in changes
    ])


def _invalid_tables(by_field: dict[str, int], examples: list[dict[str, Any]], unit: str, item: str) -> dict[str, Table]:
    return {
        "invalid_by_field": table("invalid-by-field", f"invalid {unit} by their first bad field", ["field", Column(unit, "count")], by_field.items()),
        "invalid_examples": table("invalid-examples", f"the first invalid {unit}", [Column("line", "count"), Column(item, "free"), "field", Column("problem", "free")], [
            (example["line"], example["case_id"] or "", example["field"], example["problem"]) for example in examples
        ]),
    }


def debtor_page(report: DebtorSimulationReport) -> Page:
    """The debtors' page: the caps first, then contacts per person per week, per channel, the decisions."""
    colours = charts.colours(report.actions)
    week = report.contacts_per_person_week
    figures = {
        "week": charts.bar_chart("persons by the most contacts in 7 days", week.histogram, report.persons),
        "actions": charts.bar_chart("decisions by action", report.by_action, report.decisions, colours),
    }
    caps = table("caps", "caps of the packs in force", [
        "cap", "channels", "limit", Column("persons", "count"), Column("contacts", "count"), Column("most", "count"),
        Column("persons over", "count"), Column("contacts over", "count"),
    ], [
        (cap.cap, ", ".join(cap.channels), f"{cap.max} in {cap.period_days} days", cap.persons, cap.contacts, cap.most, cap.persons_over, cap.contacts_over)
        for cap in report.caps
    ], marked=[(row, 6) for row, cap in enumerate(report.caps) if cap.persons_over])
    tables: dict[str, Table] = {
        "caps": caps,
        "over_examples": table("persons-over-a-cap", "persons taken over a cap, the first in the file", [Column("debtor", "free"), "cap", Column("most in its period", "count"), "first over at"], [
            (item["debtor_id"], item["cap"], item["most"], item["first_over"]) for item in report.over_examples
        ]),
        "week": count_table("contacts-per-person-week", "persons by the most contacts in 7 days", "contacts in 7 days", week.histogram, report.persons, "persons"),
        "week_by_accounts": table("week-by-accounts", "the most contacts in 7 days, by accounts per person", [
            "accounts", Column("persons", "count"), Column("p50", "count"), Column("p90", "count"), Column("p99", "count"), Column("max", "count"), Column("mean", "number"),
        ], [(group, item.persons, item.p50, item.p90, item.p99, item.max, float(item.mean)) for group, item in report.week_by_accounts.items()]),
        "channels": table("channels", "per channel: the most with one person in 7 days, beside the strictest cap", [
            "channel", Column("contacts", "count"), Column("most in 7 days", "count"), "strictest cap", "limit", Column("most under it", "count"),
        ], [
            (channel, item.contacts, item.most_in_7_days, item.strictest_cap or "none",
             f"{item.strictest_max} in {item.strictest_period_days} days" if item.strictest_cap else None, item.most_under_strictest)
            for channel, item in report.channels.items()
        ]),
        "persons_by_accounts": count_table("persons-by-accounts", "persons by accounts", "accounts", report.persons_by_accounts, report.persons, "persons"),
        "actions": count_table("decisions-by-action", "decisions by action", "action", report.by_action, report.decisions, "decisions"),
        "channels_decided": count_table("decisions-by-channel", "decisions by channel", "channel", report.by_channel, report.decisions, "decisions"),
        "reasons": count_table("decisions-by-reason", "decisions by deciding rule or reason", "rule or reason", report.by_reason, report.decisions, "decisions"),
        **_invalid_tables(report.invalid_by_field, report.invalid_examples, "debtors", "debtor"),
    }
    shown = [table_ for name, table_ in tables.items() if not (name == "over_examples" and not report.over_examples) and not (name.startswith("invalid") and not report.invalid)]
    context = {"report": report, "policy": report.policy, "week": week, "charts": figures, "tables": tables}
    return Page("simulate_debtors.html", context, pages.tables_of(*shown))


def render_page(page: Page, exports: str | None = None) -> str:
    """The page; with `exports`, each table links its CSV and XLSX in that folder (relative to the page)."""
    return pages.render(page.template, exports=exports, **page.context)


def render_html(report: SimulationReport, exports: str | None = None) -> str:
    """A self-contained page: charts, each followed by its table; no script, no external file."""
    return render_page(simulation_page(report), exports)


def render_debtor_html(report: DebtorSimulationReport, exports: str | None = None) -> str:
    """The debtors' page: the caps first, then contacts per person per week, per channel, the decisions."""
    return render_page(debtor_page(report), exports)

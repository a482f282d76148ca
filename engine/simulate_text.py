"""The text summary `simulate` prints: totals, shares, mixes and what a change moves."""

from __future__ import annotations

from engine.simulate_report import NO_ARRANGEMENT, Comparison, SimulationReport


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


def _arrangement_lines(report: SimulationReport) -> list[str]:
    """The state of each case's current arrangement, as a share of the cases and of those with one."""
    counts = report.by_arrangement_state
    title = "current arrangement"
    width = max([len(title), *map(len, counts)]) + 2
    lines = [f"{title:<{width}}{'cases':>9}  {'share':>6}  {'of arrangements':>15}"]
    for state, count in counts.items():
        of_arrangements = "" if state == NO_ARRANGEMENT else f"{_pct(report.arrangement_share(count)):>15}"
        lines.append(f"{state:<{width}}{count:>9,}  {_pct(report.share(count))}  {of_arrangements}".rstrip())
    missed, broken = (report.arrangement_share(counts.get(state, 0)) for state in ("missed", "broken"))
    lines.append(
        f"  kept (performing or completed): {report.kept:,} of the {report.with_arrangement:,} cases with an arrangement "
        f"({_pct(report.arrangement_share(report.kept)).strip()}); missed {_pct(missed).strip()}, broken {_pct(broken).strip()}"
    )
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
    if report.with_arrangement:
        lines += ["", *_arrangement_lines(report), "", *_mix(report.by_arrangement_state_action, "by current arrangement (cases, top actions)")]
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
    if report.with_arrangement:
        counts = report.by_arrangement_state
        moved = ", ".join(f"{state} {count:,} of {counts.get(state, 0):,}" for state, count in comparison.changed_action_by_arrangement_state.items())
        lines.append(f"  cases that change action, by current arrangement: {moved}")
    if comparison.changed_arrangement_state:
        lines.append(f"  {comparison.changed_arrangement_state:,} cases' current arrangement is judged differently (the policies declare a different posting grace):")
        lines += [
            f"    {before} -> {after}: {count:,}" for before, row in comparison.arrangement_matrix.items() for after, count in row.items() if before != after
        ]
    for title, changes in (("action", comparison.action_changes), ("channel", comparison.channel_changes)):
        if changes:
            lines.append(f"  {title} changes (from -> to):")
            width = max(len(f"{change.before} -> {change.after}") for change in changes) + 2
            for change in changes:
                label = f"{change.before} -> {change.after}"
                lines.append(f"    {label:<{width}}{change.count:>8,}  e.g. {', '.join(change.examples[:3])}")
    return lines

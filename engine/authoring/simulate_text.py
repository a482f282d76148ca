"""The text summary `simulate` prints: totals, shares, mixes and what a change moves;
for debtors, contacts per person against the caps."""

from __future__ import annotations

from engine.authoring.simulate_debtor_report import DebtorSimulationReport, Distribution
from engine.authoring.simulate_report import NO_ARRANGEMENT, Comparison, SimulationReport
from engine.authoring.work_load import format_load


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
        "  holiday and time-zone data: " + ", ".join(f"{name} {version}" for name, version in report.data_versions.items()),
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
    if report.work_queues:
        lines += ["", *format_load(report.work_queues)]
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


# --- debtors --------------------------------------------------------------------------------------


def _quantiles(distribution: Distribution) -> str:
    return f"p50 {distribution.p50}  p90 {distribution.p90}  p99 {distribution.p99}  max {distribution.max}  (mean {distribution.mean:.2f})"


def format_debtor_summary(report: DebtorSimulationReport) -> str:
    """Per person: contacts a week, per channel and per cap, the overruns first."""
    policy, week = report.policy, report.contacts_per_person_week
    accounts = ", ".join(f"{count}: {persons:,}" for count, persons in report.persons_by_accounts.items())
    lines = [
        f"Simulated {report.persons:,} debtors ({report.accounts:,} accounts) from {report.debtors_file} with {report.rules} "
        f"({policy['name']} {policy['version']}) over {report.days} days from {report.as_of}, "
        + ("each decided when its last decision's review fell due" if report.at_review else "each decided every day"),
        f"  invalid {report.invalid:,}; {report.decisions:,} decisions; {report.workers} worker(s), {report.seconds:.1f} s",
        f"  persons by accounts: {accounts}; with two or more currencies: {report.persons_with_several_currencies:,}",
    ]
    if report.invalid:
        lines.append("  invalid debtors by first bad field: " + ", ".join(f"{name} {count:,}" for name, count in report.invalid_by_field.items()))
        lines += [f"    line {item['line']}: {item['field']}: {item['problem']}" for item in report.invalid_examples[:5]]
    verdict = "none" if not report.persons_over_a_cap else f"{report.persons_over_a_cap:,} ({_pct(report.person_share(report.persons_over_a_cap)).strip()})"
    lines += [
        "",
        f"persons taken over a cap of the packs in force: {verdict}",
        *[f"  {item['debtor_id']}: {item['cap']}, {item['most']} in its period, first over at {item['first_over']}" for item in report.over_examples[:5]],
        f"contacts made: {report.contacts:,}; about more than one account: {report.contacts_covering_several_accounts:,} ({_pct(report.several_share).strip()})",
        "",
        "contacts per person per week (the most the run made with one person in any 7 days)",
        f"  {_quantiles(week)}",
        f"  {'contacts':<10}{'persons':>9}  {'share':>6}",
        *[f"  {count:<10}{persons:>9,}  {_pct(report.person_share(persons))}" for count, persons in week.histogram.items()],
        "",
        f"  {'accounts':<10}{'persons':>9}  {'p50':>4}{'p90':>5}{'p99':>5}{'max':>5}{'mean':>7}",
        *[
            f"  {group:<10}{item.persons:>9,}  {item.p50:>4}{item.p90:>5}{item.p99:>5}{item.max:>5}{item.mean:>7.2f}"
            for group, item in report.week_by_accounts.items()
        ],
    ]
    if report.channels:
        lines += ["", "per channel, the most with one person in 7 days (their earlier contacts counted), beside the strictest cap on it"]
        lines.append(f"  {'channel':<9}{'contacts':>9}{'most':>6}  strictest cap")
        for channel, item in report.channels.items():
            strictest = f"{item.strictest_cap}: {item.strictest_max} in {item.strictest_period_days} days (most {item.most_under_strictest})" if item.strictest_cap else "none"
            lines.append(f"  {channel:<9}{item.contacts:>9,}{item.most_in_7_days:>6}  {strictest}")
    if report.caps:
        width = max(len(cap.cap) for cap in report.caps) + 2
        lines += ["", "caps of the packs in force (every outbound contact with the person counted, earlier ones too)"]
        lines.append(f"  {'cap':<{width}}{'channels':<13}{'limit':<13}{'persons':>9}{'contacts':>10}{'most':>6}{'over':>6}")
        for cap in report.caps:
            limit = f"{cap.max} in {cap.period_days} days"
            lines.append(f"  {cap.cap:<{width}}{','.join(cap.channels):<13}{limit:<13}{cap.persons:>9,}{cap.contacts:>10,}{cap.most:>6}{cap.persons_over:>6,}")
    lines += ["", f"{'action':<22}{'decisions':>10}  {'share':>6}"]
    lines += [f"{name:<22}{count:>10,}  {_pct(report.share(count))}" for name, count in report.by_action.items()]
    lines += ["", f"{'channel':<22}{'decisions':>10}  {'share':>6}"]
    lines += [f"{name:<22}{count:>10,}  {_pct(report.share(count))}" for name, count in report.by_channel.items()]
    return "\n".join(lines)

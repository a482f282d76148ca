"""`collection-strategy evaluate`: which arm of an experiment works, measured on outcomes.

    decisions + outcomes -> accounts (evaluate_join) -> per experiment, arm and group:
    measures with intervals (evaluate_metrics) -> each arm against the champion, with a verdict

The champion of an experiment is the arm given with `--champion EXPERIMENT=ARM`,
else an arm named `champion` or `control`, else the first arm the policy in
`--rules` declares; with none of these, evaluate stops and asks (never a guess).
Groups: all accounts, each segment, each stage (days past due when decided:
pre-due, 1-30, 31-60, 61-90, 91+). An arm with fewer than `min_accounts`
accounts in a group is not judged there: "too few accounts to judge (n=12)".

Each measure is tested on its own at the chosen confidence (no correction for
multiple comparisons): with nine measures and several groups, a difference or
two "significant at 95%" can be chance. The report says so; read the
all-accounts verdicts first, and segments and stages as leads to confirm.

The report is a plain dict (REPORT_VERSION; docs/evaluate.md documents its
fields), rendered as text, JSON or HTML by evaluate_render.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from engine.authoring.evaluate_join import NO_EXPERIMENT, Account, JoinSummary
from engine.authoring.evaluate_metrics import HIGHER, LOWER, Metric, compare, measure, metrics_for
from engine.authoring.evaluate_stats import Estimate

REPORT_VERSION = 1
MIN_ACCOUNTS = 30
CHAMPION_NAMES = ("champion", "control")
STAGES = ("pre-due", "1-30", "31-60", "61-90", "91+")
UNKNOWN = "(unknown)"
MULTIPLE_COMPARISONS = (
    "Each measure is tested separately at the stated confidence, with no correction for multiple comparisons: "
    "among many measures and groups, a difference or two marked significant can be chance. "
    "Read the all-accounts verdicts first; treat segment and stage differences as leads to confirm."
)


class NoChampion(ValueError):
    """An experiment whose champion cannot be told: the caller must name it."""


def stage_of(days_past_due: int | None) -> str:
    """The days-past-due bucket a decision was made in."""
    if days_past_due is None:
        return UNKNOWN
    if days_past_due <= 0:
        return "pre-due"
    for upper, name in ((30, "1-30"), (60, "31-60"), (90, "61-90")):
        if days_past_due <= upper:
            return name
    return "91+"


def choose_champion(experiment: str, arms: Sequence[str], given: dict[str, str], declared: dict[str, list[str]]) -> tuple[str, str]:
    """The champion arm and how it was chosen; NoChampion when nothing says which."""
    if experiment in given:
        if given[experiment] not in arms:
            raise NoChampion(f"--champion {experiment}={given[experiment]}: the decisions have no such arm (arms: {', '.join(arms)})")
        return given[experiment], "given with --champion"
    for name in CHAMPION_NAMES:
        if name in arms:
            return name, f"the arm named {name}"
    for arm in declared.get(experiment, []):
        if arm in arms:
            return arm, "the first arm the policy declares"
    raise NoChampion(f"experiment {experiment}: which arm is the champion? arms {', '.join(arms)}; name it with --champion {experiment}=ARM (or give --rules)")


def _number(value: float, metric: Metric) -> str:
    return f"{value:+,.{metric.places}f}"


def verdict(metric: Metric, difference: Estimate, confidence: float) -> dict[str, Any]:
    """One measure, challenger against champion: the difference and what it means in words."""
    level = f"{confidence * 100:g}%"
    if difference.value is None or difference.low is None or difference.high is None:
        return {"difference": None, "low": None, "high": None, "significant": False, "judgement": "unmeasured",
                "text": f"{metric.label}: not measurable (no accounts or nothing to divide by)"}
    significant = difference.low > 0 or difference.high < 0
    higher = difference.value > 0
    words = metric.more if higher else metric.less
    shown = f"{_number(difference.value, metric)} {metric.difference_unit}"
    if significant:
        better = (metric.better == HIGHER) == higher if metric.better in (HIGHER, LOWER) else None
        judgement = "better" if better else "worse" if better is False else "different"
        text = f"{words} ({shown}, {level} CI {_number(difference.low, metric)} to {_number(difference.high, metric)})"
    else:
        judgement = "not significant"
        text = f"{words} ({shown}, not significant at {level})"
    return {"difference": difference.value, "low": difference.low, "high": difference.high, "significant": significant, "judgement": judgement, "text": text}


def _estimate(value: Estimate) -> dict[str, float | None]:
    return {"value": value.value, "low": value.low, "high": value.high}


def _group(by: str, value: str, arms: dict[str, list[Account]], order: list[str], champion: str | None, metrics: list[Metric], confidence: float, min_accounts: int) -> dict[str, Any]:
    rows = []
    for arm in order:
        accounts = arms.get(arm, [])
        rows.append({"arm": arm, "accounts": len(accounts), "metrics": {m.key: _estimate(measure(m, accounts, confidence)) for m in metrics}})
    comparisons = []
    if champion is not None:
        base = arms.get(champion, [])
        for arm in order:
            if arm == champion:
                continue
            accounts = arms.get(arm, [])
            smallest = min(len(accounts), len(base))
            entry: dict[str, Any] = {"arm": arm, "champion": champion, "accounts": len(accounts), "champion_accounts": len(base)}
            if smallest < min_accounts:
                entry.update(judged=False, summary=f"{arm} vs {champion}: too few accounts to judge (n={smallest})", metrics={})
            else:
                found = {m.key: _judged(m, accounts, base, confidence, min_accounts) for m in metrics}
                entry.update(judged=True, summary=_summary(arm, champion, metrics, found, confidence), metrics=found)
            comparisons.append(entry)
    return {"by": by, "value": value, "arms": rows, "comparisons": comparisons}


def _judged(metric: Metric, challenger: list[Account], champion: list[Account], confidence: float, min_accounts: int) -> dict[str, Any]:
    """The verdict on one measure; money is measured on the accounts in its currency, which
    may be too few even when the arms are not."""
    if metric.currency is not None:
        smallest = min(sum(1 for a in arm if a.currency == metric.currency) for arm in (challenger, champion))
        if smallest < min_accounts:
            return {"difference": None, "low": None, "high": None, "significant": False, "judgement": "too few accounts",
                    "text": f"{metric.label}: too few accounts to judge (n={smallest})"}
    return verdict(metric, compare(metric, challenger, champion, confidence), confidence)


def _summary(arm: str, champion: str, metrics: list[Metric], found: dict[str, dict[str, Any]], confidence: float) -> str:
    """The plain-language verdict: the significant differences, then what did not differ."""
    significant = [found[m.key]["text"] + f" [{found[m.key]['judgement']}]" for m in metrics if found[m.key]["significant"]]
    unclear = [m.label for m in metrics if not found[m.key]["significant"]]
    head = f"{arm} vs {champion}: " + ("; ".join(significant) if significant else f"no difference significant at {confidence * 100:g}%")
    return head + (f"; not significant: {', '.join(unclear)}" if significant and unclear else "")


def evaluate(accounts: list[Account], summary: JoinSummary, confidence: float, champions: dict[str, str] | None = None,
             declared: dict[str, list[str]] | None = None, min_accounts: int = MIN_ACCOUNTS) -> dict[str, Any]:
    """The whole report as a dict (docs/evaluate.md). NoChampion when an experiment's champion cannot be told."""
    currencies = sorted({account.currency for account in accounts if account.currency})
    metrics = metrics_for(currencies)
    experiments: dict[str, dict[str, list[Account]]] = defaultdict(lambda: defaultdict(list))
    for account in accounts:
        for experiment, arm in account.decision.arms.items():
            experiments[experiment][arm].append(account)
        if not account.decision.arms:
            experiments[NO_EXPERIMENT]["all accounts"].append(account)
    reports = []
    for experiment in sorted(experiments):
        arms = experiments[experiment]
        champion, chosen = (None, "no experiment") if experiment == NO_EXPERIMENT else choose_champion(experiment, sorted(arms), champions or {}, declared or {})
        order = ([champion] if champion else []) + sorted(arm for arm in arms if arm != champion)
        groups = [_group("all", "all accounts", arms, order, champion, metrics, confidence, min_accounts)]
        for by, key in (("segment", lambda a: a.decision.segment or UNKNOWN), ("stage", lambda a: stage_of(a.decision.days_past_due))):
            split: dict[str, dict[str, list[Account]]] = defaultdict(lambda: defaultdict(list))
            for arm, members in arms.items():
                for account in members:
                    split[key(account)][arm].append(account)
            names = sorted(split, key=lambda name: (STAGES.index(name) if name in STAGES else len(STAGES), name)) if by == "stage" else sorted(split)
            groups.extend(_group(by, name, split[name], order, champion, metrics, confidence, min_accounts) for name in names)
        reports.append({
            "id": experiment or None, "champion": champion, "champion_chosen_as": chosen, "arms": order,
            "verdicts": [comparison["summary"] for comparison in groups[0]["comparisons"]],
            "groups": groups,
        })
    return {
        "report_version": REPORT_VERSION,
        "confidence": confidence,
        "min_accounts": min_accounts,
        "multiple_comparisons": MULTIPLE_COMPARISONS,
        "join": vars(summary).copy(),
        "metrics": [{"key": m.key, "label": m.label, "unit": m.unit, "difference_unit": m.difference_unit, "better": m.better, "places": m.places} for m in metrics],
        "experiments": reports,
    }

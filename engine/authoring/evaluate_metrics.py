"""The measures `evaluate` reports, each with the direction that is better.

Cash and cures beside the humane measures: a strategy that collects more by
upsetting more people shows both. Values are in the unit shown (a rate in
percent, its difference in percentage points; complaints and opt-outs per 1,000
accounts); money is per currency, never added across currencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.authoring.evaluate_join import Account
from engine.authoring.evaluate_stats import Estimate, mean_interval, newcombe, ratio_difference, ratio_interval, welch, wilson

HIGHER, LOWER, NEITHER = "higher", "lower", "neither"  # which direction is better


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # of a value
    difference_unit: str  # of a difference between arms
    better: str  # HIGHER, LOWER or NEITHER
    more: str  # the verdict's words when the challenger's value is higher
    less: str
    scale: float  # raw proportion or ratio -> the unit shown
    places: int = 1  # decimals shown
    currency: str | None = None  # money measures: the one currency they are in


def _proportion(key: str, label: str, better: str, more: str, less: str, per_thousand: bool = False) -> Metric:
    if per_thousand:
        return Metric(key, label, "per 1,000 accounts", "per 1,000", better, more, less, 1000.0)
    return Metric(key, label, "%", "points", better, more, less, 100.0)


PROPORTIONS: dict[str, tuple[Metric, Callable[[Account], bool]]] = {
    "cure_rate": (_proportion("cure_rate", "cure rate", HIGHER, "cures more", "cures fewer"), lambda a: a.cured),
    "roll_rate": (_proportion("roll_rate", "roll rate", LOWER, "rolls more accounts to a later stage", "rolls fewer accounts to a later stage"), lambda a: a.rolled),
    "complaints": (_proportion("complaints", "complaints", LOWER, "with more complaints", "with fewer complaints", per_thousand=True), lambda a: a.complaint),
    "opt_outs": (_proportion("opt_outs", "opt-outs", LOWER, "with more opt-outs", "with fewer opt-outs", per_thousand=True), lambda a: a.opted_out),
    # More hardship declared is not better or worse in itself: a humane strategy surfaces it.
    "hardship_share": (_proportion("hardship_share", "hardship share", NEITHER, "more hardship declared", "less hardship declared"), lambda a: a.hardship),
}
CONTACTS_PER_CURE = Metric("contacts_per_cure", "contacts per cure", "contacts", "contacts", LOWER, "needs more contacts per cure", "needs fewer contacts per cure", 1.0, places=2)


def money_metrics(currency: str) -> tuple[Metric, Metric]:
    return (
        Metric(f"amount_collected_per_account[{currency}]", f"amount collected per account ({currency})", currency, f"{currency} per account",
               HIGHER, "collects more", "collects less", 1.0, places=2, currency=currency),
        Metric(f"cost_per_unit_collected[{currency}]", f"cost per {currency} collected", currency, f"{currency} per {currency} collected",
               LOWER, "costs more per unit collected", "costs less per unit collected", 1.0, places=4, currency=currency),
    )


def metrics_for(currencies: Sequence[str]) -> list[Metric]:
    """Every measure, in the order a report shows them."""
    found = [PROPORTIONS["cure_rate"][0], PROPORTIONS["roll_rate"][0]]
    for currency in currencies:
        found.extend(money_metrics(currency))
    found.append(CONTACTS_PER_CURE)
    found.extend(PROPORTIONS[key][0] for key in ("complaints", "opt_outs", "hardship_share"))
    return found


def _scaled(estimate: Estimate, scale: float) -> Estimate:
    if estimate.value is None or estimate.low is None or estimate.high is None:
        return estimate
    return Estimate(estimate.value * scale, estimate.low * scale, estimate.high * scale)


def _in_currency(accounts: Sequence[Account], currency: str) -> list[Account]:
    return [account for account in accounts if account.currency == currency]


def measure(metric: Metric, accounts: Sequence[Account], confidence: float) -> Estimate:
    """The metric over one arm's accounts, with its interval."""
    if metric.key in PROPORTIONS:
        test = PROPORTIONS[metric.key][1]
        return _scaled(wilson(sum(1 for a in accounts if test(a)), len(accounts), confidence), metric.scale)
    if metric.key == CONTACTS_PER_CURE.key:
        return ratio_interval([a.contacts for a in accounts], [float(a.cured) for a in accounts], confidence)
    assert metric.currency is not None
    held = _in_currency(accounts, metric.currency)
    if metric.key.startswith("amount_collected"):
        return mean_interval([float(a.paid) for a in held], confidence)
    return ratio_interval([float(a.cost) for a in held], [float(a.paid) for a in held], confidence)


def compare(metric: Metric, challenger: Sequence[Account], champion: Sequence[Account], confidence: float) -> Estimate:
    """challenger - champion, with its interval."""
    if metric.key in PROPORTIONS:
        test = PROPORTIONS[metric.key][1]
        found = newcombe(sum(1 for a in challenger if test(a)), len(challenger), sum(1 for a in champion if test(a)), len(champion), confidence)
        return _scaled(found, metric.scale)
    if metric.key == CONTACTS_PER_CURE.key:
        return ratio_difference([a.contacts for a in challenger], [float(a.cured) for a in challenger],
                                [a.contacts for a in champion], [float(a.cured) for a in champion], confidence)
    assert metric.currency is not None
    b, a = _in_currency(challenger, metric.currency), _in_currency(champion, metric.currency)
    if metric.key.startswith("amount_collected"):
        return welch([float(x.paid) for x in b], [float(x.paid) for x in a], confidence)
    return ratio_difference([float(x.cost) for x in b], [float(x.paid) for x in b], [float(x.cost) for x in a], [float(x.paid) for x in a], confidence)

"""Confidence intervals for `evaluate`, with the standard library only (statistics.NormalDist).

- A proportion (cure rate, roll rate, hardship share, accounts that complained or
  opted out): the Wilson score interval, which stays inside 0..1 and keeps its
  coverage for rare events where the normal approximation does not.
- The difference of two proportions: Newcombe's hybrid score interval (method 10
  of Newcombe 1998), built from the two Wilson intervals.
- A mean per account (amount collected): the normal interval with the sample's
  standard error; the difference of two means: Welch's (unequal variances). With
  the hundreds of accounts an arm needs before `evaluate` judges it, the normal
  and t quantiles agree to the second decimal, so no t table is needed.
- A ratio of two totals (cost per unit collected, contacts per cure): the delta
  method on the ratio of means, and for two arms the difference of two
  independent ratios with their variances added.

Every interval is two-sided at `confidence` (e.g. 0.95). No resampling: the same
input gives the same interval on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean


@dataclass(frozen=True)
class Estimate:
    value: float | None  # None: not defined (no accounts, or a ratio over nothing)
    low: float | None
    high: float | None


NOTHING = Estimate(None, None, None)


def z_for(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, total: int, confidence: float) -> Estimate:
    """The Wilson score interval of successes/total."""
    if total == 0:
        return NOTHING
    z, p = z_for(confidence), successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    # Exactly 0 or 1 at the ends: rounding would leave 0/n outside its own interval.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return Estimate(p, low, high)


def newcombe(successes_b: int, total_b: int, successes_a: int, total_a: int, confidence: float) -> Estimate:
    """Newcombe's interval of p_b - p_a (b the challenger, a the champion)."""
    if total_a == 0 or total_b == 0:
        return NOTHING
    b, a = wilson(successes_b, total_b, confidence), wilson(successes_a, total_a, confidence)
    assert b.value is not None and a.value is not None and b.low is not None and b.high is not None and a.low is not None and a.high is not None
    difference = b.value - a.value
    low = difference - math.sqrt((b.value - b.low) ** 2 + (a.high - a.value) ** 2)
    high = difference + math.sqrt((b.high - b.value) ** 2 + (a.value - a.low) ** 2)
    return Estimate(difference, low, high)


@dataclass(frozen=True)
class Moments:
    """What a mean's interval needs: n, the mean, the variance of the mean."""

    n: int
    mean: float
    variance_of_mean: float


def moments(values: Sequence[float]) -> Moments | None:
    n = len(values)
    if n < 2:
        return None
    mean = fmean(values)
    variance = sum((value - mean) ** 2 for value in values) / (n - 1)
    return Moments(n, mean, variance / n)


def mean_interval(values: Sequence[float], confidence: float) -> Estimate:
    found = moments(values)
    if found is None:
        return NOTHING
    half = z_for(confidence) * math.sqrt(found.variance_of_mean)
    return Estimate(found.mean, found.mean - half, found.mean + half)


def welch(values_b: Sequence[float], values_a: Sequence[float], confidence: float) -> Estimate:
    """The interval of mean_b - mean_a with unequal variances."""
    b, a = moments(values_b), moments(values_a)
    if a is None or b is None:
        return NOTHING
    difference = b.mean - a.mean
    half = z_for(confidence) * math.sqrt(b.variance_of_mean + a.variance_of_mean)
    return Estimate(difference, difference - half, difference + half)


def _ratio_moments(numerators: Sequence[float], denominators: Sequence[float]) -> Moments | None:
    """sum(numerators)/sum(denominators) over accounts, with the delta method's variance."""
    n = len(numerators)
    if n < 2:
        return None
    mean_x, mean_y = fmean(numerators), fmean(denominators)
    if mean_y == 0:
        return None
    ratio = mean_x / mean_y
    # The residuals x - R*y carry the whole variance of the ratio to first order.
    residuals = [x - ratio * y for x, y in zip(numerators, denominators)]
    variance = sum(r * r for r in residuals) / (n - 1)
    return Moments(n, ratio, variance / (n * mean_y * mean_y))


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float], confidence: float) -> Estimate:
    found = _ratio_moments(numerators, denominators)
    if found is None:
        return NOTHING
    half = z_for(confidence) * math.sqrt(found.variance_of_mean)
    return Estimate(found.mean, found.mean - half, found.mean + half)


def ratio_difference(numerators_b: Sequence[float], denominators_b: Sequence[float], numerators_a: Sequence[float], denominators_a: Sequence[float], confidence: float) -> Estimate:
    b, a = _ratio_moments(numerators_b, denominators_b), _ratio_moments(numerators_a, denominators_a)
    if a is None or b is None:
        return NOTHING
    difference = b.mean - a.mean
    half = z_for(confidence) * math.sqrt(b.variance_of_mean + a.variance_of_mean)
    return Estimate(difference, difference - half, difference + half)

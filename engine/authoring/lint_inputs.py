"""`lint`, typed inputs: how the rules carve a score's declared range.

  input-gap        (warning) rules that differ only in the band of an input they
                             read leave part of its declared range to none of them
  input-overlap    (warning) two such rules both claim part of the range: the
                             higher priority (then the id) decides, silently
  input-out-of-range (error) a rule compares an input with a value outside its
                             declared range, so that comparison decides nothing or never holds
  input-unused     (info)    the policy declares an input no rule reads

Rules "differ only in the band" when their conditions are the same once the
comparisons with the input are taken out: a ladder such as `score < 40`, `40 to
79`, `80 and above` under the same other conditions. A gap there is a band of
cases that falls through to whatever rule comes next, which a ladder rarely
means; a lone rule on a score (a self-cure path from 80) leaves the rest to the
other rules on purpose and is not a gap. The analysis reads the rule's top-level
`all` only; a rule reading the input inside `any` or `not` is not analysed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterator, Sequence

from engine.authoring.lint import Finding
from engine.explain import describe
from engine.facts import INPUT_PREFIX, declare_inputs, forget_inputs
from engine.policy.inputs import describe as describe_input
from engine.policy.inputs import fact_specs
from engine.policy.ir import AllOf, Compare, Condition, Input, Policy, Rule, paths_of

ORDERED = ("number", "integer", "date")
Point = Any  # int, Decimal or date: the input's own type


def typed_inputs(policy: Policy) -> Any:
    """Let the rest of lint read `inputs.<name>` with its declared type; the token
    input_findings gives back."""
    return declare_inputs(fact_specs(policy.inputs))


def input_findings(policy: Policy, token: Any = None) -> list[Finding]:
    """The findings on the declared inputs (this module's docstring); with `token`
    (typed_inputs), first forget the declared types again."""
    if token is not None:
        forget_inputs(token)
    findings: list[Finding] = []
    read = set().union(*(paths_of(rule.condition) for rule in policy.rules)) if policy.rules else set()
    for item in policy.inputs:
        path = INPUT_PREFIX + item.name
        if path not in read:
            findings.append(Finding("info", _file(policy), 1, None, "input-unused", f"`{path}` is declared but no rule reads it: drop it, or callers send it for nothing"))
        elif item.type in ORDERED:
            findings += _out_of_range(policy.rules, item, path)
            findings += _carving(policy.rules, item, path)
    return findings


def _file(policy: Policy) -> str:
    return policy.source_files[0] if policy.source_files else policy.name


@dataclass(frozen=True)
class Band:
    """From lo to hi, both included (None: unbounded), in the input's own type."""

    lo: Point
    hi: Point

    def empty(self) -> bool:
        return self.lo is not None and self.hi is not None and self.lo > self.hi


def _point(item: Input, value: Any) -> Point:
    if item.type == "date":
        return date.fromisoformat(value)
    return Decimal(value) if item.type == "number" else value


def _step(item: Input) -> Any:
    """The smallest difference between two values: a day, 1, or 0.0001 (numbers are compared to 4 places)."""
    return timedelta(days=1) if item.type == "date" else Decimal("0.0001") if item.type == "number" else 1


def _band(item: Input, leaves: Sequence[Compare]) -> Band:
    """The values all `leaves` hold for, with strict bounds made inclusive at the input's step."""
    lo: Any = item.minimum
    hi: Any = item.maximum
    step = _step(item)
    for leaf in leaves:
        value = _point(item, leaf.value)
        low, high = {"eq": (value, value), "gte": (value, None), "gt": (value + step, None), "lte": (None, value), "lt": (None, value - step)}.get(leaf.op, (None, None))
        lo = low if lo is None or (low is not None and low > lo) else lo
        hi = high if hi is None or (high is not None and high < hi) else hi
    return Band(lo, hi)


def _split(rule: Rule, path: str) -> tuple[list[Compare], tuple[Condition, ...]] | None:
    """The rule's comparisons with `path` at its top level and the rest of its condition;
    None when it reads `path` elsewhere (inside `any` or `not`), which is not analysed."""
    items = rule.condition.items if isinstance(rule.condition, AllOf) else (rule.condition,)
    flat = [part for item in items for part in (item.items if type(item) is AllOf else (item,))]
    leaves = [part for part in flat if isinstance(part, Compare) and part.path == path and part.op != "neq"]
    rest = tuple(part for part in flat if not (isinstance(part, Compare) and part.path == path))
    if any(path in paths_of(part) for part in rest):
        return None
    return leaves, rest


def _where(rule: Rule) -> str:
    return f"{rule.id} ({rule.source.file}:{rule.source.line})"


def _words(item: Input, band: Band) -> str:
    lo = item.minimum if band.lo is None else band.lo
    hi = item.maximum if band.hi is None else band.hi
    shown = [format(value.normalize(), "f") if isinstance(value, Decimal) else str(value) if value is not None else "" for value in (lo, hi)]
    return shown[0] if lo == hi else f"{shown[0]} to {shown[1]}"


def _out_of_range(rules: Sequence[Rule], item: Input, path: str) -> Iterator[Finding]:
    for rule in rules:
        for leaf in _leaves(rule.condition, path):
            value = _point(item, leaf.value)
            if (item.minimum is not None and value < item.minimum) or (item.maximum is not None and value > item.maximum):
                yield Finding("error", rule.source.file, rule.source.line, rule.id, "input-out-of-range", (
                    f"`{describe(leaf)}` compares with a value outside the declared range of `{path}` ({describe_input(item)}): a case never carries it, "
                    "so the comparison decides nothing or never holds. Compare within the range, or widen the declaration."
                ))


def _leaves(condition: Condition, path: str) -> Iterator[Compare]:
    if isinstance(condition, Compare):
        if condition.path == path:
            yield condition
    elif hasattr(condition, "items"):
        for part in condition.items:
            yield from _leaves(part, path)


def _carving(rules: Sequence[Rule], item: Input, path: str) -> Iterator[Finding]:
    """Gaps and overlaps in the declared range among rules that differ only in the band of `path`."""
    groups: dict[tuple[Condition, ...], list[tuple[Rule, Band]]] = {}
    for rule in sorted(rules, key=lambda rule: (-rule.priority, rule.id)):
        found = _split(rule, path)
        if found is None or not found[0]:
            continue
        leaves, rest = found
        groups.setdefault(rest, []).append((rule, _band(item, leaves)))
    for ladder in groups.values():
        if len(ladder) < 2 or item.minimum is None or item.maximum is None:
            continue
        first = ladder[0][0]
        names = ", ".join(rule.id for rule, _ in ladder)
        for gap in _uncovered(item, [band for _, band in ladder if not band.empty()]):
            yield Finding("warning", first.source.file, first.source.line, first.id, "input-gap", (
                f"`{path}` {_words(item, gap)}: none of the rules {names} (the same conditions but for the band of {path}) covers it, "
                "so such a case falls through to the rules below them. Widen a band, or add one."
            ))
        for index, (rule, band) in enumerate(ladder):
            for other, other_band in ladder[index + 1 :]:
                both = Band(_max(band.lo, other_band.lo), _min(band.hi, other_band.hi))
                if not both.empty() and not band.empty() and not other_band.empty():
                    yield Finding("warning", other.source.file, other.source.line, other.id, "input-overlap", (
                        f"`{path}` {_words(item, both)} is claimed by both {_where(rule)} and {other.id}, which differ only in the band of {path}: "
                        f"{rule.id} wins there (priority, then id), so {other.id} never acts on it. Make the bands meet without overlapping."
                    ))


def _max(a: Point | None, b: Point | None) -> Point | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: Point | None, b: Point | None) -> Point | None:
    return b if a is None else a if b is None else min(a, b)


def _uncovered(item: Input, bands: Sequence[Band]) -> list[Band]:
    """The parts of the declared range [minimum, maximum] no band covers (each band
    is within the range: _band starts from its bounds)."""
    step = _step(item)
    gaps: list[Band] = []
    at: Any = item.minimum
    for band in sorted(bands, key=lambda band: band.lo):
        if band.lo > at:
            gaps.append(Band(at, band.lo - step))
        at = max(at, band.hi + step)
    if at <= item.maximum:
        gaps.append(Band(at, item.maximum))
    return gaps

"""`lint`: what an analyst should know about a policy before it serves.

The analysis is exact, not sampled. Each rule condition is normalised into a
disjunction of "boxes": one constraint per fact path (the values the fact may
take, and whether it may be absent), facts not named being free. Numbers and
money are intervals (whole numbers tightened to whole bounds), text and true/false
are allowed or excluded value sets (closed vocabularies made finite), regular
expressions stay patterns, whose emptiness is decided by turning them into finite
automata (`interegular`). On boxes, emptiness, intersection and subtraction (hence
containment) are computed exactly, except that "does not match" cannot be
written, and a pattern on which the automata could differ from RE2 (which
matches patterns; engine/policy/patterns.py) or Python's `re` (whose parser reads
them here), or would take long to build (engine/authoring/pattern_analysis.py), is taken as
satisfiable; there every answer leans the safe way, so a finding is never a false
alarm for `never-fires` or `shadowed`, and `gaps` never names a cell some rule can
reach. No analyst pattern is ever run by Python's `re` (it backtracks).

Lint runs before every reload, so all of its work is bounded (docs/limits.md):
each condition, all conditions, and each check across rules have a budget of
work units; past it lint notes `too-complex` and claims nothing it did not compute.

Findings:
  never-fires            (error)   no case can ever match the rule
  shadowed               (warning) higher-priority rules match every case it matches
                                   (engine/authoring/lint_shadowing.py)
  overlap-same-priority  (warning) two rules of equal priority can both match one
                                   case and do different things: the id decides
  gaps                   (warning) days-past-due x segment x amount cells no rule reaches
  legal-without-final-notice (error)   a path to LEGAL_REVIEW that does not require a
                                   delivered FINAL_NOTICE first (engine/authoring/lint_steps.py)
  final-notice-without-contact (warning) a path to FINAL_NOTICE that does not require
                                   an earlier delivered contact (engine/authoring/lint_steps.py)
  money-without-currency (warning) an amount compared or offered as a bare number,
                                   whatever the case's currency (engine/authoring/lint_money.py)
  effective-empty, effective-overlap, effective-gap, effective-mixed
                         (error/warning) effective dates: a period never in force, rules
                                   replacing each other that overlap or leave a gap
                                   (engine/authoring/lint_effective.py)
  input-gap, input-overlap, input-out-of-range, input-unused
                         (warning/error/info) declared inputs: bands leaving part of a
                                   range to no rule or claimed twice, a value outside
                                   the range, an input no rule reads (engine/authoring/lint_inputs.py)
  review-without-queue, compliance-review-without-queue
                         (warning) with `queues:` declared, a review reaching no team's
                                   queue (engine/authoring/lint_work.py)
  not-checked            (info)    a strategies directory was linted without its compliance
                                   packs, so the order of the ladder was not checked
  too-complex            (info)    a condition too large to analyse exactly, or a
                                   check stopped at its work budget
  load                   (error)   the policy (or a compliance pack) does not load at all
  unused-ignore          (warning) a rule's `lint_ignore` silences a finding lint does not
                                   report for it (engine/authoring/lint_suppressions.py)

A rule may silence its own warnings and notes, with a reason (`lint_ignore`);
they leave the findings and are kept apart (`policy_report`, `--show-ignored`).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Sequence, Union

from engine.authoring.arguments import add_rules_argument
from engine.authoring.formats import Annotation, Format, add_format_option, render
from engine.errors import PolicyError
from engine.explain import describe, plain
from engine.facts import FactSpec, FactType, fact_spec
from engine.authoring.pattern_analysis import admits_text_outside
from engine.policy.gc_pause import gc_paused
from engine.policy.ir import AllOf, AnyOf, Compare, Condition, Exists, Matches, Pack, Policy, Rule
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.policy.patterns import PatternError, compile_pattern
from engine.vocabulary import Action

if TYPE_CHECKING:
    from engine.authoring.lint_suppressions import LintReport

Severity = Literal["info", "warning", "error"]
MAX_CONJUNCTS = 256  # a rule whose condition expands past this is not analysed
MAX_PIECES = 4096  # pieces of an uncovered remainder; past this coverage is not claimed
SHOWN_VALUES = 12  # values named in a message; an `in` list of thousands is summarised
STRATEGY_DIR = "strategies"
COMPLIANCE_DIR = "compliance"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    file: str
    line: int
    rule_id: str | None
    code: str
    message: str


# ---------------------------------------------------------------------------
# The work budget: lint runs before every hot reload, on whatever the analyst
# wrote, so no part of it may take time beyond a fixed bound.
# ---------------------------------------------------------------------------

MAX_WORK = 2_000_000  # units (a value or a box compared, an automaton transition) per check
MAX_CONDITION_WORK = 100_000  # units to turn one rule's condition into boxes
_work = threading.local()


class _OutOfWork(Exception):
    pass


class _Budget:
    """Work done inside `with _Budget(units)` draws on `units`; inside another
    budget, on at most what that one has left, which it then loses too."""

    def __init__(self, units: int):
        self.units = units
        self.exhausted = False

    def __enter__(self) -> _Budget:
        self._outer = getattr(_work, "left", None)
        self._allowed = self.units if self._outer is None else max(min(self.units, self._outer), 0)
        _work.left = self._allowed
        return self

    def __exit__(self, *_: object) -> None:
        left = _work.left
        self.exhausted = left < 0
        _work.left = None if self._outer is None else self._outer - (self._allowed - left)


def _charge(units: int) -> None:
    left = getattr(_work, "left", None)
    if left is None:  # no budget open: a caller of meet() on its own, bounded by its arguments
        return
    _work.left = left - units
    if _work.left < 0:
        raise _OutOfWork


# ---------------------------------------------------------------------------
# Value sets: what one fact may be when it is present.
# ---------------------------------------------------------------------------

Number = Union[int, Decimal]


@dataclass(frozen=True)
class Interval:
    """Numbers between lo and hi (None: unbounded); `whole` for whole-number facts."""

    lo: Number | None = None
    hi: Number | None = None
    lo_open: bool = False
    hi_open: bool = False
    whole: bool = False

    def normal(self) -> Interval:
        if not self.whole:
            return self
        # Whole numbers: `> 30` is `>= 31`, so contradictions like `> 30 and < 31` show.
        lo = None if self.lo is None else (math.floor(self.lo) + 1 if self.lo_open else math.ceil(self.lo))
        hi = None if self.hi is None else (math.ceil(self.hi) - 1 if self.hi_open else math.floor(self.hi))
        return Interval(lo, hi, False, False, True)

    def empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open))

    def full(self) -> bool:
        return self.lo is None and self.hi is None

    def meet(self, other: Interval) -> Interval:
        _charge(4)  # decimal comparisons: a few times the cost of a value in a text set
        lo, lo_open = _tighter(self.lo, self.lo_open, other.lo, other.lo_open, max)
        hi, hi_open = _tighter(self.hi, self.hi_open, other.hi, other.hi_open, min)
        return Interval(lo, hi, lo_open, hi_open, self.whole).normal()

    def complement(self) -> list[Interval] | None:
        if self.empty():
            return [Interval(whole=self.whole)]
        pieces = []
        if self.lo is not None:
            pieces.append(Interval(None, self.lo, False, not self.lo_open, self.whole).normal())
        if self.hi is not None:
            pieces.append(Interval(self.hi, None, not self.hi_open, False, self.whole).normal())
        return [piece for piece in pieces if not piece.empty()]

    def nothing(self) -> Interval:
        return Interval(1, 0, whole=self.whole)


def _tighter(a: Number | None, a_open: bool, b: Number | None, b_open: bool, pick: Callable[..., Number]) -> tuple[Number | None, bool]:
    if a is None:
        return b, b_open
    if b is None or a == b:
        return a, a_open or (b is not None and b_open)
    return (a, a_open) if pick(a, b) == a else (b, b_open)


Text = Union[str, bool]


@dataclass(frozen=True)
class TextSet:
    """Text (or true/false): the only values allowed (`finite`) or the values excluded.

    `patterns` (regular expressions every value must fully match) stay opaque, and
    only on an open set: on a finite set they are applied to the values at once.
    `choices` is the closed vocabulary of the fact, if any, which keeps sets finite.
    """

    values: frozenset[Text]
    finite: bool
    patterns: frozenset[str] = frozenset()
    choices: tuple[Text, ...] = ()

    def normal(self) -> TextSet:
        values, finite = self.values, self.finite
        if self.choices and not finite:
            values, finite = frozenset(self.choices) - values, True
        if finite and self.patterns:
            values = frozenset(value for value in values if _matches_all(value, self.patterns))
            return TextSet(values, True, frozenset(), self.choices)
        return TextSet(values, finite, self.patterns, self.choices)

    def empty(self) -> bool:
        if self.finite:
            return not self.values
        return bool(self.patterns) and not _patterns_admit_text_outside(self.patterns, self.values)

    def full(self) -> bool:
        if self.choices:
            return self.finite and self.values == frozenset(self.choices)
        return not self.finite and not self.values and not self.patterns

    def meet(self, other: TextSet) -> TextSet:
        _charge(1 + len(self.values) + len(other.values) + len(self.patterns) + len(other.patterns))
        patterns = self.patterns | other.patterns
        if self.finite and other.finite:
            return TextSet(self.values & other.values, True, patterns, self.choices).normal()
        if self.finite or other.finite:
            allowed, excluded = (self, other) if self.finite else (other, self)
            return TextSet(allowed.values - excluded.values, True, patterns, self.choices).normal()
        return TextSet(self.values | other.values, False, patterns, self.choices).normal()

    def complement(self) -> list[TextSet] | None:
        if self.patterns:
            return None  # "does not match /x/" cannot be written with these sets
        return [TextSet(self.values, not self.finite, frozenset(), self.choices).normal()]

    def nothing(self) -> TextSet:
        return TextSet(frozenset(), True, frozenset(), self.choices)


def _matches_all(value: Text, patterns: frozenset[str]) -> bool:
    # The same test as the matchers (RE2, the whole value), and only text matches.
    _charge(len(patterns))
    return all(isinstance(value, str) and _pattern_holds(pattern, value) for pattern in patterns)


def _pattern_holds(pattern: str, value: str) -> bool:
    try:
        return compile_pattern(pattern).fullmatch(value)
    except PatternError:  # never loaded; a rule built by hand: keep the value (the safe side)
        return True


@functools.lru_cache(maxsize=4096)
def _patterns_admit_text_outside(patterns: frozenset[str], excluded: frozenset[Text]) -> bool:
    """Whether some text fully matches every pattern and is not one of `excluded`."""
    answer, transitions = admits_text_outside(patterns, excluded)
    _charge(transitions + len(excluded))  # a cached answer costs nothing again
    return answer


Values = Union[Interval, TextSet]


@dataclass(frozen=True)
class Constraint:
    """What one fact may be in a box: absent (if `absent`), or present with one of `values`."""

    absent: bool
    values: Values

    def empty(self) -> bool:
        return not self.absent and self.values.empty()

    def is_free(self) -> bool:
        return self.absent and self.values.full()

    def meet(self, other: Constraint) -> Constraint:
        return Constraint(self.absent and other.absent, self.values.meet(other.values))  # type: ignore[arg-type]

    def complement(self) -> list[Constraint] | None:
        pieces: Sequence[Values] | None = self.values.complement()
        if pieces is None:
            return None
        if not pieces:
            return [Constraint(not self.absent, self.values.nothing())]
        return [Constraint(not self.absent and index == 0, piece) for index, piece in enumerate(pieces)]


Box = dict[str, Constraint]  # fact path -> constraint; a path not named is free


def _spec(path: str) -> FactSpec:
    return fact_spec(path) or FactSpec(FactType.TEXT, "unknown fact")


def _is_number(spec: FactSpec) -> bool:
    return spec.type in (FactType.INT, FactType.MONEY, FactType.NUMBER)


@functools.lru_cache(maxsize=1024)  # a few hundred facts; asked for at every leaf of every rule
def _all_values(spec: FactSpec) -> Values:
    if _is_number(spec):
        return Interval(whole=spec.type is FactType.INT)
    choices: tuple[Text, ...] = (True, False) if spec.type is FactType.BOOL else spec.choices
    return TextSet(frozenset(), False, frozenset(), choices).normal()


def free(path: str) -> Constraint:
    return Constraint(True, _all_values(_spec(path)))


class NotAnalysed(Exception):
    """A condition lint cannot analyse exactly (too large, or an unexpected form)."""


def _leaf(condition: Compare | Exists | Matches) -> list[Constraint]:
    """The constraints of one leaf, as alternatives (a number's `!=` is `<` or `>`)."""
    spec = _spec(condition.path)
    everything = _all_values(spec)
    if isinstance(condition, Exists):
        return [Constraint(False, everything) if condition.present else Constraint(True, everything.nothing())]
    if isinstance(condition, Matches):
        if not isinstance(everything, TextSet):
            raise NotAnalysed(f"`matches` on the number fact {condition.path}")
        return [Constraint(False, everything.meet(TextSet(frozenset(), False, frozenset({condition.pattern}), everything.choices)))]
    op, value = condition.op, condition.value
    if isinstance(everything, Interval):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise NotAnalysed(f"{condition.path} compared with {value!r}")
        shapes: dict[str, list[tuple[Number | None, Number | None, bool, bool]]] = {
            "eq": [(value, value, False, False)],
            "neq": [(None, value, False, True), (value, None, True, False)],
            "lt": [(None, value, False, True)],
            "lte": [(None, value, False, False)],
            "gt": [(value, None, True, False)],
            "gte": [(value, None, False, False)],
        }
        return [Constraint(False, Interval(lo, hi, lo_open, hi_open, everything.whole).normal()) for lo, hi, lo_open, hi_open in shapes[op]]
    if op not in ("eq", "neq"):
        raise NotAnalysed(f"`{op}` on the text fact {condition.path}")
    single = TextSet(frozenset({value}), op == "eq", frozenset(), everything.choices).normal()  # type: ignore[arg-type]
    return [Constraint(False, single)]


def meet(a: Box, b: Box) -> Box | None:
    """The cases both boxes hold for, or None when there are none."""
    _charge(1 + len(a) + len(b))
    out = dict(a)
    for path, constraint in b.items():
        joined = constraint.meet(out[path]) if path in out else constraint
        if joined.empty():
            return None
        out[path] = joined
    return out


def condition_boxes(condition: Condition, limit: int = MAX_CONJUNCTS) -> list[Box] | None:
    """The condition as a disjunction of non-empty boxes ([]: it never holds); None if
    too large (more than `limit` alternatives, or more than MAX_CONDITION_WORK of work)."""
    try:
        with _Budget(MAX_CONDITION_WORK):
            return _boxes(condition, limit)
    except (NotAnalysed, _OutOfWork):
        return None


def _boxes(condition: Condition, limit: int) -> list[Box]:
    if isinstance(condition, AllOf):
        merged, items = _merged_texts(condition.items, "neq")
        result: list[Box] = [{}]
        for alternatives in [*merged, *(_boxes(item, limit) for item in items)]:
            result = [joined for left in result for right in alternatives if (joined := meet(left, right)) is not None]
            if len(result) > limit:
                raise NotAnalysed("too many alternatives")
            if not result:
                return []
        return result
    if isinstance(condition, AnyOf):
        merged, items = _merged_texts(condition.items, "eq")
        result = [box for alternatives in merged for box in alternatives]
        result += [box for item in items for box in _boxes(item, limit)]
        if len(result) > limit:
            raise NotAnalysed("too many alternatives")
        return result
    return [{condition.path: constraint} for constraint in _leaf(condition) if not constraint.empty()]


def _merged_texts(items: Sequence[Condition], op: str) -> tuple[list[list[Box]], list[Condition]]:
    """Text comparisons `op` on one fact as one box each, and the other items.

    `in` is an `any` of `eq` and `not_in` an `all` of `neq`: one box for all the
    values at once is the same set of cases, without an alternative per value (an
    `in` list past MAX_CONJUNCTS would not be analysed) or a quadratic fold of
    ever larger exclusion sets.
    """
    values: dict[str, list[Text]] = {}
    rest: list[Condition] = []
    for item in items:
        if isinstance(item, Compare) and item.op == op and isinstance(item.value, (str, bool)) and not _is_number(_spec(item.path)):
            values.setdefault(item.path, []).append(item.value)
        else:
            rest.append(item)
    merged = []
    for path, texts in values.items():
        _charge(len(texts))
        everything = _all_values(_spec(path))
        assert isinstance(everything, TextSet)
        constraint = Constraint(False, TextSet(frozenset(texts), op == "eq", frozenset(), everything.choices).normal())
        merged.append([] if constraint.empty() else [{path: constraint}])
    return merged, rest


def subtract(box: Box, cut: Box) -> list[Box]:
    """Boxes covering `box` minus `cut`: exact, or larger where a pattern cannot be negated."""
    _charge(len(box) * len(cut))  # the pieces copied
    if meet(box, cut) is None:
        return [box]
    pieces: list[Box] = []
    rest = dict(box)
    for path, constraint in cut.items():
        current = rest.get(path) or free(path)
        outside = constraint.complement()
        if outside is None:
            pieces.append(dict(rest))  # keep all of it: larger than the truth, never smaller
        else:
            pieces += [{**rest, path: part} for piece in outside if not (part := current.meet(piece)).empty()]
        rest[path] = current.meet(constraint)
    return pieces


def uncovered(boxes: Sequence[Box], cutters: Sequence[tuple[int, Box]]) -> tuple[list[Box] | None, set[int]]:
    """What of `boxes` the cutters leave (None: gave up), and the tags of the cutters that took a part."""
    remainder = list(boxes)
    used: set[int] = set()
    try:
        with _Budget(MAX_WORK):
            for tag, cut in cutters:
                if not remainder:
                    break
                following: list[Box] = []
                for box in remainder:
                    pieces = subtract(box, cut)
                    if pieces != [box]:
                        used.add(tag)
                    following += pieces
                if len(following) > MAX_PIECES:
                    return None, used
                remainder = following
    except _OutOfWork:
        return None, used
    return remainder, used


def escapes(boxes: Sequence[Box], cutters: Sequence[tuple[int, Box]]) -> bool | None:
    """Whether some case of `boxes` is in none of the cutters (None: gave up).

    Depth first, stopping at the first piece no cutter touches: a rule that is not
    shadowed, the usual answer, costs one path through the cutters rather than the
    whole remainder, which per-currency amounts multiply by the currencies named.
    """
    stack = [(box, 0) for box in reversed(boxes)]  # a piece, and the first cutter still to apply to it
    try:
        with _Budget(MAX_WORK):  # every subtraction is charged: the budget bounds the search
            while stack:
                box, position = stack.pop()
                pieces = [box]
                while position < len(cutters) and pieces == [box]:
                    pieces = subtract(box, cutters[position][1])
                    position += 1
                if pieces == [box]:
                    return True
                stack += [(piece, position) for piece in reversed(pieces)]
    except _OutOfWork:
        return None
    return False


def covered(boxes: Sequence[Box], by: Sequence[Box]) -> bool:
    """True only if every case in `boxes` is in one of `by` (proved, never guessed)."""
    remainder, _ = uncovered(boxes, list(enumerate(by)))
    return remainder == []


# ---------------------------------------------------------------------------
# Words for analysts.
# ---------------------------------------------------------------------------


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(plain(value))


def describe_constraint(path: str, constraint: Constraint) -> str:
    values = constraint.values
    if values.empty():
        return f"{path} is absent"
    suffix = " (or absent)" if constraint.absent else ""
    if values.full():
        return f"{path} is present" + suffix
    if isinstance(values, Interval):
        return f"{path} {_interval_words(values)}" + suffix
    words = sorted(_word(value) for value in values.values)
    shown = ", ".join(words[:SHOWN_VALUES]) + (f" and {len(words) - SHOWN_VALUES:,} more" if len(words) > SHOWN_VALUES else "")
    if values.finite:
        text = f"{path} = {shown}" if len(values.values) == 1 else f"{path} is one of {shown}"
    else:
        parts = ([f"is not {shown}"] if values.values else []) + [f"matches /{pattern}/" for pattern in sorted(values.patterns)]
        text = f"{path} " + " and ".join(parts)
    return text + suffix


def _interval_words(values: Interval) -> str:
    lo, hi = values.lo, values.hi
    if lo is not None and hi is not None and not values.lo_open and not values.hi_open:
        return f"= {_word(lo)}" if lo == hi else f"{_word(lo)} to {_word(hi)}"
    low = None if lo is None else f"{'over' if values.lo_open else 'at least'} {_word(lo)}"
    high = None if hi is None else f"{'under' if values.hi_open else 'at most'} {_word(hi)}"
    return " and ".join(part for part in (low, high) if part)


def describe_box(box: Box) -> str:
    parts = [describe_constraint(path, constraint) for path, constraint in sorted(box.items()) if not constraint.is_free()]
    return ", ".join(parts) or "any case"


def _where(rule: Rule) -> str:
    return f"{rule.source.file}:{rule.source.line}"


def _finding(rule: Rule, severity: Severity, code: str, message: str) -> Finding:
    return Finding(severity, rule.source.file, rule.source.line, rule.id, code, message)


# ---------------------------------------------------------------------------
# The checks.
# ---------------------------------------------------------------------------

Analysed = list[tuple[Rule, "list[Box] | None"]]


def lint_policy(policy: Policy, packs: Sequence[Pack] | None = None) -> list[Finding]:
    """Every finding for one loaded policy that its rules do not silence (policy_report)."""
    return policy_report(policy, packs).findings


def policy_report(policy: Policy, packs: Sequence[Pack] | None = None) -> LintReport:
    """Every finding for one loaded policy, in file and line order; with the compliance
    packs in force beside it (None: not known), also the order of the ladder. Those a
    rule silences (`lint_ignore`) are set apart, with their reasons (lint_suppressions).

    Each step has a work budget (MAX_CONDITION_WORK per condition, MAX_WORK for
    all conditions and for each check across rules): past it, lint says so in a
    `too-complex` note and claims nothing it did not compute.
    """
    with gc_paused():  # the boxes of every rule stay alive until the end: nothing for the collector to find
        return _policy_report(policy, packs)


def _policy_report(policy: Policy, packs: Sequence[Pack] | None) -> LintReport:
    from engine.authoring.lint_inputs import input_findings, typed_inputs  # inputs.<name> typed as declared, until input_findings

    typed = typed_inputs(policy)
    rules = sorted(policy.rules, key=lambda rule: (-rule.priority, rule.id))  # arbitration order
    with _Budget(MAX_WORK):
        analysed: Analysed = [(rule, condition_boxes(rule.condition)) for rule in rules]
    findings: list[Finding] = []
    for rule, boxes in analysed:
        if boxes is None:
            findings.append(_finding(rule, "info", "too-complex", f"its condition has more than {MAX_CONJUNCTS} alternatives, takes more work to analyse than lint allows, or has a form lint does not know, so it was not checked for never-fires or shadowing; the gaps check counts it as matching anything. Splitting it into simpler rules makes it checkable."))
        elif not boxes:
            findings.append(_finding(rule, "error", "never-fires", _contradiction(rule.condition)))
    from engine.authoring import lint_shadowing  # it builds on this module's analysis

    findings += _bounded(lint_shadowing.shadowed, policy, analysed, "whether a rule is never chosen (`shadowed`)")
    findings += _bounded(_same_priority, policy, analysed, "equal-priority overlaps")
    findings += _bounded(_gaps, policy, analysed, "uncovered cells (`gaps`)")
    from engine.authoring.lint_money import money_findings  # it reports with this module's Finding

    findings += money_findings(policy, packs or ())
    from engine.authoring.lint_effective import effective_findings  # it reports with this module's Finding

    findings += effective_findings(policy)
    from engine.authoring.lint_work import work_findings  # it reports with this module's Finding

    findings += work_findings(policy, packs or ())
    findings += input_findings(policy, typed)
    if packs is not None:
        from engine.authoring.lint_steps import ladder_findings  # it builds on this module's analysis

        ladder = functools.partial(ladder_findings, packs=packs)
        findings += _bounded(ladder, policy, analysed, "the order of the ladder (`legal-without-final-notice`, `final-notice-without-contact`)")
    from engine.authoring.lint_suppressions import apply_ignores  # it reports with this module's Finding

    report = apply_ignores(findings, policy, packs)
    report.findings.sort(key=_finding_order)
    report.ignored.sort(key=lambda item: _finding_order(item.finding))
    return report


def _finding_order(finding: Finding) -> tuple[str, int, int, str]:
    return (finding.file, finding.line, {"error": 0, "warning": 1, "info": 2}[finding.severity], finding.code)


def _bounded(check: Callable[[Policy, Analysed], Iterator[Finding]], policy: Policy, analysed: Analysed, what: str) -> list[Finding]:
    """The findings of one check across rules, within MAX_WORK: those found before
    the budget ran out hold, and a note says the check is incomplete."""
    found: list[Finding] = []
    budget = _Budget(MAX_WORK)
    try:
        with budget:
            for finding in check(policy, analysed):
                found.append(finding)
    except _OutOfWork:
        pass
    if budget.exhausted:
        found.append(Finding("info", _policy_file(policy), 1, None, "too-complex", (
            f"lint stopped checking {what} after {MAX_WORK:,} steps of work: the policy has too many rules or "
            "alternatives to compare them all, so some findings of this check may be missing (those shown hold). "
            "Fewer, simpler rules, or the policy split by segment, make it checkable."
        )))
    return found


def _policy_file(policy: Policy) -> str:
    return policy.source_files[0] if policy.source_files else (policy.rules[0].source.file if policy.rules else "")


def _alternatives(condition: Condition) -> int:
    if isinstance(condition, AllOf):
        return math.prod(_alternatives(item) for item in condition.items)
    if isinstance(condition, AnyOf):
        return sum(_alternatives(item) for item in condition.items)
    return 1


def _first_conjunct(condition: Condition) -> list[Compare | Exists | Matches]:
    if isinstance(condition, AllOf):
        return [leaf for item in condition.items for leaf in _first_conjunct(item)]
    if isinstance(condition, AnyOf):
        return _first_conjunct(condition.items[0]) if condition.items else []
    return [condition]


def _contradiction(condition: Condition) -> str:
    """Why a rule can never fire, shown on its first alternative."""
    leaves = _first_conjunct(condition)
    lead = "can never match any case"
    if _alternatives(condition) > 1:
        lead += f": none of its {_alternatives(condition)} alternatives can hold; the first one because"
    else:
        lead += ":"
    for path in dict.fromkeys(leaf.path for leaf in leaves):
        on_path = tuple(leaf for leaf in leaves if leaf.path == path)
        if condition_boxes(AllOf(on_path)) == []:
            spec = _spec(path)
            shown = on_path
            if len(on_path) > SHOWN_VALUES:  # a long `not_in`: the other conditions first, then a few of its values
                shown = tuple(sorted(on_path, key=lambda leaf: isinstance(leaf, Compare) and leaf.op == "neq")[:SHOWN_VALUES])
            words = " and ".join(describe(leaf) for leaf in shown) + (f" and {len(on_path) - len(shown):,} more like them" if len(shown) < len(on_path) else "")
            note = ""
            if spec.choices:
                note = f" (`{path}` is always one of {', '.join(spec.choices)})"
            elif any(isinstance(leaf, Exists) for leaf in on_path):
                note = " (a comparison needs the fact to be present)"
            return f"{lead} `{words}` cannot all be true{note}. Correct the values, or delete the rule."
    return f"{lead} its conditions contradict each other. Correct the values, or delete the rule."


def _then_differences(a: Rule, b: Rule) -> list[str]:
    parts = []
    if a.action != b.action:
        parts.append(f"action ({a.action.value} vs {b.action.value})")
    if a.channels != b.channels:
        parts.append(f"channels ({_channels(a)} vs {_channels(b)})")
    if a.template != b.template:
        parts.append(f"template ({a.template or 'none'} vs {b.template or 'none'})")
    if a.offer != b.offer:
        parts.append("offer")
    return parts


def _channels(rule: Rule) -> str:
    return ", ".join(getattr(channel, "value", channel) for channel in rule.channels) or "none"


def _same_priority(policy: Policy, analysed: Analysed) -> Iterator[Finding]:
    from engine.authoring.lint_effective import in_force_together  # it reports with this module's Finding

    level: list[tuple[Rule, list[Box]]] = []  # analysable rules of the current priority, in id order
    for rule, boxes in analysed:
        if level and level[0][0].priority != rule.priority:
            level = []
        if not boxes:
            continue
        for winner, winner_boxes in level:
            _charge(4)
            if (winner.action, winner.channels, winner.template, winner.offer) == (rule.action, rule.channels, rule.template, rule.offer):
                continue
            if not in_force_together(winner, rule):  # one replaces the other on a date: never both
                continue
            example = next((joined for a in winner_boxes for b in boxes if (joined := meet(a, b)) is not None), None)
            if example is not None:
                differences = _then_differences(winner, rule)
                yield _finding(rule, "warning", "overlap-same-priority", (
                    f"has the same priority {rule.priority} as `{winner.id}` ({_where(winner)}), and one case can match both "
                    f"(e.g. {describe_box(example)}); they differ in {', '.join(differences)}, so `{winner.id}` wins only because "
                    f"its id sorts first. Give the rule that should win a higher priority, or make the conditions exclusive."
                ))
        level.append((rule, boxes))


# Gaps: the grid an analyst reasons in. Days are whole and inclusive; amounts
# include the lower bound and exclude the upper one.
DPD_BUCKETS: tuple[tuple[int | None, int | None], ...] = ((None, -1), (0, 14), (15, 30), (31, 60), (61, 90), (91, 180), (181, 365), (366, None))
AMOUNT_BANDS: tuple[tuple[int | None, int | None], ...] = ((None, 20), (20, 200), (200, 1000), (1000, None))
OTHER_SEGMENT = None  # the "any other" segment, not named in the policy


def _named_segments(rules: Sequence[Rule]) -> list[str]:
    names: set[str] = set()

    def walk(condition: Condition) -> None:
        if isinstance(condition, (AllOf, AnyOf)):
            for item in condition.items:
                walk(item)
        elif isinstance(condition, Compare) and condition.path == "segment" and isinstance(condition.value, str):
            names.add(condition.value)

    for rule in rules:
        walk(rule.condition)
    return sorted(names)


def _cell(segment: str | None, named: list[str], dpd: tuple[int | None, int | None], amount: tuple[int | None, int | None]) -> Box:
    segments = _all_values(_spec("segment"))
    assert isinstance(segments, TextSet)
    chosen = TextSet(frozenset(named), False, frozenset(), segments.choices) if segment is None else TextSet(frozenset({segment}), True)
    return {
        "days_past_due": Constraint(False, Interval(dpd[0], dpd[1], whole=True)),
        "segment": Constraint(False, segments.meet(chosen)),
        "amount_due": Constraint(False, Interval(None if amount[0] is None else Decimal(amount[0]), None if amount[1] is None else Decimal(amount[1]), hi_open=True)),
    }


def _gaps(policy: Policy, analysed: Analysed) -> Iterator[Finding]:
    named = _named_segments([rule for rule, _ in analysed])
    segments: list[str | None] = [*named, OTHER_SEGMENT]
    # A rule lint could not analyse may match anything: never claim a gap it might fill.
    boxes = [box for _, rule_boxes in analysed for box in (rule_boxes if rule_boxes is not None else [{}])]
    missing: dict[str | None, set[tuple[int, int]]] = {segment: set() for segment in segments}
    out_of_work = False
    try:
        for segment in segments:
            for d, dpd in enumerate(DPD_BUCKETS):
                for a, amount in enumerate(AMOUNT_BANDS):
                    cell = _cell(segment, named, dpd, amount)
                    if all(meet(cell, box) is None for box in boxes):
                        missing[segment].add((d, a))  # only once every box was compared
    except _OutOfWork:
        out_of_work = True  # the cells found so far are gaps; the others were not checked
    for line in _gap_lines(missing, named):
        yield Finding("warning", _policy_file(policy), 1, None, "gaps", line)
    if out_of_work:
        raise _OutOfWork


def _runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive indices as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for index in sorted(indices):
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _gap_lines(missing: dict[str | None, set[tuple[int, int]]], named: list[str]) -> list[str]:
    # Per segment: merge amount bands within a days bucket, then days buckets with
    # the same amounts; then one line per area, naming every segment it is missing for.
    areas: dict[tuple[tuple[int, int], tuple[int, int]], list[str | None]] = {}
    for segment, cells in missing.items():
        rows: list[tuple[tuple[int, int], tuple[tuple[int, int], ...]]] = []
        for d in sorted({d for d, _ in cells}):
            amounts = tuple(_runs([a for dd, a in cells if dd == d]))
            if rows and rows[-1][0][1] == d - 1 and rows[-1][1] == amounts:
                rows[-1] = ((rows[-1][0][0], d), amounts)
            else:
                rows.append(((d, d), amounts))
        for days, amounts in rows:
            for amount in amounts:
                areas.setdefault((days, amount), []).append(segment)
    return [
        f"{_segment_words(group, named)}, {_days_words(days)}, {_amount_words(amount)}: no rule covers it, so such a case "
        "gets no decision from the strategy (NO_CONTACT, no rule matched). Add a rule or widen one."
        for (days, amount), group in areas.items()
    ]


def _segment_words(group: list[str | None], named: list[str]) -> str:
    if len(group) == len(named) + 1:
        return "any segment"
    words = [f"segment {segment}" if segment is not None else "any other segment" for segment in group]
    return " or ".join(words)


def _days_words(run: tuple[int, int]) -> str:
    lo, hi = DPD_BUCKETS[run[0]][0], DPD_BUCKETS[run[1]][1]
    if lo is None and hi is None:
        return "any days past due"
    if lo is None:
        return f"days past due < {hi + 1}"  # type: ignore[operator]
    if hi is None:
        return f"days past due > {lo - 1}"
    return f"days past due {lo}-{hi}"


def _amount_words(run: tuple[int, int]) -> str:
    lo, hi = AMOUNT_BANDS[run[0]][0], AMOUNT_BANDS[run[1]][1]
    if lo is None and hi is None:
        return "any amount"
    if lo is None:
        return f"amount < {hi}"
    if hi is None:
        return f"amount >= {lo}"
    return f"amount {lo} to under {hi}"


# ---------------------------------------------------------------------------
# Files and the command line.
# ---------------------------------------------------------------------------


def strategy_dir(path: Path) -> Path:
    """A rules directory's strategies/, or the path itself when it is the strategies directory."""
    return path / STRATEGY_DIR if (path / STRATEGY_DIR).is_dir() else path


def lint_files(rules_dir: Path) -> list[Finding]:
    """The findings of a rules directory that its rules do not silence (files_report)."""
    return files_report(rules_dir).findings


def files_report(rules_dir: Path) -> LintReport:
    """Load the rules directory's strategy and compliance packs (those of compliance/, as
    the engine does) and lint them; a load failure is an error finding each. Given a
    strategies directory itself, the packs are unknown: the ladder's order is not checked."""
    from engine.authoring.lint_suppressions import LintReport

    try:
        policy = load_strategy(strategy_dir(rules_dir))
    except PolicyError as error:
        return LintReport(_load_findings(error), [])
    if not (rules_dir / STRATEGY_DIR).is_dir():
        report = policy_report(policy)
        return LintReport(report.findings + _not_checked(policy), report.ignored)
    try:
        packs = load_packs(rules_dir / COMPLIANCE_DIR)
    except PolicyError as error:  # the strategy is still worth linting; the engine would not load
        report = policy_report(policy)
        return LintReport(report.findings + _load_findings(error), report.ignored)
    return policy_report(policy, packs)


def _load_findings(error: PolicyError) -> list[Finding]:
    return [Finding("error", problem.file, problem.line, problem.rule_id, "load", problem.message) for problem in error.problems]


def _not_checked(policy: Policy) -> list[Finding]:
    steps = [rule.id for rule in policy.rules if rule.action in (Action.LEGAL_REVIEW, Action.FINAL_NOTICE)]
    if not steps:
        return []
    return [Finding("info", _policy_file(policy), 1, None, "not-checked", (
        f"lint was given a strategies directory, so it did not read the compliance packs: whether {'rule' if len(steps) == 1 else 'the rules'} "
        f"{', '.join(f'`{step}`' for step in steps[:SHOWN_VALUES])}{' and others' if len(steps) > SHOWN_VALUES else ''} "
        f"{'comes' if len(steps) == 1 else 'come'} only after a delivered final notice or an earlier contact was not checked. "
        "Lint the rules directory (the one holding strategies/ and compliance/)."
    ))]


def format_findings(findings: Sequence[Finding]) -> str:
    lines = []
    for finding in findings:
        rule = f" {finding.rule_id}:" if finding.rule_id else ""
        lines.append(f"{finding.file}:{finding.line}: {finding.severity} [{finding.code}]{rule} {finding.message}")
    return "\n".join(lines)


def run_lint(rules: Path, strict: bool = False, show_ignored: bool = False, output_format: Format = "text") -> int:
    """Print the findings (then, with show_ignored, those the rules silence and why);
    1 on errors (or on warnings with strict), else 0."""
    report = files_report(rules)
    findings = report.findings
    if output_format != "text":
        return _print_document(findings, strict, output_format)
    if findings:
        print(format_findings(findings))
    if show_ignored and report.ignored:
        from engine.authoring.lint_suppressions import format_ignored

        print(format_ignored(report.ignored))
    counts = {severity: sum(1 for finding in findings if finding.severity == severity) for severity in ("error", "warning", "info")}
    silenced = f", {len(report.ignored)} ignored" + ("" if show_ignored else " (--show-ignored lists them)") if report.ignored else ""
    print(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s){silenced}")
    failed = counts["error"] > 0 or (strict and counts["warning"] > 0)
    return 1 if failed else 0


def _print_document(findings: Sequence[Finding], strict: bool, output_format: Format) -> int:
    """The findings as one document on stdout (engine/authoring/formats.py), the counts on stderr; the same exit code as text."""
    document = render([finding_annotation(finding) for finding in findings], output_format, tool="collection-strategy lint")
    if document:
        print(document)
    counts = {severity: sum(1 for finding in findings if finding.severity == severity) for severity in ("error", "warning", "info")}
    print(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)", file=sys.stderr)
    return 1 if counts["error"] > 0 or (strict and counts["warning"] > 0) else 0


def finding_annotation(finding: Finding) -> Annotation:
    """A finding as the formats print it: lint knows lines, not columns."""
    return Annotation(finding.file, finding.line, None, finding.severity, finding.code, finding.rule_id or finding.code, finding.message, finding.rule_id)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `lint [RULES] [--strict] [--format F]` (`--rules` an alias of RULES); the parsed args carry `func(args) -> exit code`."""
    parser = subparsers.add_parser("lint", help="find rules that never fire or never win, ties, uncovered cases, and legal steps without a final notice")
    add_rules_argument(parser, Path("rules"), description="rules directory (with strategies/) or a strategies directory")
    add_format_option(parser)
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--show-ignored", action="store_true", help="also print the findings rules silence with `lint_ignore`, with their reasons")
    parser.set_defaults(func=lambda args: run_lint(args.rules, args.strict, args.show_ignored, args.format))
    return parser

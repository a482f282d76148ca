"""`shadowed`: rules that higher-priority rules together always beat.

A rule is shadowed when every case it matches is matched by rules of a higher
priority. Comparing each rule with every higher one costs the square of the
rules, each comparison a subtraction of boxes; here a rule is compared only
with what can matter, and each shortcut is exact:
- a higher rule that shares no case with it cannot take part in a cover: higher
  rules are indexed by the values they require of each text or true/false fact
  (`segment: retail`, `product: line-3`, `legal.deceased: true`, FactIndex), and
  left out when their number ranges do not reach the rule's (Outline.apart);
- one case of the rule that no remaining higher rule matches proves the rule is
  not shadowed, the usual answer, without subtracting anything (a few cases of
  each box are tried, _escapes_at_a_point);
- a higher rule that requires a fact the rule may lack, or other values of it,
  cannot cover the rule alone (Outline.within; for rules without patterns).
Left-out rules never touch a case of the rule, so the findings are those of
`shadowed_pairwise`, the comparison of every pair, kept as the reference the
tests compare with (tests/test_lint_shadowing_index.py). Less work is charged to
lint's budget, so a policy the pairwise comparison gave up on is checked whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterator, Sequence, Union

from engine.authoring.lint import Analysed, Box, Constraint, Finding, Interval, TextSet, _charge, _finding, _where, covered, escapes, uncovered
from engine.authoring.lint_effective import covers_in_time
from engine.policy.ir import Policy, Rule
from engine.vocabulary import Action

Ranked = list[tuple[Rule, list[Box]]]  # analysable rules, highest priority first


def shadowed(policy: Policy, analysed: Analysed) -> Iterator[Finding]:
    """Every shadowed rule, comparing each rule only with the higher rules that may share a case with it."""
    index = FactIndex()
    outlines: list[Outline] = []  # of each rule of `higher`
    tests: list[list[_PointTest]] = []  # of each rule of `higher`: its boxes, to try a case in

    def add(position: int, boxes: list[Box]) -> None:
        index.add(position, boxes)
        outlines.append(Outline.of(boxes))
        tests.append([_point_test(box) for box in boxes])

    higher: Ranked = []
    for rule, boxes, above in _levels(analysed, higher, add):
        outline = Outline.of(boxes)
        meeting = index.meeting(boxes, above)
        _charge(len(meeting))  # an outline compared
        # Only a rule in force whenever this one is can hide it all of the time (effective dates).
        # (Outline.apart needs number ranges, covers_in_time an effective date: most rules have neither.)
        ranged = bool(outline.ranges)
        positions = [
            position for position in meeting
            if not (ranged and outline.apart(outlines[position])) and (higher[position][0].effective is None or covers_in_time(higher[position][0], rule))
        ]
        candidates = [higher[position] for position in positions]
        if _escapes_at_a_point(boxes, [test for position in positions for test in tests[position]]):
            continue  # a case no higher rule matches: not shadowed, whatever else the comparison would do
        exact = _exact(boxes)
        covering = _covering(boxes, candidates, lambda at: not exact or outline.within(outlines[positions[at]]))
        if covering:
            yield _finding(rule, "warning", "shadowed", _shadow_message(rule, covering))


def shadowed_pairwise(policy: Policy, analysed: Analysed) -> Iterator[Finding]:
    """The reference: every rule compared with every higher rule (quadratic; for tests and benchmarks)."""
    higher: Ranked = []
    for rule, boxes, above in _levels(analysed, higher, lambda position, boxes: None):
        covering = _covering(boxes, [entry for entry in higher[:above] if covers_in_time(entry[0], rule)])
        if covering:
            yield _finding(rule, "warning", "shadowed", _shadow_message(rule, covering))


def _levels(analysed: Analysed, higher: Ranked, added: Callable[[int, list[Box]], None]) -> Iterator[tuple[Rule, list[Box], int]]:
    """Each analysable rule, highest priority first, with how many rules of `higher`
    rank above it; a priority's rules join `higher` (and `added`) once it is passed."""
    level: Ranked = []
    for rule, boxes in analysed:  # highest priority first
        if level and level[0][0].priority != rule.priority:
            for entry in level:
                added(len(higher), entry[1])
                higher.append(entry)
            level = []
        if not boxes:
            continue
        level.append((rule, boxes))
        yield rule, boxes, len(higher)


def _covering(boxes: list[Box], higher: Ranked, alone: Callable[[int], bool] = lambda position: True) -> list[Rule]:
    """The fewest of `higher` (in their order) that together match every case of `boxes`; [] if none do.
    `alone(position)` False: that rule is known not to match every case of `boxes` by itself."""
    covering = next(([other] for position, (other, other_boxes) in enumerate(higher) if alone(position) and covered(boxes, other_boxes)), None)
    if covering is None:
        cutters = [(position, box) for position, (_, other_boxes) in enumerate(higher) for box in other_boxes]
        _charge(len(cutters))
        if escapes(boxes, cutters) is False:  # only then is the whole remainder worth computing
            remainder, used = uncovered(boxes, cutters)
            if remainder == []:
                covering = [higher[position][0] for position in _fewest(boxes, higher, used)]
    return covering or []


def _fewest(boxes: list[Box], higher: Ranked, used: set[int]) -> list[int]:
    """Drop covering rules the others do without, so the message names only those needed."""
    needed = sorted(used)
    for position in reversed(sorted(used)):
        trial = [kept for kept in needed if kept != position]
        if covered(boxes, [box for kept in trial for box in higher[kept][1]]):
            needed = trial
    return needed


def _removable(action: Action) -> bool:
    # Mirrors the baseline guardrails: a contacting step loses its channels or a
    # legal stop removes it; legal escalation is stopped too. NO_CONTACT and
    # HUMAN_REVIEW are never removed.
    return action.contacts or action is Action.LEGAL_REVIEW


def _shadow_message(rule: Rule, covering: list[Rule]) -> str:
    names = ", ".join(f"`{other.id}` ({_where(other)}, priority {other.priority})" for other in covering)
    who = f"rule {names}, which ranks" if len(covering) == 1 else f"the rules {names} together, which rank"
    text = f"is never chosen: every case it matches is also matched by {who} higher."
    removable = [other for other in covering if _removable(other.action)]
    if removable:
        steps = ", ".join(f"`{other.id}` ({other.action.value})" for other in removable)
        text += f" It can only be chosen when the guardrails remove {steps} for a case (a legal stop, a missing consent, no lawful contact time); if it is meant as that fallback, this is fine."
    else:
        text += " They never contact anyone, so the guardrails never remove them: this rule is dead."
    return text + f" Otherwise delete it, narrow the higher rule, or raise its priority above {max(other.priority for other in covering)}."


def required_values(boxes: Sequence[Box], path: str) -> frozenset[object] | None:
    """The values every case of `boxes` has for the text or true/false fact `path`
    (each box requires the fact present and one of finitely many values), or None
    when some case may lack it or have values not listed (an open set, a pattern)."""
    values: set[object] = set()
    for box in boxes:
        constraint = box.get(path)
        if constraint is None or constraint.absent or not isinstance(constraint.values, TextSet):
            return None
        text = constraint.values
        if not text.finite or text.patterns:
            return None
        values |= text.values
    return frozenset(values)


@dataclass
class FactIndex:
    """Rules by position, and for each fact the values they allow when they allow only finitely many.

    Two rules can share a case only if, on every fact both index, their values
    overlap: a rule allowing only `product` line-1 or line-2 never shares a case
    with one requiring line-3. A rule allowing any value of a fact (or none,
    or a pattern) is not indexed under it and is never left out on it. Exact:
    finite sets of values meet exactly, and a part of a rule's cases allows
    no value the whole does not.
    """

    count: int = 0
    by_value: dict[str, dict[object, set[int]]] = field(default_factory=dict)  # fact -> value -> positions allowing it
    indexed: dict[str, set[int]] = field(default_factory=dict)  # fact -> positions indexed under it

    def add(self, position: int, boxes: Sequence[Box]) -> None:
        assert position == self.count, "rules are added in order"
        self.count += 1
        for path in {path for box in boxes for path in box}:
            values = required_values(boxes, path)
            if values is None:
                continue
            self.indexed.setdefault(path, set()).add(position)
            table = self.by_value.setdefault(path, {})
            for value in values:
                table.setdefault(value, set()).add(position)

    def meeting(self, boxes: Sequence[Box], below: int) -> list[int]:
        """Positions under `below`, in order, of the rules that may share a case with `boxes`."""
        excluded: set[int] = set()
        for path in {path for box in boxes for path in box} & self.indexed.keys():
            values = required_values(boxes, path)
            if values is None:
                continue
            table = self.by_value[path]
            allowing = set().union(*(table.get(value, ()) for value in values))
            excluded |= self.indexed[path] - allowing
        _charge(below + len(excluded))  # each higher rule is looked at: left out for a look-up, not a comparison
        return [position for position in range(below) if position not in excluded]


def _exact(boxes: Sequence[Box]) -> bool:
    """Whether lint decides these boxes exactly (no pattern: every constraint an interval or a set of values)."""
    return not any(isinstance(constraint.values, TextSet) and constraint.values.patterns for box in boxes for constraint in box.values())


Number = Union[int, Decimal]
_BELOW, _ABOVE = -1, 1


@dataclass(frozen=True)
class Outline:
    """What a rule's boxes allow of each fact they name, taken together: whether
    the fact may be absent, the text values allowed (None: not a finite set),
    and the lowest and highest number (None: unbounded, or not a number)."""

    absent: dict[str, bool]
    values: dict[str, frozenset[object] | None]
    lows: dict[str, Number | None]
    highs: dict[str, Number | None]
    # The number facts every case has, with at least one bound: (lowest, highest); what `apart` compares.
    ranges: dict[str, tuple[Number | None, Number | None]] = field(default_factory=dict)

    @staticmethod
    def of(boxes: Sequence[Box]) -> Outline:
        paths = {path for box in boxes for path in box}
        absent = {path: any(path not in box or box[path].absent for box in boxes) for path in paths}
        values: dict[str, frozenset[object] | None] = {}
        lows: dict[str, Number | None] = {}
        highs: dict[str, Number | None] = {}
        for path in paths:
            kinds = [box[path].values for box in boxes if path in box]
            if all(isinstance(kind, TextSet) and kind.finite and not kind.patterns for kind in kinds):
                values[path] = frozenset(value for kind in kinds for value in kind.values)  # type: ignore[union-attr]
            elif all(isinstance(kind, Interval) for kind in kinds) and len(kinds) == len(boxes):
                lows[path] = _extreme([kind.lo for kind in kinds], _BELOW)  # type: ignore[union-attr]
                highs[path] = _extreme([kind.hi for kind in kinds], _ABOVE)  # type: ignore[union-attr]
        ranges = {path: (low, highs[path]) for path, low in lows.items() if not absent[path] and (low is not None or highs[path] is not None)}
        return Outline(absent, values, lows, highs, ranges)

    def within(self, other: Outline) -> bool:
        """False only when some case of this outline's (exact) boxes is in none of `other`'s:
        `other` requires a fact this one may lack, or values or numbers beyond those it allows."""
        for path, may_lack in other.absent.items():
            if may_lack:
                continue  # `other` does not require the fact: no case is left out on it
            if self.absent.get(path, True):
                return False
            allowed = other.values.get(path)
            if allowed is not None and (self.values.get(path) is None or not self.values[path] <= allowed):  # type: ignore[operator]
                return False
            if path in other.lows and path in self.lows and (_beyond(self.lows[path], other.lows[path], _BELOW) or _beyond(self.highs[path], other.highs[path], _ABOVE)):
                return False
        return True

    def apart(self, other: Outline) -> bool:
        """True only when no case is in both outlines' boxes: both require a number
        fact and its ranges do not reach each other (ranges meet exactly)."""
        for path, (low, high) in self.ranges.items():  # a fact unbounded on both sides reaches every range
            theirs = other.ranges.get(path)
            if theirs is not None:
                their_low, their_high = theirs
                # One range ends below the other's start (None: unbounded; equal ends are left undecided).
                if (high is not None and their_low is not None and high < their_low) or (their_high is not None and low is not None and their_high < low):
                    return True
        return False


def _extreme(bounds: list[Number | None], side: int) -> Number | None:
    if any(bound is None for bound in bounds):
        return None
    return min(bounds) if side == _BELOW else max(bounds)  # type: ignore[type-var]


def _beyond(bound: Number | None, limit: Number | None, side: int) -> bool:
    """Whether numbers reach strictly past `limit` on `side` (equal bounds are left to the full comparison)."""
    if limit is None:
        return False
    if bound is None:
        return True
    return bound < limit if side == _BELOW else bound > limit


# ---------------------------------------------------------------------------
# A case that escapes: most rules are not shadowed, and one case of a rule that
# no higher rule matches proves it at the cost of looking it up in each, where
# the full comparison subtracts every higher rule from the rule's boxes.
# ---------------------------------------------------------------------------

_ABSENT = object()  # the fact is not in the case
_UNSURE = None
POINTS_PER_BOX = 24  # cases tried in each box of a rule


# A box to try cases in: each fact's test, the cheap and telling ones first (a
# finite set of text values: a case of another product line fails there), and
# the units comparing it costs (as meet() charges a box compared).
_PointTest = tuple[tuple[tuple[str, Constraint, int, frozenset[object]], ...], int]
_IN, _OUT, _OTHER = 0, 1, 2  # a finite set of values; the values excluded; an interval or a pattern


def _point_test(box: Box) -> _PointTest:
    tests = []
    for path, constraint in box.items():
        values = constraint.values
        if isinstance(values, TextSet) and not values.patterns:
            tests.append((path, constraint, _IN if values.finite else _OUT, values.values))
        else:
            tests.append((path, constraint, _OTHER, frozenset()))
    tests.sort(key=lambda test: test[2])
    return tuple(tests), 1 + len(box)


def _escapes_at_a_point(boxes: Sequence[Box], cutters: list[_PointTest]) -> bool:
    """True only when some case of `boxes` is, for certain, matched by none of the `cutters`
    (then the rule is not shadowed: the comparison keeps that case in every remainder)."""
    for box in boxes:
        for case in _cases(box):
            spent = len(case)  # charged once per case (a bounded loop): the same units, fewer calls
            escapes = True
            for tests, cost in cutters:
                spent += cost
                if _holds(tests, case) is not False:
                    escapes = False
                    break
            _charge(spent)
            if escapes:
                return True
    return False


def _cases(box: Box) -> Iterator[dict[str, object]]:
    """A few cases of `box` (facts it does not name are absent): the first choice
    for every fact, then each other choice of one fact at a time."""
    choices: dict[str, list[object]] = {}
    for path, constraint in box.items():
        values = [value for value in _choices(constraint) if _admits(constraint, value) is True]
        if not values:
            return  # a pattern or an unusual set: no case of this box is tried
        choices[path] = values
    first = {path: values[0] for path, values in choices.items()}
    yield first
    tried = 1
    for path, values in choices.items():
        for value in values[1:]:
            if tried >= POINTS_PER_BOX:
                return
            tried += 1
            yield {**first, path: value}


def _choices(constraint: Constraint) -> list[object]:
    values = constraint.values
    found: list[object] = [_ABSENT] if constraint.absent else []
    if isinstance(values, Interval):
        found += _numbers(values)
    elif isinstance(values, TextSet) and not values.patterns:
        found += sorted(values.values, key=repr)[:4] if values.finite else ["\x00a case of no named value"]
    return found


def _numbers(values: Interval) -> list[object]:
    """Numbers inside an interval: its ends, a middle and a far one (whole ones for whole-number facts)."""
    lo, hi = values.lo, values.hi
    step: Number = 1 if values.whole else Decimal("0.5")
    found: list[object] = []
    if lo is not None:
        found.append(lo if not values.lo_open else (lo + step if hi is None or lo + step < hi else (lo + hi) / 2))
    if hi is not None:
        found.append(hi if not values.hi_open else (hi - step if lo is None or hi - step > lo else (lo + hi) / 2))
    if lo is not None and hi is not None:
        found.append((lo + hi) // 2 if values.whole else (lo + hi) / 2)
    if lo is None:
        found.append((hi if hi is not None else 0) - 1_000_000_000)
    if hi is None:
        found.append((lo if lo is not None else 0) + 1_000_000_000)
    if values.whole:
        found = [value for value in found if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral_value())]
    return found


def _admits(constraint: Constraint, value: object) -> bool | None:
    """Whether a fact's value (or _ABSENT) meets the constraint; _UNSURE for a pattern."""
    if value is _ABSENT:
        return constraint.absent
    values = constraint.values
    if isinstance(values, Interval):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            return _UNSURE
        if values.lo is not None and (value < values.lo or (values.lo_open and value == values.lo)):
            return False
        if values.hi is not None and (value > values.hi or (values.hi_open and value == values.hi)):
            return False
        return True
    if values.patterns:
        return _UNSURE if (values.finite and value in values.values) or (not values.finite and value not in values.values) else False
    return value in values.values if values.finite else value not in values.values


def _holds(tests: tuple[tuple[str, Constraint, int, frozenset[object]], ...], case: dict[str, object]) -> bool | None:
    """Whether the case is in the box these are the tests of (False: for certain not;
    _UNSURE: only a pattern could tell); the caller charges the work."""
    answer: bool | None = True
    for path, constraint, kind, values in tests:
        value = case.get(path, _ABSENT)
        if value is _ABSENT:
            if not constraint.absent:
                return False
        elif kind == _IN:
            if value not in values:
                return False
        elif kind == _OUT:
            if value in values:
                return False
        else:
            admitted = _admits(constraint, value)
            if admitted is False:
                return False
            if admitted is _UNSURE:
                answer = _UNSURE
    return answer

"""`lint`, the order of the ladder: no path to a legal step or a demand skips the step before it.

A collection ladder starts with a notice of the debt and ends, if ever, with a
legal review after a final notice reached the debtor (rules/compliance/first-steps
makes that the rule of every country). Lint proves it for the strategy and its
compliance packs together:

  legal-without-final-notice    (error)   a path to LEGAL_REVIEW on which nothing
                                          requires a delivered FINAL_NOTICE first
  final-notice-without-contact  (warning) a path to FINAL_NOTICE on which nothing
                                          requires an earlier delivered contact

A path is a way the engine reaches a decision (engine/engine.py `_try`): a
strategy rule's candidate; a requirement's `instead` step, taken in place of a
candidate whose earlier step never reached the debtor and checked in turn
against the other requirements; a pack rule that `route`s the case or
`replace`s the decided action, after which no requirement is checked. Each path
holds for a set of cases, as boxes (engine/authoring/lint.py). The earlier step is
required for a case when the path's own condition says it was delivered (a
`history.*` fact), or when a `requires` in force for the case (its pack's
countries and regions, and its `when`) applies to the step and names a delivered
step that is, or implies, the earlier one. What is left once those cases are
taken away reaches the step without the earlier one; the finding names its
countries and one such case.

Blocks, routes elsewhere and replacements (hardship, a time-barred debt, GDPR
art. 22) and the built-in guardrails are not counted: they stop the step for
some cases, they do not order the ladder. A LEGAL_REVIEW needs no finding of its
own about an earlier contact: a delivered final notice is one.

Here the safe side is a finding, not silence: where lint cannot decide (a
condition too large, a pattern it cannot negate, a work budget spent) it says
so in a `too-complex` note and never passes the path as proved.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Literal, Sequence

from engine.compliance import Compliance
from engine.authoring.lint import SHOWN_VALUES, Analysed, Box, Finding, Severity, TextSet, condition_boxes, describe_box, meet, uncovered
from engine.policy.ir import ALWAYS, AllOf, AnyOf, Compare, Condition, Exists, GuardRule, Pack, Policy, Source, Step, paths_of
from engine.vocabulary import Action

MAX_PATHS = 2_000  # paths followed through the packs' `instead` steps; past it the check stops with a note
DELIVERED_EVER = "history.delivered_ever"


def delivered_fact(action: Action) -> str:
    """The fact that holds the days since `action` last reached the debtor (engine/history.py)."""
    return f"history.{action.value.lower()}.days_since_delivered"


@dataclass(frozen=True)
class Order:
    """One order of the ladder: `step` only once `earlier` reached the debtor."""

    code: str
    severity: Severity
    step: Action
    earlier: str  # the earlier step, in words
    missing: str  # the same, not had yet
    shown_by: Condition  # the facts of a case in which the earlier step was delivered
    when_hint: str  # a `when` line that requires it
    requires_hint: str  # a pack requirement that does

    def implied_by(self, delivered: Step) -> bool:
        """A requirement met by `delivered` means the earlier step was delivered."""
        if self.step is Action.LEGAL_REVIEW:
            return delivered.actions == {Action.FINAL_NOTICE} and not delivered.templates
        return True  # any delivered step is a delivered contact


ORDERS = (
    Order(
        "legal-without-final-notice", "error", Action.LEGAL_REVIEW, "a delivered FINAL_NOTICE", "no FINAL_NOTICE has reached the debtor",
        Exists(delivered_fact(Action.FINAL_NOTICE), True),
        f"`{delivered_fact(Action.FINAL_NOTICE)}: {{gte: 14}}`",
        "`requires: {actions: [LEGAL_REVIEW], delivered: {actions: [FINAL_NOTICE]}}`",
    ),
    Order(
        "final-notice-without-contact", "warning", Action.FINAL_NOTICE, "an earlier delivered contact", "no contact of ours has reached the debtor yet",
        AnyOf((Compare(DELIVERED_EVER, "eq", True), *(Exists(delivered_fact(action), True) for action in Action if action.contacts))),
        f"`{DELIVERED_EVER}: true`",
        "`requires: {actions: [FINAL_NOTICE], delivered: {}}` with a first notice as its `instead`",
    ),
)
STEPS = {order.step: order for order in ORDERS}


@dataclass(frozen=True)
class DecisionPath:
    """A way to a decision: its action, the cases it holds for, and which requirements still apply."""

    action: Action
    template: str | None
    condition: Condition
    source: Source
    rule_id: str
    kind: Literal["rule", "instead", "route", "replace"]
    origin: str | None  # the strategy rule it starts from (None: a route)
    exempt: frozenset[str] | None  # requirements not checked on it (None: none is checked)
    boxes: list[Box] | None = field(default=None, compare=False)  # known already (a strategy rule's)


def checked_by(path: DecisionPath, guard: GuardRule) -> bool:
    """Whether the engine checks the guard's requirement on this path (engine.engine._unmet):
    a step is never held back by a requirement whose delivered step it is itself."""
    need = guard.requires
    if need is None or path.exempt is None or guard.id in path.exempt or not need.applies_to(path.action):
        return False
    return not (path.action in need.delivered.actions or (path.template is not None and path.template in need.delivered.templates))


def never_delivered(step: Step) -> Condition:
    """The facts of a case in which `step` never reached the debtor (ALWAYS where no fact tells)."""
    if step.templates:
        return ALWAYS  # no fact records templates
    if not step.actions:
        return Compare(DELIVERED_EVER, "eq", False)
    return AllOf(tuple(Exists(delivered_fact(action), False) for action in sorted(step.actions) if action.contacts))


def paths(policy: Policy, analysed: Analysed, guards: Sequence[tuple[GuardRule, Condition]]) -> tuple[list[DecisionPath], bool]:
    """Every path to a decision, breadth first, and whether all were followed (MAX_PATHS).
    `guards` are the pack rules with their pack's scope folded into their condition."""
    queue: deque[DecisionPath] = deque(
        DecisionPath(rule.action, rule.template, rule.condition, rule.source, rule.id, "rule", rule.id, frozenset(), boxes) for rule, boxes in analysed
    )
    queue += [DecisionPath(guard.route, None, scoped, guard.source, guard.id, "route", None, None) for guard, scoped in guards if guard.route]
    found: list[DecisionPath] = []
    complete = True
    while queue:
        path = queue.popleft()
        found.append(path)
        for guard, scoped in guards:
            need, following = guard.requires, None
            if need is not None and need.instead is not None and checked_by(path, guard):
                step, exempt = need.instead, path.exempt | {guard.id}  # type: ignore[operator]
                condition = AllOf((*_conjuncts(path.condition), scoped, never_delivered(need.delivered)))
                following = DecisionPath(step.action, step.template, condition, guard.source, guard.id, "instead", path.origin, exempt)
            elif guard.replace is not None and path.kind in ("rule", "instead") and path.action in guard.replace.actions:
                condition = AllOf((*_conjuncts(path.condition), scoped))
                following = DecisionPath(guard.replace.with_action, path.template, condition, guard.source, guard.id, "replace", path.origin, None)
            if following is not None:
                if len(found) + len(queue) >= MAX_PATHS:
                    complete = False
                    continue
                queue.append(following)
    return found, complete


def _conjuncts(condition: Condition) -> tuple[Condition, ...]:
    # Flat, so that a long chain of `instead` steps never nests conditions deeper than one level.
    return condition.items if isinstance(condition, AllOf) else (condition,)


@dataclass
class _Gap:
    """What one place in the files lets through, over all the paths reported there."""

    order: Order
    path: DecisionPath
    origins: list[str] = field(default_factory=list)
    left: list[Box] = field(default_factory=list)  # the cases surely let through; none: not proved either way


def ladder_findings(policy: Policy, analysed: Analysed, packs: Sequence[Pack]) -> Iterator[Finding]:
    """The ladder's order over the strategy and the packs; see the module docstring."""
    compliance = Compliance(packs)  # the engine's own scoping of pack rules by country and region
    scoped = {rule.id: rule.condition for rule in compliance.scoped_rules}
    guards = [(guard, scoped[guard.id]) for pack in packs for guard in pack.rules]
    found, complete = paths(policy, analysed, guards)
    required = {guard.id: condition_boxes(condition) for guard, condition in guards if guard.requires}
    shown = {order.step: condition_boxes(order.shown_by) or [] for order in ORDERS}
    gaps: dict[tuple[str, str, int, str], _Gap] = {}
    for path in found:
        order = STEPS.get(path.action)
        if order is None:
            continue
        guaranteeing = [guard for guard, _ in guards if _guarantees(path, guard, order)]
        cuts = shown[order.step] + [box for guard in guaranteeing for box in required[guard.id] or []]
        left = _let_through(path, cuts, unknown=any(required[guard.id] is None for guard in guaranteeing))
        if left == []:
            continue
        gap = gaps.setdefault((order.code, path.source.file, path.source.line, path.rule_id), _Gap(order, path))
        gap.origins += [path.origin] if path.origin and path.origin not in gap.origins else []
        gap.left += left or []
    for gap in gaps.values():
        if gap.left:
            yield _finding(gap.path, gap.order.severity, gap.order.code, _message(gap))
        else:
            yield _finding(gap.path, "info", "too-complex", _unproved(gap))
    if not complete:
        file = policy.source_files[0] if policy.source_files else ""
        yield Finding("info", file, 1, None, "too-complex", (
            f"lint followed {MAX_PATHS:,} paths through the compliance packs' `instead` steps and stopped: the order of the ladder "
            "(a delivered FINAL_NOTICE before LEGAL_REVIEW, an earlier contact before FINAL_NOTICE) was checked on those only. "
            "Fewer requirements with an `instead`, or narrower ones, make it checkable."
        ))


def _guarantees(path: DecisionPath, guard: GuardRule, order: Order) -> bool:
    """The guard's requirement is checked on the path and, when met, shows the earlier step was delivered."""
    return checked_by(path, guard) and order.implied_by(guard.requires.delivered)  # type: ignore[union-attr]


def _let_through(path: DecisionPath, cuts: list[Box], unknown: bool) -> list[Box] | None:
    """The path's cases none of the cuts hold for: [] when proved, None when not decided
    (the path's or a requirement's condition not analysed, or only a pattern stands between)."""
    boxes = path.boxes if path.kind == "rule" else condition_boxes(path.condition)
    left, _ = uncovered(boxes if boxes is not None else [{}], list(enumerate(cuts)))
    if left == [] or left is None or boxes is None or unknown:
        return left if left == [] else None
    # Past a pattern, subtraction keeps too much: a piece no pattern's box meets is truly left.
    opaque = [cut for cut in cuts if _opaque(cut)]
    sure = [box for box in left if all(meet(box, cut) is None for cut in opaque)]
    return sure or None


def _opaque(box: Box) -> bool:
    # A pattern cannot be negated, so subtracting this box may leave more than the truth.
    return any(isinstance(constraint.values, TextSet) and constraint.values.patterns for constraint in box.values())


def _finding(path: DecisionPath, severity: Severity, code: str, message: str) -> Finding:
    return Finding(severity, path.source.file, path.source.line, path.rule_id, code, message)


def countries(boxes: Sequence[Box]) -> str:
    """The countries some of the boxes hold for, in words: "in every country", "in every country except PL", "in GB, US"."""
    named: set[str] = set()
    excluded: set[str] | None = None  # None: no box holds for an open set of countries
    for box in boxes:
        constraint = box.get("country")
        if constraint is None:
            return "in every country"
        values = constraint.values
        if not isinstance(values, TextSet) or values.patterns:
            return "in some countries"
        if values.finite:
            named |= {str(value) for value in values.values}
        else:
            outside = {str(value) for value in values.values}
            excluded = outside if excluded is None else excluded & outside
    if excluded is not None:
        excluded -= named
        return f"in every country except {_list(excluded)}" if excluded else "in every country"
    return f"in {_list(named)}"


def _list(words: set[str] | list[str], quote: str = "") -> str:
    shown = sorted(words)
    text = ", ".join(f"{quote}{word}{quote}" for word in shown[:SHOWN_VALUES])
    return text + (f" and {len(shown) - SHOWN_VALUES:,} more" if len(shown) > SHOWN_VALUES else "")


def _message(gap: _Gap) -> str:
    order, path = gap.order, gap.path
    step, origins, where = order.step.value, _list(gap.origins, "`"), countries(gap.left)
    example = _example(gap.left[0], order)
    if path.kind == "rule":
        return (
            f"can decide {step} when {order.missing}, {where}: neither its `when` nor a compliance pack in force there requires "
            f"{order.earlier} first (e.g. {example}). Add {order.when_hint} to its `when`, or a compliance pack rule "
            f"{order.requires_hint} in force there (the shipped first-steps pack has one for every country)."
        )
    if path.kind == "instead":
        return (
            f"takes {step} in place of {origins} when the step it requires was never delivered, and that can be when {order.missing}, "
            f"{where}: no other requirement in force there asks for {order.earlier} first (e.g. {example}). Add a compliance pack rule "
            f"{order.requires_hint} in force there (the shipped first-steps pack has one for every country), or narrow this rule's `when`."
        )
    what = f"routes cases to {step}" if path.kind == "route" else f"turns the decision of {origins} into {step}"
    return (
        f"{what} when {order.missing}, {where}, and the engine checks no requirement on a decision a pack {path.kind}s "
        f"(e.g. {example}). Add {order.when_hint} to this rule's `when`."
    )


def _example(box: Box, order: Order) -> str:
    # The facts that would show the earlier step are all "absent" here: the message says so in words.
    hidden = paths_of(order.shown_by)
    return describe_box({path: constraint for path, constraint in box.items() if path not in hidden})


def _unproved(gap: _Gap) -> str:
    return (
        f"lint could not prove that this path to {gap.order.step.value} is taken only after {gap.order.earlier} "
        "(a condition too large to analyse, a `matches` pattern it cannot negate, or its work budget spent): take it as not proved. "
        f"{gap.order.when_hint} in the `when` makes it provable."
    )

"""The durable_rules form of a rule set, and the limits of durable's network it must fit.

A rule's intermediate condition becomes durable_rules JSON. Two kinds of
condition reach durable as boolean facts computed in Python instead, because
durable handles them badly:
- `matches` (durable's own `$mt` dialect differs from ours): `matches.<n>`;
- a value list, `in` or `not_in` (or an `$or` of equalities on one fact):
  `in.<n>`. durable has no `$in`, and an `$or` of N values makes N alpha nodes
  under one parent.

durable_rules 2.0.28 builds an alpha network in which each node keeps its
children in a hash set of 512 slots; when the set is full, the lookup that
runs before every insertion loops forever inside a C call that holds the GIL
(rete.c, findAlpha). That froze the service for good on a 440-value list. So
before a ruleset is created, `capacity_problems` walks the definition the way
durable builds its network and refuses, naming the rules, anything that would
put more than MAX_CHILDREN children under one node; and rules are hung under
a few bucket nodes (BUCKET_SIZE rules each), so that many rules with
different first conditions do not crowd the root. Its other fixed sizes
(expressions per rule, links per node) make create_ruleset fail with an error
code, not hang; they are checked here too, so the analyst reads which rule.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Sequence

from engine.matching import MatchableRule
from engine.policy.ir import AllOf, AnyOf, Compare, Condition, Exists, Matches, Scalar

MONEY_SCALE = 10_000  # money travels as integer ten-thousandths: exact in a double
MAX_CHILDREN = 400  # durable's hash set of children holds 511; kept well below
MAX_LINKS = 100  # links to `$or` ends and absent-fact tests per node; durable holds 128
MAX_GROUPS = 15  # all/any groups per rule: durable holds fewer than 32 expressions, two per group
BUCKET_SIZE = 128  # rules hung under one bucket node
MARK = {"t": "case"}  # present in every fact, so a rule with no condition still matches
_OPS = {"neq": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


@dataclass(frozen=True)
class ValueList:
    """`path` is one of `values` (or, `negated`, is none of them); false when absent."""

    path: str
    values: frozenset[Scalar]
    negated: bool

    def holds(self, value: Any) -> bool:
        return (value in self.values) != self.negated


@dataclass(frozen=True)
class DerivedFacts:
    """The boolean facts computed in Python, by the key durable reads."""

    patterns: dict[str, tuple[str, str]]  # key -> (fact path, pattern)
    lists: dict[str, ValueList]


def _value_list(condition: Condition) -> ValueList | None:
    """An `in` list (any of equalities on one fact) or a `not_in` list (all of inequalities)."""
    if not isinstance(condition, (AnyOf, AllOf)) or len(condition.items) < 2:
        return None
    op = "eq" if isinstance(condition, AnyOf) else "neq"
    items = condition.items
    if not all(isinstance(item, Compare) and item.op == op and item.path == items[0].path for item in items):  # type: ignore[union-attr]
        return None
    return ValueList(items[0].path, frozenset(item.value for item in items), op == "neq")  # type: ignore[union-attr]


def _walk(condition: Condition) -> list[Condition]:
    """Every node of a condition, lists not looked into."""
    if _value_list(condition) is None and isinstance(condition, (AllOf, AnyOf)):
        return [condition, *(node for item in condition.items for node in _walk(item))]
    return [condition]


def derived_facts(rules: Sequence[MatchableRule]) -> DerivedFacts:
    nodes = [node for rule in rules for node in _walk(rule.condition)]
    patterns = sorted({(node.path, node.pattern) for node in nodes if isinstance(node, Matches)})
    lists = sorted({found for node in nodes if (found := _value_list(node))}, key=lambda item: (item.path, item.negated, sorted(map(str, item.values))))
    return DerivedFacts({f"matches.{index}": item for index, item in enumerate(patterns)}, {f"in.{index}": item for index, item in enumerate(lists)})


def fact_paths(rules: Sequence[MatchableRule]) -> list[str]:
    """The fact paths durable compares directly (not through a derived fact)."""
    return sorted({node.path for rule in rules for node in _walk(rule.condition) if isinstance(node, (Compare, Exists))})


def encode(value: Any) -> Any:
    return int(value * MONEY_SCALE) if isinstance(value, Decimal) else value


class _Form:
    def __init__(self, derived: DerivedFacts):
        self._patterns = {item: key for key, item in derived.patterns.items()}
        self._lists = {item: key for key, item in derived.lists.items()}

    def condition(self, condition: Condition) -> dict[str, Any]:
        found = _value_list(condition)
        if found is not None:
            return {self._lists[found]: True}
        if isinstance(condition, (AllOf, AnyOf)):
            if not condition.items:
                return MARK if isinstance(condition, AllOf) else {"$or": []}
            group = "$and" if isinstance(condition, AllOf) else "$or"
            items: list[dict[str, Any]] = []
            for item in condition.items:
                compiled = self.condition(item)
                # all-of inside all-of (e.g. a `between`) is one group: durable counts groups per rule
                items.extend(compiled[group] if set(compiled) == {group} else [compiled])
            return items[0] if len(items) == 1 else {group: items}
        if isinstance(condition, Exists):
            return {"$ex" if condition.present else "$nex": {condition.path: 1}}
        if isinstance(condition, Matches):
            return {self._patterns[(condition.path, condition.pattern)]: True}
        value = encode(condition.value)
        return {condition.path: value} if condition.op == "eq" else {_OPS[condition.op]: {condition.path: value}}


def _bucket_mark(index: int) -> dict[str, Any]:
    # Every fact has t == "case", so `t != "bucket-<n>"` holds for all: a node to hang rules under.
    return MARK if index < BUCKET_SIZE else {"$neq": {"t": f"bucket-{index // BUCKET_SIZE}"}}


def ruleset_definition(rules: Sequence[MatchableRule], derived: DerivedFacts | None = None) -> dict[str, Any]:
    form = _Form(derived or derived_facts(rules))
    definition = {}
    for index, rule in enumerate(rules):
        body = form.condition(rule.condition)
        parts = [_bucket_mark(index), *(body["$and"] if set(body) == {"$and"} else [body] if body != MARK else [])]
        if index >= BUCKET_SIZE:
            parts.insert(0, MARK)
        definition[rule.id] = {"all": [{"m": {"$and": parts}}]}
    return definition


class RuleSetTooLarge(ValueError):
    """The rules would not fit durable's network: `reason`, for each of `rule_ids`."""

    def __init__(self, reason: str, rule_ids: Iterable[str]):
        self.reason = reason
        self.rule_ids = tuple(sorted(rule_ids))
        shown = ", ".join(self.rule_ids[:10]) + (f" and {len(self.rule_ids) - 10} more" if len(self.rule_ids) > 10 else "")
        super().__init__(f"rules {shown}: {reason}")


def check_capacity(definition: dict[str, Any]) -> None:
    """Raise RuleSetTooLarge when durable could not build this definition (or would hang)."""
    children: dict[Any, set[str]] = defaultdict(set)
    links: dict[Any, int] = defaultdict(int)
    owners: dict[Any, set[str]] = defaultdict(set)
    forwards = itertools.count()

    def alpha(node: dict[str, Any], parent: Any, rule_id: str) -> Any:
        """Add one condition under `parent` as durable does; the node where it ends."""
        ((key, value),) = node.items()
        if key == "$and":
            for item in value:
                parent = alpha(item, parent, rule_id)
            return parent
        if key == "$or":  # each branch hangs under the parent; all of them link to a new node
            forward = ("or", next(forwards))
            for item in value:
                end = alpha(item, parent, rule_id)
                links[end] += 1
                owners[end].add(rule_id)
            return forward
        text = json.dumps(node, sort_keys=True)
        if key == "$nex":  # absent-fact tests are kept in the short list, not the hash set
            links[parent] += 1
        else:
            children[parent].add(text)
        owners[parent].add(rule_id)
        return (parent, text)

    for rule_id, rule in definition.items():
        condition = rule["all"][0]["m"]
        groups = _groups(condition)
        if groups > MAX_GROUPS:
            raise RuleSetTooLarge(f"the condition has {groups} all/any groups once compiled; durable_rules holds at most {MAX_GROUPS} per rule: split the rule", [rule_id])
        alpha(condition, "root", rule_id)
    for node, found in children.items():
        if len(found) > MAX_CHILDREN:
            raise RuleSetTooLarge(_crowded(len(found), "different conditions", MAX_CHILDREN), owners[node])
    for node, count in links.items():
        if count > MAX_LINKS:
            raise RuleSetTooLarge(_crowded(count, "`any` branches or absent-fact tests", MAX_LINKS), owners[node])


def _groups(node: dict[str, Any]) -> int:
    ((key, value),) = node.items()
    return 1 + sum(_groups(item) for item in value) if key in ("$and", "$or") else 0


def _crowded(count: int, what: str, limit: int) -> str:
    return (
        f"together these rules put {count} {what} side by side after the same conditions; durable_rules holds at most {limit} there "
        "(a value list counts once: write many values as one `in` list, or split the rules)"
    )

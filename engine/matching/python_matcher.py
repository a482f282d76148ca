"""Plain-Python predicates compiled from the intermediate form."""

from __future__ import annotations

import re
from typing import Any, Callable

from engine.policy.ir import AllOf, AnyOf, Compare, Condition, Exists, Matches, Policy

Predicate = Callable[[dict[str, Any]], bool]
_MISSING = object()


def predicate(condition: Condition) -> Predicate:
    """A function that tells whether the condition holds for a flat facts mapping."""
    if isinstance(condition, AllOf):
        parts = [predicate(item) for item in condition.items]
        return lambda facts: all(part(facts) for part in parts)
    if isinstance(condition, AnyOf):
        parts = [predicate(item) for item in condition.items]
        return lambda facts: any(part(facts) for part in parts)
    path = condition.path
    if isinstance(condition, Exists):
        present = condition.present
        return lambda facts: (path in facts) is present
    if isinstance(condition, Matches):
        pattern = re.compile(condition.pattern)
        return lambda facts: isinstance(value := facts.get(path), str) and pattern.fullmatch(value) is not None
    return _compare(condition)


def _compare(condition: Compare) -> Predicate:
    path, expected = condition.path, condition.value
    tests: dict[str, Callable[[Any], bool]] = {
        "eq": lambda value: value == expected,
        "neq": lambda value: value != expected,
        "lt": lambda value: value < expected,
        "lte": lambda value: value <= expected,
        "gt": lambda value: value > expected,
        "gte": lambda value: value >= expected,
    }
    test = tests[condition.op]
    # A comparison with an absent fact is false, whatever the operator.
    return lambda facts: (value := facts.get(path, _MISSING)) is not _MISSING and test(value)


class PythonMatcher:
    def __init__(self, policy: Policy):
        self._rules = [(rule.id, predicate(rule.condition)) for rule in policy.rules]

    def matching(self, facts: dict[str, Any]) -> list[str]:
        return [rule_id for rule_id, holds in self._rules if holds(facts)]

"""Plain-Python predicates compiled from the intermediate form.

Each condition becomes one Python expression, compiled once: the fastest
plain-Python evaluation, used as the baseline in benchmarks, as the oracle that
the durable_rules matcher is tested against, and by `explain`.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.matching import RuleSet
from engine.policy.ir import AllOf, AnyOf, Condition, Exists, Matches
from engine.policy.patterns import compile_pattern

Predicate = Callable[[dict[str, Any]], bool]
_OPERATORS = {"eq": "==", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _expression(condition: Condition, constants: dict[str, Any]) -> str:
    if isinstance(condition, (AllOf, AnyOf)):
        if not condition.items:
            return "True" if isinstance(condition, AllOf) else "False"
        joiner = " and " if isinstance(condition, AllOf) else " or "
        return "(" + joiner.join(_expression(item, constants) for item in condition.items) + ")"
    key = repr(condition.path)
    if isinstance(condition, Exists):
        return f"({key} {'in' if condition.present else 'not in'} f)"
    name = f"c{len(constants)}"
    if isinstance(condition, Matches):
        constants[name] = compile_pattern(condition.pattern)  # the durable matcher's very object: both read it as RE2
        return f"({key} in f and isinstance(f[{key}], str) and {name}.fullmatch(f[{key}]))"
    constants[name] = condition.value
    # A comparison with an absent fact is false, whatever the operator.
    return f"({key} in f and f[{key}] {_OPERATORS[condition.op]} {name})"


def predicate(condition: Condition) -> Predicate:
    """A function that tells whether the condition holds for a flat facts mapping."""
    constants: dict[str, Any] = {}
    source = f"lambda f: {_expression(condition, constants)}"
    return eval(compile(source, "<condition>", "eval"), {"__builtins__": {"isinstance": isinstance, "str": str, "True": True, "False": False}, **constants})  # noqa: S307 - source built from typed IR, not from input


class PythonMatcher:
    def __init__(self, policy: RuleSet):
        self._rules = [(rule.id, predicate(rule.condition)) for rule in policy.rules]

    def matching(self, facts: dict[str, Any]) -> list[str]:
        return [rule_id for rule_id, holds in self._rules if holds(facts)]

"""The decision trace: why each rule matched or not, for people reading `explain`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from engine.matching.python_matcher import predicate
from engine.policy.ir import AllOf, AnyOf, Condition, Exists, Matches, Policy

_SYMBOL = {"eq": "==", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def plain(value: Any) -> Any:
    """A JSON-friendly copy (decimals and instants as text)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, datetime)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def describe(condition: Condition) -> str:
    if isinstance(condition, (AllOf, AnyOf)):
        if not condition.items:
            return "always"
        joiner = " and " if isinstance(condition, AllOf) else " or "
        return "(" + joiner.join(describe(item) for item in condition.items) + ")"
    if isinstance(condition, Exists):
        return f"{condition.path} {'exists' if condition.present else 'is absent'}"
    if isinstance(condition, Matches):
        return f"{condition.path} matches /{condition.pattern}/"
    return f"{condition.path} {_SYMBOL[condition.op]} {plain(condition.value)}"


def failing_leaves(condition: Condition, facts: dict[str, Any]) -> list[str]:
    """The smallest parts of a condition that do not hold, described with the facts' values."""
    if predicate(condition)(facts):
        return []
    if isinstance(condition, AllOf):
        return [leaf for item in condition.items for leaf in failing_leaves(item, facts)]
    if isinstance(condition, AnyOf):
        return [f"none of {describe(condition)}"]
    path = condition.path
    actual = f"{plain(facts[path])!r}" if path in facts else "absent"
    return [f"{describe(condition)} (is {actual})"]


def rule_trace(policy: Policy, facts: dict[str, Any], fired: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule.id,
            "priority": rule.priority,
            "source": f"{rule.source.file}:{rule.source.line}",
            "matched": rule.id in fired,
            "condition": describe(rule.condition),
            **({} if rule.id in fired else {"failed": failing_leaves(rule.condition, facts)}),
        }
        for rule in policy.rules
    ]

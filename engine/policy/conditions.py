"""Compile a rule's `when` block into intermediate conditions, checking every fact."""

from __future__ import annotations

import difflib
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.facts import FACT_TYPES, FactSpec, FactType, fact_spec
from engine.policy.ir import ALWAYS, AllOf, AnyOf, Compare, Condition, Exists, Matches, Scalar
from engine.policy.patterns import PatternError, compile_pattern

MONEY_DECIMALS = 4  # every ISO 4217 currency has at most 4 minor-unit digits
OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "between", "in", "not_in", "exists", "matches")
_NEGATED = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "lte": "gt", "gt": "lte"}


class ConditionError(ValueError):
    """A condition is wrong; `path` is where in the `when` block."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        self.path = path
        super().__init__(message)


def compile_when(when: dict[str, Any]) -> Condition:
    """Compile a `when` mapping; raise ConditionError at the first mistake."""
    return _mapping(when, ())


def _mapping(block: Any, path: tuple[str | int, ...]) -> Condition:
    if not isinstance(block, dict):
        raise ConditionError(path, "expected conditions as `fact: value` lines")
    items = [_entry(key, value, (*path, key)) for key, value in block.items()]
    return items[0] if len(items) == 1 else AllOf(tuple(items)) if items else ALWAYS


def _entry(key: str, value: Any, path: tuple[str | int, ...]) -> Condition:
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"`{key}` takes a list of condition blocks")
        items = tuple(_mapping(item, (*path, index)) for index, item in enumerate(value))
        return AllOf(items) if key == "all" else AnyOf(items)
    if key == "not":
        return _negate(_mapping(value, path), path)
    if key == "durable":
        return _durable(value, path)
    spec = fact_spec(key)
    if spec is None:
        raise ConditionError(path, _unknown_fact(key))
    if isinstance(value, dict):
        leaves = [_operator(key, spec, op, operand, (*path, op)) for op, operand in value.items()]
        if not leaves:
            raise ConditionError(path, f"`{key}` has an empty condition")
        return leaves[0] if len(leaves) == 1 else AllOf(tuple(leaves))
    return Compare(key, "eq", _value(key, spec, value, path))


def _operator(fact: str, spec: FactSpec, op: str, operand: Any, path: tuple[str | int, ...]) -> Condition:
    if op not in OPERATORS:
        hint = difflib.get_close_matches(op, OPERATORS, n=1)
        did_you_mean = f"; did you mean `{hint[0]}`?" if hint else f"; use one of {', '.join(OPERATORS)}"
        raise ConditionError(path, f"`{op}` is not an operator{did_you_mean}")
    if op in ("lt", "lte", "gt", "gte", "between") and spec.type not in (FactType.INT, FactType.MONEY):
        raise ConditionError(path, f"`{op}` compares numbers, but `{fact}` is {spec.type.value}")
    if op == "between":
        if not isinstance(operand, list) or len(operand) != 2:
            raise ConditionError(path, "`between` takes [low, high]")
        low, high = (_value(fact, spec, item, (*path, index)) for index, item in enumerate(operand))
        if low > high:  # type: ignore[operator]
            raise ConditionError(path, f"`between` [{low}, {high}]: low is above high, so it never matches")
        return AllOf((Compare(fact, "gte", low), Compare(fact, "lte", high)))
    if op in ("in", "not_in"):
        if not isinstance(operand, list) or not operand:
            raise ConditionError(path, f"`{op}` takes a list of values")
        values = [_value(fact, spec, item, (*path, index)) for index, item in enumerate(operand)]
        if op == "in":
            return AnyOf(tuple(Compare(fact, "eq", value) for value in values))
        return AllOf(tuple(Compare(fact, "neq", value) for value in values))
    if op == "exists":
        if not isinstance(operand, bool):
            raise ConditionError(path, "`exists` takes true or false")
        return Exists(fact, operand)
    if op == "matches":
        if spec.type is not FactType.TEXT or not isinstance(operand, str):
            raise ConditionError(path, "`matches` takes a regular expression and applies to text facts")
        try:
            compile_pattern(operand)
        except PatternError as error:
            raise ConditionError(path, f"`matches`: {error}") from None
        return Matches(fact, operand)
    return Compare(fact, op, _value(fact, spec, operand, path))


def _value(fact: str, spec: FactSpec, value: Any, path: tuple[str | int, ...]) -> Scalar:
    if spec.type is FactType.BOOL:
        if not isinstance(value, bool):
            raise ConditionError(path, f"`{fact}` is true or false, not {value!r}")
        return value
    if spec.type is FactType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConditionError(path, f"`{fact}` is a whole number, not {value!r}")
        return value
    if spec.type is FactType.MONEY:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConditionError(path, f"`{fact}` is an amount of money, not {value!r}")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ConditionError(path, f"`{fact}` is an amount of money, not {value!r}") from None
        if not amount.is_finite() or amount.as_tuple().exponent < -MONEY_DECIMALS:  # type: ignore[operator]
            raise ConditionError(path, f"`{fact}` needs a finite amount with at most {MONEY_DECIMALS} decimal places")
        return amount
    if not isinstance(value, str):
        raise ConditionError(path, f"`{fact}` is text; quote the value {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConditionError(path, f"`{fact}` is one of {', '.join(spec.choices)}, not {value!r}")
    return value


_DURABLE_COMPARISONS = {"$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte", "$neq": "neq"}
DURABLE_OPERATORS = ("$and", "$or", *_DURABLE_COMPARISONS, "$ex", "$nex", "$mt")


def _durable(node: Any, path: tuple[str | int, ...]) -> Condition:
    """A condition written in durable_rules' own JSON language, for power users.

    It is read into the same intermediate form as the YAML conditions, so the
    facts are checked and lint, explain and the plain-Python matcher see it too.
    """
    if not isinstance(node, dict) or not node:
        raise ConditionError(path, "a durable_rules condition is an object such as {$gte: {days_past_due: 30}}")
    parts = [_durable_entry(key, value, (*path, key)) for key, value in node.items()]
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _durable_entry(key: str, value: Any, path: tuple[str | int, ...]) -> Condition:
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"`{key}` takes a list of conditions")
        items = tuple(_durable(item, (*path, index)) for index, item in enumerate(value))
        return AllOf(items) if key == "$and" else AnyOf(items)
    if key.startswith("$"):
        if key not in DURABLE_OPERATORS or not isinstance(value, dict) or len(value) != 1:
            raise ConditionError(path, f"`{key}` is not supported here; use one of {', '.join(DURABLE_OPERATORS)} with one property")
        (fact, operand), = value.items()
        spec = fact_spec(fact)
        if spec is None:
            raise ConditionError((*path, fact), _unknown_fact(fact))
        if key in ("$ex", "$nex"):
            return Exists(fact, key == "$ex")
        if key == "$mt":
            return _operator(fact, spec, "matches", operand, (*path, fact))
        return _operator(fact, spec, _DURABLE_COMPARISONS[key], operand, (*path, fact))
    spec = fact_spec(key)
    if spec is None:
        raise ConditionError(path, _unknown_fact(key))
    return Compare(key, "eq", _value(key, spec, value, path))


def _negate(condition: Condition, path: tuple[str | int, ...]) -> Condition:
    # A comparison with an absent fact is false, and so is its negation:
    # `not` flips the comparison, never the presence of the fact.
    if isinstance(condition, Compare):
        return Compare(condition.path, _NEGATED[condition.op], condition.value)
    if isinstance(condition, Exists):
        return Exists(condition.path, not condition.present)
    if isinstance(condition, Matches):
        raise ConditionError(path, "`matches` cannot be negated; write a pattern for the values you want")
    if isinstance(condition, AllOf):
        return AnyOf(tuple(_negate(item, path) for item in condition.items))
    return AllOf(tuple(_negate(item, path) for item in condition.items))


def _unknown_fact(key: str) -> str:
    hint = difflib.get_close_matches(key, FACT_TYPES, n=1, cutoff=0.7)
    if hint:
        return f"`{key}`: unknown fact; did you mean `{hint[0]}`?"
    return f"`{key}`: unknown fact; see docs/facts.md for the facts rules can use, or use attributes.<name>"

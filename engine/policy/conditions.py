"""Compile a rule's `when` block into intermediate conditions, checking every fact."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.facts import FACT_TYPES, INPUT_PREFIX, FactSpec, FactType, declared_inputs, fact_spec
from engine.policy.inputs import unknown_input
from engine.policy.ir import ALWAYS, AllOf, AnyOf, Compare, Condition, Exists, Matches, Scalar
from engine.policy.money import EXAMPLE, currency_problem, decimals_problem
from engine.policy.patterns import PatternError, compile_pattern

MONEY_DECIMALS = 4  # every ISO 4217 currency has at most 4 minor-unit digits
OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "between", "in", "not_in", "exists", "matches")
PER_CURRENCY_OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "between", "in", "not_in")
CURRENCY = "currency"  # the fact a per-currency amount is chosen by
ORDERED = (FactType.INT, FactType.MONEY, FactType.NUMBER, FactType.DATE)  # the types `lt`, `between`... compare
_NEGATED = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "lte": "gt", "gt": "lte"}


class ConditionError(ValueError):
    """A condition is wrong; `path` is where in the `when` block."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class PerCurrency(AnyOf):
    """A money comparison written per currency: any of (currency is X and the
    amount compares with X's value), one branch per currency named.

    A case in a currency not named matches no branch, so no rule picks it on
    its amount. It is its own type only so that `not` negates the amounts and
    never the currency (_negate); every backend reads it as the AnyOf it is.
    """


def _branches(condition: PerCurrency) -> dict[str, tuple[Condition, ...]]:
    """Currency -> what must hold of the amounts in it."""
    return {item.items[0].value: item.items[1:] for item in condition.items}  # type: ignore[union-attr, misc]


def _per_currency(bodies: dict[str, tuple[Condition, ...]]) -> PerCurrency:
    return PerCurrency(tuple(AllOf((Compare(CURRENCY, "eq", code), *body)) for code, body in bodies.items()))


def compile_when(when: dict[str, Any]) -> Condition:
    """Compile a `when` mapping; raise ConditionError at the first mistake."""
    return _mapping(when, ())


def _mapping(block: Any, path: tuple[str | int, ...]) -> Condition:
    if not isinstance(block, dict):
        raise ConditionError(path, "expected conditions as `fact: value` lines")
    return _all([_entry(key, value, (*path, key)) for key, value in block.items()], path)


def _every(items: list[Condition], path: tuple[str | int, ...]) -> Condition:
    """An `all` list: an all-of even of one block, as written."""
    return _all(items, path) if len(items) > 1 else AllOf(tuple(items))


def _all(items: list[Condition], path: tuple[str | int, ...]) -> Condition:
    """All of `items`. Amounts written per currency are joined into one any-of over
    the currencies: an all-of of several any-ofs is what durable_rules expands
    into every combination of their branches."""
    flat = [part for item in items for part in (item.items if type(item) is AllOf else (item,))]
    per_currency = [part for part in flat if isinstance(part, PerCurrency)]
    if len(per_currency) > 1:
        currencies = [list(_branches(part)) for part in per_currency]
        for other in currencies[1:]:
            if set(other) != set(currencies[0]):
                odd = sorted(set(other) ^ set(currencies[0]))
                raise ConditionError(path, (
                    f"the amounts here name {', '.join(currencies[0])} in one place and {', '.join(other)} in another, so a case in "
                    f"{', '.join(odd)} could never match: give every amount of one block the same currencies"
                ))
        joined = _per_currency({code: tuple(body for part in per_currency for body in _branches(part)[code]) for code in currencies[0]})
        first = flat.index(per_currency[0])
        items = [*(part for part in flat[:first] if not isinstance(part, PerCurrency)), joined, *(part for part in flat[first:] if not isinstance(part, PerCurrency))]
    return items[0] if len(items) == 1 else AllOf(tuple(items)) if items else ALWAYS


def _entry(key: str, value: Any, path: tuple[str | int, ...]) -> Condition:
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"`{key}` takes a list of condition blocks")
        items = [_mapping(item, (*path, index)) for index, item in enumerate(value)]
        return _every(items, path) if key == "all" else AnyOf(tuple(items))
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
        return _all(leaves, path)
    return Compare(key, "eq", _value(key, spec, value, path))


def _operator(fact: str, spec: FactSpec, op: str, operand: Any, path: tuple[str | int, ...]) -> Condition:
    if op not in OPERATORS:
        if spec.type is FactType.MONEY and re.fullmatch("[A-Z]{3}", op):
            raise ConditionError(path, f"`{op}` is not an operator; amounts per currency go under one, e.g. `{fact}: {{gte: {EXAMPLE}}}`")
        hint = difflib.get_close_matches(op, OPERATORS, n=1)
        did_you_mean = f"; did you mean `{hint[0]}`?" if hint else f"; use one of {', '.join(OPERATORS)}"
        raise ConditionError(path, f"`{op}` is not an operator{did_you_mean}")
    if op in ("lt", "lte", "gt", "gte", "between") and spec.type not in ORDERED:
        raise ConditionError(path, f"`{op}` compares numbers and dates, but `{fact}` is {spec.type.value}")
    if spec.type is FactType.MONEY and op in PER_CURRENCY_OPERATORS and isinstance(operand, dict):
        return _amounts_per_currency(fact, spec, op, operand, path)
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


def _amounts_per_currency(fact: str, spec: FactSpec, op: str, operand: dict[Any, Any], path: tuple[str | int, ...]) -> PerCurrency:
    """`op` with an amount for each currency named, e.g. `gte: {PLN: 1000, EUR: 400}`."""
    if not operand:
        raise ConditionError(path, f"`{op}` per currency names at least one currency, e.g. `{fact}: {{{op}: {EXAMPLE}}}`")
    bodies: dict[str, tuple[Condition, ...]] = {}
    for code, amount in operand.items():
        where = (*path, code)
        problem = currency_problem(code)
        if problem:
            raise ConditionError(where, problem)
        if isinstance(amount, dict):
            raise ConditionError(where, f"`{code}` takes the amount in {code}, not another block")
        leaf = _operator(fact, spec, op, amount, where)
        for value in _amounts(leaf):
            problem = decimals_problem(value, code)
            if problem:
                raise ConditionError(where, problem)
        bodies[code] = (leaf,)
    return _per_currency(bodies)


def _amounts(condition: Condition) -> list[Decimal]:
    if isinstance(condition, (AllOf, AnyOf)):
        return [value for item in condition.items for value in _amounts(item)]
    return [condition.value] if isinstance(condition, Compare) and isinstance(condition.value, Decimal) else []


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
    if spec.type is FactType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConditionError(path, f"`{fact}` is a number, not {value!r}")
        number = Decimal(repr(value))
        if not number.is_finite() or number.as_tuple().exponent < -MONEY_DECIMALS:  # type: ignore[operator]
            raise ConditionError(path, f"`{fact}` is compared to {MONEY_DECIMALS} decimal places: write a finite number with at most {MONEY_DECIMALS}")
        return number
    if spec.type is FactType.DATE:
        day = value if isinstance(value, date) and not isinstance(value, datetime) else None
        if isinstance(value, str):
            try:
                day = date.fromisoformat(value) if len(value) == 10 else None
            except ValueError:
                day = None
        if day is None:
            raise ConditionError(path, f"`{fact}` is a date, written YYYY-MM-DD (e.g. 2026-12-01), not {value!r}")
        return day.isoformat()  # as the fact holds it: ISO text orders as the calendar does
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
    return _all([_durable_entry(key, value, (*path, key)) for key, value in node.items()], path)


def _durable_entry(key: str, value: Any, path: tuple[str | int, ...]) -> Condition:
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"`{key}` takes a list of conditions")
        items = [_durable(item, (*path, index)) for index, item in enumerate(value)]
        return _every(items, path) if key == "$and" else AnyOf(tuple(items))
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
    # `not` flips the comparison, never the presence of the fact. Likewise a
    # case in a currency an amount is not written for matches neither.
    if isinstance(condition, PerCurrency):
        return _per_currency({code: (_negate(body[0] if len(body) == 1 else AllOf(body), path),) for code, body in _branches(condition).items()})
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
    if key.startswith(INPUT_PREFIX):
        return f"`{key}`: " + unknown_input(key[len(INPUT_PREFIX):], [path[len(INPUT_PREFIX):] for path in declared_inputs()])
    hint = difflib.get_close_matches(key, FACT_TYPES, n=1, cutoff=0.7)
    if hint:
        return f"`{key}`: unknown fact; did you mean `{hint[0]}`?"
    return f"`{key}`: unknown fact; see docs/facts.md for the facts rules can use, or use attributes.<name>"

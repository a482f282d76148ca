"""Typed inputs: the values a policy declares it reads beyond the fixed snapshot.

A policy lists them under `inputs:` (a score from the caller's models, a flag, a
date), each with a type, what it may be and whether it is required. Rules read
them as `inputs.<name>` with the comparisons of their type. A case must carry
them as declared: a required input missing, a value of the wrong type, one out
of its range or not among its values, or an input the policy in force does not
declare is refused (INVALID_ARGUMENT), naming `inputs.<name>`. The snapshot's own
validation (engine/snapshot.py) knows only their shape, since it knows no policy;
check_inputs is the check against the policy, one dict lookup per input.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from operator import is_
from typing import Any, Iterable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import FieldProblem, InvalidSnapshot, shown
from engine.facts import INPUT_PREFIX, FactSpec, FactType
from engine.policy.ir import Input
from engine.debtor_snapshot import DebtorSnapshot
from engine.snapshot import EARLIEST_DAY, LATEST_DAY, CaseSnapshot

InputType = Literal["number", "integer", "text", "boolean", "date"]
FACT_TYPE: dict[str, FactType] = {"number": FactType.NUMBER, "integer": FactType.INT, "text": FactType.TEXT, "boolean": FactType.BOOL, "date": FactType.DATE}
NUMBER_DECIMALS = 4  # as compared in rules (engine.facts.INPUT_DECIMALS)
_RANGED = ("number", "integer", "date")
_WORDS = {"number": "a number", "integer": "a whole number", "text": "text", "boolean": "true or false", "date": "a date (YYYY-MM-DD)"}


class InputSpec(BaseModel):
    """One declared input, as a policy file writes it under `inputs:`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$", description="rules read it as inputs.<name>")
    type: InputType = Field(description="number (a decimal, compared to 4 places), integer, text, boolean or date")
    description: str = Field(min_length=1, description="what the value is and where it comes from, for the analysts and the callers")
    required: bool = Field(default=False, description="a case without it is refused; an optional input may be absent, and every comparison with it is then false")
    minimum: int | float | date | str | None = Field(default=None, alias="min", description="number, integer or date: the lowest value allowed")
    maximum: int | float | date | str | None = Field(default=None, alias="max", description="number, integer or date: the highest value allowed")
    values: list[str] | None = Field(default=None, min_length=1, description="text: the only values allowed")

    @model_validator(mode="after")
    def _coherent(self) -> InputSpec:
        if self.values is not None and self.type != "text":
            raise ValueError(f"`values` lists the text an input may be; `{self.name}` is {self.type}" + (": give `min`/`max` instead" if self.type in _RANGED else ""))
        bounds = [bound for bound in (self.minimum, self.maximum) if bound is not None]
        if bounds and self.type not in _RANGED:
            raise ValueError(f"`min`/`max` bound a number, an integer or a date; `{self.name}` is {self.type}" + (": list `values` instead" if self.type == "text" else ""))
        low, high = (bound_value(self.type, bound, key) for bound, key in ((self.minimum, "min"), (self.maximum, "max")))
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            raise ValueError(f"`min` {low} is above `max` {high}")
        return self

    def to_ir(self) -> Input:
        low, high = bound_value(self.type, self.minimum, "min"), bound_value(self.type, self.maximum, "max")
        return Input(self.name, self.type, self.description, self.required, low, high, tuple(self.values or ()))


def bound_value(kind: str, value: Any, key: str) -> int | Decimal | date | None:
    """A declared bound in the input's own type; ValueError naming `key` when it is not."""
    if value is None:
        return None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"`{key}` of an integer input is a whole number, not {value!r}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"`{key}` of a number input is a number, not {value!r}")
        amount = Decimal(repr(value))
        if amount.as_tuple().exponent < -NUMBER_DECIMALS:  # type: ignore[operator]
            raise ValueError(f"`{key}` has more than {NUMBER_DECIMALS} decimal places: numbers are compared to {NUMBER_DECIMALS}")
        return amount
    day = as_day(value)
    if day is None:
        raise ValueError(f"`{key}` of a date input is a date such as 2026-12-01, not {value!r}")
    return day


def as_day(value: Any) -> date | None:
    """A calendar day from a date or its ISO text, from 1970 to 8999; None if it is not one."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime) and EARLIEST_DAY <= value <= LATEST_DAY:
        return value
    return None


def fact_specs(inputs: Iterable[Input]) -> dict[str, FactSpec]:
    """The facts `inputs.<name>` these declared inputs give the rules, with their types."""
    return {INPUT_PREFIX + item.name: FactSpec(FACT_TYPE[item.type], item.description, item.values) for item in inputs}


def unknown_input(name: str, declared: Iterable[str]) -> str:
    """Why `inputs.<name>` is not known, with the declared names and a did-you-mean."""
    names = sorted(declared)
    hint = difflib.get_close_matches(name, names, n=1)
    if hint:
        return f"is not an input this policy declares; did you mean `{hint[0]}`?"
    return f"is not an input this policy declares (declared: {', '.join(names) or 'none'}); declare it under `inputs:`"


def check_inputs(snapshot: CaseSnapshot, inputs: tuple[Input, ...]) -> CaseSnapshot:
    """The snapshot with its inputs in their declared types (an integer given for a
    number becomes a number; a date's ISO text a date); raise InvalidSnapshot naming
    every declared input that is missing, of the wrong type or out of bounds. An input the
    policy does not declare is carried as given and read by no rule (the loader refuses a
    rule that reads one)."""
    if not inputs and not snapshot.inputs:
        return snapshot
    values, problems = checked(snapshot.inputs, inputs, "inputs")
    if problems:
        raise InvalidSnapshot(problems)
    return snapshot if _unchanged(values, snapshot.inputs) else snapshot.model_copy(update={"inputs": values})


def _unchanged(values: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    # The very objects given: typed gives a value already of its type back as it is, and
    # anything new (87.0 for an integer given for a number, a date for its text) is a change.
    return values.keys() == given.keys() and all(map(is_, values.values(), given.values()))


def checked(given: Mapping[str, Any], inputs: tuple[Input, ...], where: str) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The given inputs in their declared types, and the problems with them (`where`: the field's path)."""
    declared: dict[str, Input] = {}
    problems: list[FieldProblem] = []
    for declared_input in inputs:
        declared[declared_input.name] = declared_input
        if declared_input.required and declared_input.name not in given:
            problems.append(FieldProblem(f"{where}.{declared_input.name}", f"is required by this policy: {describe(declared_input)}"))
    values: dict[str, Any] = {}
    for name, value in given.items():
        item = declared.get(name)
        if item is None:  # carried, never read: callers may send a score before the policy that reads it
            values[name] = value
            continue
        try:
            values[name] = typed(item, value)
        except ValueError as error:
            problems.append(FieldProblem(f"{where}.{name}", str(error)))
    return values, problems


def typed(item: Input, value: Any) -> Any:
    """`value` as the declared input's type, checked against its bounds or values."""
    kind = item.type
    found: Any = None
    if kind == "boolean" and isinstance(value, bool):
        found = value
    elif kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        found = value
    elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        found = float(value)
    elif kind == "text" and isinstance(value, str):
        found = value
    elif kind == "date" and not isinstance(value, (bool, int, float)):
        found = as_day(value)
    if found is None:
        raise ValueError(f"{shown(value)} is not {_WORDS[kind]}: the policy declares `{item.name}` as {kind}")
    if item.values and found not in item.values:
        raise ValueError(f"{shown(value)} is not one of the declared values {', '.join(item.values)}")
    compared: Any = Decimal(repr(found)) if kind == "number" else found
    if item.minimum is not None and compared < item.minimum:
        raise ValueError(f"{_plain(value)} is below the declared minimum {item.minimum}")
    if item.maximum is not None and compared > item.maximum:
        raise ValueError(f"{_plain(value)} is above the declared maximum {item.maximum}")
    return found


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def describe(item: Input) -> str:
    """The input's type and bounds in a few words, e.g. `integer 0..100`."""
    words = item.type
    if item.minimum is not None or item.maximum is not None:
        words += f" {'' if item.minimum is None else item.minimum}..{'' if item.maximum is None else item.maximum}"
    if item.values:
        words += f" ({', '.join(item.values)})"
    return words


def check_debtor_inputs(debtor: DebtorSnapshot, inputs: tuple[Input, ...]) -> DebtorSnapshot:
    """check_inputs for a person: the person's inputs hold for every account, an
    account's for itself; each account must have every required input from one or
    the other. Problems name `inputs.<name>` or `accounts[i].inputs.<name>`."""
    if not inputs and not debtor.inputs and not any(account.inputs for account in debtor.accounts):
        return debtor
    person, problems = checked(debtor.inputs, tuple(replace(item, required=False) for item in inputs), "inputs")
    # A required input the person carries is there for every account.
    per_account = tuple(replace(item, required=False) if item.name in debtor.inputs else item for item in inputs)
    accounts = []
    for index, account in enumerate(debtor.accounts):
        own, found = checked(account.inputs, per_account, f"accounts[{index}].inputs")
        problems += found
        accounts.append(account if _unchanged(own, account.inputs) else account.model_copy(update={"inputs": own}))
    if problems:
        raise InvalidSnapshot(problems)
    return debtor.model_copy(update={"inputs": person, "accounts": accounts})

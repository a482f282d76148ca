"""Money in policies: an amount means nothing without its currency.

1000 is a large debt in PLN and a few euros in JPY or HUF, so a policy writes a
threshold or an offer amount per currency (`{PLN: 1000, EUR: 400}`). A case in
a currency the policy does not list gets no amount: its comparisons do not hold
and its offer has no such bound. These checks are shared by conditions and offers.
"""

from __future__ import annotations

import difflib
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import iso4217

from engine.snapshot import NOT_MONEY, currency_code, currency_exponent

EXAMPLE = "{PLN: 1000, EUR: 400, GBP: 350, USD: 500}"
CURRENCY_KEY = "^[A-Z]{3}$"  # for editors; currency_problem is the check
MAX_OFFER_AMOUNT = Decimal(1_000_000_000)


@lru_cache(maxsize=1)
def _codes() -> tuple[str, ...]:
    return tuple(sorted(currency.code for currency in iso4217.Currency if currency.code not in NOT_MONEY))


def currency_problem(code: object) -> str | None:
    """Why `code` cannot name a currency in a policy, or None when it can.

    Codes are written in capitals, as the engine reads the case's currency."""
    if not isinstance(code, str):
        return f"`{code}` is not a currency code: write an ISO 4217 code such as EUR"
    try:
        known = currency_code(code)
    except ValueError as error:
        hint = [] if code.upper() in NOT_MONEY else difflib.get_close_matches(code.upper(), _codes(), n=1)
        return str(error) + (f"; did you mean `{hint[0]}`?" if hint else "")
    if known != code:
        return f"`{code}`: write currency codes in capitals, `{known}`"
    return None


def decimals_problem(amount: Decimal, code: str) -> str | None:
    """Why `amount` cannot be an amount in `code` (more decimal places than its minor units), or None."""
    exponent = currency_exponent(code)
    if -amount.as_tuple().exponent > exponent:  # type: ignore[operator]
        units = "has no minor units" if exponent == 0 else f"has {exponent} decimal places"
        return f"{code} {units}, so {amount} is not an amount in {code}"
    return None


def offer_amount(value: Any) -> Decimal | dict[str, Decimal]:
    """An offer's amount as written: per currency (`{PLN: 50, EUR: 20}`), or a bare
    amount meant for every currency (accepted; lint flags it). Raise ValueError."""
    if not isinstance(value, dict):
        return _amount(value, "")
    if not value:
        raise ValueError("name at least one currency, e.g. {PLN: 50, EUR: 20}")
    amounts: dict[str, Decimal] = {}
    for code, item in value.items():
        problem = currency_problem(code)
        if problem:
            raise ValueError(problem)
        amounts[code] = _amount(item, f"{code}: ")
        problem = decimals_problem(amounts[code], code)
        if problem:
            raise ValueError(problem)
    return amounts


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"{where}{value!r} is not an amount: write a number such as 50" + ("" if where else ", or amounts per currency such as {PLN: 50, EUR: 20}"))
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}{value!r} is not an amount: write a number such as 50") from None
    if not amount.is_finite() or not 0 <= amount <= MAX_OFFER_AMOUNT:
        raise ValueError(f"{where}{value} is not an amount from 0 to {MAX_OFFER_AMOUNT:,}")
    return amount


def per_currency_schema(amount: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of `{CUR: amount, ...}` for editors."""
    return {"type": "object", "patternProperties": {CURRENCY_KEY: amount}, "additionalProperties": False, "minProperties": 1, "description": f"per ISO 4217 currency, e.g. {EXAMPLE}; a currency not listed has no amount"}

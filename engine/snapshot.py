"""The case snapshot: what a caller tells the engine about one case, validated.

Validation never guesses: codes and amounts are ASCII exactly as documented
(no case folding of other scripts, no exponents, no Unix seconds), dates and
instants lie in the span the engine computes with, and an error quotes a
caller's value cut short (engine.errors.shown).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Union

import iso4217
import pycountry
from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError, ValidationInfo, WithJsonSchema, field_validator, model_validator,
)
from pydantic_core import ErrorDetails, TzInfo

from engine.errors import ECHO_CHARACTERS, FieldProblem, InvalidSnapshot, shown
from engine.vocabulary import Action, ArrangementStatus, ArrangementType, Channel, Delivery, Direction, Outcome, PaymentMethod

SUPPORTED_LANGUAGES = ("en", "pl")
MAX_PRIOR_CONTACTS = 500
MAX_ATTRIBUTES = 32
MAX_INPUTS = 32
MAX_INPUT_NUMBER = 10**12  # a number input is below this in size: exact to 4 places in a double
MAX_ARRANGEMENTS = 50
MAX_INSTALMENTS = 120
MAX_PAYMENTS = 500
MAX_ACCOUNTS = 50  # accounts of one debtor (engine/debtor_snapshot.py)
CASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"
# Codes are ASCII: [A-Za-z] and [0-9] never match the letters and digits of other
# scripts, and no code is upper-cased before it is known to be ASCII (so "ß" never
# becomes "SS", South Sudan, nor "uſd" USD). Always fullmatch: `$` also matches
# before a final newline.
_ATTRIBUTE_KEY = re.compile(r"[a-z][a-z0-9_]{0,47}")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # pydantic's regex: `$` is the end
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_REGION = re.compile(r"[A-Za-z0-9]{1,3}")  # ISO 3166-2: the part after "PL-"
_CURRENCY = re.compile(r"[A-Za-z]{3}")
# A BCP 47 language tag: a primary language subtag, then script, region, variants (pl-PL, en-GB, sr-Latn-RS).
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,6}")
_AMOUNT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?")
_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2})")
MAX_AMOUNT = Decimal(10) ** 12
# What the engine can compute with: dates and instants from 1970 up to 9000,
# the span transport/mapping.py allows for Timestamps (a window, a review and a
# 60-day moratorium still fit after them).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(8999, 12, 31)
EARLIEST_INSTANT, LATEST_INSTANT = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)
# ISO 4217 codes that are not money a debt can be owed in: no currency, testing,
# precious metals, bond-market units, drawing rights and units of account (all
# without minor units). Real X-currencies (XAF, XOF, XCD, XPF) are money.
NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"})

Label = Annotated[str, Field(pattern=_LABEL.pattern)]
Template = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]  # as policies name templates


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    """The IANA names tzdata ships (its `zones` list, links included), without
    Factory; never the host's own files ("localtime", "posixrules", "posix/...",
    "right/..."), whose clock is whatever the server's is."""
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip()) - {"Factory"}


@lru_cache(maxsize=512)  # keys are two ASCII letters: at most 676
def _is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@lru_cache(maxsize=4096)  # keys are a country and one to three ASCII letters or digits
def is_subdivision(code: str) -> bool:
    return pycountry.subdivisions.get(code=code) is not None


@lru_cache(maxsize=512)  # keys are three ASCII letters
def currency_exponent(code: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (2 for EUR, 0 for JPY)."""
    exponent = iso4217.Currency(code).exponent
    return 0 if exponent is None else exponent


def _calendar_day(value: Any) -> date:
    """A date as "YYYY-MM-DD" (or a date), from 1970-01-01 to 8999-12-31."""
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
    if day is None:
        raise ValueError(f"{shown(value)} is not a date: expected YYYY-MM-DD, such as 2026-11-30")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must be a date from {EARLIEST_DAY} to {LATEST_DAY}, not {day}")
    return day


_INSTANT_SPAN = f"from {EARLIEST_INSTANT:%Y-%m-%dT%H:%M:%SZ} to {LATEST_INSTANT:%Y-%m-%dT%H:%M:%SZ}"


def _instant_text(value: Any) -> Any:
    """Only an instant or its ISO 8601 text (no Unix seconds, whose unit pydantic guesses)."""
    if isinstance(value, datetime) or (isinstance(value, str) and _INSTANT.fullmatch(value)):
        return value
    if value is None:
        raise ValueError("is required: an instant such as 2026-11-23T09:00:00Z")
    raise ValueError(f"{shown(value)} is not an instant {_INSTANT_SPAN}: expected ISO 8601 with an offset, such as 2026-11-23T09:00:00Z")


def _instant_in_range(value: datetime) -> datetime:
    """An instant with an offset, in the span the engine computes with; read from
    text, its offset as a datetime.timezone (the same offset, value and isoformat)."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("must carry a time zone offset (e.g. 2026-11-23T09:00:00Z)")
    if not EARLIEST_INSTANT <= value <= LATEST_INSTANT:
        raise ValueError(f"must be an instant {_INSTANT_SPAN}")
    if type(value.tzinfo) is TzInfo:
        # pydantic's zone for parsed text: against another zone object (as_of's) a comparison or difference costs it ~50x
        return value.replace(tzinfo=timezone(offset))
    return value


def _clock_time(value: Any) -> time:
    """A local clock time "HH:MM" (or a time without an offset)."""
    if isinstance(value, time) and value.tzinfo is None:
        return value
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise ValueError(f"{shown(value)} is not a local clock time: expected HH:MM, such as 09:00, without an offset")


def _money(value: Any) -> Decimal:
    # Money arrives as a decimal string; a float would already have lost cents.
    if not isinstance(value, str):
        raise ValueError("must be a decimal string such as \"1250.00\", never a number")
    if not _AMOUNT.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a decimal amount: expected ASCII digits, optionally a point and more digits, such as \"1250.00\"")
    if value.startswith("-"):
        raise ValueError("must be an amount of zero or more")
    amount = Decimal(value)
    if amount >= MAX_AMOUNT:
        raise ValueError("must be below 1,000,000,000,000")
    return amount


Money = Annotated[Decimal, BeforeValidator(_money)]
CalendarDay = Annotated[date, BeforeValidator(_calendar_day)]
Instant = Annotated[datetime, BeforeValidator(_instant_text), AfterValidator(_instant_in_range)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]


def country_code(value: str) -> str:
    if not (_COUNTRY.fullmatch(value) and _is_country(value.upper())):
        raise ValueError(f"{shown(value)} is not an ISO 3166-1 alpha-2 country code: expected two letters, such as PL")
    return value.upper()


def region_code(value: str | None) -> str | None:
    if not value:
        return None
    if not _REGION.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an ISO 3166-2 subdivision code: expected one to three letters or digits without the country, such as MA")
    return value.upper()


def time_zone_name(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in known_time_zones():
        raise ValueError(f"{shown(value)} is not an IANA time zone: expected a name such as Europe/Warsaw")
    return value


def currency_code(value: str) -> str:
    unknown = ValueError(f"{shown(value)} is not an ISO 4217 currency code: expected three letters, such as EUR")
    if not _CURRENCY.fullmatch(value):
        raise unknown
    code = value.upper()
    if code in NOT_MONEY:
        name = iso4217.Currency(code).currency_name
        raise ValueError(f"{code} ({name}) is not money a debt can be owed in: expected a currency such as EUR")
    try:
        currency_exponent(code)
    except ValueError:
        raise unknown from None
    return code


def attribute_map(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError(f"key {shown(key)} must be lower_snake_case (a-z, 0-9, _), at most 48 characters")
        if len(text) > 256:
            raise ValueError(f"value of {shown(key)} is longer than 256 characters")
    return value


def _input_value(value: Any) -> bool | int | float | str | date:
    """One input's value in shape: a number finite and below 10^12 in size, text
    of at most 256 characters, true or false, or a date."""
    if isinstance(value, bool) or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and abs(value) < MAX_INPUT_NUMBER):
            raise ValueError(f"{shown(value)} is not a number this engine compares: expected a finite number below 10^12 in size")
        return value
    if isinstance(value, str):
        if len(value) > 256:
            raise ValueError("is longer than 256 characters")
        return value
    raise ValueError(f"{shown(value)} is not an input value: expected a number, text, true or false, or a date")


# A typed input as it arrives: the policy in force says which type it must be
# (engine/policy/inputs.py checks that); here only the shape. Strict: no "87" for 87.
InputValue = Annotated[
    Union[bool, int, float, str, date],
    PlainValidator(_input_value),
    WithJsonSchema({"type": ["number", "integer", "string", "boolean"], "description": "as the policy declares the input; a date as YYYY-MM-DD"}),
]


def input_map(value: dict[str, Any]) -> dict[str, Any]:
    for key in value:
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise ValueError(f"key {shown(key)} must be lower_snake_case (a-z, 0-9, _), at most 48 characters")
    return value


def language_code(value: str) -> str:
    """A BCP 47 tag as given (any language: one without texts is answered in English)."""
    value = value or "en"
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a BCP 47 language tag: expected a language such as pl, or with a region such as pl-PL")
    return value


def reason_language(tag: str) -> str:
    """The language the reasons are given in: the tag's own language when the engine
    has texts in it, else English (the decision then says so)."""
    primary = tag.split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LANGUAGES else "en"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Consents(_Strict):
    sms: bool = False
    email: bool = False
    phone: bool = False
    letter: bool = False
    push: bool = False
    electronic_opt_out: bool = False


class GdprFlags(_Strict):
    objection: bool = False
    restriction: bool = False
    erasure_requested: bool = False


class LegalFlags(_Strict):
    dispute: bool = False
    bankruptcy: bool = False
    cease_and_desist: bool = False
    attorney_represented: bool = False
    deceased: bool = False
    vulnerable: bool = False
    hardship: bool = False
    time_barred: bool = False
    breathing_space_start: CalendarDay | None = None  # UK Breathing Space moratorium (60 days)


class PreferredHours(_Strict):
    """The local hours the debtor asked to be contacted in (closes is exclusive)."""

    opens: ClockTime
    closes: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> PreferredHours:
        if self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        return self


class PaymentBehaviour(_Strict):
    broken_promises: int = Field(default=0, ge=0, le=1000)
    last_payment_at: Instant | None = None
    promise_to_pay_date: CalendarDay | None = None


class PriorContact(_Strict):
    channel: Channel
    at: Instant
    outcome: Outcome
    action: Action | None = None  # the action the contact carried
    template: Template | None = None  # the message template it carried
    direction: Direction = Direction.OUTBOUND
    delivery: Delivery | None = None  # None: read from the outcome (engine/history.py)
    # A debtor's person-level contact: the accounts it was about (empty: all of them).
    account_ids: tuple[Annotated[str, Field(pattern=CASE_ID_PATTERN, max_length=128)], ...] = Field(default=(), max_length=MAX_ACCOUNTS)


class Instalment(_Strict):
    due_date: CalendarDay
    amount: Money


class Payment(_Strict):
    amount: Money
    paid_at: Instant
    posted_at: Instant | None = None
    method: PaymentMethod = PaymentMethod.OTHER

    @model_validator(mode="after")
    def _posted_after_paid(self) -> Payment:
        if self.posted_at is not None and self.posted_at < self.paid_at:
            raise _FieldError("posted_at", "is earlier than paid_at: a payment reaches the books after it is made")
        return self


class Arrangement(_Strict):
    """Something the debtor agreed to; the engine judges how it is going (engine/arrangements.py)."""

    arrangement_id: Label
    type: ArrangementType
    agreed_at: Instant
    agreed_on: Channel | None = None
    currency: str | None = None  # None: the case's currency
    schedule: list[Instalment] = Field(min_length=1, max_length=MAX_INSTALMENTS)
    payments: list[Payment] = Field(default_factory=list, max_length=MAX_PAYMENTS)
    status: ArrangementStatus = ArrangementStatus.OPEN
    method: PaymentMethod = PaymentMethod.OTHER

    @model_validator(mode="after")
    def _coherent(self) -> Arrangement:
        # A due date may be a day before agreed_at's UTC date in a zone east of UTC.
        earliest = (self.agreed_at - timedelta(days=1)).date()
        for index, instalment in enumerate(self.schedule):
            if instalment.due_date < earliest:
                raise _FieldError(f"schedule[{index}].due_date", f"is before agreed_at ({self.agreed_at:%Y-%m-%d})")
            if index and instalment.due_date < self.schedule[index - 1].due_date:
                raise _FieldError(f"schedule[{index}].due_date", "is before the instalment above it: list the schedule in due-date order")
        scheduled = sum((instalment.amount for instalment in self.schedule), Decimal(0))
        paid = sum((payment.amount for payment in self.payments), Decimal(0))
        if self.type is not ArrangementType.PAYMENT_HOLIDAY and paid > scheduled:
            raise _FieldError("payments", f"add up to {paid}, more than the {scheduled} the schedule asks for")
        return self


class CaseSnapshot(_Strict):
    case_id: str = Field(min_length=1, max_length=128, pattern=CASE_ID_PATTERN)
    country: str
    region: str | None = None
    time_zone: str | None = None
    amount_due: Money
    currency: str
    days_past_due: int = Field(ge=-3650, le=36500)
    segment: Label
    product: Label | None = None
    consents: Consents = Consents()
    gdpr: GdprFlags = GdprFlags()
    legal: LegalFlags = LegalFlags()
    payment: PaymentBehaviour = PaymentBehaviour()
    prior_contacts: list[PriorContact] = Field(default_factory=list, max_length=MAX_PRIOR_CONTACTS)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    inputs: dict[str, InputValue] = Field(default_factory=dict, max_length=MAX_INPUTS)  # typed, as the policy declares them
    preferred_channel: Channel | None = None
    preferred_hours: PreferredHours | None = None
    language: str = "en"
    arrangements: list[Arrangement] = Field(default_factory=list, max_length=MAX_ARRANGEMENTS)
    third_party_collector: bool = False  # a debt collector for another creditor (US FDCPA)

    _country = field_validator("country")(country_code)
    _region = field_validator("region")(region_code)
    _time_zone = field_validator("time_zone")(time_zone_name)
    _currency = field_validator("currency")(currency_code)
    _attributes = field_validator("attributes")(attribute_map)
    _inputs = field_validator("inputs")(input_map)
    _language = field_validator("language")(language_code)

    @property
    def reason_language(self) -> str:
        return reason_language(self.language)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> CaseSnapshot:
        check_case(self, (info.context or {}).get("as_of"))
        return self


def check_case(snapshot: CaseSnapshot, as_of: datetime | None) -> None:
    """What a case's fields must agree on: the region lies in the country, the amount
    has no more places than the currency's minor units, nothing happened after as_of,
    contacts name no accounts, arrangements agree with the case (check_arrangement).
    Raises a ValueError naming the field (transport/case_reader.py reuses it)."""
    if snapshot.region and not is_subdivision(f"{snapshot.country}-{snapshot.region}"):
        raise _FieldError("region", f"{shown(snapshot.region)} is not a subdivision of {snapshot.country} (ISO 3166-2)")
    exponent = currency_exponent(snapshot.currency)
    if -snapshot.amount_due.as_tuple().exponent > exponent:  # type: ignore[operator]
        raise _FieldError("amount_due", f"has more decimal places than {snapshot.currency} allows ({exponent})")
    if as_of is not None:
        for index, contact in enumerate(snapshot.prior_contacts):
            if contact.at > as_of:
                raise _FieldError(f"prior_contacts[{index}].at", "is later than as_of")
        if snapshot.payment.last_payment_at and snapshot.payment.last_payment_at > as_of:
            raise _FieldError("payment.last_payment_at", "is later than as_of")
    for index, contact in enumerate(snapshot.prior_contacts):
        if contact.account_ids:
            raise _FieldError(f"prior_contacts[{index}].account_ids", "names accounts only in a debtor's person-level contacts (DecideDebtor)")
    for index, arrangement in enumerate(snapshot.arrangements):
        check_arrangement(arrangement, f"arrangements[{index}]", snapshot.currency, exponent, as_of)


def check_arrangement(arrangement: Arrangement, where: str, currency: str, exponent: int, as_of: datetime | None) -> None:
    """What an arrangement must agree with in the case: its currency, the currency's
    minor units, and as_of (nothing agreed or paid after it)."""
    if arrangement.currency is not None and arrangement.currency != currency:
        raise _FieldError(f"{where}.currency", f"is {shown(arrangement.currency)}, but the case is in {currency}: an arrangement is in the case's currency")
    amounts = [(f"schedule[{i}].amount", item.amount) for i, item in enumerate(arrangement.schedule)]
    amounts += [(f"payments[{i}].amount", item.amount) for i, item in enumerate(arrangement.payments)]
    for field, amount in amounts:
        if -amount.as_tuple().exponent > exponent:  # type: ignore[operator]
            raise _FieldError(f"{where}.{field}", f"has more decimal places than {currency} allows ({exponent})")
    if as_of is None:
        return
    if arrangement.agreed_at > as_of:
        raise _FieldError(f"{where}.agreed_at", "is later than as_of")
    for i, payment in enumerate(arrangement.payments):
        for name, instant in (("paid_at", payment.paid_at), ("posted_at", payment.posted_at)):
            if instant is not None and instant > as_of:
                raise _FieldError(f"{where}.payments[{i}].{name}", "is later than as_of")


class _FieldError(ValueError):
    """A cross-field check failed on one named field."""

    def __init__(self, field: str, description: str):
        self.field = field
        self.description = description
        super().__init__(f"{field}: {description}")


def parse_snapshot(data: dict[str, Any], as_of: datetime) -> CaseSnapshot:
    """Validate raw snapshot data; raise InvalidSnapshot naming every bad field."""
    if as_of.tzinfo is None:
        raise InvalidSnapshot([FieldProblem("as_of", "must carry a time zone offset")])
    if not EARLIEST_INSTANT <= as_of <= LATEST_INSTANT:
        raise InvalidSnapshot([FieldProblem("as_of", f"must be an instant {_INSTANT_SPAN}")])
    try:
        return CaseSnapshot.model_validate(data, context={"as_of": as_of})
    except ValidationError as error:
        raise InvalidSnapshot([_problem(item) for item in error.errors()]) from None


def _problem(item: ErrorDetails) -> FieldProblem:
    path = ""
    for part in item["loc"]:  # a part may be a caller's key (an unknown field, an attribute)
        name = str(part) if len(str(part)) <= ECHO_CHARACTERS else str(part)[:ECHO_CHARACTERS] + "…"
        path += f"[{name}]" if isinstance(part, int) else (f".{name}" if path else name)
    cause = (item.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):  # a cross-field check of the model at `path`
        return FieldProblem(f"{path}.{cause.field}" if path else cause.field, cause.description)
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "enum":  # say what came, e.g. an enum number only a newer client knows
        message += f"; got {shown(item['input'])}"
    return FieldProblem(path or "case", message)

"""The case snapshot: what a caller tells the engine about one case, validated."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

import iso4217
import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from engine.errors import FieldProblem, InvalidSnapshot
from engine.vocabulary import Channel, Outcome

SUPPORTED_LANGUAGES = ("en", "pl")
MAX_PRIOR_CONTACTS = 500
MAX_ATTRIBUTES = 32
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Label = Annotated[str, Field(pattern=_LABEL.pattern)]


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def _is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


@lru_cache(maxsize=4096)
def _is_subdivision(code: str) -> bool:
    return pycountry.subdivisions.get(code=code) is not None


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (2 for EUR, 0 for JPY)."""
    exponent = iso4217.Currency(code).exponent
    return 0 if exponent is None else exponent


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
    breathing_space_start: date | None = None  # UK Breathing Space moratorium (60 days)


class PreferredHours(_Strict):
    """The local hours the debtor asked to be contacted in (closes is exclusive)."""

    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> PreferredHours:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("are local clock times such as 09:00, without an offset")
        if self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        return self


class PaymentBehaviour(_Strict):
    broken_promises: int = Field(default=0, ge=0, le=1000)
    last_payment_at: datetime | None = None
    promise_to_pay_date: date | None = None

    @field_validator("last_payment_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _require_aware(value)


class PriorContact(_Strict):
    channel: Channel
    at: datetime
    outcome: Outcome

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _require_aware(value)


class CaseSnapshot(_Strict):
    case_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
    country: str
    region: str | None = None
    time_zone: str | None = None
    amount_due: Decimal
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
    preferred_channel: Channel | None = None
    preferred_hours: PreferredHours | None = None
    language: str = "en"

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _is_country(value.upper()):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in known_time_zones():
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Warsaw)")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            currency_exponent(value.upper())
        except (ValueError, KeyError):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code") from None
        return value.upper()

    @field_validator("amount_due", mode="before")
    @classmethod
    def _amount_text(cls, value: Any) -> Decimal:
        # Money arrives as a decimal string; a float would already have lost cents.
        if not isinstance(value, str):
            raise ValueError("must be a decimal string such as \"1250.00\", never a number")
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("must be a finite amount of zero or more")
        if amount > Decimal("1e12"):
            raise ValueError("must be below 1,000,000,000,000")
        return amount

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _ATTRIBUTE_KEY.match(key):
                raise ValueError(f"key {key!r} must be lower_snake_case, at most 48 characters")
            if len(text) > 256:
                raise ValueError(f"value of {key!r} is longer than 256 characters")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = (value or "en").lower()
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"{value!r} is not supported; use one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> CaseSnapshot:
        if self.region:
            code = f"{self.country}-{self.region.upper()}"
            if not _is_subdivision(code):
                raise _FieldError("region", f"{self.region!r} is not a subdivision of {self.country} (ISO 3166-2)")
            object.__setattr__(self, "region", self.region.upper())
        exponent = currency_exponent(self.currency)
        if -self.amount_due.as_tuple().exponent > exponent:  # type: ignore[operator]
            raise _FieldError("amount_due", f"has more decimal places than {self.currency} allows ({exponent})")
        as_of = (info.context or {}).get("as_of")
        if as_of is not None:
            for index, contact in enumerate(self.prior_contacts):
                if contact.at > as_of:
                    raise _FieldError(f"prior_contacts[{index}].at", "is later than as_of")
            if self.payment.last_payment_at and self.payment.last_payment_at > as_of:
                raise _FieldError("payment.last_payment_at", "is later than as_of")
        return self


class _FieldError(ValueError):
    """A cross-field check failed on one named field."""

    def __init__(self, field: str, description: str):
        self.field = field
        self.description = description
        super().__init__(f"{field}: {description}")


def _require_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must carry a time zone offset (e.g. 2026-11-23T09:00:00Z)")
    return value


def parse_snapshot(data: dict[str, Any], as_of: datetime) -> CaseSnapshot:
    """Validate raw snapshot data; raise InvalidSnapshot naming every bad field."""
    if as_of.tzinfo is None:
        raise InvalidSnapshot([FieldProblem("as_of", "must carry a time zone offset")])
    try:
        return CaseSnapshot.model_validate(data, context={"as_of": as_of})
    except ValidationError as error:
        raise InvalidSnapshot([_problem(item) for item in error.errors()]) from None


def _problem(item: dict[str, Any]) -> FieldProblem:
    cause = (item.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):
        return FieldProblem(cause.field, cause.description)
    path = ""
    for part in item["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "enum":  # say what came, e.g. an enum number only a newer client knows
        message += f"; got {item['input']!r}"
    return FieldProblem(path or "case", message)

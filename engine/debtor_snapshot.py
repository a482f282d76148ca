"""The debtor snapshot: a person with one or more accounts, validated, and read as
one case per account for the engine.

Person-level data (where and how to reach the person, consents, GDPR requests,
person flags, person-level contacts) is given once; each account has its own
amount, flags, arrangements and contacts. Validation is the case snapshot's
(engine.snapshot), field by field, plus what only a debtor can get wrong: an
account listed twice, an account of another debtor or another country, a
contact about an account the debtor does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Iterable

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from engine.errors import FieldProblem, InvalidSnapshot, shown
from engine.snapshot import (
    CASE_ID_PATTERN,
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    MAX_ACCOUNTS,
    MAX_ARRANGEMENTS,
    MAX_ATTRIBUTES,
    MAX_INPUTS,
    MAX_PRIOR_CONTACTS,
    Arrangement,
    CaseSnapshot,
    Consents,
    InputValue,
    GdprFlags,
    Label,
    LegalFlags,
    Money,
    PaymentBehaviour,
    PreferredHours,
    PriorContact,
    _FieldError,
    _Strict,
    _problem,
    attribute_map,
    check_arrangement,
    country_code,
    currency_code,
    currency_exponent,
    input_map,
    is_subdivision,
    language_code,
    region_code,
    time_zone_name,
)
from engine.vocabulary import Channel

# Contacts of one debtor in all (person-level and every account's): each list is
# bounded, and so is their sum, since every account's caps read all of them.
MAX_DEBTOR_CONTACTS = 2000
AccountId = Annotated[str, Field(min_length=1, max_length=128, pattern=CASE_ID_PATTERN)]
# Flags an account may carry; which of them hold the whole person is the packs' call (flag_scope).
ACCOUNT_FLAGS = ("dispute", "bankruptcy", "cease_and_desist", "attorney_represented", "deceased", "vulnerable", "hardship", "time_barred")
GDPR_FLAGS = ("objection", "restriction", "erasure_requested")


class AccountFlags(LegalFlags):
    @field_validator("breathing_space_start")
    @classmethod
    def _person_only(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("is the person's, not an account's: set it in debtor.legal")
        return value


class Account(_Strict):
    account_id: AccountId
    debtor_id: str | None = None  # when given, the debtor's
    country: str | None = None  # when given, the debtor's
    amount_due: Money
    currency: str
    days_past_due: int = Field(ge=-3650, le=36500)
    segment: Label
    product: Label | None = None
    legal: AccountFlags = AccountFlags()
    gdpr: GdprFlags = GdprFlags()
    payment: PaymentBehaviour = PaymentBehaviour()
    prior_contacts: list[PriorContact] = Field(default_factory=list, max_length=MAX_PRIOR_CONTACTS)
    arrangements: list[Arrangement] = Field(default_factory=list, max_length=MAX_ARRANGEMENTS)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    inputs: dict[str, InputValue] = Field(default_factory=dict, max_length=MAX_INPUTS)  # this account's; the person's apply too

    _currency = field_validator("currency")(currency_code)
    _attributes = field_validator("attributes")(attribute_map)
    _inputs = field_validator("inputs")(input_map)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Account:
        check_account(self, (info.context or {}).get("as_of"))
        return self


class DebtorSnapshot(_Strict):
    debtor_id: AccountId
    country: str
    region: str | None = None
    time_zone: str | None = None
    language: str = "en"
    consents: Consents = Consents()
    gdpr: GdprFlags = GdprFlags()
    legal: LegalFlags = LegalFlags()
    preferred_channel: Channel | None = None
    preferred_hours: PreferredHours | None = None
    third_party_collector: bool = False
    attributes: dict[str, str] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    inputs: dict[str, InputValue] = Field(default_factory=dict, max_length=MAX_INPUTS)  # the person's, for every account (a score of the person)
    contacts: list[PriorContact] = Field(default_factory=list, max_length=MAX_PRIOR_CONTACTS)
    accounts: list[Account] = Field(min_length=1, max_length=MAX_ACCOUNTS)

    _country = field_validator("country")(country_code)
    _region = field_validator("region")(region_code)
    _time_zone = field_validator("time_zone")(time_zone_name)
    _language = field_validator("language")(language_code)
    _attributes = field_validator("attributes")(attribute_map)
    _inputs = field_validator("inputs")(input_map)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> DebtorSnapshot:
        check_debtor(self, (info.context or {}).get("as_of"))
        return self


def check_account(account: Account, as_of: datetime | None) -> None:
    """What an account's fields must agree on: the amount has no more places than the
    currency's minor units, nothing happened after as_of, its own contacts name no
    accounts, arrangements agree with the account (check_arrangement). Raises a
    ValueError naming the field (transport/debtor_reader.py reuses it)."""
    exponent = currency_exponent(account.currency)
    if -account.amount_due.as_tuple().exponent > exponent:  # type: ignore[operator]
        raise _FieldError("amount_due", f"has more decimal places than {account.currency} allows ({exponent})")
    _check_contacts(account.prior_contacts, "prior_contacts", as_of, account_level=True)
    if as_of is not None and account.payment.last_payment_at and account.payment.last_payment_at > as_of:
        raise _FieldError("payment.last_payment_at", "is later than as_of")
    for index, arrangement in enumerate(account.arrangements):
        check_arrangement(arrangement, f"arrangements[{index}]", account.currency, exponent, as_of)


def check_debtor(debtor: DebtorSnapshot, as_of: datetime | None) -> None:
    """What a debtor's fields must agree on: the region lies in the country, no contact with
    the person is after as_of, each account is listed once and is this person's (same
    debtor, same country, no attribute or input contradicting the person's), a person-level
    contact names only the debtor's accounts, and the contacts in all are within
    MAX_DEBTOR_CONTACTS. Each account's own rules are check_account's. Raises a
    ValueError naming the field (transport/debtor_reader.py reuses it)."""
    if debtor.region and not is_subdivision(f"{debtor.country}-{debtor.region}"):
        raise _FieldError("region", f"{shown(debtor.region)} is not a subdivision of {debtor.country} (ISO 3166-2)")
    _check_contacts(debtor.contacts, "contacts", as_of, account_level=False)
    seen: dict[str, int] = {}
    for index, account in enumerate(debtor.accounts):
        where = f"accounts[{index}]"
        if account.account_id in seen:
            raise _FieldError(f"{where}.account_id", f"is listed twice (also accounts[{seen[account.account_id]}]): list each account once")
        seen[account.account_id] = index
        if account.debtor_id not in (None, "", debtor.debtor_id):
            raise _FieldError(f"{where}.debtor_id", f"is {shown(account.debtor_id)}, not this debtor's {debtor.debtor_id}: decide each person's accounts together")
        if account.country and country_code(account.country) != debtor.country:
            raise _FieldError(f"{where}.country", f"is {shown(account.country)}, but the debtor lives in {debtor.country}: a person has one country")
        for key, value in account.attributes.items():
            if debtor.attributes.get(key, value) != value:
                raise _FieldError(f"{where}.attributes", f"key {shown(key)} contradicts the debtor's attribute of that name")
        for key, given in account.inputs.items():
            if key in debtor.inputs and (type(debtor.inputs[key]), debtor.inputs[key]) != (type(given), given):
                raise _FieldError(f"{where}.inputs.{key}", "contradicts the debtor's input of that name: give it once, for the person or for each account")
    for index, contact in enumerate(debtor.contacts):
        unknown = [account_id for account_id in contact.account_ids if account_id not in seen]
        if unknown:
            raise _FieldError(f"contacts[{index}].account_ids", f"names {shown(unknown[0])}, which is not one of the debtor's accounts")
    total = len(debtor.contacts) + sum(len(account.prior_contacts) for account in debtor.accounts)
    if total > MAX_DEBTOR_CONTACTS:
        raise _FieldError("contacts", f"the debtor and the accounts list {total} contacts; at most {MAX_DEBTOR_CONTACTS} in all")


def _check_contacts(contacts: list[PriorContact], where: str, as_of: datetime | None, account_level: bool) -> None:
    for index, contact in enumerate(contacts):
        if as_of is not None and contact.at > as_of:
            raise _FieldError(f"{where}[{index}].at", "is later than as_of")
        if account_level and contact.account_ids:
            raise _FieldError(f"{where}[{index}].account_ids", "is for the debtor's person-level contacts; an account's own contacts are about that account")


def parse_debtor(data: dict[str, Any], as_of: datetime) -> DebtorSnapshot:
    """Validate raw debtor data; raise InvalidSnapshot naming every bad field."""
    if as_of.tzinfo is None or not EARLIEST_INSTANT <= as_of <= LATEST_INSTANT:
        raise InvalidSnapshot([FieldProblem("as_of", "must be an instant with a time zone offset, from 1970 to 9000")])
    try:
        return DebtorSnapshot.model_validate(data, context={"as_of": as_of})
    except ValidationError as error:
        raise InvalidSnapshot([_problem(item) for item in error.errors()]) from None


# --- one case per account -----------------------------------------------------------


@dataclass(frozen=True)
class AccountCase:
    """One account read as a case, with every contact with the person (for caps)."""

    snapshot: CaseSnapshot  # the account's case: person data, merged flags, the account's contacts
    person_contacts: tuple[PriorContact, ...]  # each contact with the person once


def contact_key(contact: PriorContact) -> tuple[Any, ...]:
    """A contact listed under several accounts is one contact: same channel, instant and direction."""
    return (contact.channel, contact.at, contact.direction)


def once(contacts: Iterable[PriorContact]) -> tuple[PriorContact, ...]:
    unique: dict[tuple[Any, ...], PriorContact] = {}
    for contact in contacts:
        unique.setdefault(contact_key(contact), contact)
    return tuple(unique.values())


def account_cases(debtor: DebtorSnapshot, person_flags: frozenset[str]) -> list[AccountCase]:
    """Each account as a case, in request order. A flag in `person_flags` (e.g.
    "legal.bankruptcy") set on any account holds every account; other account
    flags hold their own account; the person's flags hold every account."""
    held = {
        path
        for account in debtor.accounts
        for prefix, flags, names in (("legal", account.legal, ACCOUNT_FLAGS), ("gdpr", account.gdpr, GDPR_FLAGS))
        for name in names
        if getattr(flags, name) and (path := f"{prefix}.{name}") in person_flags
    }
    person_contacts = once([*debtor.contacts, *(contact for account in debtor.accounts for contact in account.prior_contacts)])
    cases = []
    for account in debtor.accounts:
        legal: dict[str, Any] = {name: getattr(debtor.legal, name) or getattr(account.legal, name) or f"legal.{name}" in held for name in ACCOUNT_FLAGS}
        gdpr: dict[str, Any] = {name: getattr(debtor.gdpr, name) or getattr(account.gdpr, name) or f"gdpr.{name}" in held for name in GDPR_FLAGS}
        about = [contact for contact in debtor.contacts if not contact.account_ids or account.account_id in contact.account_ids]
        snapshot = CaseSnapshot.model_construct(
            case_id=account.account_id,
            country=debtor.country,
            region=debtor.region,
            time_zone=debtor.time_zone,
            amount_due=account.amount_due,
            currency=account.currency,
            days_past_due=account.days_past_due,
            segment=account.segment,
            product=account.product,
            consents=debtor.consents,
            gdpr=GdprFlags.model_construct(None, **gdpr),
            legal=LegalFlags.model_construct(None, **legal, breathing_space_start=debtor.legal.breathing_space_start),
            payment=account.payment,
            prior_contacts=list(once([*account.prior_contacts, *about])),
            attributes={**debtor.attributes, **account.attributes},
            inputs={**debtor.inputs, **account.inputs},
            preferred_channel=debtor.preferred_channel,
            preferred_hours=debtor.preferred_hours,
            language=debtor.language,
            arrangements=account.arrangements,
            third_party_collector=debtor.third_party_collector,
        )
        cases.append(AccountCase(snapshot, person_contacts))
    return cases


"""A valid debtor read straight from its protobuf message, without a dict and a second pass.

`read_debtor` returns the DebtorSnapshot that parse_debtor(debtor_data(debtor), as_of)
would return, or None when it cannot show the debtor is valid: anything invalid or
unusual (an enum number this server does not know, a value out of range, a list
longer than validation takes, a naive or out-of-range as_of). It never raises and
never words an error: on None the caller takes the validated path, which stays the
one source of error messages. Valid traffic is read here whole: every debtor of the
synthetic portfolio, person-level contacts naming accounts included (a debtor's
normal case, unlike a case's).

The parts a debtor shares with a case (flags, payment behaviour, contacts, arrangements,
instants) are read by transport/case_reader.py's helpers, so a field means the same in
Decide and DecideDebtor. engine/debtor_snapshot.py stays the one definition of a valid
debtor: the reader runs the field validators the models declare (taken from the models,
and checked to be the ones this module knows), their cross-field rules (check_account,
check_debtor), and reads lengths, patterns and bounds from the fields' metadata.

Should a model gain a field or a validator this module does not know, `COVERED` is false
and every debtor takes the validated path (tests/test_debtor_reader.py fails on it too);
so it is when case_reader's own guard is off. CSE_DEBTOR_READER=off turns the reader off,
to compare the two paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine import snapshot as model
from engine.debtor_snapshot import MAX_DEBTOR_CONTACTS, Account, AccountFlags, DebtorSnapshot, check_account, check_debtor
from engine.snapshot import Consents, GdprFlags, LegalFlags, PriorContact
from transport import case_reader, mapping
from transport.case_reader import _arrangement, _built, _constraint, _contact, _flags, _hours, _payment

# The fields this module reads, per model: a field the model gains must be added here
# (and read below) before the reader accepts any debtor again.
READ_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    DebtorSnapshot: (
        "debtor_id", "country", "region", "time_zone", "language", "consents", "gdpr", "legal", "preferred_channel",
        "preferred_hours", "third_party_collector", "attributes", "inputs", "contacts", "accounts",
    ),
    Account: (
        "account_id", "debtor_id", "country", "amount_due", "currency", "days_past_due", "segment", "product", "legal",
        "gdpr", "payment", "prior_contacts", "arrangements", "attributes", "inputs",
    ),
    AccountFlags: case_reader.READ_FIELDS[LegalFlags],  # a LegalFlags read by _flags, without the person's date
}
# The validators each model runs, by the fields they check: a validator the model gains
# must be run below before the reader accepts any debtor again. The functions are taken
# from the models themselves (_FIELD_RULES), never named twice.
KNOWN_VALIDATORS: dict[type[BaseModel], tuple[frozenset[tuple[str, ...]], frozenset[str]]] = {
    DebtorSnapshot: (
        frozenset({("country",), ("region",), ("time_zone",), ("language",), ("attributes",), ("inputs",)}),
        frozenset({"_consistent"}),  # check_debtor
    ),
    Account: (frozenset({("currency",), ("attributes",), ("inputs",)}), frozenset({"_consistent"})),  # check_account
    AccountFlags: (frozenset({("breathing_space_start",)}), frozenset()),  # an account's date: always declined here
}


def _field_validators(cls: type[BaseModel]) -> dict[tuple[str, ...], Callable[[Any], Any]]:
    """The model's field validators (all `after`, on plain values), by the fields they check."""
    decorators = cls.__pydantic_decorators__
    return {tuple(item.info.fields): item.func for item in decorators.field_validators.values() if item.info.mode == "after"}


def _covered() -> bool:
    decorators_ok = all(
        set(_field_validators(cls)) == fields
        and len(cls.__pydantic_decorators__.field_validators) == len(fields)
        and set(cls.__pydantic_decorators__.model_validators) == model_validators
        and not cls.__pydantic_decorators__.validators
        for cls, (fields, model_validators) in KNOWN_VALIDATORS.items()
    )
    # An account's flags are the case's legal flags (same fields, same proto message), read by _flags.
    flags_ok = pb.Account.DESCRIPTOR.fields_by_name["legal"].message_type is pb.LegalFlags.DESCRIPTOR and issubclass(AccountFlags, LegalFlags)
    return (
        case_reader.COVERED
        and decorators_ok
        and flags_ok
        and all(tuple(cls.model_fields) == fields and case_reader._plain(cls) for cls, fields in READ_FIELDS.items())
    )


COVERED = _covered()
# CSE_DEBTOR_READER=off: every debtor takes the validated path (to compare the two, e.g. in bench/).
ENABLED = os.environ.get("CSE_DEBTOR_READER", "on") != "off"

_DEBTOR_RULES = _field_validators(DebtorSnapshot)
_country, _region, _time_zone = _DEBTOR_RULES[("country",)], _DEBTOR_RULES[("region",)], _DEBTOR_RULES[("time_zone",)]
_language, _attribute_map, _input_map = _DEBTOR_RULES[("language",)], _DEBTOR_RULES[("attributes",)], _DEBTOR_RULES[("inputs",)]
_ACCOUNT_RULES = _field_validators(Account)
_currency, _account_attributes, _account_inputs = _ACCOUNT_RULES[("currency",)], _ACCOUNT_RULES[("attributes",)], _ACCOUNT_RULES[("inputs",)]


def _id_rule(cls: type[BaseModel], field: str) -> tuple[re.Pattern[str], int, int]:
    return re.compile(_constraint(cls, field, "pattern")), _constraint(cls, field, "min_length"), _constraint(cls, field, "max_length")


def _contact_account_rule() -> tuple[re.Pattern[str], int, int]:
    """PriorContact.account_ids: at most so many ids, each of a pattern and a length."""
    item = get_args(PriorContact.model_fields["account_ids"].annotation)[0]  # tuple[Annotated[str, Field(...)], ...]
    info = get_args(item)[1]
    pattern = next(rule.pattern for rule in info.metadata if getattr(rule, "pattern", None))
    length = next(rule.max_length for rule in info.metadata if getattr(rule, "max_length", None))
    return re.compile(pattern), length, _constraint(PriorContact, "account_ids", "max_length")


_DEBTOR_ID = _id_rule(DebtorSnapshot, "debtor_id")
_ACCOUNT_ID = _id_rule(Account, "account_id")
_CONTACT_ACCOUNT = _contact_account_rule()
_SEGMENT = re.compile(_constraint(Account, "segment", "pattern"))
_LABEL = case_reader._LABEL  # product: Label | None
_DAYS_PAST_DUE = (_constraint(Account, "days_past_due", "ge"), _constraint(Account, "days_past_due", "le"))
_ACCOUNTS = (_constraint(DebtorSnapshot, "accounts", "min_length"), _constraint(DebtorSnapshot, "accounts", "max_length"))
_MAX_PERSON_CONTACTS = _constraint(DebtorSnapshot, "contacts", "max_length")
_MAX_ACCOUNT_CONTACTS = _constraint(Account, "prior_contacts", "max_length")
_MAX_ARRANGEMENTS = _constraint(Account, "arrangements", "max_length")
_MAX_ATTRIBUTES = (_constraint(DebtorSnapshot, "attributes", "max_length"), _constraint(Account, "attributes", "max_length"))
_MAX_INPUTS = (_constraint(DebtorSnapshot, "inputs", "max_length"), _constraint(Account, "inputs", "max_length"))
_CHANNELS = case_reader._CHANNELS
_input_value = case_reader._input_value
_ALL_DEBTOR_FIELDS = frozenset(READ_FIELDS[DebtorSnapshot])  # debtor_data gives every field
_ALL_ACCOUNT_FIELDS = frozenset(READ_FIELDS[Account])  # and account_data too


class _Decline(Exception):
    """The debtor is not one the reader can show valid: the validated path decides it."""


def read_debtor(debtor: pb.Debtor, as_of: datetime) -> DebtorSnapshot | None:
    """The debtor as parse_debtor would validate it at as_of, or None when the reader
    cannot show it is valid (the caller then validates it the usual way)."""
    if not (ENABLED and COVERED) or as_of.tzinfo is None or not model.EARLIEST_INSTANT <= as_of <= model.LATEST_INSTANT:
        return None
    try:
        return _read(debtor, as_of)
    except Exception:  # noqa: BLE001 - any surprise declines: the validated path then decides, or names the problem
        return None


def _read(debtor: pb.Debtor, as_of: datetime) -> DebtorSnapshot:
    accounts, contacts, attributes, inputs = debtor.accounts, debtor.contacts, debtor.attributes, debtor.inputs
    # Counted before anything is read: a message of many contacts is declined at once (transport/debtor_mapping.oversized).
    if not _ACCOUNTS[0] <= len(accounts) <= _ACCOUNTS[1] or len(contacts) > _MAX_PERSON_CONTACTS:
        raise _Decline("accounts")
    if len(contacts) + sum(len(account.prior_contacts) for account in accounts) > MAX_DEBTOR_CONTACTS:
        raise _Decline("contacts")
    if len(attributes) > _MAX_ATTRIBUTES[0] or len(inputs) > _MAX_INPUTS[0]:
        raise _Decline("too many")
    debtor_id = debtor.debtor_id
    pattern, shortest, longest = _DEBTOR_ID
    if not (shortest <= len(debtor_id) <= longest and pattern.fullmatch(debtor_id)):
        raise _Decline("debtor_id")
    preferred_channel = None
    if debtor.preferred_channel:
        preferred_channel = _CHANNELS[debtor.preferred_channel]
    snapshot = _built(DebtorSnapshot, {
        "debtor_id": debtor_id,
        "country": _country(debtor.country),
        "region": _region(debtor.region or None),
        "time_zone": _time_zone(debtor.time_zone or None),
        "language": _language(debtor.language or "en"),
        "consents": _flags(Consents, debtor.consents),
        "gdpr": _flags(GdprFlags, debtor.gdpr),
        "legal": _flags(LegalFlags, debtor.legal),
        "preferred_channel": preferred_channel,
        "preferred_hours": _hours(debtor.preferred_hours) if debtor.HasField("preferred_hours") else None,
        "third_party_collector": debtor.third_party_collector,
        # None given (most debtors): the empty map validation makes, without copying a protobuf map.
        "attributes": _attribute_map(dict(attributes)) if attributes else {},
        "inputs": _input_map({name: _input_value(mapping.input_value(value)) for name, value in inputs.items()}) if inputs else {},
        "contacts": [_person_contact(contact) for contact in contacts],
        "accounts": [_account(account, as_of) for account in accounts],
    }, set(_ALL_DEBTOR_FIELDS))
    check_debtor(snapshot, as_of)
    return snapshot


def _account(account: pb.Account, as_of: datetime) -> Account:
    account_id = account.account_id
    pattern, shortest, longest = _ACCOUNT_ID
    if not (shortest <= len(account_id) <= longest and pattern.fullmatch(account_id)):
        raise _Decline("account_id")
    segment, product = account.segment, account.product or None
    if not _SEGMENT.fullmatch(segment) or (product is not None and not _LABEL.fullmatch(product)):
        raise _Decline("segment")
    days_past_due = account.days_past_due
    if not _DAYS_PAST_DUE[0] <= days_past_due <= _DAYS_PAST_DUE[1]:
        raise _Decline("days_past_due")
    contacts, arrangements, attributes, inputs = account.prior_contacts, account.arrangements, account.attributes, account.inputs
    if len(contacts) > _MAX_ACCOUNT_CONTACTS or len(arrangements) > _MAX_ARRANGEMENTS or len(attributes) > _MAX_ATTRIBUTES[1] or len(inputs) > _MAX_INPUTS[1]:
        raise _Decline("too many")
    built = _built(Account, {
        "account_id": account_id,
        "debtor_id": account.debtor_id or None,
        "country": account.country or None,
        "amount_due": case_reader._money(account.amount_due),
        "currency": _currency(account.currency),
        "days_past_due": days_past_due,
        "segment": segment,
        "product": product,
        "legal": _account_flags(account.legal),
        "gdpr": _flags(GdprFlags, account.gdpr),
        "payment": _payment(account.payment),
        "prior_contacts": [_contact(contact) for contact in contacts],  # an account's own contacts name no accounts: _contact declines them
        "arrangements": [_arrangement(arrangement) for arrangement in arrangements],
        "attributes": _account_attributes(dict(attributes)) if attributes else {},
        "inputs": _account_inputs({name: _input_value(mapping.input_value(value)) for name, value in inputs.items()}) if inputs else {},
    }, set(_ALL_ACCOUNT_FIELDS))
    check_account(built, as_of)
    return built


# An account's flags as read, by their values: booleans only (a date is declined), so at most 2^8.
_ACCOUNT_FLAGS_SEEN: dict[tuple[Any, ...], AccountFlags] = {}


def _account_flags(message: pb.LegalFlags) -> AccountFlags:
    """An account's legal flags as validation reads them: the case's legal flags, and no
    Breathing Space date, which is the person's (AccountFlags refuses it)."""
    if message.breathing_space_start:
        raise _Decline("breathing_space_start")
    key = tuple(message.ListFields())
    seen = _ACCOUNT_FLAGS_SEEN.get(key)
    if seen is None:
        legal = _flags(LegalFlags, message)
        seen = _ACCOUNT_FLAGS_SEEN[key] = _built(AccountFlags, dict(legal.__dict__), set(legal.model_fields_set))
    return seen


def _person_contact(contact: pb.PriorContact) -> PriorContact:
    """A person-level contact: a case's contact, and the accounts it was about (empty: all).
    Which accounts those are is check_debtor's rule."""
    ids = contact.account_ids
    pattern, longest, most = _CONTACT_ACCOUNT
    if len(ids) > most or not all(len(account_id) <= longest and pattern.fullmatch(account_id) for account_id in ids):
        raise _Decline("account_ids")
    return _contact(contact, tuple(ids))

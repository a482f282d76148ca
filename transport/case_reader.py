"""A valid case read straight from its protobuf message, without a dict and a second pass.

`read_case` returns the CaseSnapshot that parse_snapshot(snapshot_data(case), as_of)
would return, or None when it cannot show the case is valid: anything invalid or
unusual (a contact naming accounts, an enum number this server does not know, a
value out of range, a naive or out-of-range as_of). It never raises and never words
an error: on None the caller takes the validated path, which stays the one source
of error messages. Valid traffic is read here whole: every case of the synthetic
portfolio, arrangements included.

engine/snapshot.py stays the one definition of a valid snapshot. The reader runs
its validator functions, taken from the fields' own annotations (Money, Instant,
CalendarDay, InputValue), its field validators (country_code, currency_code, ...),
its cross-field rules (check_case, and the model validators of Arrangement and
Payment called on the built model), and reads lengths, patterns and bounds from the
models' field metadata. Preferred hours, which few cases carry, are validated by
their model. What the models cannot say it does as snapshot_data does: the same enum
tables and the same Timestamp arithmetic (transport/mapping.py).

Models are built as pydantic's model_construct builds them, without its search of
every field for aliases and defaults (about 10 µs a contact, more than validating
it): every field given, in the model's order, with the set of fields validation
records. Should a model gain a field this module does not read, `COVERED` is false
and every case takes the validated path (tests/test_case_reader.py fails on it too).
CSE_CASE_READER=off turns the reader off, to compare the two paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar, cast, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, PlainValidator

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine import snapshot as model
from engine.snapshot import Arrangement, CaseSnapshot, Consents, GdprFlags, Instalment, LegalFlags, Payment, PaymentBehaviour, PreferredHours, PriorContact
from engine.vocabulary import Action, ArrangementStatus, ArrangementType, Channel, Delivery, Direction, Outcome, PaymentMethod
from transport import mapping

ModelT = TypeVar("ModelT", bound=BaseModel)

# The fields this module reads, per model: a field the model gains must be added here
# (and read below) before the reader accepts any case again.
READ_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    CaseSnapshot: (
        "case_id", "country", "region", "time_zone", "amount_due", "currency", "days_past_due", "segment", "product",
        "consents", "gdpr", "legal", "payment", "prior_contacts", "attributes", "inputs", "preferred_channel",
        "preferred_hours", "language", "arrangements", "third_party_collector",
    ),
    Consents: tuple(Consents.model_fields),  # flags: read by name, whichever the proto sets (_flags)
    GdprFlags: tuple(GdprFlags.model_fields),
    LegalFlags: tuple(LegalFlags.model_fields),
    PaymentBehaviour: ("broken_promises", "last_payment_at", "promise_to_pay_date"),
    PriorContact: ("channel", "at", "outcome", "action", "template", "direction", "delivery", "account_ids"),
    PreferredHours: ("opens", "closes"),
    Arrangement: ("arrangement_id", "type", "agreed_at", "agreed_on", "currency", "schedule", "payments", "status", "method"),
    Instalment: ("due_date", "amount"),
    Payment: ("amount", "paid_at", "posted_at", "method"),
}
# Flags are booleans but for these dates, empty when none (as snapshot_data reads them).
_FLAG_DATES = frozenset({"breathing_space_start"})


def _plain(cls: type[BaseModel]) -> bool:
    """A model model_construct would build from its fields alone: no aliases, no
    post-init, no extra fields kept, no private attributes."""
    fields = cls.model_fields.values()
    return (
        all(field.alias is None and field.validation_alias is None for field in fields)
        and not cls.__pydantic_post_init__
        and not cls.__private_attributes__
        and cls.model_config.get("extra") != "allow"
    )


def _covered() -> bool:
    # Flags are read by name: the proto's and the model's must be the same, booleans but for
    # _FLAG_DATES, each set exactly when true or not empty (no explicit presence).
    flags = ((Consents, pb.Consents), (GdprFlags, pb.GdprFlags), (LegalFlags, pb.LegalFlags))
    flags_ok = all(
        set(cls.model_fields) == set(message.DESCRIPTOR.fields_by_name)
        and all(not field.has_presence for field in message.DESCRIPTOR.fields)
        and all(cls.model_fields[name].annotation is bool or name in _FLAG_DATES for name in cls.model_fields)
        for cls, message in flags
    )
    return flags_ok and all(tuple(cls.model_fields) == fields and _plain(cls) for cls, fields in READ_FIELDS.items())


COVERED = _covered()
# CSE_CASE_READER=off: every case takes the validated path (to compare the two, e.g. in bench/).
ENABLED = os.environ.get("CSE_CASE_READER", "on") != "off"

_new = object.__new__
_set_attribute = object.__setattr__
# BaseModel's slots, set through their descriptors: a third cheaper than by name.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _built(cls: type[ModelT], values: dict[str, Any], fields_set: set[str]) -> ModelT:
    """What cls.model_construct(fields_set, **values) returns when `values` holds every field
    in the model's order (checked by COVERED and the tests)."""
    built: ModelT = _new(cls)
    _set_attribute(built, "__dict__", values)
    _set_fields_set(built, fields_set)
    _set_extra(built, None)
    _set_private(built, None)
    return built


# --- the model's own rules, read from its definition ------------------------------------------


def _validators(annotated: Any, kind: type) -> list[Callable[[Any], Any]]:
    """The functions pydantic runs on a field of an Annotated type, of one kind (before, after, plain)."""
    return [cast(Any, item).func for item in get_args(annotated)[1:] if isinstance(item, kind)]


def _constraint(cls: type[BaseModel], field: str, name: str) -> Any:
    """One constraint (min_length, max_length, pattern, ge, le) pydantic checks on a field."""
    for item in cls.model_fields[field].metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    raise LookupError(f"{cls.__name__}.{field} has no {name}")


def _pattern_of(annotated: Any) -> re.Pattern[str]:
    """The pattern of an Annotated string type (Label, Template). Always fullmatch: the
    patterns end in `$`, which Python's re also matches before a final newline."""
    (pattern,) = [item.pattern for info in get_args(annotated)[1:] for item in getattr(info, "metadata", ()) if getattr(item, "pattern", None)]
    return re.compile(pattern)


_money = _validators(model.Money, BeforeValidator)[0]
_calendar_day = _validators(model.CalendarDay, BeforeValidator)[0]
_instant_in_range = _validators(model.Instant, AfterValidator)[0]  # implied by _instant's range: see _FIRST_SECOND
_input_value = _validators(model.InputValue, PlainValidator)[0]
_LABEL = _pattern_of(model.Label)
_TEMPLATE = _pattern_of(model.Template)
_CASE_ID = re.compile(_constraint(CaseSnapshot, "case_id", "pattern"))
_CASE_ID_LENGTH = (_constraint(CaseSnapshot, "case_id", "min_length"), _constraint(CaseSnapshot, "case_id", "max_length"))
_SEGMENT = re.compile(_constraint(CaseSnapshot, "segment", "pattern"))
_DAYS_PAST_DUE = (_constraint(CaseSnapshot, "days_past_due", "ge"), _constraint(CaseSnapshot, "days_past_due", "le"))
_BROKEN_PROMISES = (_constraint(PaymentBehaviour, "broken_promises", "ge"), _constraint(PaymentBehaviour, "broken_promises", "le"))
_MAX_CONTACTS = _constraint(CaseSnapshot, "prior_contacts", "max_length")
_MAX_ATTRIBUTES = _constraint(CaseSnapshot, "attributes", "max_length")
_MAX_INPUTS = _constraint(CaseSnapshot, "inputs", "max_length")
_MAX_ARRANGEMENTS = _constraint(CaseSnapshot, "arrangements", "max_length")
_ARRANGEMENT_ID = re.compile(_constraint(Arrangement, "arrangement_id", "pattern"))
_SCHEDULE_LENGTH = (_constraint(Arrangement, "schedule", "min_length"), _constraint(Arrangement, "schedule", "max_length"))
_MAX_PAYMENTS = _constraint(Arrangement, "payments", "max_length")


def _members(enum: type[Enum], names: Mapping[Any, str]) -> dict[int, Any]:
    """Proto enum numbers to the engine's members, through the tables snapshot_data reads:
    a number missing there is one validation refuses, and the reader declines."""
    return {number: enum(name) for number, name in names.items()}


_CHANNELS = _members(Channel, mapping._CHANNEL_FROM_PROTO)
_OUTCOMES = _members(Outcome, mapping._OUTCOME_FROM_PROTO)
_DIRECTIONS = _members(Direction, mapping._DIRECTION_FROM_PROTO)
_DELIVERIES = _members(Delivery, mapping._DELIVERY_FROM_PROTO)
_ARRANGEMENT_TYPES = _members(ArrangementType, mapping._ARRANGEMENT_TYPE_FROM_PROTO)
_ARRANGEMENT_STATUSES = _members(ArrangementStatus, mapping._ARRANGEMENT_STATUS_FROM_PROTO)
_PAYMENT_METHODS = _members(PaymentMethod, mapping._PAYMENT_METHOD_FROM_PROTO)
_ACTIONS: dict[str, Action] = {action.value: action for action in Action}
_EPOCH = mapping._EPOCH
# The Timestamps the reader turns into instants: every whole second from the model's
# EARLIEST_INSTANT up to, not including, its LATEST_INSTANT, with nanos a Timestamp
# allows. Each lies in the model's span, so its range check (_instant_in_range) need
# not run again; anything else declines, and validation then decides.
_FIRST_SECOND = (model.EARLIEST_INSTANT - _EPOCH) // timedelta(seconds=1)
_END_SECOND = (model.LATEST_INSTANT - _EPOCH) // timedelta(seconds=1)
_NANOS_PER_SECOND = 1_000_000_000
_at_second = datetime.fromtimestamp
# A contact's fields set, one set shared by every contact read: frozen models never change
# it, model_copy copies it, and a set per contact cost a quarter of the model's making.
# Keyed by (has a direction, names accounts); the rest is always given by snapshot_data.
_CONTACT_FIELDS = {
    (directed, named): {"channel", "at", "outcome", "action", "template", "delivery"} | ({"direction"} if directed else set()) | ({"account_ids"} if named else set())
    for directed in (False, True) for named in (False, True)
}
_ALL_CASE_FIELDS = frozenset(READ_FIELDS[CaseSnapshot])
_ALL_PAYMENT_FIELDS = frozenset(READ_FIELDS[PaymentBehaviour])
_ARRANGEMENT_FIELDS = frozenset(READ_FIELDS[Arrangement]) - {"status", "method"}  # always given by snapshot_data


class _Decline(Exception):
    """The case is not one the reader can show valid: the validated path decides it."""


# --- the reader --------------------------------------------------------------------------------


def read_case(case: pb.CaseSnapshot, as_of: datetime) -> CaseSnapshot | None:
    """The case as parse_snapshot would validate it at as_of, or None when the reader
    cannot show it is valid (the caller then validates it the usual way)."""
    if not (ENABLED and COVERED) or as_of.tzinfo is None or not model.EARLIEST_INSTANT <= as_of <= model.LATEST_INSTANT:
        return None
    try:
        return _read(case, as_of)
    except Exception:  # noqa: BLE001 - any surprise declines: the validated path then decides, or names the problem
        return None


def _read(case: pb.CaseSnapshot, as_of: datetime) -> CaseSnapshot:
    case_id = case.case_id
    if not (_CASE_ID_LENGTH[0] <= len(case_id) <= _CASE_ID_LENGTH[1] and _CASE_ID.fullmatch(case_id)):
        raise _Decline("case_id")
    segment, product = case.segment, case.product or None
    if not _SEGMENT.fullmatch(segment) or (product is not None and not _LABEL.fullmatch(product)):
        raise _Decline("segment")
    days_past_due = case.days_past_due
    if not _DAYS_PAST_DUE[0] <= days_past_due <= _DAYS_PAST_DUE[1]:
        raise _Decline("days_past_due")
    preferred_channel = None
    if case.preferred_channel:
        preferred_channel = _CHANNELS[case.preferred_channel]
    contacts, attributes, inputs, arrangements = case.prior_contacts, case.attributes, case.inputs, case.arrangements
    if len(contacts) > _MAX_CONTACTS or len(attributes) > _MAX_ATTRIBUTES or len(inputs) > _MAX_INPUTS or len(arrangements) > _MAX_ARRANGEMENTS:
        raise _Decline("too many")
    snapshot = _built(CaseSnapshot, {
        "case_id": case_id,
        "country": model.country_code(case.country),
        "region": model.region_code(case.region or None),
        "time_zone": model.time_zone_name(case.time_zone or None),
        "amount_due": _money(case.amount_due),
        "currency": model.currency_code(case.currency),
        "days_past_due": days_past_due,
        "segment": segment,
        "product": product,
        "consents": _flags(Consents, case.consents),
        "gdpr": _flags(GdprFlags, case.gdpr),
        "legal": _flags(LegalFlags, case.legal),
        "payment": _payment(case.payment),
        "prior_contacts": [_contact(contact) for contact in contacts],
        # None given (most cases): the empty map validation makes, without copying a protobuf map.
        "attributes": model.attribute_map(dict(attributes)) if attributes else {},
        "inputs": model.input_map({name: _input_value(mapping.input_value(value)) for name, value in inputs.items()}) if inputs else {},
        "preferred_channel": preferred_channel,
        "preferred_hours": _hours(case.preferred_hours) if case.HasField("preferred_hours") else None,
        "language": model.language_code(case.language or "en"),
        "arrangements": [_arrangement(arrangement) for arrangement in arrangements],
        "third_party_collector": case.third_party_collector,
    }, set(_ALL_CASE_FIELDS))
    model.check_case(snapshot, as_of)
    return snapshot


def _instant(message: Any, field: str) -> datetime | None:
    """A Timestamp as snapshot_data reads it (mapping.instant); HasField asked only of the epoch itself."""
    stamp = getattr(message, field)
    seconds, nanos = stamp.seconds, stamp.nanos
    if not (seconds or nanos or message.HasField(field)):
        return None
    if not (_FIRST_SECOND <= seconds < _END_SECOND and 0 <= nanos < _NANOS_PER_SECOND):
        raise _Decline(field)  # validation decides it (and names the field when it refuses it)
    if nanos:  # in the span: see _FIRST_SECOND
        return _EPOCH + timedelta(0, seconds, nanos // 1000)
    return _at_second(seconds, _EPOCH.tzinfo)  # a whole second: the same instant, a third cheaper than the sum


# Flags as read, by their values: most cases share a few (none set, the usual consents),
# and frozen models can be shared. Bounded: a breathing-space date makes the values many.
_FLAGS_SEEN: dict[tuple[Any, ...], BaseModel] = {}
_MAX_FLAGS_SEEN = 4096


def _flags(cls: type[ModelT], message: Any) -> ModelT:
    """Consents, GDPR or legal flags as snapshot_data reads them (the fields set: true, or a
    date given), the model's defaults for the others."""
    key = (cls, *message.ListFields())
    seen = _FLAGS_SEEN.get(key)
    if seen is not None:
        return seen  # type: ignore[return-value]
    values = {name: getattr(message, name) for name in READ_FIELDS[cls]}
    fields_set = {name for name, value in values.items() if value}
    for name in _FLAG_DATES & values.keys():
        values[name] = _calendar_day(values[name]) if values[name] else None
    built = _built(cls, values, fields_set)
    if len(_FLAGS_SEEN) >= _MAX_FLAGS_SEEN:
        _FLAGS_SEEN.clear()
    _FLAGS_SEEN[key] = built
    return built


def _payment(payment: pb.PaymentBehaviour) -> PaymentBehaviour:
    broken = payment.broken_promises
    if not _BROKEN_PROMISES[0] <= broken <= _BROKEN_PROMISES[1]:
        raise _Decline("broken_promises")
    promise = payment.promise_to_pay_date
    return _built(PaymentBehaviour, {
        "broken_promises": broken,
        "last_payment_at": _instant(payment, "last_payment_at"),
        "promise_to_pay_date": _calendar_day(promise) if promise else None,
    }, set(_ALL_PAYMENT_FIELDS))


# Templates already matched to the model's pattern: a policy names a few, and a set lookup
# costs a tenth of the match. Bounded: cleared when full.
_TEMPLATES_SEEN: set[str] = set()
_MAX_TEMPLATES_SEEN = 4096


def _seen_template(template: str) -> None:
    if len(_TEMPLATES_SEEN) >= _MAX_TEMPLATES_SEEN:
        _TEMPLATES_SEEN.clear()
    _TEMPLATES_SEEN.add(template)


def _contact(contact: pb.PriorContact, account_ids: tuple[str, ...] = ()) -> PriorContact:
    """`account_ids`: the accounts a person's contact was about, checked by the debtor
    reader; a case's contacts never name accounts (check_case)."""
    if contact.account_ids and not account_ids:
        raise _Decline("account_ids")
    at = _instant(contact, "at")
    if at is None:
        raise _Decline("at")
    action, template, direction = contact.action, contact.template, contact.direction
    if template and template not in _TEMPLATES_SEEN:
        if not _TEMPLATE.fullmatch(template):
            raise _Decline("template")
        _seen_template(template)
    return _built(PriorContact, {
        "channel": _CHANNELS[contact.channel],
        "at": at,
        "outcome": _OUTCOMES[contact.outcome],
        "action": _ACTIONS[action] if action else None,
        "template": template or None,
        "direction": _DIRECTIONS[direction] if direction else Direction.OUTBOUND,
        "delivery": _DELIVERIES[contact.delivery] if contact.delivery else None,
        "account_ids": account_ids,
    }, _CONTACT_FIELDS[bool(direction), bool(account_ids)])


def _hours(hours: pb.ContactHours) -> PreferredHours:
    # Validated by the model itself: few cases carry hours, and its order rule is a model validator.
    return PreferredHours.model_validate({"opens": hours.opens, "closes": hours.closes})


def _arrangement(arrangement: pb.Arrangement) -> Arrangement:
    """An arrangement as snapshot_data reads it: status and method set only when given.
    What it must agree with in the case is check_case's (check_arrangement)."""
    arrangement_id = arrangement.arrangement_id
    if not _ARRANGEMENT_ID.fullmatch(arrangement_id):
        raise _Decline("arrangement_id")
    agreed_at = _instant(arrangement, "agreed_at")
    if agreed_at is None:
        raise _Decline("agreed_at")
    if not _SCHEDULE_LENGTH[0] <= len(arrangement.schedule) <= _SCHEDULE_LENGTH[1] or len(arrangement.payments) > _MAX_PAYMENTS:
        raise _Decline("schedule")
    schedule = [
        _built(Instalment, {"due_date": _calendar_day(item.due_date), "amount": _money(item.amount)}, {"due_date", "amount"})
        for item in arrangement.schedule
    ]
    agreed_on, status, method = arrangement.agreed_on, arrangement.status, arrangement.method
    fields_set = set(_ARRANGEMENT_FIELDS)
    if status:
        fields_set.add("status")
    if method:
        fields_set.add("method")
    built = _built(Arrangement, {
        "arrangement_id": arrangement_id,
        "type": _ARRANGEMENT_TYPES[arrangement.type],
        "agreed_at": agreed_at,
        "agreed_on": _CHANNELS[agreed_on] if agreed_on else None,
        "currency": arrangement.currency or None,
        "schedule": schedule,
        "payments": [_paid(payment) for payment in arrangement.payments],
        "status": _ARRANGEMENT_STATUSES[status] if status else ArrangementStatus.OPEN,
        "method": _PAYMENT_METHODS[method] if method else PaymentMethod.OTHER,
    }, fields_set)
    cast(Any, built)._coherent()  # the model's own rule: due dates in order, not paid beyond the schedule
    return built


def _paid(payment: pb.Payment) -> Payment:
    paid_at = _instant(payment, "paid_at")
    if paid_at is None:
        raise _Decline("paid_at")
    method = payment.method
    built = _built(Payment, {
        "amount": _money(payment.amount),
        "paid_at": paid_at,
        "posted_at": _instant(payment, "posted_at"),
        "method": _PAYMENT_METHODS[method] if method else PaymentMethod.OTHER,
    }, {"amount", "paid_at", "posted_at", "method"} if method else {"amount", "paid_at", "posted_at"})
    cast(Any, built)._posted_after_paid()  # the model's own rule: posted no earlier than paid
    return built

"""Map protobuf messages to engine inputs and engine decisions back to protobuf."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.decision import Decision, OfferBounds, PolicyRef, Reason, Window
from engine.errors import FieldProblem, InvalidSnapshot
from engine.vocabulary import Channel
from transport.errors import bounded, summary

_CHANNEL_FROM_PROTO = {
    pb.CHANNEL_SMS: "sms",
    pb.CHANNEL_EMAIL: "email",
    pb.CHANNEL_PHONE: "phone",
    pb.CHANNEL_LETTER: "letter",
    pb.CHANNEL_PUSH: "push",
}
_CHANNEL_TO_PROTO = {Channel(name): number for number, name in _CHANNEL_FROM_PROTO.items()}
_OUTCOME_FROM_PROTO = {
    pb.CONTACT_OUTCOME_DELIVERED: "delivered",
    pb.CONTACT_OUTCOME_NO_ANSWER: "no_answer",
    pb.CONTACT_OUTCOME_RIGHT_PARTY_CONTACT: "right_party_contact",
    pb.CONTACT_OUTCOME_PROMISE_TO_PAY: "promise_to_pay",
    pb.CONTACT_OUTCOME_REFUSED: "refused",
    pb.CONTACT_OUTCOME_FAILED: "failed",
}
_DIRECTION_FROM_PROTO = {pb.CONTACT_DIRECTION_OUTBOUND: "outbound", pb.CONTACT_DIRECTION_INBOUND: "inbound"}
_DELIVERY_FROM_PROTO = {
    pb.DELIVERY_STATUS_DELIVERED: "delivered",
    pb.DELIVERY_STATUS_BOUNCED: "bounced",
    pb.DELIVERY_STATUS_FAILED: "failed",
    pb.DELIVERY_STATUS_WRONG_PARTY: "wrong_party",
    pb.DELIVERY_STATUS_CHANNEL_REFUSED: "channel_refused",
    pb.DELIVERY_STATUS_CALLBACK_REQUESTED: "callback_requested",
}
_ARRANGEMENT_TYPE_FROM_PROTO = {
    pb.ARRANGEMENT_TYPE_PROMISE_TO_PAY: "promise_to_pay",
    pb.ARRANGEMENT_TYPE_INSTALMENT_PLAN: "instalment_plan",
    pb.ARRANGEMENT_TYPE_SETTLEMENT: "settlement",
    pb.ARRANGEMENT_TYPE_PAYMENT_HOLIDAY: "payment_holiday",
}
_ARRANGEMENT_STATUS_FROM_PROTO = {pb.ARRANGEMENT_STATUS_CANCELLED: "cancelled", pb.ARRANGEMENT_STATUS_COMPLETED: "completed"}
_PAYMENT_METHOD_FROM_PROTO = {
    pb.PAYMENT_METHOD_BANK_TRANSFER: "bank_transfer",
    pb.PAYMENT_METHOD_CARD: "card",
    pb.PAYMENT_METHOD_DIRECT_DEBIT: "direct_debit",
    pb.PAYMENT_METHOD_CASH: "cash",
    pb.PAYMENT_METHOD_OTHER: "other",
}


def as_of_from(request: Any) -> datetime:
    """The request's as_of, or the server clock when it is not set."""
    as_of = instant(request, "as_of")
    if isinstance(as_of, str):
        raise InvalidSnapshot([FieldProblem("as_of", f"is out of range: {as_of}")])
    return as_of or datetime.now(timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Instants the engine can compute with, with room for a window and a review after them.
_EARLIEST_SECONDS, _LATEST_SECONDS = 0, int((datetime(9000, 1, 1, tzinfo=timezone.utc) - _EPOCH).total_seconds())


def instant(message: Any, field: str) -> datetime | str | None:
    # Direct arithmetic: Timestamp.ToDatetime costs several times more, per contact.
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    if not _EARLIEST_SECONDS <= stamp.seconds <= _LATEST_SECONDS:
        return f"{stamp.seconds} seconds since 1970 (out of range)"  # validation names the field
    return _EPOCH + timedelta(0, stamp.seconds, stamp.nanos // 1000)  # positional: a third cheaper than keywords


def enum_name(names: Mapping[Any, str], number: int) -> str | int | None:
    """An enum's name; None when unset (0); the bare number when this server
    does not know it (a newer client), which validation then refuses by name."""
    return names.get(number, number or None)


def snapshot_data(case: pb.CaseSnapshot) -> dict[str, Any]:
    """The snapshot as plain data for engine.snapshot.parse_snapshot.

    Unset enums become None so that validation names them; proto3's empty
    strings for optional fields become None.
    """
    return {
        "case_id": case.case_id,
        "country": case.country,
        "region": case.region or None,
        "time_zone": case.time_zone or None,
        "amount_due": case.amount_due,
        "currency": case.currency,
        "days_past_due": case.days_past_due,
        "segment": case.segment,
        "product": case.product or None,
        "consents": flags_data(case.consents),
        "gdpr": flags_data(case.gdpr),
        "legal": flags_data(case.legal),
        "payment": payment_data(case.payment),
        "prior_contacts": [contact_data(contact) for contact in case.prior_contacts],
        "arrangements": [arrangement_data(arrangement) for arrangement in case.arrangements],
        "third_party_collector": case.third_party_collector,
        "attributes": dict(case.attributes),
        "inputs": inputs_data(case.inputs),
        "preferred_channel": channel_name(case.preferred_channel),
        "preferred_hours": hours_data(case),
        "language": case.language or "en",
    }


def inputs_data(inputs: Mapping[str, pb.InputValue]) -> dict[str, Any]:
    """Typed inputs as the Python value of the field set: a float, an int, text, a bool,
    a date (a date field that is not one stays text, refused as a date by validation);
    none set is None, which validation names."""
    return {name: input_value(value) for name, value in inputs.items()}


def input_value(value: pb.InputValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "date":
        try:
            return date.fromisoformat(value.date) if len(value.date) == 10 else value.date
        except ValueError:
            return value.date
    return getattr(value, kind) if kind else None


def inputs_to_json(inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The engine's plain inputs (87, 0.42, "gold", True, a date) as InputValue JSON."""
    return {name: {_INPUT_FIELD[type(value)]: value.isoformat() if isinstance(value, date) else value} for name, value in inputs.items()}


_INPUT_FIELD: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "text", date: "date"}


def flags_data(flags: Any) -> dict[str, Any]:
    """Consents, GDPR or legal flags: the fields set (an empty date is no date)."""
    return {field.name: value for field, value in flags.ListFields() if value != ""}


def payment_data(payment: pb.PaymentBehaviour) -> dict[str, Any]:
    return {
        "broken_promises": payment.broken_promises,
        "last_payment_at": instant(payment, "last_payment_at"),
        "promise_to_pay_date": payment.promise_to_pay_date or None,
    }


def hours_data(owner: Any) -> dict[str, str] | None:
    """The owner's preferred_hours; None when not set."""
    return {"opens": owner.preferred_hours.opens, "closes": owner.preferred_hours.closes} if owner.HasField("preferred_hours") else None


def channel_name(number: int) -> str | int | None:
    return enum_name(_CHANNEL_FROM_PROTO, number)


def contact_data(contact: pb.PriorContact) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": enum_name(_CHANNEL_FROM_PROTO, contact.channel),
        "at": instant(contact, "at"),
        "outcome": enum_name(_OUTCOME_FROM_PROTO, contact.outcome),
        "action": contact.action or None,
        "template": contact.template or None,
        "delivery": enum_name(_DELIVERY_FROM_PROTO, contact.delivery),
    }
    direction = enum_name(_DIRECTION_FROM_PROTO, contact.direction)
    if direction is not None:  # unset: outbound, as before the field existed
        data["direction"] = direction
    if contact.account_ids:  # only a debtor's person-level contacts may name accounts: validation says so
        data["account_ids"] = list(contact.account_ids)
    return data


def arrangement_data(arrangement: pb.Arrangement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "arrangement_id": arrangement.arrangement_id,
        "type": enum_name(_ARRANGEMENT_TYPE_FROM_PROTO, arrangement.type),
        "agreed_at": instant(arrangement, "agreed_at"),
        "agreed_on": enum_name(_CHANNEL_FROM_PROTO, arrangement.agreed_on),
        "currency": arrangement.currency or None,
        "schedule": [{"due_date": item.due_date, "amount": item.amount} for item in arrangement.schedule],
        "payments": [
            {"amount": item.amount, "paid_at": instant(item, "paid_at"), "posted_at": instant(item, "posted_at"), **_method(item.method)}
            for item in arrangement.payments
        ],
        **_method(arrangement.method),
    }
    status = enum_name(_ARRANGEMENT_STATUS_FROM_PROTO, arrangement.status)
    if status is not None:  # unset: open, the engine judges it
        data["status"] = status
    return data


def _method(number: int) -> dict[str, Any]:
    method = enum_name(_PAYMENT_METHOD_FROM_PROTO, number)
    return {} if method is None else {"method": method}


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    elapsed = value - _EPOCH
    return timestamp_pb2.Timestamp(seconds=elapsed.days * 86400 + elapsed.seconds, nanos=elapsed.microseconds * 1000)


def channel_to_proto(channel: Channel | None) -> pb.Channel:
    return _CHANNEL_TO_PROTO.get(channel, pb.CHANNEL_UNSPECIFIED) if channel else pb.CHANNEL_UNSPECIFIED


def reasons_to_proto(reasons: Iterable[Reason]) -> list[pb.Reason]:
    return [pb.Reason(code=reason.code, text=reason.text) for reason in reasons]


def window_to_proto(window: Window) -> pb.ContactWindow:
    return pb.ContactWindow(
        start=timestamp(window.start), end=timestamp(window.end), time_zone=window.time_zone, local_start=window.local_start, local_end=window.local_end,
        intersected_time_zones=window.zones,
    )


def offer_bounds_to_proto(offer: OfferBounds, bounds: pb.OfferBounds | None = None) -> pb.OfferBounds:
    """An offer's bounds, amounts and percentages as decimal strings; an unset bound is "" or 0.
    Written into `bounds` when given (a decision's own offer), else into a new message."""
    bounds = pb.OfferBounds() if bounds is None else bounds
    bounds.currency = offer.currency
    bounds.max_deferral_days = offer.max_deferral_days or 0
    bounds.payment_holiday = offer.payment_holiday
    bounds.set_by = offer.set_by
    bounds.settlement_floor = str(offer.settlement_floor) if offer.settlement_floor is not None else ""
    bounds.review_above_discount_pct = str(offer.review_above_discount_pct) if offer.review_above_discount_pct is not None else ""
    if offer.clamps:
        add_clamp = bounds.clamps.add
        for c in offer.clamps:
            add_clamp(limit_id=c.limit_id, bound=c.bound, before=c.before, after=c.after, reason=c.reason)
    if offer.discount_pct:
        bounds.discount_pct_min, bounds.discount_pct_max = (str(value) for value in offer.discount_pct)
    if offer.instalments:
        bounds.instalments_min, bounds.instalments_max = offer.instalments
    if offer.min_instalment is not None:
        bounds.min_instalment = str(offer.min_instalment)
    return bounds


def policy_to_proto(policy: PolicyRef) -> pb.PolicyRef:
    return pb.PolicyRef(name=policy.name, version=policy.version, hash=policy.hash)


def trace_to_proto(trace: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(trace)
    return message


def decision_to_proto(decision: Decision, message: pb.Decision | None = None) -> pb.Decision:
    """The decision as a message: `message` filled in place (a response's own
    decision, so that the answer is built once, not built and then copied into
    its response), or a new one. Every part is written into the message, not
    built apart and copied in: a decision has some twenty parts."""
    message = pb.Decision() if message is None else message
    message.case_id = decision.case_id
    message.action = decision.action
    if decision.channel:
        message.channel = _CHANNEL_TO_PROTO.get(decision.channel, pb.CHANNEL_UNSPECIFIED)
    if decision.template:
        message.template = decision.template
    # A repeated field is touched only when there is something to add: reading one makes
    # its container object, about a microsecond, and most lists of a decision are empty.
    if decision.reasons:
        _add_reasons(message.reasons, decision.reasons)
    if decision.window_constraints:
        _add_reasons(message.window_constraints, decision.window_constraints)
    if decision.fired_rules:
        message.fired_rules.extend(decision.fired_rules)
    if decision.vetoes:
        add_veto = message.vetoes.add
        for veto in decision.vetoes:
            if veto.channel:
                add_veto(rule_id=veto.rule_id, guardrail=veto.guardrail, reason=veto.reason, channel=_CHANNEL_TO_PROTO[veto.channel])
            else:
                add_veto(rule_id=veto.rule_id, guardrail=veto.guardrail, reason=veto.reason)
    policy, ref = message.policy, decision.policy
    policy.name, policy.version, policy.hash = ref.name, ref.version, ref.hash
    if decision.experiment_arm:
        message.experiment_arm = decision.experiment_arm
    _set_timestamp(message.next_review_at, decision.next_review_at)
    _set_timestamp(message.as_of, decision.as_of)
    if decision.required_disclosures:
        _add_reasons(message.required_disclosures, decision.required_disclosures)
    if decision.data_warnings:
        _add_reasons(message.data_warnings, decision.data_warnings)
    if decision.window:
        window, target = decision.window, message.window
        _set_timestamp(target.start, window.start)
        _set_timestamp(target.end, window.end)
        target.time_zone, target.local_start, target.local_end = window.time_zone, window.local_start, window.local_end
        target.intersected_time_zones.extend(window.zones)
    if decision.offer:
        offer_bounds_to_proto(decision.offer, message.offer)
    if decision.trace is not None:
        message.trace.CopyFrom(trace_to_proto(decision.trace))
    if decision.work:  # a review's work item
        work, item = decision.work, message.work
        item.queue, item.priority, item.declared_by = work.queue, _PRIORITY_TO_PROTO[work.priority], work.declared_by
        _set_timestamp(item.due, work.due)
    return message


_PRIORITY_TO_PROTO = {"high": pb.WORK_PRIORITY_HIGH, "normal": pb.WORK_PRIORITY_NORMAL, "low": pb.WORK_PRIORITY_LOW}


def _add_reasons(target: Any, reasons: Iterable[Reason]) -> None:
    add = target.add
    for reason in reasons:
        add(code=reason.code, text=reason.text)


def _set_timestamp(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    """timestamp() written into a message's own field (assigning marks it present, even at 0)."""
    elapsed = value - _EPOCH
    target.seconds, target.nanos = elapsed.days * 86400 + elapsed.seconds, elapsed.microseconds * 1000


def case_error(problems: list[FieldProblem], root: str, lead: str = "invalid case: ") -> pb.CaseError:
    """Why a case (or a debtor) of a batch or stream was refused, bounded as a status
    detail is (transport.errors), so that one bad case cannot swell the answer."""
    shown = bounded(problems, root)
    return pb.CaseError(
        message=summary(lead, shown),
        field_violations=[pb.FieldViolation(field=p.field, description=p.description) for p in shown],
    )


def case_from_data(data: dict[str, Any]) -> pb.CaseSnapshot:
    """A CaseSnapshot message from the engine's plain form (channel "sms", outcome "delivered")."""
    message = dict(data)
    if message.get("preferred_channel"):
        message["preferred_channel"] = f"CHANNEL_{message['preferred_channel'].upper()}"
    message["prior_contacts"] = contacts_from_data(data.get("prior_contacts", []))
    message["arrangements"] = arrangements_from_data(data.get("arrangements", []))
    message["inputs"] = inputs_to_json(data.get("inputs", {}))
    return json_format.ParseDict(message, pb.CaseSnapshot())


def contacts_from_data(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prior contacts of the engine's plain form with the proto's enum names, for json_format."""
    return [named(contact, channel="CHANNEL", outcome="CONTACT_OUTCOME", direction="CONTACT_DIRECTION", delivery="DELIVERY_STATUS") for contact in contacts]


def arrangements_from_data(arrangements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Arrangements of the engine's plain form with the proto's enum names, for json_format."""
    return [
        {
            **named(item, type="ARRANGEMENT_TYPE", status="ARRANGEMENT_STATUS", method="PAYMENT_METHOD", agreed_on="CHANNEL"),
            "payments": [named(payment, method="PAYMENT_METHOD") for payment in item.get("payments", [])],
        }
        for item in arrangements
    ]


def named(data: dict[str, Any], **prefixes: str) -> dict[str, Any]:
    """Enum values of the engine's plain form ("sms") as the proto's names ("CHANNEL_SMS")."""
    return {key: f"{prefixes[key]}_{value.upper()}" if key in prefixes and isinstance(value, str) else value for key, value in data.items() if value is not None}

"""Map protobuf messages to engine inputs and engine decisions back to protobuf."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.decision import Decision
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
    as_of = _instant(request, "as_of")
    if isinstance(as_of, str):
        raise InvalidSnapshot([FieldProblem("as_of", f"is out of range: {as_of}")])
    return as_of or datetime.now(timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Instants the engine can compute with, with room for a window and a review after them.
_EARLIEST_SECONDS, _LATEST_SECONDS = 0, int((datetime(9000, 1, 1, tzinfo=timezone.utc) - _EPOCH).total_seconds())


def _instant(message: Any, field: str) -> datetime | str | None:
    # Direct arithmetic: Timestamp.ToDatetime costs several times more, per contact.
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    if not _EARLIEST_SECONDS <= stamp.seconds <= _LATEST_SECONDS:
        return f"{stamp.seconds} seconds since 1970 (out of range)"  # validation names the field
    return _EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def _enum(names: Mapping[Any, str], number: int) -> str | int | None:
    """An enum's name; None when unset (0); the bare number when this server
    does not know it (a newer client), which validation then refuses by name."""
    return names.get(number, number or None)


def snapshot_data(case: pb.CaseSnapshot) -> dict[str, Any]:
    """The snapshot as plain data for engine.snapshot.parse_snapshot.

    Unset enums become None so that validation names them; proto3's empty
    strings for optional fields become None.
    """
    payment = case.payment
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
        "consents": {field.name: value for field, value in case.consents.ListFields()},
        "gdpr": {field.name: value for field, value in case.gdpr.ListFields()},
        "legal": {field.name: value for field, value in case.legal.ListFields() if value != ""},
        "payment": {
            "broken_promises": payment.broken_promises,
            "last_payment_at": _instant(payment, "last_payment_at"),
            "promise_to_pay_date": payment.promise_to_pay_date or None,
        },
        "prior_contacts": [_contact_data(contact) for contact in case.prior_contacts],
        "arrangements": [_arrangement_data(arrangement) for arrangement in case.arrangements],
        "third_party_collector": case.third_party_collector,
        "attributes": dict(case.attributes),
        "preferred_channel": _enum(_CHANNEL_FROM_PROTO, case.preferred_channel),
        "preferred_hours": {"opens": case.preferred_hours.opens, "closes": case.preferred_hours.closes} if case.HasField("preferred_hours") else None,
        "language": case.language or "en",
    }


def _contact_data(contact: pb.PriorContact) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": _enum(_CHANNEL_FROM_PROTO, contact.channel),
        "at": _instant(contact, "at"),
        "outcome": _enum(_OUTCOME_FROM_PROTO, contact.outcome),
        "action": contact.action or None,
        "template": contact.template or None,
        "delivery": _enum(_DELIVERY_FROM_PROTO, contact.delivery),
    }
    direction = _enum(_DIRECTION_FROM_PROTO, contact.direction)
    if direction is not None:  # unset: outbound, as before the field existed
        data["direction"] = direction
    return data


def _arrangement_data(arrangement: pb.Arrangement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "arrangement_id": arrangement.arrangement_id,
        "type": _enum(_ARRANGEMENT_TYPE_FROM_PROTO, arrangement.type),
        "agreed_at": _instant(arrangement, "agreed_at"),
        "agreed_on": _enum(_CHANNEL_FROM_PROTO, arrangement.agreed_on),
        "currency": arrangement.currency or None,
        "schedule": [{"due_date": item.due_date, "amount": item.amount} for item in arrangement.schedule],
        "payments": [
            {"amount": item.amount, "paid_at": _instant(item, "paid_at"), "posted_at": _instant(item, "posted_at"), **_method(item.method)}
            for item in arrangement.payments
        ],
        **_method(arrangement.method),
    }
    status = _enum(_ARRANGEMENT_STATUS_FROM_PROTO, arrangement.status)
    if status is not None:  # unset: open, the engine judges it
        data["status"] = status
    return data


def _method(number: int) -> dict[str, Any]:
    method = _enum(_PAYMENT_METHOD_FROM_PROTO, number)
    return {} if method is None else {"method": method}


def _timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    elapsed = value - _EPOCH
    return timestamp_pb2.Timestamp(seconds=elapsed.days * 86400 + elapsed.seconds, nanos=elapsed.microseconds * 1000)


def decision_to_proto(decision: Decision) -> pb.Decision:
    message = pb.Decision(
        case_id=decision.case_id,
        action=decision.action,
        channel=_CHANNEL_TO_PROTO.get(decision.channel, pb.CHANNEL_UNSPECIFIED) if decision.channel else pb.CHANNEL_UNSPECIFIED,
        template=decision.template or "",
        reasons=[pb.Reason(code=reason.code, text=reason.text) for reason in decision.reasons],
        window_constraints=[pb.Reason(code=reason.code, text=reason.text) for reason in decision.window_constraints],
        fired_rules=decision.fired_rules,
        vetoes=[
            pb.Veto(
                rule_id=veto.rule_id,
                guardrail=veto.guardrail,
                reason=veto.reason,
                channel=_CHANNEL_TO_PROTO[veto.channel] if veto.channel else pb.CHANNEL_UNSPECIFIED,
            )
            for veto in decision.vetoes
        ],
        policy=pb.PolicyRef(name=decision.policy.name, version=decision.policy.version, hash=decision.policy.hash),
        experiment_arm=decision.experiment_arm,
        next_review_at=_timestamp(decision.next_review_at),
        as_of=_timestamp(decision.as_of),
        required_disclosures=[pb.Reason(code=reason.code, text=reason.text) for reason in decision.required_disclosures],
        data_warnings=[pb.Reason(code=reason.code, text=reason.text) for reason in decision.data_warnings],
    )
    if decision.window:
        window = decision.window
        message.window.CopyFrom(
            pb.ContactWindow(
                start=_timestamp(window.start),
                end=_timestamp(window.end),
                time_zone=window.time_zone,
                local_start=window.local_start,
                local_end=window.local_end,
            )
        )
    if decision.offer:
        offer = decision.offer
        bounds = pb.OfferBounds(
            currency=offer.currency,
            max_deferral_days=offer.max_deferral_days or 0,
            payment_holiday=offer.payment_holiday,
            set_by=offer.set_by,
            settlement_floor=str(offer.settlement_floor) if offer.settlement_floor is not None else "",
            review_above_discount_pct=str(offer.review_above_discount_pct) if offer.review_above_discount_pct is not None else "",
            clamps=[pb.OfferClamp(limit_id=c.limit_id, bound=c.bound, before=c.before, after=c.after, reason=c.reason) for c in offer.clamps],
        )
        if offer.discount_pct:
            bounds.discount_pct_min, bounds.discount_pct_max = (str(value) for value in offer.discount_pct)
        if offer.instalments:
            bounds.instalments_min, bounds.instalments_max = offer.instalments
        if offer.min_instalment is not None:
            bounds.min_instalment = str(offer.min_instalment)
        message.offer.CopyFrom(bounds)
    if decision.trace is not None:
        trace = struct_pb2.Struct()
        trace.update(decision.trace)
        message.trace.CopyFrom(trace)
    return message


def case_error(problems: list[FieldProblem], root: str) -> pb.CaseError:
    """Why a case of a batch or stream was refused, bounded as a status detail is
    (transport.errors), so that one bad case cannot swell the answer."""
    shown = bounded(problems, root)
    return pb.CaseError(
        message=summary("invalid case: ", shown),
        field_violations=[pb.FieldViolation(field=p.field, description=p.description) for p in shown],
    )


def case_from_data(data: dict[str, Any]) -> pb.CaseSnapshot:
    """A CaseSnapshot message from the engine's plain form (channel "sms", outcome "delivered")."""
    message = dict(data)
    if message.get("preferred_channel"):
        message["preferred_channel"] = f"CHANNEL_{message['preferred_channel'].upper()}"
    message["prior_contacts"] = [
        _named(contact, channel="CHANNEL", outcome="CONTACT_OUTCOME", direction="CONTACT_DIRECTION", delivery="DELIVERY_STATUS")
        for contact in data.get("prior_contacts", [])
    ]
    message["arrangements"] = [
        {
            **_named(item, type="ARRANGEMENT_TYPE", status="ARRANGEMENT_STATUS", method="PAYMENT_METHOD", agreed_on="CHANNEL"),
            "payments": [_named(payment, method="PAYMENT_METHOD") for payment in item.get("payments", [])],
        }
        for item in data.get("arrangements", [])
    ]
    return json_format.ParseDict(message, pb.CaseSnapshot())


def _named(data: dict[str, Any], **prefixes: str) -> dict[str, Any]:
    """Enum values of the engine's plain form ("sms") as the proto's names ("CHANNEL_SMS")."""
    return {key: f"{prefixes[key]}_{value.upper()}" if key in prefixes and isinstance(value, str) else value for key, value in data.items() if value is not None}

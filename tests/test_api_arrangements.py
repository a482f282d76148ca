"""What was agreed and what was done, through the gRPC API of a real server running the shipped rules."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO
from transport.grpc_server import RunningServer, ServerConfig, start_server

AS_OF = timestamp_pb2.Timestamp(seconds=1795510800)  # 2026-11-24T09:00:00Z, a Tuesday: 10:00 in Warsaw


def at(text: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromJsonString(text)
    return stamp


def case(**changes: object) -> pb.CaseSnapshot:
    message = pb.CaseSnapshot(
        case_id="case-1", country="PL", time_zone="Europe/Warsaw", amount_due="450.00", currency="PLN", days_past_due=40, segment="retail",
        consents=pb.Consents(sms=True, email=True, phone=True, letter=True), preferred_channel=pb.CHANNEL_SMS,
    )
    for name, value in changes.items():
        if isinstance(value, list):
            getattr(message, name).extend(value)
        elif hasattr(value, "DESCRIPTOR"):  # a message field
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def plan(**changes: object) -> pb.Arrangement:
    arrangement = pb.Arrangement(
        arrangement_id="plan-1", type=pb.ARRANGEMENT_TYPE_INSTALMENT_PLAN, agreed_at=at("2026-10-01T13:00:00Z"), agreed_on=pb.CHANNEL_PHONE,
        method=pb.PAYMENT_METHOD_BANK_TRANSFER,
        schedule=[pb.Instalment(due_date="2026-10-06", amount="150.00"), pb.Instalment(due_date="2026-11-06", amount="150.00"), pb.Instalment(due_date="2026-12-07", amount="150.00")],
        payments=[pb.Payment(amount="150.00", paid_at=at("2026-10-05T10:00:00Z"), posted_at=at("2026-10-06T10:00:00Z"), method=pb.PAYMENT_METHOD_BANK_TRANSFER)],
    )
    for name, value in changes.items():
        getattr(arrangement, name).CopyFrom(value) if isinstance(value, timestamp_pb2.Timestamp) else setattr(arrangement, name, value)
    return arrangement


CONFIRMED = pb.PriorContact(channel=pb.CHANNEL_LETTER, at=at("2026-10-02T09:00:00Z"), outcome=pb.CONTACT_OUTCOME_DELIVERED, action="CONFIRM_ARRANGEMENT", delivery=pb.DELIVERY_STATUS_DELIVERED)


@pytest.fixture(scope="module")
def stub() -> Iterator[pb_grpc.CollectionStrategyServiceStub]:
    running: RunningServer = start_server(ServerConfig(port=0, rules_dir=REPO / "rules", reuse_port=False, reload_seconds=0))
    with grpc.insecure_channel(f"localhost:{running.port}") as channel:
        yield pb_grpc.CollectionStrategyServiceStub(channel)
    running.stop(0)


def decide(stub: pb_grpc.CollectionStrategyServiceStub, snapshot: pb.CaseSnapshot) -> pb.Decision:
    return stub.Decide(pb.DecideRequest(case=snapshot, as_of=AS_OF, explain=True), timeout=30).decision


def test_a_missed_instalment_gets_a_kind_re_plan(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    decision = decide(stub, case(arrangements=[plan()], prior_contacts=[CONFIRMED]))
    assert (decision.action, decision.template, decision.channel) == ("OFFER_PAYMENT_PLAN", "missed-instalment-replan", pb.CHANNEL_SMS)
    assert decision.trace["facts"]["arrangement.state"] == "missed"
    assert decision.trace["arrangements"][0]["payments_counted"] == [0]


def test_a_new_arrangement_is_confirmed_and_a_kept_one_holds(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    fresh = plan(agreed_at=at("2026-11-23T13:00:00Z"))
    del fresh.schedule[:]
    fresh.schedule.append(pb.Instalment(due_date="2026-12-10", amount="150.00"))
    del fresh.payments[:]
    assert decide(stub, case(arrangements=[fresh])).action == "CONFIRM_ARRANGEMENT"
    assert decide(stub, case(arrangements=[fresh], prior_contacts=[pb.PriorContact(channel=pb.CHANNEL_EMAIL, at=at("2026-11-23T14:00:00Z"), outcome=pb.CONTACT_OUTCOME_DELIVERED, action="CONFIRM_ARRANGEMENT")])).action == "NO_CONTACT"


def test_contradictory_arrangements_are_refused_naming_the_field(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    for arrangement, field in (
        (plan(currency="EUR"), "case.arrangements[0].currency"),
        (plan(agreed_at=at("2026-11-20T10:00:00Z")), "case.arrangements[0].schedule[0].due_date"),
        (plan(type=pb.ARRANGEMENT_TYPE_UNSPECIFIED), "case.arrangements[0].type"),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            decide(stub, case(arrangements=[arrangement]))
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(refused.value)
        detail = error_details_pb2.BadRequest()
        status.details[0].Unpack(detail)  # type: ignore[union-attr]
        assert field in [violation.field for violation in detail.field_violations], (field, detail)


def test_a_debt_collector_sends_the_validation_notice_first_and_names_the_disclosure(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    us = case(country="US", time_zone="America/New_York", currency="USD", third_party_collector=True)
    decision = stub.Decide(pb.DecideRequest(case=us, as_of=at("2026-11-24T15:00:00Z")), timeout=30).decision
    assert (decision.action, decision.template) == ("SEND_NOTICE", "us-validation-notice")
    assert [item.code for item in decision.required_disclosures] == ["us-debt-collector-disclosure"]


def test_a_bouncing_channel_is_skipped_and_the_caller_told(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    bounced = [
        pb.PriorContact(channel=pb.CHANNEL_SMS, at=at(f"2026-11-{day}T10:00:00Z"), outcome=pb.CONTACT_OUTCOME_FAILED, delivery=pb.DELIVERY_STATUS_BOUNCED, action="SEND_REMINDER")
        for day in (10, 14, 18)
    ]
    decision = decide(stub, case(days_past_due=20, prior_contacts=bounced))
    assert decision.channel not in (pb.CHANNEL_SMS, pb.CHANNEL_UNSPECIFIED)
    assert [warning.code for warning in decision.data_warnings] == ["CONTACT_DATA_SMS"]
    assert any(veto.guardrail == "contact-data" and veto.channel == pb.CHANNEL_SMS for veto in decision.vetoes)


def test_the_debtors_own_contacts_are_not_counted_as_ours(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    inbound = pb.PriorContact(channel=pb.CHANNEL_PHONE, at=at("2026-11-24T08:00:00Z"), outcome=pb.CONTACT_OUTCOME_RIGHT_PARTY_CONTACT, direction=pb.CONTACT_DIRECTION_INBOUND)
    decision = decide(stub, case(prior_contacts=[inbound]))
    assert decision.trace["facts"]["contacts.all.last_24h"] == 0 and decision.trace["facts"]["hours_since_last_inbound"] == 1


def test_steps_no_strategy_can_skip(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    late = dict(days_past_due=200, amount_due="5000.00", payment=pb.PaymentBehaviour(broken_promises=2))
    # Never reached: a first notice, whatever the strategy's late rules say, and no reason claims a history.
    first = decide(stub, case(**late))
    assert (first.action, first.template, first.reasons[0].code) == ("SEND_REMINDER", "first-notice", "first-steps/reached-before-a-demand")
    # Poland: a final demand delivered 7 days ago is not enough for a legal step.
    recent = pb.PriorContact(channel=pb.CHANNEL_LETTER, at=at("2026-11-17T09:00:00Z"), outcome=pb.CONTACT_OUTCOME_DELIVERED, action="FINAL_NOTICE")
    waiting = decide(stub, case(**late, prior_contacts=[recent]))
    assert waiting.action not in ("LEGAL_REVIEW", "HUMAN_REVIEW")
    assert any(veto.guardrail == "pl/pre-suit-demand-before-legal-action" and "7 of 14 days" in veto.reason for veto in waiting.vetoes)
    # Delivered 30 days ago: the legal step may go ahead (to a person, GDPR art. 22).
    old = pb.PriorContact(channel=pb.CHANNEL_LETTER, at=at("2026-10-25T09:00:00Z"), outcome=pb.CONTACT_OUTCOME_DELIVERED, action="FINAL_NOTICE")
    assert decide(stub, case(**late, prior_contacts=[old])).action == "HUMAN_REVIEW"

"""One person with several accounts, through the gRPC API of a real server (issue 10).

The policy and the pack are written here, so that what is measured is the
person-level arithmetic, not the shipped rules of the day: a plan on the phone
past 30 days (a longer one past 60), a reminder before, a final notice for
business accounts; a Polish pack with 3 calls in 7 days whose `flag_scope`
holds a dispute to its account and a bankruptcy to the person. A fault is
injected into the server, which runs in this process; random debtors and
oversized ones go through the servicer in process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, timestamp_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine.engine import StrategyEngine
from engine.registry import PolicyRegistry
from tests.conftest import without_ids, write_policy
from tests.test_proto_fuzz import CHANNELS, OUTCOMES, Aborted, Context
from tests.test_server import bad_request
from transport.debtor_mapping import debtor_from_data
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.servicer import MAX_BATCH_ACCOUNTS, CollectionStrategyServicer
from transport.streams import StreamLimits

POLICY = """
policy: debtor-api-test
version: "1"
debtor:
  rank: oldest_first
  bundle:
    - [SEND_REMINDER, CALL, OFFER_PAYMENT_PLAN]
  consolidate_offers: true
  allocation: largest_first
rules:
  - id: business-notice
    priority: 95
    when: {segment: business, days_past_due: {gt: 0}}
    then: {action: FINAL_NOTICE, channel: letter, template: business-final}
    reason: A business account gets a final notice.
  - id: late-plan
    priority: 90
    when: {days_past_due: {gt: 60}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      template: long-plan
      offer: {instalments: [3, 24], min_instalment: 80, discount_pct: [5, 15], max_deferral_days: 30}
    reason: A longer plan.
  - id: plan
    priority: 80
    when: {days_past_due: {between: [31, 60]}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      template: plan
      offer: {instalments: [2, 12], min_instalment: 50, discount_pct: [0, 10], max_deferral_days: 14}
    reason: A plan.
  - id: reminder
    priority: 50
    when: {days_past_due: {between: [1, 30]}}
    then: {action: SEND_REMINDER, channel: [phone, sms], template: friendly}
    reason: A reminder.
"""
PACK = """
policy: pl-test
version: "1"
kind: compliance
description: Poland for these tests; at most 3 calls in 7 days.
applies_to:
  countries: [PL]
contact_hours:
  - id: hours
    opens: "08:00"
    closes: "20:00"
    closed_weekdays: [sun]
    closed_on_public_holidays: true
    reason: Only 08:00-20:00, never on Sundays or public holidays.
caps:
  - id: calls
    channels: [phone]
    max: 3
    period_days: 7
    reason: At most 3 calls in 7 days.
flag_scope:
  person: [legal.bankruptcy]
  account: [legal.dispute]
"""
AS_OF_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Warsaw
AS_OF = timestamp_pb2.Timestamp(seconds=int(AS_OF_TIME.timestamp()))
CALL_CAP, CAP_DAYS = 3, 7


def call(at: str, **more: Any) -> dict[str, Any]:
    return {"channel": "phone", "at": at, "outcome": "no_answer", **more}


def account(account_id: str, days_past_due: int, amount: str = "1000.00", **more: Any) -> dict[str, Any]:
    return {"account_id": account_id, "amount_due": amount, "currency": "PLN", "days_past_due": days_past_due, "segment": "retail", **more}


def debtor(*accounts: dict[str, Any], **more: Any) -> pb.Debtor:
    data = {
        "debtor_id": "D-1", "country": "PL", "time_zone": "Europe/Warsaw",
        "consents": {"phone": True, "sms": True, "email": True, "letter": True},
        "accounts": list(accounts), **more,
    }  # fmt: skip
    return debtor_from_data(data)


def case_of(person: pb.Debtor, index: int = 0) -> pb.CaseSnapshot:
    """The account as a case of its own, as Decide takes it: what each account got before DecideDebtor."""
    item = person.accounts[index]
    return pb.CaseSnapshot(
        case_id=item.account_id, country=person.country, time_zone=person.time_zone, amount_due=item.amount_due, currency=item.currency,
        days_past_due=item.days_past_due, segment=item.segment, consents=person.consents, legal=item.legal, prior_contacts=item.prior_contacts,
    )


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    write_policy(directory, POLICY)
    (directory / "compliance" / "pl").mkdir(parents=True)
    (directory / "compliance" / "pl" / "pl.yaml").write_text(PACK.lstrip(), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def server(rules: Path) -> Iterator[RunningServer]:
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0))
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[pb_grpc.CollectionStrategyServiceStub]:
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        yield pb_grpc.CollectionStrategyServiceStub(channel)


def decide(stub: pb_grpc.CollectionStrategyServiceStub, person: pb.Debtor, explain: bool = False) -> pb.DebtorDecision:
    return stub.DecideDebtor(pb.DecideDebtorRequest(debtor=person, as_of=AS_OF, explain=explain), timeout=30).decision


def refused(stub: pb_grpc.CollectionStrategyServiceStub, person: pb.Debtor) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        decide(stub, person)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return bad_request(caught.value)


def by_id(decision: pb.DebtorDecision) -> dict[str, pb.Decision]:
    return {item.case_id: item for item in decision.accounts}


def instant(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=timezone.utc)


def calls_before(start: datetime, person: pb.Debtor) -> int:
    """Distinct outbound calls to the person in the cap's period before `start`, counting every account's."""
    listed = [*person.contacts, *(contact for item in person.accounts for contact in item.prior_contacts)]
    calls = [c for c in listed if c.channel == pb.CHANNEL_PHONE and c.direction != pb.CONTACT_DIRECTION_INBOUND]
    return len({instant(c.at) for c in calls if start - timedelta(days=CAP_DAYS) < instant(c.at) <= start})


# --- caps, quiet periods and windows count the person -------------------------------------


def test_a_person_is_not_called_beyond_the_cap_counting_every_account(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    # The example: two accounts of one Polish debtor, each with two unanswered calls this week.
    person = debtor(
        account("A-1", 45, "2400.00", prior_contacts=[call("2026-11-20T10:00:00Z"), call("2026-11-21T10:00:00Z")]),
        account("A-2", 40, "1800.00", prior_contacts=[call("2026-11-22T10:00:00Z"), call("2026-11-23T10:00:00Z")]),
    )
    # Alone, each account would be called today: 2 calls each, under the cap.
    for index in (0, 1):
        alone = stub.Decide(pb.DecideRequest(case=case_of(person, index), as_of=AS_OF), timeout=30).decision
        assert (alone.channel, alone.window.start) == (pb.CHANNEL_PHONE, AS_OF)

    decision = decide(stub, person)

    assert decision.channel == pb.CHANNEL_PHONE and list(decision.account_ids) == ["A-1", "A-2"]
    start = instant(decision.window.start)
    assert start > AS_OF_TIME  # not today: the person had 4 calls this week
    assert calls_before(start, person) < CALL_CAP  # the first moment a call stays within 3 in 7 days
    assert calls_before(start - timedelta(seconds=1), person) >= CALL_CAP
    assert any("3 calls in 7 days" in reason.text for reason in decision.window_constraints)
    for item in decision.accounts:  # one contact: every account's call is that one call
        assert (item.channel, item.window) == (decision.channel, decision.window)


def test_a_contact_listed_under_two_accounts_counts_once(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    both = ["A-1", "A-2"]
    monday, sunday = call("2026-11-23T10:00:00Z"), call("2026-11-22T10:00:00Z")
    person = debtor(
        account("A-1", 45, prior_contacts=[monday, sunday]),
        account("A-2", 40, prior_contacts=[monday, sunday]),
        contacts=[call("2026-11-23T10:00:00Z", account_ids=both)],  # the same call, recorded for the person too
    )

    decision = decide(stub, person, explain=True)

    # Two calls, not five: the person may be called now.
    assert (decision.channel, decision.window.start, list(decision.account_ids)) == (pb.CHANNEL_PHONE, AS_OF, both)
    assert decision.trace["contacts_with_person"] == 2


# --- flags: the person's hold every account, a dispute holds its own -------------------------


@pytest.mark.parametrize("where", ["debtor", "one account"])
def test_a_bankruptcy_stops_every_account(stub: pb_grpc.CollectionStrategyServiceStub, where: str) -> None:
    flagged = {"legal": {"bankruptcy": True}}
    person = debtor(account("A-1", 45), account("A-2", 40, **(flagged if where == "one account" else {})), **(flagged if where == "debtor" else {}))
    assert stub.Decide(pb.DecideRequest(case=case_of(person, 0), as_of=AS_OF), timeout=30).decision.channel == pb.CHANNEL_PHONE

    decision = decide(stub, person)

    assert decision.action == "NO_CONTACT" and decision.channel == pb.CHANNEL_UNSPECIFIED
    assert not decision.HasField("window") and list(decision.account_ids) == []
    for item in decision.accounts:
        assert (item.action, item.channel) == ("NO_CONTACT", pb.CHANNEL_UNSPECIFIED)
        assert "bankruptcy" in {veto.guardrail for veto in item.vetoes}, item.case_id


def test_a_dispute_stops_only_its_account(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    person = debtor(account("A-1", 45), account("A-2", 90, legal={"dispute": True}))

    decision = decide(stub, person)

    assert (decision.action, decision.channel, list(decision.account_ids)) == ("OFFER_PAYMENT_PLAN", pb.CHANNEL_PHONE, ["A-1"])
    disputed = by_id(decision)["A-2"]
    assert (disputed.action, disputed.channel) == ("NO_CONTACT", pb.CHANNEL_UNSPECIFIED)
    assert "dispute" in {veto.guardrail for veto in disputed.vetoes}
    assert by_id(decision)["A-1"].channel == pb.CHANNEL_PHONE


# --- one contact for the person ----------------------------------------------------------


def test_a_bundled_contact_names_every_account_it_covers(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    person = debtor(account("A-3", 10), account("A-2", 45), account("A-1", 90), account("B-1", 20, segment="business"))

    decision = decide(stub, person)

    # Oldest arrears lead; a plan and a reminder share the call; a final notice is not bundled and waits.
    assert (decision.action, decision.channel, decision.template) == ("OFFER_PAYMENT_PLAN", pb.CHANNEL_PHONE, "long-plan")
    assert list(decision.account_ids) == ["A-1", "A-2", "A-3"]
    assert "DEBTOR_BUNDLED" in [reason.code for reason in decision.reasons]
    accounts = by_id(decision)
    assert [accounts[key].action for key in decision.account_ids] == ["OFFER_PAYMENT_PLAN", "OFFER_PAYMENT_PLAN", "SEND_REMINDER"]
    for key in decision.account_ids:
        assert (accounts[key].channel, accounts[key].window) == (decision.channel, decision.window), key
    waiting = accounts["B-1"]
    assert (waiting.action, waiting.channel, waiting.reasons[0].code) == ("NO_CONTACT", pb.CHANNEL_UNSPECIFIED, "DEBTOR_ONE_CONTACT")
    assert [item.case_id for item in decision.accounts] == ["A-1", "A-2", "B-1", "A-3"]  # the policy's rank: oldest first


def check_consolidated(offer: pb.ConsolidatedOffer, decision: pb.DebtorDecision, person: pb.Debtor) -> None:
    """The offer's bounds are within every covered account's own bounds; the total is their sum."""
    accounts, owed = by_id(decision), {item.account_id: Decimal(item.amount_due) for item in person.accounts}
    covered = [accounts[key].offer for key in offer.allocation]
    assert len(covered) >= 2 and all(bounds.currency == offer.currency for bounds in covered)
    assert Decimal(offer.total_due) == sum(owed[key] for key in offer.allocation)
    bounds = offer.bounds
    assert bounds.currency == offer.currency and bounds.instalments_min <= bounds.instalments_max
    assert Decimal(bounds.discount_pct_min) <= Decimal(bounds.discount_pct_max)
    for own in covered:
        assert own.instalments_min <= bounds.instalments_min and bounds.instalments_max <= own.instalments_max
        assert Decimal(own.discount_pct_min) <= Decimal(bounds.discount_pct_min) and Decimal(bounds.discount_pct_max) <= Decimal(own.discount_pct_max)
        assert Decimal(bounds.min_instalment) >= Decimal(own.min_instalment)
        assert bounds.max_deferral_days <= own.max_deferral_days
    # At least every account's own floor, and no more off the total than the common discount allows.
    total = Decimal(offer.total_due)
    assert Decimal(bounds.settlement_floor) >= sum(Decimal(own.settlement_floor) for own in covered)
    assert Decimal(bounds.settlement_floor) >= total * (100 - Decimal(bounds.discount_pct_max)) / 100
    # Allocation as the policy says: the largest balance first.
    assert [owed[key] for key in offer.allocation] == sorted((owed[key] for key in offer.allocation), reverse=True)


def test_a_consolidated_offer_is_within_every_accounts_own_bounds(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    person = debtor(account("A-1", 90, "2400.00"), account("A-2", 45, "1800.00"))

    decision = decide(stub, person)

    assert [offer.currency for offer in decision.offers] == ["PLN"]
    offer = decision.offers[0]
    assert (list(offer.allocation), offer.allocation_rule, offer.total_due) == (["A-1", "A-2"], "largest_first", "4200.00")
    # The two rules' bounds differ: the common ground is the narrower of each.
    assert (offer.bounds.instalments_min, offer.bounds.instalments_max) == (3, 12)
    assert (offer.bounds.discount_pct_min, offer.bounds.discount_pct_max, offer.bounds.min_instalment) == ("5", "10", "80.00")
    check_consolidated(offer, decision, person)


def test_accounts_in_different_currencies_are_never_summed(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    person = debtor(
        account("A-1", 90, "2400.00"), account("A-2", 45, "1800.00"),
        account("E-1", 80, "700.00", currency="EUR"), account("E-2", 50, "300.00", currency="EUR"),
    )  # fmt: skip

    decision = decide(stub, person)

    assert sorted(decision.account_ids) == ["A-1", "A-2", "E-1", "E-2"]
    offers = {offer.currency: offer for offer in decision.offers}
    assert set(offers) == {"PLN", "EUR"}
    assert (offers["PLN"].total_due, sorted(offers["PLN"].allocation)) == ("4200.00", ["A-1", "A-2"])
    assert (offers["EUR"].total_due, sorted(offers["EUR"].allocation)) == ("1000.00", ["E-1", "E-2"])
    for offer in offers.values():
        check_consolidated(offer, decision, person)
    assert "OFFERS_BY_CURRENCY" in [reason.code for reason in decision.reasons]


# --- Decide is a debtor with one account ------------------------------------------------


def test_decide_answers_as_a_debtor_with_one_account(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    for days in (10, 45, 90):
        person = debtor(account("A-1", days, prior_contacts=[call("2026-11-20T10:00:00Z")]))
        alone = stub.Decide(pb.DecideRequest(case=case_of(person), as_of=AS_OF), timeout=30).decision
        decision = decide(stub, person)
        assert without_ids(decision.accounts[0]) == without_ids(alone)
        assert (decision.action, decision.channel, decision.window, decision.template) == (alone.action, alone.channel, alone.window, alone.template)
        assert list(decision.account_ids) == ["A-1"] and list(decision.offers) == []


def test_decide_refuses_a_case_contact_that_names_accounts(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    case = case_of(debtor(account("A-1", 45)))
    case.prior_contacts.append(
        pb.PriorContact(channel=pb.CHANNEL_SMS, at=timestamp_pb2.Timestamp(seconds=AS_OF.seconds - 3600), outcome=pb.CONTACT_OUTCOME_DELIVERED, account_ids=["A-9"])
    )

    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=case, as_of=AS_OF), timeout=30)

    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "case.prior_contacts[0].account_ids" in bad_request(caught.value)


# --- bad input ---------------------------------------------------------------------------

BAD_DEBTORS: dict[str, tuple[Callable[[], pb.Debtor], str, str]] = {
    "an account listed twice": (lambda: debtor(account("A-1", 45), account("A-1", 40)), "debtor.accounts[1].account_id", "listed twice"),
    "an account of another debtor": (lambda: debtor(account("A-1", 45, debtor_id="D-1"), account("A-2", 40, debtor_id="D-2")), "debtor.accounts[1].debtor_id", "D-2"),
    "an account in another country": (lambda: debtor(account("A-1", 45), account("A-2", 40, country="DE")), "debtor.accounts[1].country", "PL"),
    "more accounts than a debtor may have": (lambda: debtor(*(account(f"A-{n}", 45) for n in range(51))), "debtor.accounts", "at most 50"),
    "a breathing space on an account": (
        lambda: debtor(account("A-1", 45), account("A-2", 40, legal={"breathing_space_start": "2026-11-01"})),
        "debtor.accounts[1].legal.breathing_space_start",
        "debtor.legal",
    ),
    "a contact about an account the debtor lacks": (
        lambda: debtor(account("A-1", 45), contacts=[call("2026-11-20T10:00:00Z", account_ids=["A-9"])]), "debtor.contacts[0].account_ids", "A-9"
    ),
    "a bad amount on one account": (lambda: debtor(account("A-1", 45), account("A-2", 40, "12,50")), "debtor.accounts[1].amount_due", ""),
    "no accounts": (lambda: debtor(), "debtor.accounts", ""),
}


@pytest.mark.parametrize("what", BAD_DEBTORS)
def test_bad_input_is_invalid_argument_naming_the_field(stub: pb_grpc.CollectionStrategyServiceStub, what: str) -> None:
    make, field, said = BAD_DEBTORS[what]

    violations = refused(stub, make())

    assert field in violations, violations
    assert said in violations[field]


def test_a_missing_debtor_and_a_bad_as_of_are_named_from_the_request_root(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecideDebtor(pb.DecideDebtorRequest(as_of=AS_OF), timeout=30)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "debtor" in bad_request(caught.value)

    # A few microseconds past the last instant the engine takes: the request's as_of, not the case's.
    last = int((datetime(9000, 1, 1, tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds())
    too_late = timestamp_pb2.Timestamp(seconds=last, nanos=5000)
    person = debtor(account("A-1", 45))
    for call_it in (
        lambda: stub.DecideDebtor(pb.DecideDebtorRequest(debtor=person, as_of=too_late), timeout=30),
        lambda: stub.Decide(pb.DecideRequest(case=case_of(person), as_of=too_late), timeout=30),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call_it()
        assert list(bad_request(caught.value)) == ["as_of"]


def test_lists_longer_than_validation_takes_are_refused_before_they_are_read(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transport.servicer

    def unread(debtor: pb.Debtor) -> dict[str, Any]:
        raise AssertionError("the debtor was read")

    monkeypatch.setattr(transport.servicer, "debtor_data", unread)
    chatty = debtor(account("A-1", 45), contacts=[call("2026-11-20T10:00:00Z")] * 2001)
    planned = debtor(account("A-1", 45))
    planned.accounts[0].arrangements.add().payments.extend([pb.Payment(amount="1.00")] * 501)

    for person, field in ((chatty, "debtor.contacts"), (planned, "debtor.accounts[0].arrangements[0].payments")):
        context = Context()
        with pytest.raises(Aborted):
            in_process(rules).DecideDebtor(pb.DecideDebtorRequest(debtor=person, as_of=AS_OF).SerializeToString(), context)
        assert context.status is grpc.StatusCode.INVALID_ARGUMENT and field in context.details, context.details


# --- a fault on one account holds the whole person ------------------------------------------


def test_a_fault_deciding_one_account_makes_the_person_no_contact(stub: pb_grpc.CollectionStrategyServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    decide_case = StrategyEngine._decide

    def faulty(self: StrategyEngine, snapshot: Any, *args: Any) -> Any:
        if snapshot.case_id == "A-2":
            raise RuntimeError("the matcher broke")
        return decide_case(self, snapshot, *args)

    person = debtor(account("A-1", 90), account("A-2", 45), account("A-3", 10))
    assert decide(stub, person).channel == pb.CHANNEL_PHONE
    monkeypatch.setattr(StrategyEngine, "_decide", faulty)  # the server runs in this process

    decision = decide(stub, person)

    assert (decision.action, decision.channel, list(decision.account_ids)) == ("NO_CONTACT", pb.CHANNEL_UNSPECIFIED, [])
    assert not decision.HasField("window") and [reason.code for reason in decision.reasons] == ["DEBTOR_FAULT"]
    accounts = by_id(decision)
    assert accounts["A-2"].reasons[0].code == "ENGINE_FAULT"
    for item in accounts.values():
        assert (item.action, item.channel, item.HasField("window")) == ("NO_CONTACT", pb.CHANNEL_UNSPECIFIED, False), item.case_id


# --- batch and stream ----------------------------------------------------------------------


def mixed_debtors() -> list[pb.Debtor]:
    good = debtor(account("A-1", 90), account("A-2", 45))
    bad = debtor(account("B-1", 45), account("B-1", 40))
    bad.debtor_id = "D-2"
    other = debtor(account("C-1", 10), account("C-2", 40, "-5.00"))
    other.debtor_id = "D-3"
    return [good, bad, other]


def test_batch_answers_each_debtor_in_order_with_its_own_error(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    debtors = mixed_debtors()

    results = stub.DecideDebtorBatch(pb.DecideDebtorBatchRequest(debtors=debtors, as_of=AS_OF), timeout=30).results

    assert [result.debtor_id for result in results] == ["D-1", "D-2", "D-3"]
    assert [result.WhichOneof("outcome") for result in results] == ["decision", "error", "error"]
    assert without_ids(results[0].decision) == without_ids(decide(stub, debtors[0]))
    assert [violation.field for violation in results[1].error.field_violations] == ["debtors[1].accounts[1].account_id"]
    assert [violation.field for violation in results[2].error.field_violations] == ["debtors[2].accounts[1].amount_due"]
    assert results[1].error.message.startswith("invalid debtor: debtors[1].accounts[1].account_id")


def test_batch_limits_count_accounts_across_debtors(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    per_debtor = 50
    debtors = [debtor(*(account(f"A-{n}", 45) for n in range(per_debtor))) for _ in range(MAX_BATCH_ACCOUNTS // per_debtor + 1)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecideDebtorBatch(pb.DecideDebtorBatchRequest(debtors=debtors, as_of=AS_OF), timeout=30)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1000 accounts" in bad_request(caught.value)["debtors"]

    explained = [debtor(*(account(f"A-{n}", 45) for n in range(26))) for _ in range(2)]  # 52 accounts in 2 debtors
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecideDebtorBatch(pb.DecideDebtorBatchRequest(debtors=explained, as_of=AS_OF, explain=True), timeout=30)
    assert "at most 50 accounts" in bad_request(caught.value)["explain"]

    results = stub.DecideDebtorBatch(pb.DecideDebtorBatchRequest(debtors=explained[:1], as_of=AS_OF, explain=True), timeout=30).results
    assert results[0].decision.trace["lead"] == "A-0"


def test_stream_answers_each_debtor_tagged_with_its_id(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    debtors = mixed_debtors()
    requests = iter([pb.DecideDebtorStreamRequest(debtor=item, as_of=AS_OF) for item in debtors])

    results = [answer.result for answer in stub.DecideDebtorStream(requests, timeout=30)]

    assert [result.debtor_id for result in results] == ["D-1", "D-2", "D-3"]
    assert without_ids(results[0].decision) == without_ids(decide(stub, debtors[0]))
    assert [violation.field for violation in results[1].error.field_violations] == ["debtor.accounts[1].account_id"]
    assert [violation.field for violation in results[2].error.field_violations] == ["debtor.accounts[1].amount_due"]


def test_debtor_streams_are_held_to_the_stream_limits(rules: Path) -> None:
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0, threads=2, stream_idle_seconds=1))
    release = threading.Event()

    def silent() -> Iterator[pb.DecideDebtorStreamRequest]:
        release.wait(30)
        yield from ()

    try:
        with grpc.insecure_channel(f"localhost:{running.port}") as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            held = stub.DecideStream(silent(), timeout=20)  # the one place of this worker (half of 2 threads)
            threading.Event().wait(0.3)
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.DecideDebtorStream(silent(), timeout=20))
            assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(grpc.RpcError) as caught:
                list(held)
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED  # silent for the idle time: closed
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.DecideDebtorStream(silent(), timeout=20))
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED and "no message on this stream" in (caught.value.details() or "")
    finally:
        release.set()
        running.stop(0)


# --- metrics -----------------------------------------------------------------------------


DEBTOR_RPC = {"grpc_type": "unary", "grpc_service": "collection_strategy.v1.CollectionStrategyService", "grpc_method": "DecideDebtor"}


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_calls_accounts_and_the_persons_contact(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    person = debtor(account("A-1", 90), account("A-2", 45), account("A-3", 10))
    before = {
        "ok": counted("grpc_server_handled_total", **DEBTOR_RPC, grpc_code="OK"),
        "plans": counted("collection_decisions_total", action="OFFER_PAYMENT_PLAN", channel="phone"),
        "reminders": counted("collection_decisions_total", action="SEND_REMINDER", channel="phone"),
        "person": counted("collection_debtor_decisions_total", action="OFFER_PAYMENT_PLAN", channel="phone"),
        "invalid": counted("collection_invalid_cases_total", method="DecideDebtor"),
    }

    decide(stub, person)
    refused(stub, debtor(account("A-1", 45), account("A-1", 40)))

    assert counted("grpc_server_handled_total", **DEBTOR_RPC, grpc_code="OK") == before["ok"] + 1
    assert counted("collection_decisions_total", action="OFFER_PAYMENT_PLAN", channel="phone") == before["plans"] + 2
    assert counted("collection_decisions_total", action="SEND_REMINDER", channel="phone") == before["reminders"] + 1
    assert counted("collection_debtor_decisions_total", action="OFFER_PAYMENT_PLAN", channel="phone") == before["person"] + 1
    assert counted("collection_invalid_cases_total", method="DecideDebtor") == before["invalid"] + 1
    assert (REGISTRY.get_sample_value("grpc_server_handling_seconds_count", DEBTOR_RPC) or 0) >= 2


# --- any debtor: one contact, or a refusal naming the field -----------------------------------

FLAGS = tuple(field.name for field in pb.LegalFlags.DESCRIPTOR.fields if field.type == field.TYPE_BOOL)
STOPS = ("deceased", "bankruptcy", "cease_and_desist")
rare = st.integers(0, 40).map(lambda number: number == 0)  # most debtors have no flag, so that they reach a contact


@st.composite
def contacts(draw: st.DrawFn, about: list[str] | None = None) -> pb.PriorContact:
    contact = pb.PriorContact(
        channel=draw(st.sampled_from(CHANNELS)), outcome=draw(st.sampled_from(OUTCOMES)), direction=draw(st.sampled_from([0, 0, pb.CONTACT_DIRECTION_INBOUND])),
        at=timestamp_pb2.Timestamp(seconds=AS_OF.seconds - draw(st.integers(60, 20 * 86400))),
    )
    contact.account_ids.extend(draw(st.lists(st.sampled_from(about), max_size=2, unique=True)) if about else [])
    return contact


@st.composite
def random_debtors(draw: st.DrawFn) -> pb.Debtor:
    ids = [f"A-{number}" for number in range(draw(st.integers(1, 6)))]
    person = pb.Debtor(
        debtor_id="D-1", country=draw(st.sampled_from(["PL", "GB", "US", "DE", "XX"])), preferred_channel=draw(st.sampled_from([0, *CHANNELS])),
        consents=pb.Consents(**{name: draw(st.booleans()) for name in ("sms", "email", "phone", "letter")}),
        gdpr=pb.GdprFlags(objection=draw(rare)), contacts=draw(st.lists(contacts(ids), max_size=3)),
    )
    for name in FLAGS:
        setattr(person.legal, name, draw(rare))
    for account_id in ids:
        item = person.accounts.add(
            account_id=account_id if draw(st.integers(0, 30)) else "A-0", amount_due=draw(st.sampled_from(["500.00", "12.34", "0.00", "9999.99", "1,5"])),
            currency=draw(st.sampled_from(["PLN", "PLN", "EUR"])), days_past_due=draw(st.integers(-10, 200)), segment=draw(st.sampled_from(["retail", "business"])),
            prior_contacts=draw(st.lists(contacts(), max_size=3)),
        )
        for name in FLAGS:
            setattr(item.legal, name, draw(rare))
    return person


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(person=random_debtors(), explain=st.booleans())
def test_any_debtor_gets_one_contact_or_invalid_argument(rules: Path, person: pb.Debtor, explain: bool) -> None:
    servicer = in_process(rules)
    context = Context()
    try:
        decision = servicer.DecideDebtor(pb.DecideDebtorRequest(debtor=person, as_of=AS_OF, explain=explain).SerializeToString(), context).decision
    except Aborted:
        assert context.status is grpc.StatusCode.INVALID_ARGUMENT, context.details
        return
    assert sorted(item.case_id for item in decision.accounts) == sorted(item.account_id for item in person.accounts)
    for item in decision.accounts:  # one contact: only the accounts it covers have a channel, the contact's
        covered = item.case_id in decision.account_ids
        assert (item.channel, item.window) == ((decision.channel, decision.window) if covered else (pb.CHANNEL_UNSPECIFIED, pb.ContactWindow())), item.case_id
    if any(getattr(flags, name) for flags in (person.legal, *(item.legal for item in person.accounts)) for name in STOPS):
        assert decision.channel == pb.CHANNEL_UNSPECIFIED and list(decision.account_ids) == []
    if decision.channel == pb.CHANNEL_PHONE:
        assert calls_before(instant(decision.window.start), person) < CALL_CAP or person.country != "PL"
    answer = servicer.DecideDebtorBatch(pb.DecideDebtorBatchRequest(debtors=[person], as_of=AS_OF, explain=explain).SerializeToString(), Context())
    assert without_ids(answer.results[0].decision) == without_ids(decision)


_SERVICERS: dict[Path, CollectionStrategyServicer] = {}


def in_process(rules: Path) -> CollectionStrategyServicer:
    if rules not in _SERVICERS:
        _SERVICERS[rules] = CollectionStrategyServicer(PolicyRegistry(rules), StreamLimits(max_streams=4, idle_seconds=30))
    return _SERVICERS[rules]


def test_debtor_from_data_reads_the_engines_plain_form() -> None:
    person = debtor(account("A-1", 45, prior_contacts=[call("2026-11-20T10:00:00Z")]), contacts=[call("2026-11-21T10:00:00Z", account_ids=["A-1"])])
    data = json_format.MessageToDict(person, preserving_proto_field_name=True)
    assert data["accounts"][0]["prior_contacts"][0]["channel"] == "CHANNEL_PHONE"
    assert data["contacts"][0]["account_ids"] == ["A-1"] and data["contacts"][0]["outcome"] == "CONTACT_OUTCOME_NO_ANSWER"

"""Fuzzing the proto: whatever a caller sends, the answer is OK or INVALID_ARGUMENT.

Random DecideRequest, DecideBatchRequest, DecideStreamRequest and DecideDebtor* messages
(strings of any unicode, huge and negative numbers, enum numbers this server
does not know, random timestamps and attributes, every legal and GDPR flag),
the same messages with their bytes mutated, and raw random bytes: through the
servicer in process, and (fewer) against a real server. Every answer is OK or
INVALID_ARGUMENT (a batch or stream answers a bad case with a CaseError), never
INTERNAL or UNKNOWN, never an exception; and a case flagged deceased, bankrupt
or cease-and-desist is never contacted, whatever else it says.

Profiles: HYPOTHESIS_PROFILE=default (the normal run: 75 examples per
property, 60 against the real server) or HYPOTHESIS_PROFILE=soak (10,000 and
2,000). They apply to this module's tests only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.registry import PolicyRegistry
from tests.conftest import write_policy
from transport.errors import MAX_FIELD_BYTES, cut
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.servicer import CollectionStrategyServicer
from transport.streams import StreamLimits

# --- profiles ----------------------------------------------------------------------------

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture]
settings.register_profile("proto-fuzz-default", max_examples=75, deadline=None, suppress_health_check=_HEALTH)
settings.register_profile("proto-fuzz-soak", max_examples=10_000, deadline=None, suppress_health_check=_HEALTH)
_SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
PROFILE = settings.get_profile("proto-fuzz-soak" if _SOAK else "proto-fuzz-default")
SERVER_PROFILE = settings(PROFILE, max_examples=2_000 if _SOAK else 60)

REPO = Path(__file__).resolve().parent.parent
AS_OF = 1795510800  # 2026-11-24T09:00:00Z

# --- the servicer in process, with a stand-in for grpc's context ----------------------------


class Aborted(Exception):
    pass


class Context:
    """What the servicer uses of grpc.ServicerContext; abort raises, as grpc's does."""

    def __init__(self) -> None:
        self.status: grpc.StatusCode | None = None
        self.details = ""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.status, self.details = code, details
        raise Aborted(f"{code.name}: {details}")

    def abort_with_status(self, status: Any) -> None:
        self.abort(status.code, status.details)

    def code(self) -> grpc.StatusCode | None:
        return self.status

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float:
        return 60.0


# An eager strategy contacts every case it can: whether a flagged case is left
# alone then rests on the built-in guardrails alone, not on the shipped rules'
# routing of such cases to a team.
EAGER = """
policy: eager
version: "1"
rules:
  - id: contact-everyone
    priority: 100
    when: {days_past_due: {gt: -1000000}}
    then: {action: SEND_REMINDER, channel: [preferred, sms, email, phone, letter, push], template: t}
    reason: Contact.
"""


@pytest.fixture(scope="module", params=["shipped", "eager"])
def servicer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CollectionStrategyServicer:
    rules = REPO / "rules"
    if request.param == "eager":
        rules = tmp_path_factory.mktemp("eager")
        write_policy(rules, EAGER)
    return CollectionStrategyServicer(PolicyRegistry(rules), StreamLimits(max_streams=4, idle_seconds=30))


def call(servicer: CollectionStrategyServicer, method: str, data: bytes) -> tuple[list[Message], Context]:
    """The answers of one call (one for a unary call), and its context: OK or INVALID_ARGUMENT, nothing else."""
    context = Context()
    answers: list[Message] = []
    try:
        if method in ("DecideStream", "DecideDebtorStream"):
            answers.extend(getattr(servicer, method)(iter([data, data]), context))
        else:
            answers.append(getattr(servicer, method)(data, context))
    except Aborted:
        assert context.status is grpc.StatusCode.INVALID_ARGUMENT, context.details
    return answers, context


# --- strategies -----------------------------------------------------------------------------

any_text = st.text(st.characters(codec="utf-8"), max_size=30)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)


class Picker:
    """Draws plausible values for a tame case; for a wild one, odd values or any at all too.

    Half the cases are tame, so that decisions (and the stop flags) are reached,
    not only validation."""

    def __init__(self, draw: st.DrawFn):
        self.draw = draw
        self.wild = draw(st.booleans())

    def __call__(self, valid: list[Any], odd: list[Any] = [], anything: st.SearchStrategy[Any] = any_text) -> Any:  # noqa: B006
        if not self.wild:
            return self.draw(st.sampled_from(valid))
        return self.draw(st.one_of(st.sampled_from(valid + odd), anything))

    def number(self, low: int, high: int, anything: st.SearchStrategy[int] = int32) -> int:
        return self.draw(st.integers(low, high) if not self.wild else st.one_of(st.integers(low, high), anything))

    def instant(self) -> Timestamp:
        if not self.wild:
            return Timestamp(seconds=self.draw(st.integers(AS_OF - 400 * 86400, AS_OF - 60)))
        return self.draw(timestamps)


timestamps = st.builds(
    Timestamp,
    seconds=st.one_of(st.integers(AS_OF - 400 * 86400, AS_OF), st.integers(AS_OF - 86400, AS_OF + 86400), int64),
    nanos=st.one_of(st.just(0), int32),
)
CHANNELS = [number for number in pb.Channel.values() if number]
OUTCOMES = [number for number in pb.ContactOutcome.values() if number]


@st.composite
def snapshots(draw: st.DrawFn) -> pb.CaseSnapshot:
    pick = Picker(draw)
    flag = st.booleans()
    rare = st.integers(0, 9).map(lambda number: number == 0)  # flags: most cases have none, so they reach a contact
    case = pb.CaseSnapshot(
        case_id=pick(["case-1", "c:2/x"], [""]),
        country=pick(["PL", "DE", "GB", "US", "FR", "ES"], ["XX", "", "pl"]),
        region=pick([""], ["MA", "CA", "SCT", "NY"]),
        time_zone=pick(["", "Europe/Warsaw", "America/New_York", "Europe/London"], ["Mars/Olympus", "UTC+1"]),
        amount_due=pick(["500.00", "0.01", "12345.67"], ["0", "-1", "1e999", "NaN", "12,50", "99999999999999999999.99"]),
        currency=pick(["PLN", "EUR", "GBP", "USD"], ["XYZ", ""]),
        days_past_due=pick.number(-30, 400),
        segment=pick(["retail", "sme"], [""]),
        product=pick(["", "card", "loan"]),
        consents=pb.Consents(sms=draw(flag), email=draw(flag), phone=draw(flag), letter=draw(flag), push=draw(flag), electronic_opt_out=draw(rare)),
        gdpr=pb.GdprFlags(objection=draw(rare), restriction=draw(rare), erasure_requested=draw(rare)),
        legal=pb.LegalFlags(
            dispute=draw(rare), bankruptcy=draw(rare), cease_and_desist=draw(rare), attorney_represented=draw(rare), deceased=draw(rare),
            vulnerable=draw(rare), hardship=draw(rare), time_barred=draw(rare), breathing_space_start=pick(["", "2026-11-01"], ["2026-02-30", "soon"]),
        ),
        payment=pb.PaymentBehaviour(broken_promises=pick.number(0, 5), promise_to_pay_date=pick(["", "2026-11-30"], ["tomorrow"])),
        attributes=draw(st.dictionaries(any_text, any_text, max_size=3)) if pick.wild else {"employer": "Acme"},
        preferred_channel=pick([0, *CHANNELS], [], int32),
        language=pick(["", "en", "pl"], ["de", "xx-YY"]),
    )
    if draw(flag):
        case.payment.last_payment_at.CopyFrom(pick.instant())
    if draw(flag):
        case.preferred_hours.CopyFrom(pb.ContactHours(opens=pick(["09:00"], ["25:00", ""]), closes=pick(["17:00"], ["08:00", "24:00"])))
    for _ in range(draw(st.integers(0, 4))):
        contact = case.prior_contacts.add(channel=pick(CHANNELS, [0], int32), outcome=pick(OUTCOMES, [0], int32))
        if not pick.wild or draw(st.integers(0, 4)):  # a wild contact now and then has no timestamp
            contact.at.CopyFrom(pick.instant())
    if pick.wild:
        scribble(draw, case)
    return case


_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_STRING: any_text,
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_ENUM: st.one_of(st.integers(0, 8), int32),
    FieldDescriptor.TYPE_INT32: int32,
    FieldDescriptor.TYPE_INT64: int64,
}


def scribble(draw: st.DrawFn, message: Message, depth: int = 0) -> None:
    """Random values in about one field in four of a message, whatever fields the proto
    holds: fields added after this test was written are fuzzed too."""
    for field in message.DESCRIPTOR.fields:
        if draw(st.integers(0, 3)) or depth > 2:
            continue
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry and field.message_type.fields_by_name["value"].message_type is not None:
                for key in draw(st.lists(any_text, max_size=2)):  # a map of messages (typed inputs): each value scribbled
                    scribble(draw, getattr(message, field.name)[key], depth + 1)
            elif field.message_type.GetOptions().map_entry:
                getattr(message, field.name).update(draw(st.dictionaries(any_text, any_text, max_size=2)))
            elif field.message_type.full_name == "google.protobuf.Timestamp":
                target = getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
                target.CopyFrom(draw(timestamps))
            else:
                for _ in range(draw(st.integers(1, 2)) if field.is_repeated else 1):
                    scribble(draw, getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name), depth + 1)
        elif field.type in _SCALARS:
            values = draw(st.lists(_SCALARS[field.type], max_size=2)) if field.is_repeated else [draw(_SCALARS[field.type])]
            if field.is_repeated:
                getattr(message, field.name).extend(values)
            else:
                setattr(message, field.name, values[0])


def with_as_of(message: Message, draw: st.DrawFn) -> Message:
    """Mostly the fixed instant (the contacts drawn are before it); sometimes none (the server clock) or any."""
    choice = draw(st.integers(0, 5))
    if choice:
        message.as_of.CopyFrom(Timestamp(seconds=AS_OF) if choice > 1 else draw(timestamps))  # type: ignore[attr-defined]
    return message


@st.composite
def decide_requests(draw: st.DrawFn) -> pb.DecideRequest:
    request = pb.DecideRequest(explain=draw(st.booleans()))
    if draw(st.integers(0, 9)):
        request.case.CopyFrom(draw(snapshots()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def batch_requests(draw: st.DrawFn) -> pb.DecideBatchRequest:
    request = pb.DecideBatchRequest(cases=draw(st.lists(snapshots(), max_size=4)), explain=draw(st.booleans()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def stream_requests(draw: st.DrawFn) -> pb.DecideStreamRequest:
    request = pb.DecideStreamRequest(case=draw(snapshots()), explain=draw(st.booleans()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def debtors(draw: st.DrawFn) -> pb.Debtor:
    """A person from the first drawn case, an account from each (sometimes the same id twice)."""
    cases = draw(st.lists(snapshots(), min_size=1, max_size=3))
    first = cases[0]
    person = pb.Debtor(
        debtor_id=first.case_id, country=first.country, region=first.region, time_zone=first.time_zone, language=first.language,
        consents=first.consents, gdpr=first.gdpr, legal=first.legal, preferred_channel=first.preferred_channel,
        third_party_collector=first.third_party_collector, contacts=first.prior_contacts,
    )
    for case in cases:
        person.accounts.add(
            account_id=case.case_id, amount_due=case.amount_due, currency=case.currency, days_past_due=case.days_past_due, segment=case.segment,
            product=case.product, legal=case.legal, payment=case.payment, prior_contacts=case.prior_contacts, arrangements=case.arrangements,
        )
    return person


@st.composite
def debtor_requests(draw: st.DrawFn) -> pb.DecideDebtorRequest:
    request = pb.DecideDebtorRequest(explain=draw(st.booleans()))
    if draw(st.integers(0, 9)):
        request.debtor.CopyFrom(draw(debtors()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def debtor_batch_requests(draw: st.DrawFn) -> pb.DecideDebtorBatchRequest:
    request = pb.DecideDebtorBatchRequest(debtors=draw(st.lists(debtors(), max_size=3)), explain=draw(st.booleans()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def debtor_stream_requests(draw: st.DrawFn) -> pb.DecideDebtorStreamRequest:
    request = pb.DecideDebtorStreamRequest(debtor=draw(debtors()), explain=draw(st.booleans()))
    return with_as_of(request, draw)  # type: ignore[return-value]


@st.composite
def mutated(draw: st.DrawFn, messages: st.SearchStrategy[Message]) -> bytes:
    """A message's bytes with a few bytes flipped, inserted or removed, or cut short."""
    data = bytearray(draw(messages).SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 8))]
        else:
            del data[where:]
    return bytes(data)


STOP_FLAGS = ("deceased", "bankruptcy", "cease_and_desist")


def assert_never_contacted(case: pb.CaseSnapshot, decision: pb.Decision) -> None:
    if any(getattr(case.legal, flag) for flag in STOP_FLAGS):
        assert decision.channel == pb.CHANNEL_UNSPECIFIED and not decision.HasField("window"), (decision.action, decision.channel)


# --- properties, in process -------------------------------------------------------------------


@PROFILE
@given(request=decide_requests())
def test_decide_answers_a_decision_or_invalid_argument(servicer: CollectionStrategyServicer, request: pb.DecideRequest) -> None:
    answers, _ = call(servicer, "Decide", request.SerializeToString())
    for answer in answers:
        assert isinstance(answer, pb.DecideResponse)
        assert_never_contacted(request.case, answer.decision)


@PROFILE
@given(request=batch_requests())
def test_batch_answers_each_case_with_a_decision_or_its_error(servicer: CollectionStrategyServicer, request: pb.DecideBatchRequest) -> None:
    answers, context = call(servicer, "DecideBatch", request.SerializeToString())
    assert context.status is None, context.details  # a batch of at most 4 is never refused as a whole
    [answer] = answers
    assert len(answer.results) == len(request.cases)
    for case, result in zip(request.cases, answer.results):
        assert result.WhichOneof("outcome") in ("decision", "error")
        if result.HasField("error"):
            assert result.case_id == cut(case.case_id, MAX_FIELD_BYTES)  # an invalid case_id is not echoed in full
            assert result.error.field_violations and result.error.message.startswith("invalid case: ")
        else:
            assert result.case_id == case.case_id
            assert_never_contacted(case, result.decision)


@PROFILE
@given(request=stream_requests())
def test_stream_answers_each_case_with_a_decision_or_its_error(servicer: CollectionStrategyServicer, request: pb.DecideStreamRequest) -> None:
    answers, context = call(servicer, "DecideStream", request.SerializeToString())
    assert context.status is None and len(answers) == 2, context.details
    for answer in answers:
        assert isinstance(answer, pb.DecideStreamResponse)
        if answer.result.HasField("decision"):
            assert_never_contacted(request.case, answer.result.decision)


@PROFILE
@given(request=debtor_requests())
def test_decide_debtor_answers_a_decision_or_invalid_argument(servicer: CollectionStrategyServicer, request: pb.DecideDebtorRequest) -> None:
    answers, _ = call(servicer, "DecideDebtor", request.SerializeToString())
    for answer in answers:
        assert isinstance(answer, pb.DecideDebtorResponse)
        person = request.debtor
        if any(getattr(person.legal, flag) or any(getattr(item.legal, flag) for item in person.accounts) for flag in STOP_FLAGS):
            assert answer.decision.channel == pb.CHANNEL_UNSPECIFIED and all(item.channel == pb.CHANNEL_UNSPECIFIED for item in answer.decision.accounts)


@PROFILE
@given(request=debtor_batch_requests())
def test_debtor_batch_answers_each_debtor_with_a_decision_or_its_error(servicer: CollectionStrategyServicer, request: pb.DecideDebtorBatchRequest) -> None:
    answers, context = call(servicer, "DecideDebtorBatch", request.SerializeToString())
    assert context.status is None, context.details  # at most 9 accounts: never refused as a whole
    [answer] = answers
    assert len(answer.results) == len(request.debtors)
    assert all(result.WhichOneof("outcome") in ("decision", "error") for result in answer.results)


MUTATED = {
    "Decide": decide_requests(), "DecideBatch": batch_requests(), "DecideStream": stream_requests(), "GetPolicy": decide_requests(),
    "DecideDebtor": debtor_requests(), "DecideDebtorBatch": debtor_batch_requests(), "DecideDebtorStream": debtor_stream_requests(),
}


@PROFILE
@given(method=st.sampled_from(sorted(MUTATED)), data=st.data())
def test_mutated_bytes_are_answered_or_refused_as_invalid(servicer: CollectionStrategyServicer, method: str, data: st.DataObject) -> None:
    messages = MUTATED[method]
    raw = data.draw(st.one_of(mutated(messages), st.binary(max_size=64)))
    answers, context = call(servicer, method, raw)
    if context.status is not None:
        assert any(words in context.details for words in ("not a valid", "invalid case", "invalid debtor", "is required")), context.details


# --- raw bytes against a real server ----------------------------------------------------------


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    # The shipped rules without their acceptance checks: this is about the transport, not the policy tests.
    running: RunningServer = start_server(ServerConfig(port=0, rules_dir=REPO / "rules", reuse_port=False, reload_seconds=0), PolicyRegistry(REPO / "rules"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield channel
    finally:
        running.stop(0)


@SERVER_PROFILE
@given(method=st.sampled_from(["Decide", "DecideBatch", "DecideStream", "GetPolicy"]), data=st.data())
def test_a_real_server_answers_any_bytes_with_ok_or_invalid_argument(channel: grpc.Channel, method: str, data: st.DataObject) -> None:
    messages: st.SearchStrategy[Message] = {"Decide": decide_requests(), "DecideBatch": batch_requests(), "DecideStream": stream_requests(), "GetPolicy": decide_requests()}[method]
    raw = data.draw(st.one_of(st.binary(max_size=256), mutated(messages), messages.map(lambda message: message.SerializeToString())))
    path = f"/collection_strategy.v1.CollectionStrategyService/{method}"
    try:
        if method == "DecideStream":
            list(channel.stream_stream(path)(iter([raw, raw]), timeout=30))
        else:
            channel.unary_unary(path)(raw, timeout=30)
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())

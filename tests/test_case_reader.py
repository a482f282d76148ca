"""The fast reader (transport/case_reader.py) agrees with validation, and the servicer's answers do not change.

Whenever read_case returns a snapshot, parse_snapshot(snapshot_data(case)) returns an
equal one: the same values of the same types (a Decimal written alike, an instant in
UTC), the same fields set; whenever validation refuses a case, the reader declines it.
Cases come from the proto fuzzer (tests/test_proto_fuzz.py: anything at all) and from
the synthetic portfolio with one field changed (mostly valid, so that the reader's
accepting branch is exercised as much as its declining one). Decided through the
servicer, every portfolio case and every example request gives the same bytes with
the reader on and off.
"""

from __future__ import annotations

import typing
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.authoring.portfolio import synthetic_portfolio
from engine.errors import InvalidSnapshot
from engine.registry import PolicyRegistry
from engine.snapshot import CaseSnapshot, PriorContact, parse_snapshot
from tests.test_proto_fuzz import AS_OF as FUZZ_AS_OF
from tests.test_proto_fuzz import Aborted, Context, any_text, scribble, snapshots, timestamps
from transport import case_reader
from transport.case_reader import read_case
from transport.mapping import case_from_data, snapshot_data, timestamp
from transport.servicer import CollectionStrategyServicer
from transport.streams import StreamLimits

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
assert AS_OF == datetime.fromtimestamp(FUZZ_AS_OF, timezone.utc)  # the fuzzer's contacts are drawn before it
PORTFOLIO = [case_from_data(data) for data in synthetic_portfolio(5000, AS_OF, seed=11)]
PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the same snapshot, value for value -------------------------------------------------------


def assert_same(read: Any, validated: Any, where: str = "case") -> None:
    """Equal, and alike down to every value's type: == alone would take Decimal("1.10")
    for Decimal("1.1"), an instant in another zone for the same instant, 1 for True."""
    assert type(read) is type(validated), f"{where}: {type(read).__name__} is not {type(validated).__name__}"
    if isinstance(validated, BaseModel):
        assert read.model_fields_set == validated.model_fields_set, f"{where}: fields set"
        assert read.__pydantic_extra__ == validated.__pydantic_extra__ and read.__pydantic_private__ == validated.__pydantic_private__, where
        assert list(read.__dict__) == list(validated.__dict__), f"{where}: field order"
        for name in type(validated).model_fields:
            assert_same(getattr(read, name), getattr(validated, name), f"{where}.{name}")
    elif isinstance(validated, (list, tuple)):
        assert len(read) == len(validated), f"{where}: length"
        for index, (mine, theirs) in enumerate(zip(read, validated)):
            assert_same(mine, theirs, f"{where}[{index}]")
    elif isinstance(validated, dict):
        assert list(read) == list(validated), f"{where}: keys"
        for key in validated:
            assert_same(read[key], validated[key], f"{where}[{key!r}]")
    elif isinstance(validated, datetime):
        assert read == validated and type(read.tzinfo) is type(validated.tzinfo) and read.utcoffset() == validated.utcoffset(), where
    elif isinstance(validated, Decimal):
        assert str(read) == str(validated), where
    elif isinstance(validated, float) and validated != validated:  # NaN is refused, but say so if it ever is not
        raise AssertionError(f"{where}: NaN accepted")
    else:
        assert read == validated, f"{where}: {read!r} != {validated!r}"


def agrees(case: pb.CaseSnapshot, as_of: datetime = AS_OF) -> CaseSnapshot | None:
    """The reader's answer, checked against validation's."""
    read = read_case(case, as_of)
    try:
        validated = parse_snapshot(snapshot_data(case), as_of)
    except InvalidSnapshot:
        assert read is None, "the reader accepted a case validation refuses"
        return None
    if read is not None:
        assert read == validated
        assert read.model_dump() == validated.model_dump()
        assert read.model_dump_json() == validated.model_dump_json()
        assert_same(read, validated)
    return read


# --- cases: the fuzzer's, and the portfolio's with one field changed -------------------------------

texts = st.one_of(any_text, st.sampled_from(["", "a", "x\n", "A" * 64, "a" * 65, "a" * 129, "ß", "١٢", " 1"]))
day_texts = st.one_of(st.sampled_from(["", "2026-11-30", "2026-02-30", "1969-12-31", "9000-01-01", "2026-1-1", "20261130", "soon"]), any_text)
enum_numbers = st.one_of(st.integers(0, 9), st.integers(-(2**31), 2**31 - 1))
stamps = st.one_of(
    timestamps,
    st.builds(Timestamp, seconds=st.integers(FUZZ_AS_OF - 86400, FUZZ_AS_OF + 86400), nanos=st.sampled_from([0, 999_999_999, 500_000])),
    st.sampled_from([Timestamp(seconds=0), Timestamp(seconds=0, nanos=1), Timestamp(seconds=-1), Timestamp(seconds=32503680000)]),
)


def _set_text(field: str, values: list[str]) -> Any:
    return lambda draw, case: setattr(case, field, draw(st.one_of(st.sampled_from(values), texts)))


def _contact_field(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    if not case.prior_contacts:
        case.prior_contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED).at.CopyFrom(Timestamp(seconds=FUZZ_AS_OF - 3600))
    contact = case.prior_contacts[draw(st.integers(0, len(case.prior_contacts) - 1))]
    field = draw(st.sampled_from(["channel", "outcome", "direction", "delivery", "action", "template", "at", "no at", "account_ids"]))
    if field in ("channel", "outcome", "direction", "delivery"):
        setattr(contact, field, draw(enum_numbers))
    elif field == "action":
        contact.action = draw(st.one_of(st.sampled_from(["", "CALL", "FINAL_NOTICE", "call", "NO_CONTACT", "SEND_REMINDER "]), texts))
    elif field == "template":
        contact.template = draw(st.one_of(st.sampled_from(["", "reminder-1", "Reminder", "a" * 80, "a" * 81, "x.y_z-1"]), texts))
    elif field == "at":
        contact.at.CopyFrom(draw(stamps))
    elif field == "no at":
        contact.ClearField("at")
    else:
        contact.account_ids.extend(draw(st.lists(texts, min_size=1, max_size=2)))


def _payment(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    field = draw(st.sampled_from(["broken_promises", "last_payment_at", "promise_to_pay_date"]))
    if field == "broken_promises":
        case.payment.broken_promises = draw(st.one_of(st.integers(-2, 1002), st.integers(-(2**31), 2**31 - 1)))
    elif field == "last_payment_at":
        case.payment.last_payment_at.CopyFrom(draw(stamps))
    else:
        case.payment.promise_to_pay_date = draw(day_texts)


def _flags(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    group = getattr(case, draw(st.sampled_from(["consents", "gdpr", "legal"])))
    field = draw(st.sampled_from([field.name for field in group.DESCRIPTOR.fields]))
    setattr(group, field, draw(day_texts) if field == "breathing_space_start" else draw(st.booleans()))


def _attributes(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    keys = st.one_of(st.sampled_from(["risk_band", "a" * 48, "a" * 49, "Risk", "1st", "x y"]), texts)
    case.attributes.update(draw(st.dictionaries(keys, st.one_of(texts, st.just("v" * 257)), min_size=1, max_size=3)))
    if draw(st.integers(0, 9)) == 0:
        case.attributes.update({f"k{index}": "v" for index in range(33)})


def _inputs(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    value = pb.InputValue()
    kind = draw(st.sampled_from(["number", "integer", "text", "boolean", "date", "none"]))
    if kind == "number":
        value.number = draw(st.one_of(st.floats(), st.sampled_from([1e12, -1e12, 999999999999.9, 0.42])))
    elif kind == "integer":
        value.integer = draw(st.one_of(st.integers(-(10**13), 10**13), st.sampled_from([10**12, 10**12 - 1, 87])))
    elif kind == "text":
        value.text = draw(st.one_of(texts, st.just("t" * 257)))
    elif kind == "boolean":
        value.boolean = draw(st.booleans())
    elif kind == "date":
        value.date = draw(day_texts)
    key = draw(st.one_of(st.sampled_from(["self_cure_score", "score", "Score", "a" * 49]), texts))
    case.inputs[key].CopyFrom(value)


def _hours(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    clock = st.one_of(st.sampled_from(["09:00", "17:00", "00:00", "23:59", "24:00", "9:00", "08:60", "", "09:00:00"]), texts)
    if draw(st.integers(0, 5)) == 0:
        case.ClearField("preferred_hours")
    else:
        case.preferred_hours.CopyFrom(pb.ContactHours(opens=draw(clock), closes=draw(clock)))


ARRANGED = [case for case in PORTFOLIO[:1000] if case.arrangements]


def _arrangement_field(draw: st.DrawFn, case: pb.CaseSnapshot) -> None:
    if not case.arrangements:  # another case's: in another currency or after as_of now and then
        case.arrangements.extend(draw(st.sampled_from(ARRANGED)).arrangements)
    arrangement = case.arrangements[draw(st.integers(0, len(case.arrangements) - 1))]
    field = draw(st.sampled_from(["arrangement_id", "type", "agreed_at", "agreed_on", "currency", "status", "method", "instalment", "schedule", "payment", "payments"]))
    if field in ("type", "agreed_on", "status", "method"):
        setattr(arrangement, field, draw(enum_numbers))
    elif field == "arrangement_id":
        arrangement.arrangement_id = draw(st.one_of(st.sampled_from(["plan-1", "", "a" * 64, "a" * 65, "-x"]), texts))
    elif field == "agreed_at":
        if draw(st.booleans()):
            arrangement.agreed_at.CopyFrom(draw(stamps))
        else:
            arrangement.ClearField("agreed_at")
    elif field == "currency":
        arrangement.currency = draw(st.one_of(st.sampled_from(["", "EUR", "PLN", "eur", "GBP", "USD"]), texts))
    elif field == "instalment" and arrangement.schedule:
        item = arrangement.schedule[draw(st.integers(0, len(arrangement.schedule) - 1))]
        if draw(st.booleans()):
            item.due_date = draw(day_texts)
        else:
            item.amount = draw(st.one_of(st.sampled_from(["0", "1.5", "1.005", "-1", "99999", "1e3"]), texts))
    elif field == "schedule":
        choice = draw(st.integers(0, 2))
        if choice == 0:
            arrangement.ClearField("schedule")
        elif choice == 1:
            arrangement.schedule.extend([pb.Instalment(due_date="2026-12-01", amount="1.00")] * draw(st.sampled_from([1, 121])))
        else:
            items = list(arrangement.schedule)
            arrangement.ClearField("schedule")
            arrangement.schedule.extend(reversed(items))
    elif field == "payment" and arrangement.payments:
        payment = arrangement.payments[draw(st.integers(0, len(arrangement.payments) - 1))]
        which = draw(st.sampled_from(["amount", "paid_at", "posted_at", "no paid_at", "method"]))
        if which == "amount":
            payment.amount = draw(st.one_of(st.sampled_from(["0", "1.5", "1.005", "100000", ""]), texts))
        elif which == "no paid_at":
            payment.ClearField("paid_at")
        elif which == "method":
            payment.method = draw(enum_numbers)
        else:
            getattr(payment, which).CopyFrom(draw(stamps))
    else:
        paid = pb.Payment(amount=draw(st.sampled_from(["1.00", "0.5", "1000000"])))
        paid.paid_at.CopyFrom(draw(stamps))
        arrangement.payments.extend([paid] * draw(st.sampled_from([1, 2, 501])))


MUTATIONS = [
    _set_text("case_id", ["case-1", "c:2/x", "_x", "a" * 128, "a" * 129]),
    _set_text("country", ["PL", "pl", "XX", "GB", "us", "Pl"]),
    _set_text("region", ["14", "MA", "ma", "ZZZ", "CA", "1234", "SCT"]),
    _set_text("time_zone", ["Europe/Warsaw", "UTC", "localtime", "Factory", "posix/Europe/Warsaw", "europe/warsaw"]),
    _set_text("amount_due", ["0", "0.00", "1.005", "1.5", "-1", "1e3", "999999999999.99", "1000000000000", "12,50", "1.", ".5", "007.10"]),
    _set_text("currency", ["EUR", "eur", "JPY", "XXX", "XAU", "ABC", "XAF", "€€€"]),
    lambda draw, case: setattr(case, "days_past_due", draw(st.one_of(st.integers(-3651, 36501), st.sampled_from([-3650, -3651, 36500, 36501])))),
    _set_text("segment", ["retail", "", "Retail-1", "a" * 64]),
    _set_text("product", ["", "card", "a" * 64]),
    _set_text("language", ["", "en", "pl-PL", "sr-Latn-RS", "xx-YY", "e", "english"]),
    lambda draw, case: setattr(case, "preferred_channel", draw(enum_numbers)),
    lambda draw, case: setattr(case, "third_party_collector", draw(st.booleans())),
    _contact_field, _contact_field, _contact_field, _payment, _flags, _attributes, _inputs, _hours,
    _arrangement_field, _arrangement_field, _arrangement_field,
    lambda draw, case: scribble(draw, case),  # anything at all, in about a field in four
]


@st.composite
def portfolio_cases(draw: st.DrawFn) -> pb.CaseSnapshot:
    """A portfolio case, mostly with one field changed (now and then two, or none)."""
    case = pb.CaseSnapshot()
    case.CopyFrom(draw(st.sampled_from(PORTFOLIO[:400])))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        draw(st.sampled_from(MUTATIONS))(draw, case)
    return case


as_ofs = st.one_of(st.just(AS_OF), st.just(AS_OF), st.sampled_from([AS_OF - timedelta(days=30), datetime(1970, 1, 1, tzinfo=timezone.utc), AS_OF + timedelta(days=1)]))


@PROPERTY
@given(case=portfolio_cases(), as_of=as_ofs)
def test_what_the_reader_accepts_validation_accepts_alike(case: pb.CaseSnapshot, as_of: datetime) -> None:
    agrees(case, as_of)


@PROPERTY
@given(case=snapshots(), as_of=as_ofs)
def test_the_reader_agrees_with_validation_on_anything_the_fuzzer_sends(case: pb.CaseSnapshot, as_of: datetime) -> None:
    agrees(case, as_of)


def test_the_reader_accepts_every_portfolio_case() -> None:
    declined = [case.case_id for case in PORTFOLIO if agrees(case) is None]
    assert not declined, f"declined {len(declined)} valid cases, e.g. {declined[:5]}"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda case: case.prior_contacts[0].at.CopyFrom(timestamp(AS_OF + timedelta(seconds=1))), id="contact after as_of"),
        pytest.param(lambda case: case.payment.last_payment_at.CopyFrom(timestamp(AS_OF + timedelta(seconds=1))), id="payment after as_of"),
        pytest.param(lambda case: setattr(case, "amount_due", "10.001"), id="more places than the currency"),
        pytest.param(lambda case: setattr(case, "region", "ZZ"), id="region not in the country"),
        pytest.param(lambda case: case.prior_contacts[0].account_ids.append("acc-1"), id="a case's contact naming accounts"),
        pytest.param(lambda case: case.prior_contacts.extend([case.prior_contacts[0]] * 501), id="more contacts than allowed"),
        pytest.param(lambda case: case.preferred_hours.CopyFrom(pb.ContactHours(opens="17:00", closes="09:00")), id="hours out of order"),
        pytest.param(lambda case: setattr(case.prior_contacts[0], "channel", 99), id="an enum number from a newer client"),
        pytest.param(lambda case: case.inputs["score"].CopyFrom(pb.InputValue()), id="an input without a value"),
        pytest.param(lambda case: setattr(case, "case_id", "-1"), id="case_id"),
        pytest.param(lambda case: setattr(case, "segment", "retail\n"), id="segment"),
        pytest.param(lambda case: setattr(case, "product", "a" * 65), id="product"),
        pytest.param(lambda case: setattr(case, "days_past_due", 36501), id="days_past_due"),
        pytest.param(lambda case: setattr(case, "country", "ZZ"), id="country"),
        pytest.param(lambda case: setattr(case, "currency", "XAU"), id="currency not money"),
        pytest.param(lambda case: setattr(case, "time_zone", "localtime"), id="time_zone"),
        pytest.param(lambda case: setattr(case, "language", "english"), id="language"),
        pytest.param(lambda case: setattr(case.payment, "broken_promises", 1001), id="broken_promises"),
        pytest.param(lambda case: setattr(case.payment, "promise_to_pay_date", "2026-02-30"), id="promise_to_pay_date"),
        pytest.param(lambda case: setattr(case.legal, "breathing_space_start", "1969-12-31"), id="breathing_space_start"),
        pytest.param(lambda case: setattr(case.prior_contacts[0], "template", "Reminder"), id="template"),
        pytest.param(lambda case: setattr(case.prior_contacts[0], "action", "call"), id="action"),
        pytest.param(lambda case: case.prior_contacts[0].ClearField("at"), id="contact without at"),
        pytest.param(lambda case: case.attributes.update({"Risk": "a"}), id="attribute key"),
        pytest.param(lambda case: case.attributes.update({"note": "v" * 257}), id="attribute value"),
        pytest.param(lambda case: case.inputs["score"].CopyFrom(pb.InputValue(number=1e12)), id="input number"),
        pytest.param(lambda case: case.inputs["Score"].CopyFrom(pb.InputValue(integer=1)), id="input key"),
        pytest.param(lambda case: case.arrangements.extend(list(ARRANGED[0].arrangements) * 51), id="more arrangements than allowed"),
        pytest.param(lambda case: case.arrangements.add().CopyFrom(pb.Arrangement(arrangement_id="a", type=1)), id="an arrangement without a schedule"),
    ],
)
def test_the_reader_declines_what_validation_refuses(change: Any) -> None:
    case = pb.CaseSnapshot()
    case.CopyFrom(next(case for case in PORTFOLIO if case.prior_contacts and not case.arrangements and case.country == "PL"))
    case.currency, case.amount_due = "PLN", "100.00"  # so that an arrangement of ARRANGED (in PLN) may be added
    assert agrees(case) is not None
    change(case)
    assert read_case(case, AS_OF) is None
    with pytest.raises(InvalidSnapshot):
        parse_snapshot(snapshot_data(case), AS_OF)


def _arranged(change: Any) -> pb.CaseSnapshot:
    case = pb.CaseSnapshot()
    case.CopyFrom(next(case for case in ARRANGED if case.arrangements[0].payments and len(case.arrangements[0].schedule) > 1))
    assert agrees(case) is not None
    change(case.arrangements[0])
    return case


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda item: setattr(item, "arrangement_id", "-1"), id="arrangement_id"),
        pytest.param(lambda item: setattr(item, "type", 99), id="type"),
        pytest.param(lambda item: item.agreed_at.CopyFrom(timestamp(AS_OF + timedelta(seconds=1))), id="agreed after as_of"),
        pytest.param(lambda item: setattr(item, "currency", "USD" if item.currency != "USD" else "EUR"), id="another currency"),
        pytest.param(lambda item: setattr(item.schedule[1], "due_date", "1970-01-01"), id="due dates out of order"),
        pytest.param(lambda item: setattr(item.schedule[0], "amount", "1.001"), id="instalment places"),
        pytest.param(lambda item: setattr(item.payments[0], "amount", "999999"), id="paid beyond the schedule"),
        pytest.param(lambda item: item.payments[0].posted_at.CopyFrom(timestamp(AS_OF - timedelta(days=3000))), id="posted before paid"),
        pytest.param(lambda item: item.payments[0].paid_at.CopyFrom(timestamp(AS_OF + timedelta(seconds=1))), id="paid after as_of"),
        pytest.param(lambda item: setattr(item.payments[0], "method", 99), id="payment method"),
        pytest.param(lambda item: setattr(item, "status", 99), id="status"),
    ],
)
def test_the_reader_declines_an_arrangement_validation_refuses(change: Any) -> None:
    case = _arranged(change)
    assert read_case(case, AS_OF) is None
    with pytest.raises(InvalidSnapshot):
        parse_snapshot(snapshot_data(case), AS_OF)


def test_an_instant_as_of_out_of_range_or_naive_is_left_to_validation() -> None:
    case = next(case for case in PORTFOLIO if not case.arrangements)
    assert read_case(case, AS_OF.replace(tzinfo=None)) is None
    assert read_case(case, datetime(9000, 1, 2, tzinfo=timezone.utc)) is None


# --- the reader knows every field ---------------------------------------------------------------


def _models(model: type[BaseModel], seen: dict[type[BaseModel], None]) -> dict[type[BaseModel], None]:
    """The model and every model its fields hold, at any depth."""
    seen[model] = None
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                if kind not in seen:
                    _models(kind, seen)
            else:
                stack.extend(typing.get_args(kind))
    return seen


# Models the reader declines whole (a case with any arrangement takes the validated path).
DECLINED: set[str] = set()


def test_the_reader_reads_every_field_of_every_model_a_snapshot_holds() -> None:
    assert case_reader.COVERED
    models = _models(CaseSnapshot, {})
    read = {model for model in models if model.__name__ not in DECLINED}
    assert read == set(case_reader.READ_FIELDS), "a model the reader does not know: read it, or decline every case that holds it"
    for model in read:
        assert case_reader.READ_FIELDS[model] == tuple(model.model_fields), f"{model.__name__}: the reader does not read its fields as the model lists them"


def test_a_field_the_reader_does_not_read_turns_the_reader_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(case_reader.READ_FIELDS, PriorContact, case_reader.READ_FIELDS[PriorContact][:-1])
    assert not case_reader._covered()
    monkeypatch.setattr(case_reader, "COVERED", case_reader._covered())
    assert read_case(next(case for case in PORTFOLIO if not case.arrangements), AS_OF) is None


# --- through the servicer: the same answers, byte for byte -----------------------------------------


@pytest.fixture(scope="module")
def servicer() -> CollectionStrategyServicer:
    return CollectionStrategyServicer(PolicyRegistry(REPO / "rules"), StreamLimits(max_streams=4, idle_seconds=30))


def _answer(servicer: CollectionStrategyServicer, request: pb.DecideRequest) -> bytes:
    context = Context()
    try:
        response = servicer.Decide(request.SerializeToString(), context)
    except Aborted:
        return f"{context.status}: {context.details}".encode()
    response.decision.decision_id = ""
    return bytes(response.SerializeToString(deterministic=True))


def _example_requests() -> list[pb.DecideRequest]:
    examples = REPO / "client_examples" / "cases"
    requests = [json_format.Parse((examples / "decide_request.json").read_text(encoding="utf-8"), pb.DecideRequest())]
    cases = [(examples / "sample_case.json").read_text(encoding="utf-8")]
    cases += [line for line in (examples / "sample_cases.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    requests += [pb.DecideRequest(case=json_format.Parse(text, pb.CaseSnapshot()), as_of=timestamp(AS_OF)) for text in cases]
    return requests


def test_every_portfolio_case_and_example_gets_the_same_answer_with_the_reader_on_and_off(
    servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _example_requests()
    # Each at its own instant, as calls at the server's clock are; every 50th explained (the trace holds the facts).
    requests += [pb.DecideRequest(case=case, as_of=timestamp(AS_OF + timedelta(seconds=index)), explain=index % 50 == 0) for index, case in enumerate(PORTFOLIO)]
    read = sum(read_case(request.case, AS_OF + timedelta(days=1)) is not None for request in requests)
    assert read >= 0.99 * len(requests), f"the reader took only {read} of {len(requests)} cases: this test would compare little"
    on = [_answer(servicer, request) for request in requests]
    monkeypatch.setattr(case_reader, "ENABLED", False)
    off = [_answer(servicer, request) for request in requests]
    different = [request.case.case_id for request, mine, theirs in zip(requests, on, off) if mine != theirs]
    assert not different, f"{len(different)} answers differ, e.g. {different[:5]}"


def test_a_bad_case_is_refused_with_the_same_error_with_the_reader_on(servicer: CollectionStrategyServicer) -> None:
    case = pb.CaseSnapshot()
    case.CopyFrom(PORTFOLIO[0])
    case.amount_due = "12,50"
    answer = _answer(servicer, pb.DecideRequest(case=case, as_of=timestamp(AS_OF)))
    assert answer.startswith(b"StatusCode.INVALID_ARGUMENT") and b"case.amount_due" in answer


def test_values_have_the_types_validation_gives() -> None:
    """A spot check beside assert_same: what the engine computes with."""
    case = next(case for case in PORTFOLIO if not case.arrangements and case.payment.HasField("last_payment_at") and case.inputs)
    snapshot = read_case(case, AS_OF)
    assert snapshot is not None
    assert isinstance(snapshot.amount_due, Decimal) and snapshot.payment.last_payment_at is not None
    assert snapshot.payment.last_payment_at.tzinfo is timezone.utc
    assert all(isinstance(contact.channel, Enum) and contact.at.tzinfo is timezone.utc for contact in snapshot.prior_contacts)
    assert isinstance(snapshot.inputs["self_cure_score"], int)
    assert snapshot.legal.breathing_space_start is None or isinstance(snapshot.legal.breathing_space_start, date)

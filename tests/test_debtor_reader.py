"""The fast debtor reader (transport/debtor_reader.py) agrees with validation, and DecideDebtor's answers do not change.

Whenever read_debtor returns a debtor, parse_debtor(debtor_data(debtor)) returns an
equal one: the same values of the same types, the same fields set (assert_same, as for
cases); whenever validation refuses a debtor, the reader declines it. Debtors come from
the proto fuzzer (tests/test_proto_fuzz.py) and from the synthetic portfolio's debtors
with one field of the person or of an account changed (mostly valid, so that the
reader's accepting branch is exercised as much as its declining one). Decided through
the servicer, every portfolio debtor gives the same bytes with the reader on and off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.authoring.portfolio_debtors import synthetic_debtors
from engine.debtor import decide_debtor
from engine.debtor_snapshot import Account, DebtorSnapshot, parse_debtor
from engine.decision import Decision
from engine.engine import DEFAULT_REVIEW
from engine.errors import InvalidSnapshot
from engine.registry import PolicyRegistry
from tests.test_case_reader import (
    AS_OF, PROPERTY, REPO, _arrangement_field, _attributes, _contact_field, _flags, _hours, _inputs, _payment, _set_text, as_ofs, assert_same,
    day_texts, enum_numbers, texts,
)
from tests.test_proto_fuzz import Aborted, Context, debtors, scribble
from transport import debtor_reader, servicer as servicer_module
from transport.debtor_mapping import debtor_data, debtor_from_data
from transport.debtor_reader import read_debtor
from transport.mapping import timestamp
from transport.servicer import CollectionStrategyServicer
from transport.streams import StreamLimits

PORTFOLIO = [debtor_from_data(data) for data in synthetic_debtors(2000, AS_OF, seed=11)]
SEVERAL = [debtor for debtor in PORTFOLIO if len(debtor.accounts) > 1]


def agrees(debtor: pb.Debtor, as_of: datetime = AS_OF) -> DebtorSnapshot | None:
    """The reader's answer, checked against validation's."""
    read = read_debtor(debtor, as_of)
    try:
        validated = parse_debtor(debtor_data(debtor), as_of)
    except InvalidSnapshot:
        assert read is None, "the reader accepted a debtor validation refuses"
        return None
    if read is not None:
        assert read == validated
        assert read.model_dump() == validated.model_dump()
        assert read.model_dump_json() == validated.model_dump_json()
        assert_same(read, validated, "debtor")
    return read


# --- debtors: the fuzzer's, and the portfolio's with one field changed -------------------------

# What the case's mutations change on a person (pb.Debtor has these fields as a case does).
PERSON = [
    _set_text("debtor_id", ["debtor-1", "d:2/x", "_x", "a" * 128, "a" * 129]),
    _set_text("country", ["PL", "pl", "XX", "GB", "us"]),
    _set_text("region", ["14", "MA", "ma", "ZZZ", "CA", "1234"]),
    _set_text("time_zone", ["Europe/Warsaw", "UTC", "localtime", "europe/warsaw"]),
    _set_text("language", ["", "en", "pl-PL", "english"]),
    lambda draw, debtor: setattr(debtor, "preferred_channel", draw(enum_numbers)),
    lambda draw, debtor: setattr(debtor, "third_party_collector", draw(st.booleans())),
    _flags, _attributes, _inputs, _hours,
]
# And on an account (pb.Account has these fields as a case does).
ACCOUNT = [
    _set_text("account_id", ["acc-1", "c:2/x", "_x", "a" * 128, "a" * 129]),
    _set_text("amount_due", ["0", "1.005", "1.5", "-1", "1e3", "1000000000000", "12,50"]),
    _set_text("currency", ["EUR", "eur", "JPY", "XAU", "PLN", "USD", "GBP"]),
    lambda draw, account: setattr(account, "days_past_due", draw(st.sampled_from([-3650, -3651, 0, 36500, 36501]))),
    _set_text("segment", ["retail", "", "Retail-1", "a" * 65]),
    _set_text("product", ["", "card", "a" * 65]),
    _set_text("debtor_id", ["", "someone-else"]),
    _set_text("country", ["", "PL", "GB", "US", "pl", "XX"]),
    _contact_field, _contact_field, _payment, _attributes, _inputs, _arrangement_field,
]


def _account_flag(draw: st.DrawFn, account: pb.Account) -> None:
    group = getattr(account, draw(st.sampled_from(["legal", "gdpr"])))
    field = draw(st.sampled_from([field.name for field in group.DESCRIPTOR.fields]))
    setattr(group, field, draw(day_texts) if field == "breathing_space_start" else draw(st.booleans()))


def _person_contact(draw: st.DrawFn, debtor: pb.Debtor) -> None:
    """A person-level contact naming the debtor's accounts, others' or none."""
    if not debtor.contacts or draw(st.booleans()):
        contact = debtor.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED)
        contact.at.CopyFrom(timestamp(AS_OF - timedelta(hours=draw(st.integers(-1, 2000)))))
    contact = debtor.contacts[draw(st.integers(0, len(debtor.contacts) - 1))]
    own = [account.account_id for account in debtor.accounts]
    named = st.one_of(st.sampled_from(own), st.sampled_from(["nobody", "-x", "a" * 129, ""]), texts)
    contact.ClearField("account_ids")
    contact.account_ids.extend(draw(st.lists(named, max_size=3)) if draw(st.integers(0, 9)) else own * 26)


def _accounts(draw: st.DrawFn, debtor: pb.Debtor) -> None:
    """An account listed twice, another person's, one too many, or none at all."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        debtor.accounts.add().CopyFrom(draw(st.sampled_from(list(debtor.accounts))))
    elif choice == 1:
        debtor.accounts.add().CopyFrom(draw(st.sampled_from(SEVERAL)).accounts[0])
    elif choice == 2:
        debtor.accounts.extend([debtor.accounts[0]] * draw(st.sampled_from([1, 50])))
        for index, account in enumerate(debtor.accounts):
            account.account_id = f"acc-{index}"
    else:
        debtor.ClearField("accounts")


def _on_account(mutation: Any) -> Any:
    def change(draw: st.DrawFn, debtor: pb.Debtor) -> None:
        mutation(draw, debtor.accounts[draw(st.integers(0, len(debtor.accounts) - 1))])

    return change


MUTATIONS = [
    *PERSON, *(_on_account(mutation) for mutation in ACCOUNT), _on_account(_account_flag), _on_account(_account_flag),
    _person_contact, _person_contact, _accounts,
    lambda draw, debtor: scribble(draw, debtor),  # anything at all, in about a field in four
    _on_account(lambda draw, account: scribble(draw, account)),
]


@st.composite
def portfolio_debtors(draw: st.DrawFn) -> pb.Debtor:
    """A portfolio debtor (half of them with several accounts), mostly with one field changed (now and then two, or none)."""
    debtor = pb.Debtor()
    debtor.CopyFrom(draw(st.sampled_from(PORTFOLIO[:200] + SEVERAL[:200])))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        if debtor.accounts:
            draw(st.sampled_from(MUTATIONS))(draw, debtor)
    return debtor


@PROPERTY
@given(debtor=portfolio_debtors(), as_of=as_ofs)
def test_what_the_reader_accepts_validation_accepts_alike(debtor: pb.Debtor, as_of: datetime) -> None:
    agrees(debtor, as_of)


@settings(PROPERTY, max_examples=300)  # each draws up to three fuzzed cases: the slowest test here
@given(debtor=debtors(), as_of=as_ofs)
def test_the_reader_agrees_with_validation_on_anything_the_fuzzer_sends(debtor: pb.Debtor, as_of: datetime) -> None:
    agrees(debtor, as_of)


def test_the_reader_accepts_every_portfolio_debtor() -> None:
    assert any(contact.account_ids for debtor in PORTFOLIO for contact in debtor.contacts), "no contact names accounts: this test would show little"
    declined = [debtor.debtor_id for debtor in PORTFOLIO if agrees(debtor) is None]
    assert not declined, f"declined {len(declined)} valid debtors, e.g. {declined[:5]}"


def _contacts_in_all(debtor: pb.Debtor, total: int) -> None:
    """As many contacts as `total` in all, each list within its own bound (at most 500)."""
    sms = pb.PriorContact(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF))
    total -= len(debtor.contacts) + sum(len(account.prior_contacts) for account in debtor.accounts)
    lists = [debtor.contacts, *(account.prior_contacts for account in debtor.accounts)]
    while total > 0:
        if not lists:
            account = debtor.accounts.add(account_id=f"more-{len(debtor.accounts)}", amount_due="1.00", currency=debtor.accounts[0].currency, segment="retail")
            lists.append(account.prior_contacts)
        room = min(total, 500 - len(lists[-1]))
        lists.pop().extend([sms] * room)
        total -= room


def _other(debtor: pb.Debtor) -> str:
    return "GB" if debtor.country != "GB" else "PL"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.ClearField("accounts"), id="no account"),
        pytest.param(lambda d: d.accounts.extend([d.accounts[0]] * 50), id="more accounts than allowed"),
        pytest.param(lambda d: d.accounts.add().CopyFrom(d.accounts[0]), id="an account listed twice"),
        pytest.param(lambda d: setattr(d.accounts[1], "debtor_id", "someone-else"), id="another debtor's account"),
        pytest.param(lambda d: setattr(d.accounts[1], "country", _other(d)), id="an account in another country"),
        pytest.param(lambda d: setattr(d.accounts[1], "country", "XX"), id="an account's country unknown"),
        pytest.param(lambda d: (d.attributes.update({"risk": "a"}), d.accounts[1].attributes.update({"risk": "b"})), id="attributes contradict"),
        pytest.param(lambda d: (d.inputs["score"].CopyFrom(pb.InputValue(integer=1)), d.accounts[1].inputs["score"].CopyFrom(pb.InputValue(number=1.0))), id="inputs contradict"),
        pytest.param(lambda d: d.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF), account_ids=["nobody"]), id="a contact naming another's account"),
        pytest.param(lambda d: d.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF), account_ids=["-x"]), id="an account id no account has"),
        pytest.param(lambda d: d.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF), account_ids=[d.accounts[0].account_id] * 51), id="a contact naming too many"),
        pytest.param(lambda d: d.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF + timedelta(seconds=1))), id="a person's contact after as_of"),
        pytest.param(lambda d: d.accounts[0].prior_contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF), account_ids=[d.accounts[0].account_id]), id="an account's contact naming accounts"),
        pytest.param(lambda d: _contacts_in_all(d, 2001), id="more contacts in all than allowed"),
        pytest.param(lambda d: setattr(d.accounts[0].legal, "breathing_space_start", "2026-11-01"), id="an account's Breathing Space date"),
        pytest.param(lambda d: setattr(d.accounts[0], "amount_due", "10.001"), id="more places than the currency"),
        pytest.param(lambda d: setattr(d.accounts[0].payment, "broken_promises", 1001), id="broken_promises"),
        pytest.param(lambda d: d.accounts[0].payment.last_payment_at.CopyFrom(timestamp(AS_OF + timedelta(seconds=1))), id="an account's payment after as_of"),
        pytest.param(lambda d: setattr(d.accounts[0], "account_id", "-1"), id="account_id"),
        pytest.param(lambda d: setattr(d.accounts[0], "segment", "retail\n"), id="segment"),
        pytest.param(lambda d: setattr(d.accounts[0], "days_past_due", 36501), id="days_past_due"),
        pytest.param(lambda d: setattr(d.accounts[0], "currency", "XAU"), id="currency not money"),
        pytest.param(lambda d: setattr(d, "debtor_id", "-1"), id="debtor_id"),
        pytest.param(lambda d: setattr(d, "country", "ZZ"), id="country"),
        pytest.param(lambda d: setattr(d, "region", "ZZ"), id="region not in the country"),
        pytest.param(lambda d: setattr(d, "time_zone", "localtime"), id="time_zone"),
        pytest.param(lambda d: setattr(d, "language", "english"), id="language"),
        pytest.param(lambda d: setattr(d, "preferred_channel", 99), id="an enum number from a newer client"),
        pytest.param(lambda d: d.preferred_hours.CopyFrom(pb.ContactHours(opens="17:00", closes="09:00")), id="hours out of order"),
        pytest.param(lambda d: d.attributes.update({"Risk": "a"}), id="attribute key"),
        pytest.param(lambda d: d.inputs["score"].CopyFrom(pb.InputValue()), id="an input without a value"),
        pytest.param(lambda d: setattr(d.legal, "breathing_space_start", "2026-02-30"), id="breathing_space_start"),
    ],
)
def test_the_reader_declines_what_validation_refuses(change: Any) -> None:
    debtor = pb.Debtor()
    debtor.CopyFrom(next(debtor for debtor in SEVERAL if debtor.country == "PL" and len({account.currency for account in debtor.accounts}) == 1))
    assert agrees(debtor) is not None
    change(debtor)
    assert read_debtor(debtor, AS_OF) is None
    with pytest.raises(InvalidSnapshot):
        parse_debtor(debtor_data(debtor), AS_OF)


def test_an_instant_as_of_out_of_range_or_naive_is_left_to_validation() -> None:
    assert read_debtor(PORTFOLIO[0], AS_OF.replace(tzinfo=None)) is None
    assert read_debtor(PORTFOLIO[0], datetime(9000, 1, 2, tzinfo=AS_OF.tzinfo)) is None


# --- the reader knows every field and every validator ---------------------------------------------


def test_the_reader_reads_every_field_and_runs_every_validator_of_the_debtor_models() -> None:
    assert debtor_reader.COVERED
    for model in (DebtorSnapshot, Account):
        assert debtor_reader.READ_FIELDS[model] == tuple(model.model_fields), f"{model.__name__}: the reader does not read its fields as the model lists them"
    # Every model a debtor holds is read here, or by the case reader (whose own test checks its fields).
    held = {kind for field in (*DebtorSnapshot.model_fields.values(), *Account.model_fields.values()) for kind in _models(field.annotation)}
    assert held <= set(debtor_reader.READ_FIELDS) | set(debtor_reader.case_reader.READ_FIELDS)


def _models(annotation: Any) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    return {kind for argument in getattr(annotation, "__args__", ()) for kind in _models(argument)}


def test_a_field_the_reader_does_not_read_turns_the_reader_off(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = dict(debtor_reader.READ_FIELDS)
    fields[Account] = fields[Account][:-1]
    monkeypatch.setattr(debtor_reader, "READ_FIELDS", fields)
    assert not debtor_reader._covered()
    monkeypatch.setattr(debtor_reader, "COVERED", debtor_reader._covered())
    assert read_debtor(PORTFOLIO[0], AS_OF) is None


def test_a_validator_the_reader_does_not_run_turns_the_reader_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stricter(Account):  # Account with one more rule, which the reader would not run
        @field_validator("segment")
        @classmethod
        def _not_retail(cls, value: str) -> str:
            return value

    known, fields = dict(debtor_reader.KNOWN_VALIDATORS), dict(debtor_reader.READ_FIELDS)
    known[Stricter], fields[Stricter] = known[Account], fields[Account]
    monkeypatch.setattr(debtor_reader, "KNOWN_VALIDATORS", known)
    monkeypatch.setattr(debtor_reader, "READ_FIELDS", fields)
    assert not debtor_reader._covered()


def test_the_case_readers_guard_turns_the_debtor_reader_off_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debtor_reader.case_reader, "COVERED", False)
    assert not debtor_reader._covered()


# --- through the servicer: the same answers, byte for byte -----------------------------------------


@pytest.fixture(scope="module")
def servicer() -> CollectionStrategyServicer:
    return CollectionStrategyServicer(PolicyRegistry(REPO / "rules"), StreamLimits(max_streams=4, idle_seconds=30))


def _answer(servicer: CollectionStrategyServicer, request: pb.DecideDebtorRequest) -> bytes:
    context = Context()
    try:
        response = servicer.DecideDebtor(request.SerializeToString(), context)
    except Aborted:
        return f"{context.status}: {context.details}".encode()
    response.decision.decision_id = ""
    for account in response.decision.accounts:
        account.decision_id = ""
    return bytes(response.SerializeToString(deterministic=True))


def test_every_portfolio_debtor_gets_the_same_answer_with_the_reader_on_and_off(
    servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each at its own instant, as calls at the server's clock are; every 50th explained (the trace holds the facts).
    requests = [
        pb.DecideDebtorRequest(debtor=debtor, as_of=timestamp(AS_OF + timedelta(seconds=index)), explain=index % 50 == 0) for index, debtor in enumerate(PORTFOLIO[:1000])
    ]
    assert sum(len(request.debtor.accounts) > 1 for request in requests) > 300
    on = [_answer(servicer, request) for request in requests]
    monkeypatch.setattr(debtor_reader, "ENABLED", False)
    off = [_answer(servicer, request) for request in requests]
    different = [request.debtor.debtor_id for request, mine, theirs in zip(requests, on, off) if mine != theirs]
    assert not different, f"{len(different)} answers differ, e.g. {different[:5]}"


def test_decide_debtor_reads_a_valid_debtor_without_the_validated_path(servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("the validated path was taken")

    monkeypatch.setattr(servicer_module, "parse_debtor", refuse)
    monkeypatch.setattr(servicer_module, "debtor_data", refuse)
    for debtor in SEVERAL[:20]:
        answer = _answer(servicer, pb.DecideDebtorRequest(debtor=debtor, as_of=timestamp(AS_OF)))
        assert not answer.startswith(b"StatusCode"), answer[:200]


def test_a_bad_debtor_is_refused_with_the_same_error_with_the_reader_on(servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch) -> None:
    debtor = pb.Debtor()
    debtor.CopyFrom(SEVERAL[0])
    debtor.accounts[1].amount_due = "12,50"
    debtor.contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED, at=timestamp(AS_OF), account_ids=["nobody"])
    request = pb.DecideDebtorRequest(debtor=debtor, as_of=timestamp(AS_OF))
    on = _answer(servicer, request)
    assert on.startswith(b"StatusCode.INVALID_ARGUMENT") and b"debtor.accounts[1].amount_due" in on
    monkeypatch.setattr(debtor_reader, "ENABLED", False)
    assert _answer(servicer, request) == on


def test_the_batch_and_the_stream_answer_alike_with_the_reader_on_and_off(servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch) -> None:
    def answers() -> list[bytes]:
        request = pb.DecideDebtorBatchRequest(debtors=SEVERAL[:40], as_of=timestamp(AS_OF))
        response = servicer.DecideDebtorBatch(request.SerializeToString(), Context())
        for result in response.results:
            result.decision.decision_id = ""
            for account in result.decision.accounts:
                account.decision_id = ""
        streamed = list(servicer.DecideDebtorStream(iter([pb.DecideDebtorStreamRequest(debtor=SEVERAL[0], as_of=timestamp(AS_OF)).SerializeToString()]), Context()))
        for message in streamed:
            message.result.decision.decision_id = ""
            for account in message.result.decision.accounts:
                account.decision_id = ""
        return [bytes(message.SerializeToString(deterministic=True)) for message in [response, *streamed]]

    on = answers()
    monkeypatch.setattr(debtor_reader, "ENABLED", False)
    assert answers() == on


# --- the engine's decisions for a debtor ------------------------------------------------------------


def test_a_fault_holds_every_account_with_the_decisions_the_engine_makes(servicer: CollectionStrategyServicer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision.made builds the fault path's decisions: equal, field for field, to Decision(...)."""
    engine = servicer._registry.current.engine
    snapshot = read_debtor(SEVERAL[0], AS_OF)
    assert snapshot is not None

    def fault(*args: Any) -> Any:
        raise RuntimeError("combining failed")

    monkeypatch.setattr("engine.debtor._decide", fault)
    decision = decide_debtor(engine, snapshot, AS_OF)
    reason = decision.reasons[0]
    assert reason.code == "DEBTOR_FAULT" and decision.action == "NO_CONTACT"
    for account, made in zip(snapshot.accounts, decision.accounts, strict=True):
        expected = Decision(account.account_id, "NO_CONTACT", None, None, None, None, (reason,), (), (), engine.ref, AS_OF, AS_OF + DEFAULT_REVIEW)
        assert made == expected and made.__dict__ == expected.__dict__ and list(made.__dict__) == list(expected.__dict__)

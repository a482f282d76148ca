"""What the proto reader's shortcuts rest on (transport/case_reader.py), and instants read from text.

The reader skips the model's instant range check for the Timestamps it accepts, and
remembers templates it has matched; instants parsed from ISO text carry a
datetime.timezone rather than pydantic's TzInfo. Each is checked here against the
model's own rule, so a change to engine/snapshot.py that breaks one fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine import snapshot as model
from engine.snapshot import EARLIEST_INSTANT, LATEST_INSTANT, PriorContact, parse_snapshot
from tests.test_case_reader import PORTFOLIO, agrees
from transport import case_reader
from transport.mapping import snapshot_data


def _in_range(value: datetime) -> datetime:
    (check,) = case_reader._validators(model.Instant, AfterValidator)
    result: datetime = check(value)
    return result


# (seconds, nanos) of a contact's `at`, and whether the reader reads it itself (else validation decides).
END = case_reader._END_SECOND  # 9000-01-01T00:00:00Z: LATEST_INSTANT, which validation allows
STAMPS = [
    (0, 0, True), (0, 999_999_999, True), (END - 1, 999_999_999, True),
    (-1, 999_999_999, False), (0, -1, False), (5, -1000, False), (5, 1_000_000_000, False), (END, 0, False), (END, 999, False), (32503680000, 0, True),
]


def test_every_timestamp_the_reader_accepts_lies_in_the_models_span() -> None:
    first = case_reader._EPOCH + timedelta(0, case_reader._FIRST_SECOND)
    last = case_reader._EPOCH + timedelta(0, case_reader._END_SECOND - 1, 999_999)  # the latest: nanos 999,999,999
    assert first == EARLIEST_INSTANT and _in_range(first) is first
    assert last < LATEST_INSTANT and _in_range(last) is last
    case = pb.CaseSnapshot()
    case.CopyFrom(next(case for case in PORTFOLIO if case.prior_contacts and not case.arrangements))
    for seconds, nanos, read in STAMPS:
        case.prior_contacts[0].at.CopyFrom(Timestamp(seconds=seconds, nanos=nanos))
        assert (case_reader.read_case(case, LATEST_INSTANT) is not None) is read, (seconds, nanos)
        agrees(case, LATEST_INSTANT)  # as late as validation allows: only the contact's own span decides


@settings(max_examples=500, deadline=None)
@given(seconds=st.one_of(st.integers(case_reader._FIRST_SECOND, case_reader._END_SECOND - 1), st.sampled_from([0, 1, 951782400, 4107542400, 32503680000, END - 1])))
def test_a_whole_second_is_the_instant_the_epoch_sum_gives(seconds: int) -> None:
    read = case_reader._instant(pb.PriorContact(at=Timestamp(seconds=seconds)), "at")
    summed = case_reader._EPOCH + timedelta(0, seconds)
    assert read == summed and read is not None and read.tzinfo is timezone.utc and read.isoformat() == summed.isoformat()
    assert case_reader._at_second == datetime.fromtimestamp  # the shortcut this test is about


def test_the_templates_the_reader_remembers_are_bounded_and_valid() -> None:
    case = pb.CaseSnapshot()
    case.CopyFrom(next(case for case in PORTFOLIO if case.prior_contacts and not case.arrangements))
    for index in range(case_reader._MAX_TEMPLATES_SEEN + 10):
        case.prior_contacts[0].template = f"t{index}"
        assert case_reader.read_case(case, LATEST_INSTANT) is not None
        assert len(case_reader._TEMPLATES_SEEN) <= case_reader._MAX_TEMPLATES_SEEN
    assert all(case_reader._TEMPLATE.fullmatch(template) for template in case_reader._TEMPLATES_SEEN)
    case.prior_contacts[0].template = "Reminder"  # not the model's pattern: declined, every time
    assert agrees(case, LATEST_INSTANT) is None and agrees(case, LATEST_INSTANT) is None
    assert "Reminder" not in case_reader._TEMPLATES_SEEN


@pytest.mark.parametrize(
    ("text", "shown", "json"),
    [
        ("2026-11-23T09:00:00Z", "2026-11-23T09:00:00+00:00", "2026-11-23T09:00:00Z"),
        ("2026-11-23T09:00:00+01:00", "2026-11-23T09:00:00+01:00", "2026-11-23T09:00:00+01:00"),
        ("2026-11-23T09:00:00.5-05:30", "2026-11-23T09:00:00.500000-05:30", "2026-11-23T09:00:00.500000-05:30"),
    ],
)
def test_an_instant_read_from_text_carries_a_datetime_timezone_and_reads_back_alike(text: str, shown: str, json: str) -> None:
    contact = PriorContact.model_validate({"channel": "sms", "at": text, "outcome": "delivered"})
    assert type(contact.at.tzinfo) is timezone
    assert contact.at.isoformat() == shown and contact.model_dump()["at"].isoformat() == shown
    assert f'"at":"{json}"' in contact.model_dump_json()
    assert contact.at == datetime.fromisoformat(shown)
    if contact.at.utcoffset() == timedelta(0):
        assert contact.at.tzinfo is timezone.utc  # the one UTC, as the gRPC path gives


def test_a_snapshot_read_from_json_holds_datetime_timezones() -> None:
    data = snapshot_data(next(case for case in PORTFOLIO if case.prior_contacts and case.payment.HasField("last_payment_at")))
    for contact in data["prior_contacts"]:
        contact["at"] = contact["at"].isoformat().replace("+00:00", "Z")
    data["payment"]["last_payment_at"] = data["payment"]["last_payment_at"].isoformat()
    snapshot = parse_snapshot(data, LATEST_INSTANT)
    instants = [contact.at for contact in snapshot.prior_contacts] + [snapshot.payment.last_payment_at]
    assert all(instant is not None and instant.tzinfo is timezone.utc for instant in instants)

"""A DecideStream's waiting messages spread over the sibling workers (transport/servicer.py,
transport/streams.py): the same answers as one worker gives, one per message and in order,
decided by both workers; a trickle answered one by one; a bad message still ends the stream
where it is reached."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from collection_strategy.v1 import collection_strategy_pb2 as pb
from tests.conftest import write_policy
from tests.test_batch_spread import CALL_SECONDS, cases, logged, two_workers
from tests.test_server import AS_OF, POLICY, case, free_port
from tests.test_supervisor import running
from transport.streams import READ_AHEAD, READ_AHEAD_BYTES, StreamLimits

METHOD = "/collection_strategy.v1.CollectionStrategyService/DecideStream"
LATER = timestamp_pb2.Timestamp(seconds=AS_OF.seconds + 86_400)


def messages() -> list[pb.DecideStreamRequest]:
    """1,000 cases in runs that may not be decided together: two as_of, a few explained, the rest alike."""
    made = []
    for index, snapshot in enumerate(cases(1000)):
        if 600 <= index < 605:
            made.append(pb.DecideStreamRequest(case=snapshot, as_of=AS_OF, explain=True))
        else:
            made.append(pb.DecideStreamRequest(case=snapshot, as_of=LATER if 400 <= index < 500 else AS_OF))
    return made


def stream(port: int, requests: Iterator[bytes]) -> Iterator[pb.DecideStreamResponse]:
    """DecideStream with requests sent as bytes (a bad one included when wanted), under a deadline."""
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        call = channel.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.DecideStreamResponse.FromString)
        yield from call(requests, timeout=CALL_SECONDS)


def without_ids(answers: list[pb.DecideStreamResponse]) -> list[pb.DecideStreamResponse]:
    """The answers without their decision ids, compared as messages (a trace's maps have no byte order)."""
    copies = []
    for answer in answers:
        copy = pb.DecideStreamResponse()
        copy.CopyFrom(answer)
        copy.result.decision.ClearField("decision_id")
        copies.append(copy)
    return copies


def test_a_stream_on_two_workers_is_answered_as_one_worker_answers_it_and_both_decide(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    sent = [request.SerializeToString() for request in messages()]
    alone = free_port()
    with running("--rules", str(tmp_path / "rules"), "--port", str(alone), "--workers", "1", "--metrics-port", "0") as lone:
        lone.wait_for("serving collection_strategy.v1.CollectionStrategyService")
        expected = list(stream(alone, iter(sent)))
    port = free_port()
    with two_workers(tmp_path / "rules", port, tmp_path) as server:
        answers = list(stream(port, iter(sent)))
        assert without_ids(answers) == without_ids(expected)  # explained ones included
        assert [answer.result.case_id for answer in answers] == [f"c{index}" for index in range(1000)]
        assert answers[789].result.error.field_violations[0].field.startswith("case.")  # named as a message's case, wherever decided
        ids = [answer.result.decision.decision_id for answer in answers if answer.result.HasField("decision")]
        files = logged(tmp_path, len(ids), server.process.pid)
        records = [record for found in files.values() for record in found]
        assert sorted(str(record["decision_id"]) for record in records) == sorted(ids)  # each decision logged once
        assert {record["method"] for record in records} == {"DecideStream"}
        assert len(files) == 2 and all(files.values()), f"one worker decided the whole stream: {[len(found) for found in files.values()]}"


def test_a_trickle_is_answered_message_by_message(tmp_path: Path) -> None:
    """Each message sent only once the one before it is answered: nothing waits for a fuller chunk."""
    write_policy(tmp_path / "rules", POLICY)
    port = free_port()
    outbox: queue.Queue[bytes | None] = queue.Queue()

    def requests() -> Iterator[bytes]:
        while (data := outbox.get(timeout=CALL_SECONDS)) is not None:
            yield data

    with two_workers(tmp_path / "rules", port, tmp_path):
        answers = stream(port, requests())
        for index in range(30):
            outbox.put(pb.DecideStreamRequest(case=case(f"t{index}"), as_of=AS_OF).SerializeToString())
            assert next(answers).result.case_id == f"t{index}"
        outbox.put(None)
        assert list(answers) == []


def test_a_bad_message_ends_the_stream_where_it_is_reached_after_the_spread_answers_before_it(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    good = [pb.DecideStreamRequest(case=snapshot, as_of=AS_OF).SerializeToString() for snapshot in cases(300)]
    port = free_port()
    with two_workers(tmp_path / "rules", port, tmp_path) as server:
        answers: list[pb.DecideStreamResponse] = []
        with pytest.raises(grpc.RpcError) as refused:
            answers.extend(stream(port, iter([*good, b"\xff\xff", *good])))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "message 301 of the stream: not a valid DecideStreamRequest" in str(refused.value.details())
        assert [answer.result.case_id for answer in answers] == [f"c{index}" for index in range(300)]
        files = logged(tmp_path, 297, server.process.pid)
        assert len(files) == 2 and all(files.values()), "the answers before the bad message were not spread"


# --- in process: the reader's read-ahead -----------------------------------------------------------------------------------------


class Context:
    """The little of a grpc.ServicerContext that StreamLimits uses."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise RuntimeError(f"{code.name}: {details}")


def test_the_messages_already_read_are_taken_together_and_the_reader_stays_within_its_bound() -> None:
    pulled = 0
    go, more = threading.Event(), threading.Event()

    def requests() -> Iterator[Any]:
        nonlocal pulled
        yield "first"
        go.wait(CALL_SECONDS)
        for index in range(5):
            pulled += 1
            yield index
        more.wait(CALL_SECONDS)
        while True:  # a caller with ever more to send: only flow control (the bound) holds it back
            pulled += 1
            yield pulled

    chunks: Generator[list[Any], None, None] = StreamLimits(1, idle_seconds=CALL_SECONDS).chunks(requests(), Context(), most=100)  # type: ignore[assignment]
    assert next(chunks) == ["first"]  # nothing else has come: not waited for
    go.set()
    deadline = time.monotonic() + CALL_SECONDS
    while pulled < 5:  # the reader reads ahead of the handler
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    assert next(chunks) == [0, 1, 2, 3, 4]  # all that was waiting, in one chunk
    more.set()
    while pulled < 5 + READ_AHEAD:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    assert pulled <= 5 + READ_AHEAD + 1  # the queue full, and one message in the reader's hands
    assert READ_AHEAD <= len(next(chunks)) <= 100  # what waited, and what came meanwhile up to the most asked
    chunks.close()


def test_the_reader_holds_back_once_the_messages_waiting_weigh_read_ahead_bytes() -> None:
    """A caller sending large messages (the server takes up to 16 MiB each) cannot make a
    worker hold READ_AHEAD of them per stream: the reader stops once those waiting weigh
    READ_AHEAD_BYTES, and one message always goes through, however large."""
    big = b"x" * (READ_AHEAD_BYTES // 2 + 1)  # two of them weigh more than the bound
    giant = b"y" * (READ_AHEAD_BYTES + 1)  # more than the bound alone: let through all the same
    sent = [big] * 10 + [giant] + [big] * 9
    pulled, go = 0, threading.Event()

    def requests() -> Iterator[bytes]:
        nonlocal pulled
        yield b"first"
        go.wait(CALL_SECONDS)
        for message in sent:
            pulled += 1
            yield message

    chunks: Generator[list[Any], None, None] = StreamLimits(1, idle_seconds=CALL_SECONDS).chunks(requests(), Context(), most=100)  # type: ignore[assignment]
    received = next(chunks)
    assert received == [b"first"]
    go.set()
    deadline = time.monotonic() + CALL_SECONDS
    while pulled < 2:  # the reader reads one large message ahead, and the next
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    assert pulled == 2  # one large message waiting, the next in the reader's hands: no further
    while len(received) < 1 + len(sent):
        received += next(chunks)
    assert received == [b"first", *sent]  # every message, in order
    chunks.close()


def test_a_silent_stream_still_ends_with_deadline_exceeded_naming_the_seconds() -> None:
    def requests() -> Iterator[Any]:
        yield "first"
        time.sleep(CALL_SECONDS)
        yield "late"

    chunks = StreamLimits(1, idle_seconds=0.2).chunks(requests(), Context(), most=10)
    assert next(chunks) == ["first"]
    with pytest.raises(RuntimeError, match=r"DEADLINE_EXCEEDED: no message on this stream for 0.2 s"):
        next(chunks)

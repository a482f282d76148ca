"""A stream's part goes to a sibling only where it helps (transport/batch_spread.py): a sibling with as
many streams of its own deciding as the sender refuses it with RESOURCE_EXHAUSTED without deciding; the
sender then decides the part itself and sends that sibling no stream part for REST_SECONDS. A batch's
parts are sent as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from transport import batch_spread
from transport.batch_spread import METHOD_KEY, OFFSET_KEY, POLICY_KEY, REST_SECONDS, SPREAD_ABOVE, STREAMS_KEY, PeerService, Siblings, policy_fingerprint

ENGINE: Any = SimpleNamespace(ref=SimpleNamespace(hash="strategy-hash"), compliance=SimpleNamespace(packs=[]))


class Aborted(Exception):
    pass


class PeerContext:
    """The little of a grpc.ServicerContext that PeerService and Siblings.spread use."""

    def __init__(self, metadata: list[tuple[str, str]] = []) -> None:  # noqa: B006 (never changed)
        self._metadata = metadata
        self.code: grpc.StatusCode | None = None

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self._metadata

    def time_remaining(self) -> None:
        return None

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        raise Aborted(details)


class Servicer:
    """A worker with `streams_busy` streams of its own, recording the cases it decides."""

    def __init__(self, streams_busy: int) -> None:
        self.streams_busy = streams_busy
        self.decided: list[int] = []

    def decide_stream_cases(self, engine: Any, request: Any, response: pb.DecideBatchResponse, context: Any, cases: range) -> None:
        self.decided.extend(cases)
        for index in cases:
            response.results.add(case_id=request.cases[index].case_id)


class Observer:
    def begin(self, method: str, carrier: dict[str, str]) -> None:
        return None

    def end(self, call: Any, code: str, response: Any = None, protocol: str = "grpc") -> None:
        pass


def part_metadata(sender_streams: str | None) -> list[tuple[str, str]]:
    metadata = [(POLICY_KEY, policy_fingerprint(ENGINE)), (OFFSET_KEY, "0"), (METHOD_KEY, "DecideStream")]
    return metadata if sender_streams is None else [*metadata, (STREAMS_KEY, sender_streams)]


def stream_part(count: int) -> bytes:
    return pb.DecideBatchRequest(cases=[pb.CaseSnapshot(case_id=f"c{index}") for index in range(count)]).SerializeToString()


@pytest.mark.parametrize(("own", "sender"), [(2, "2"), (3, "2"), (1, "1")])
def test_a_sibling_with_as_many_streams_as_the_sender_refuses_a_stream_part_without_deciding(own: int, sender: str) -> None:
    servicer = Servicer(streams_busy=own)
    context = PeerContext(part_metadata(sender))
    peer = PeerService(servicer, SimpleNamespace(current=SimpleNamespace(engine=ENGINE)), Observer())  # type: ignore[arg-type]
    with pytest.raises(Aborted, match=f"this worker has {own} streams of its own deciding, the sender {sender}"):
        peer.decide_part(stream_part(20), context)  # type: ignore[arg-type]
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert servicer.decided == []


@pytest.mark.parametrize(("own", "sender"), [(0, "1"), (1, "3"), (2, None)])  # None: a sender from before the rule
def test_a_sibling_with_fewer_streams_than_the_sender_decides_its_part(own: int, sender: str | None) -> None:
    servicer = Servicer(streams_busy=own)
    peer = PeerService(servicer, SimpleNamespace(current=SimpleNamespace(engine=ENGINE)), Observer())  # type: ignore[arg-type]
    answer = peer.decide_part(stream_part(20), PeerContext(part_metadata(sender)))  # type: ignore[arg-type]
    assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(20)]
    assert servicer.decided == list(range(20))


class Refused(grpc.RpcError, grpc.Call):
    """What a sibling's refusal raises at call.result()."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.RESOURCE_EXHAUSTED

    def details(self) -> str:
        return "this worker has 2 streams of its own open, the sender 2: decide the part there"

    def initial_metadata(self) -> None:
        return None

    def trailing_metadata(self) -> None:
        return None

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


class Sibling:
    """A sibling's DecideBatch that refuses every part, recording the metadata each was sent with."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def future(self, data: bytes, timeout: float, metadata: list[tuple[str, str]]) -> Any:
        self.sent.append(dict(metadata))
        call = SimpleNamespace(result=lambda: (_ for _ in ()).throw(Refused()), cancel=lambda: False)
        return call


def recorded(monkeypatch: pytest.MonkeyPatch, spread_above: int = SPREAD_ABOVE) -> tuple[Siblings, Sibling]:
    """This worker's siblings: one, whose DecideBatch is `Sibling`'s."""
    siblings = Siblings([Path("own.sock"), Path("sibling.sock")], own=0, spread_above=spread_above)
    sibling = Sibling()
    monkeypatch.setattr(siblings, "_method", lambda path, rpc: sibling)
    return siblings, sibling


class Local:
    """This worker deciding a part of `request` itself: each case's id appended to `response`, in order."""

    def __init__(self, request: pb.DecideBatchRequest) -> None:
        self.request, self.response, self.decided = request, pb.DecideBatchResponse(), list[int]()

    def __call__(self, cases: range) -> None:
        self.decided.extend(cases)
        for index in cases:
            self.response.results.add(case_id=self.request.cases[index].case_id)


def test_a_refused_stream_part_is_decided_here_and_the_busy_sibling_rests(monkeypatch: pytest.MonkeyPatch) -> None:
    siblings, sibling = recorded(monkeypatch)
    request = pb.DecideBatchRequest(cases=[pb.CaseSnapshot(case_id=f"c{index}") for index in range(40)])
    local = Local(request)
    assert siblings.worth_spreading_run(40, "DecideStream")
    siblings.spread(ENGINE, request, local.response, PeerContext(), local, "DecideStream", streams_busy=2)
    assert sibling.sent[0][STREAMS_KEY] == "2"
    assert [result.case_id for result in local.response.results] == [f"c{index}" for index in range(40)]  # all answered, in order
    assert sorted(local.decided) == list(range(40))
    assert not siblings.worth_spreading_run(40, "DecideStream")  # resting: the stream's next runs are decided here
    resting_ends = batch_spread.time.monotonic() + REST_SECONDS
    monkeypatch.setattr(batch_spread, "time", SimpleNamespace(monotonic=lambda: resting_ends + 0.01))  # this module's clock only
    assert siblings.worth_spreading_run(40, "DecideStream")  # asked again once the rest is over


def test_a_part_larger_than_a_peer_message_is_decided_here_and_rests_no_sibling(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sibling would refuse it with RESOURCE_EXHAUSTED, as it refuses when busy: not sent at all,
    so the sibling is not taken for busy (and rested) for a part no sibling could take."""
    siblings, sibling = recorded(monkeypatch)
    monkeypatch.setattr(batch_spread, "_MAX_MESSAGE_BYTES", 100)  # this module's limit only: 20 cases are more
    request = pb.DecideBatchRequest(cases=[pb.CaseSnapshot(case_id=f"case-{index:04d}") for index in range(40)])
    local = Local(request)
    siblings.spread(ENGINE, request, local.response, PeerContext(), local, "DecideStream", streams_busy=2)
    assert sibling.sent == []
    assert [result.case_id for result in local.response.results] == [case.case_id for case in request.cases]
    assert siblings.worth_spreading_run(40, "DecideStream")  # not resting


def test_a_batch_part_still_goes_to_a_sibling_resting_from_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    siblings, sibling = recorded(monkeypatch, spread_above=10)
    request = pb.DecideBatchRequest(cases=[pb.CaseSnapshot(case_id=f"c{index}") for index in range(40)])
    local = Local(request)
    siblings.spread(ENGINE, request, local.response, PeerContext(), local, "DecideStream", streams_busy=1)
    assert not siblings.worth_spreading_run(40, "DecideStream")
    siblings.spread(ENGINE, request, pb.DecideBatchResponse(), PeerContext(), lambda cases: None)
    assert len(sibling.sent) == 2 and STREAMS_KEY not in sibling.sent[1]  # a batch's part, sent without the stream count


def test_a_stream_counts_as_busy_while_it_decides_and_not_while_it_waits_for_its_caller() -> None:
    # What a sibling compares: an open stream whose caller sends nothing must not make it refuse parts.
    from engine.registry import PolicyRegistry
    from tests.conftest import REPO
    from transport.servicer import CollectionStrategyServicer
    from transport.streams import StreamLimits

    limits = StreamLimits(max_streams=4, idle_seconds=30)
    servicer = CollectionStrategyServicer(PolicyRegistry(REPO / "rules"), limits)
    asked_again, release = threading.Event(), threading.Event()
    case = pb.CaseSnapshot(case_id="c1", country="DE", time_zone="Europe/Berlin", amount_due="100.00", currency="EUR", days_past_due=5, segment="retail")

    def requests() -> Iterator[bytes]:
        yield pb.DecideStreamRequest(case=case).SerializeToString()
        asked_again.set()
        release.wait(30)

    context = SimpleNamespace(is_active=lambda: True, time_remaining=lambda: None, invocation_metadata=lambda: (), abort=PeerContext().abort)
    answers = servicer.DecideStream(requests(), context)  # type: ignore[arg-type]
    busy_while_answering = []
    consumer = threading.Thread(target=lambda: [busy_while_answering.append(servicer.streams_busy) for _ in answers])
    consumer.start()
    try:
        assert asked_again.wait(30)
        deadline = time.monotonic() + 10
        while servicer.streams_busy and time.monotonic() < deadline:  # the answer handed over, the stream waits
            time.sleep(0.01)
        assert (servicer.streams_busy, limits.open) == (0, 1)
    finally:
        release.set()
        consumer.join(30)
    assert busy_while_answering == [1]  # counted while its answer was out
    assert (servicer.streams_busy, limits.open) == (0, 0)

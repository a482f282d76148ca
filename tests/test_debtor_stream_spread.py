"""A DecideDebtorStream's waiting messages spread over the sibling workers as a DecideStream's are
(transport/servicer.py, transport/batch_spread.py): the same answers as one worker gives, one per
message and in order, decided by both workers; a run counted by its accounts; each debtor named and
logged as a stream message ("debtor.", DecideDebtorStream) wherever it is decided; a sibling busy
with streams refuses a debtor stream's part, which is then decided here, and rests from streams of
either kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from tests.conftest import write_policy
from tests.test_batch_spread import CALL_SECONDS, logged, sample, scrape, two_workers, workers
from tests.test_debtor_batch_spread import debtor_batch, debtors, worker_logs
from tests.test_server import AS_OF, POLICY, free_port
from tests.test_stream_spread_balance import ENGINE, Aborted, Observer, PeerContext, Sibling
from tests.test_supervisor import running
from transport.batch_spread import METHOD_KEY, OFFSET_KEY, POLICY_KEY, STREAMS_KEY, PeerService, Siblings, policy_fingerprint

METHOD = "/collection_strategy.v1.CollectionStrategyService/DecideDebtorStream"


def stream(port: int, requests: Iterator[bytes]) -> Iterator[pb.DecideDebtorStreamResponse]:
    """DecideDebtorStream with requests sent as bytes, under a deadline."""
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        call = channel.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.DecideDebtorStreamResponse.FromString)
        yield from call(requests, timeout=CALL_SECONDS)


def without_ids(answers: list[pb.DecideDebtorStreamResponse]) -> list[pb.DecideDebtorStreamResponse]:
    copies = []
    for answer in answers:
        copy = pb.DecideDebtorStreamResponse()
        copy.CopyFrom(answer)
        copy.result.decision.ClearField("decision_id")
        for account in copy.result.decision.accounts:
            account.ClearField("decision_id")
        copies.append(copy)
    return copies


# --- a real server of two workers --------------------------------------------------------------------------------------------------


def test_a_debtor_stream_on_two_workers_is_answered_as_one_worker_answers_it_and_both_decide(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    sent = [pb.DecideDebtorStreamRequest(debtor=debtor, as_of=AS_OF).SerializeToString() for debtor in debtors(200)]  # 600 accounts
    alone = free_port()
    with running("--rules", str(tmp_path / "rules"), "--port", str(alone), "--workers", "1", "--metrics-port", "0") as lone:
        lone.wait_for("serving collection_strategy.v1.CollectionStrategyService")
        expected = list(stream(alone, iter(sent)))
    port, metrics_port = free_port(), free_port()
    with two_workers(tmp_path / "rules", port, tmp_path, "--metrics-port", str(metrics_port)) as server:
        answers = list(stream(port, iter(sent)))
        assert without_ids(answers) == without_ids(expected)  # invalid debtors' errors included, wherever decided
        assert [answer.result.debtor_id for answer in answers] == [f"d{index}" for index in range(200)]
        assert answers[198].result.error.field_violations[0].field == "debtor.accounts[0].amount_due"  # the stream went on past 13, 50...
        ids = [answer.result.decision.decision_id for answer in answers if answer.result.HasField("decision")]
        assert len(ids) == 200 - 6
        files = logged(tmp_path, len(ids), server.process.pid)
        records = [record for found in files.values() for record in found]
        assert sorted(str(record["decision_id"]) for record in records) == sorted(ids)  # each person logged once
        assert {record["method"] for record in records} == {"DecideDebtorStream"}
        assert len(files) == 2 and all(files.values()), f"one worker decided the whole stream: {[len(found) for found in files.values()]}"
        metrics = scrape(metrics_port, until=lambda text: sample(text, "collection_invalid_cases_total", 'method="DecideDebtorStream"') >= 6
                         and sample(text, "collection_debtor_decisions_total", "") >= len(ids))
        assert sample(metrics, "collection_invalid_cases_total", 'method="DecideDebtorStream"') == 6  # counted as the stream's, by either worker
        assert sample(metrics, "collection_debtor_decisions_total", "") == len(ids)
        assert sample(metrics, "grpc_server_started_total", 'grpc_method="DecideDebtorBatch"') == 0  # the internal parts are not callers' calls
        # Without as_of: each run at one instant, read by the worker that received the stream and sent with the part.
        later = list(stream(port, iter(pb.DecideDebtorStreamRequest(debtor=debtor).SerializeToString() for debtor in debtors(200))))
        instants = {answer.result.decision.decision_id: answer.result.decision.accounts[0].as_of.ToJsonString() for answer in later if answer.result.HasField("decision")}
        files = logged(tmp_path, len(ids) + len(instants), server.process.pid)
        by_worker = sorted(({instants[str(record["decision_id"])] for record in found if record["decision_id"] in instants} for found in files.values()), key=len)
        assert len(by_worker) == 2 and by_worker[0], "one worker decided the whole stream without as_of"
        assert by_worker[0] <= by_worker[1]  # the sibling decided at instants of the receiving worker's runs, none of its own


# --- in process: two workers, the peer socket ------------------------------------------------------------------------------------


def test_a_siblings_debtor_stream_part_names_each_debtor_as_a_message_and_logs_it_as_the_streams(tmp_path: Path) -> None:
    with workers(tmp_path, ("7", "7")) as (_, second, sockets):
        part = pb.DecideDebtorBatchRequest(debtors=debtors(15)[12:], as_of=AS_OF)  # d12, d13 (invalid), d14
        honest = ((POLICY_KEY, policy_fingerprint(second.registry.current.engine)), (OFFSET_KEY, "40"), (METHOD_KEY, "DecideDebtorStream"))
        answer = debtor_batch(f"unix:{sockets[1]}", part, honest)
    assert [result.debtor_id for result in answer.results] == ["d12", "d13", "d14"]  # the part goes on past the invalid debtor
    assert answer.results[1].error.field_violations[0].field == "debtor.accounts[0].amount_due"  # not debtors[41]: a message's own field
    assert answer.results[2].HasField("decision")
    assert [json.loads(line)["method"] for line in worker_logs(tmp_path)["worker1"]] == ["DecideDebtorStream"] * 2


# --- in process: a run counted by accounts, and one clock reading -------------------------------------------------------------------


class RecordingSiblings:
    """Siblings that spread every run and decide every part here, recording what they were asked."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, str]] = []
        self.spread_runs: list[tuple[pb.DecideDebtorBatchRequest, str, int | None]] = []

    def worth_spreading_run(self, count: int, method: str = "DecideStream") -> bool:
        self.runs.append((count, method))
        return True

    def spread(self, engine: Any, request: Any, response: Any, context: Any, decide_locally: Any, method: str = "DecideBatch", streams_busy: int | None = None) -> None:
        self.spread_runs.append((request, method, streams_busy))
        decide_locally(range(len(request.debtors)))


def test_a_debtor_streams_run_is_counted_by_accounts_and_decided_at_one_instant_named_as_messages() -> None:
    from engine.registry import PolicyRegistry
    from tests.conftest import REPO
    from transport.servicer import CollectionStrategyServicer
    from transport.streams import StreamLimits

    siblings = RecordingSiblings()
    servicer = CollectionStrategyServicer(PolicyRegistry(REPO / "rules"), StreamLimits(max_streams=4, idle_seconds=30), siblings=siblings)  # type: ignore[arg-type]
    sent = [pb.DecideDebtorStreamRequest(debtor=debtor).SerializeToString() for debtor in debtors(20)]
    context = SimpleNamespace(is_active=lambda: True, time_remaining=lambda: None, invocation_metadata=lambda: (), abort=PeerContext().abort)
    answers = list(servicer.DecideDebtorStream(iter(sent), context))
    assert [answer.result.debtor_id for answer in answers] == [f"d{index}" for index in range(20)]
    assert answers[13].result.error.field_violations[0].field == "debtor.accounts[0].amount_due"
    # Each message in one run, each run weighed by its accounts (debtors of 1 to 5 in turn: 60 in all), not by its messages.
    assert sum(count for count, _ in siblings.runs) == 60 and {method for _, method in siblings.runs} == {"DecideDebtorStream"}
    assert {(method, busy) for _, method, busy in siblings.spread_runs} == {("DecideDebtorStream", 1)}  # this stream, deciding
    for run, _, _ in siblings.spread_runs:
        assert run.HasField("as_of")  # the clock read once for the run, and every debtor of it decided then
        in_run = {debtor.debtor_id for debtor in run.debtors}
        decided = [answer.result.decision for answer in answers if answer.result.debtor_id in in_run and answer.result.HasField("decision")]
        assert decided and {decision.accounts[0].as_of.ToJsonString() for decision in decided} == {run.as_of.ToJsonString()}


# --- in process: a busy sibling refuses a debtor stream's part -----------------------------------------------------------------------


class Servicer:
    """A worker with `streams_busy` streams of its own, recording how it decided the debtors of a part."""

    def __init__(self, streams_busy: int) -> None:
        self.streams_busy = streams_busy
        self.decided: list[tuple[str, int]] = []

    def decide_stream_debtors(self, engine: Any, request: Any, response: pb.DecideDebtorBatchResponse, context: Any, debtors: range) -> None:
        self._decide("stream", request, response, debtors)

    def decide_debtors(self, engine: Any, request: Any, response: pb.DecideDebtorBatchResponse, context: Any, debtors: range, offset: int = 0) -> None:
        self._decide("batch", request, response, debtors)

    def _decide(self, how: str, request: Any, response: pb.DecideDebtorBatchResponse, debtors: range) -> None:
        self.decided.extend((how, index) for index in debtors)
        for index in debtors:
            response.results.add(debtor_id=request.debtors[index].debtor_id)


def debtor_part(count: int) -> bytes:
    return pb.DecideDebtorBatchRequest(debtors=[pb.Debtor(debtor_id=f"d{index}") for index in range(count)]).SerializeToString()


def part_metadata(sender_streams: str) -> list[tuple[str, str]]:
    return [(POLICY_KEY, policy_fingerprint(ENGINE)), (OFFSET_KEY, "0"), (METHOD_KEY, "DecideDebtorStream"), (STREAMS_KEY, sender_streams)]


def peer(servicer: Servicer) -> PeerService:
    return PeerService(servicer, SimpleNamespace(current=SimpleNamespace(engine=ENGINE)), Observer())  # type: ignore[arg-type]


@pytest.mark.parametrize(("own", "sender"), [(2, "2"), (3, "2"), (1, "1")])
def test_a_sibling_with_as_many_streams_as_the_sender_refuses_a_debtor_stream_part_without_deciding(own: int, sender: str) -> None:
    servicer, context = Servicer(streams_busy=own), PeerContext(part_metadata(sender))
    with pytest.raises(Aborted, match=f"this worker has {own} streams of its own deciding, the sender {sender}"):
        peer(servicer).decide_debtor_part(debtor_part(20), context)
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert servicer.decided == []


def test_a_sibling_with_fewer_streams_decides_a_debtor_stream_part_as_messages_and_a_batch_part_as_before() -> None:
    servicer = Servicer(streams_busy=0)
    answer = peer(servicer).decide_debtor_part(debtor_part(20), PeerContext(part_metadata("1")))
    assert [result.debtor_id for result in answer.results] == [f"d{index}" for index in range(20)]
    assert servicer.decided == [("stream", index) for index in range(20)]
    busy = Servicer(streams_busy=5)  # a batch's part is never refused for streams, nor a cases stream's marker taken for a debtor one
    for method in ("DecideDebtorBatch", "DecideStream"):
        metadata = [(POLICY_KEY, policy_fingerprint(ENGINE)), (OFFSET_KEY, "0"), (METHOD_KEY, method), (STREAMS_KEY, "1")]
        peer(busy).decide_debtor_part(debtor_part(3), PeerContext(metadata))
    assert busy.decided == [("batch", index) for index in range(3)] * 2


def stream_part(method: str) -> tuple[Any, Any]:
    """A stream's run of 40 messages as the batch it is spread as, and its empty answer."""
    if method == "DecideDebtorStream":
        return pb.DecideDebtorBatchRequest(debtors=[pb.Debtor(debtor_id=f"d{index}") for index in range(40)]), pb.DecideDebtorBatchResponse()
    return pb.DecideBatchRequest(cases=[pb.CaseSnapshot(case_id=f"c{index}") for index in range(40)]), pb.DecideBatchResponse()


@pytest.mark.parametrize(("refused", "other"), [("DecideDebtorStream", "DecideStream"), ("DecideStream", "DecideDebtorStream")])
def test_a_refused_stream_part_is_decided_here_and_the_sibling_rests_from_streams_of_both_kinds(monkeypatch: pytest.MonkeyPatch, refused: str, other: str) -> None:
    siblings = Siblings([Path("own.sock"), Path("sibling.sock")], own=0, spread_above=10)
    sibling, rpcs = Sibling(), []

    def method(path: Path, rpc: str) -> Sibling:
        rpcs.append(rpc)
        return sibling

    monkeypatch.setattr(siblings, "_method", method)
    request, response = stream_part(refused)
    decided: list[int] = []

    def decide_locally(part: range) -> None:
        decided.extend(part)
        for _ in part:
            response.results.add()

    assert siblings.worth_spreading_run(40, refused) and siblings.worth_spreading_run(40, other)
    siblings.spread(ENGINE, request, response, PeerContext(), decide_locally, refused, streams_busy=2)
    assert rpcs == ["DecideDebtorBatch" if refused == "DecideDebtorStream" else "DecideBatch"]
    assert (sibling.sent[0][METHOD_KEY], sibling.sent[0][STREAMS_KEY]) == (refused, "2")
    assert decided == list(range(40)) and len(response.results) == 40  # the refused part decided here, after the own one
    assert not siblings.worth_spreading_run(40, refused) and not siblings.worth_spreading_run(40, other)  # resting from streams of both kinds
    batch = pb.DecideDebtorBatchRequest(debtors=[pb.Debtor(debtor_id=f"b{index}") for index in range(40)])
    siblings.spread(ENGINE, batch, pb.DecideDebtorBatchResponse(), PeerContext(), lambda part: None, "DecideDebtorBatch")
    assert len(sibling.sent) == 2 and STREAMS_KEY not in sibling.sent[1]  # a debtor batch's part still goes there, without the stream count

"""A large DecideBatch spread over the sibling workers (transport/batch_spread.py): the same
answer as one worker gives, the siblings' parts decided by the siblings, one instant and one
policy version per batch, and a sibling's failure never seen by the caller."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import write_policy
from tests.test_server import AS_OF, POLICY, case, free_port, worker_pids
from tests.test_supervisor import Server, running
from transport.batch_spread import OFFSET_KEY, POLICY_KEY, SPREAD_ABOVE, parts
from transport.grpc_server import RunningServer, ServerConfig, start_server

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

CALL_SECONDS = 60  # every call has a deadline: a regression fails instead of hanging


def cases(count: int) -> list[pb.CaseSnapshot]:
    """Varied cases, a few of them invalid (in every worker's part) so that errors name their index."""
    made = []
    for index in range(count):
        if index % 97 == 13:
            made.append(case(f"c{index}", amount_due="not-a-number"))
        else:
            made.append(case(f"c{index}", days_past_due=index % 60 - 10, amount_due=f"{100 + index}.00"))
    return made


def batch(port: int | str, request: pb.DecideBatchRequest, metadata: tuple[tuple[str, str], ...] = ()) -> pb.DecideBatchResponse:
    target = port if isinstance(port, str) else f"127.0.0.1:{port}"
    with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        answer: pb.DecideBatchResponse = pb_grpc.CollectionStrategyServiceStub(channel).DecideBatch(request, timeout=CALL_SECONDS, metadata=metadata)
        return answer


def without_ids(response: pb.DecideBatchResponse) -> pb.DecideBatchResponse:
    copy = pb.DecideBatchResponse()
    copy.CopyFrom(response)
    for result in copy.results:
        result.decision.ClearField("decision_id")
    return copy


def logged(directory: Path, count: int, supervisor: int, timeout: float = 20) -> dict[int, list[dict[str, object]]]:
    """The decision log's records by worker process id (a file each, decisions-<pid>.jsonl), once `count` are written."""
    deadline = time.monotonic() + timeout
    while True:
        files = {int(path.stem.split("-")[1]): [json.loads(line) for line in path.read_text().splitlines() if line] for path in directory.glob("decisions-*.jsonl")}
        files.pop(supervisor, None)  # it only checks the --decision-log value (a file opens at its first record)
        if sum(map(len, files.values())) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.2)


@contextmanager
def two_workers(rules: Path, port: int, log_dir: Path, *more: str) -> Iterator[Server]:
    """A supervisor and two workers, each logging its decisions in its own file in `log_dir`."""
    with running(
        "--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--grace", "2",
        "--decision-log", f"file:{log_dir / 'decisions.jsonl'}", *more,
    ) as server:
        server.wait_for(f"serving on 127.0.0.1:{port} with 2 workers")
        yield server


def test_parts_are_contiguous_and_cover_the_batch() -> None:
    assert parts(1000, 2) == [range(500), range(500, 1000)]
    assert parts(7, 3) == [range(3), range(3, 5), range(5, 7)]


def test_a_batch_on_two_workers_is_answered_as_one_worker_answers_it_and_the_sibling_decides_its_part(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    request = pb.DecideBatchRequest(cases=cases(1000), as_of=AS_OF)
    alone, spread = free_port(), free_port()
    with running("--rules", str(tmp_path / "rules"), "--port", str(alone), "--workers", "1", "--metrics-port", "0") as lone:
        lone.wait_for("serving collection_strategy.v1.CollectionStrategyService")
        expected = batch(alone, request)
    metrics_port = free_port()
    with two_workers(tmp_path / "rules", spread, tmp_path, "--metrics-port", str(metrics_port)) as server:
        answer = batch(spread, request)
        assert without_ids(answer) == without_ids(expected)
        assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(1000)]
        assert answer.results[789].error.field_violations[0].field.startswith("cases[789].")  # named from the caller's batch
        files = logged(tmp_path, 1000, server.process.pid)
        # Each decision logged once, by the worker that made it: both workers, each a contiguous part.
        ids = [result.decision.decision_id for result in answer.results if result.HasField("decision")]
        assert sorted(record["decision_id"] for records in files.values() for record in records) == sorted(ids)  # type: ignore[type-var]
        assert len(files) == 2 and sorted(len(records) for records in files.values()) == [494, 495]  # 500 cases each, less the invalid ones
        metrics = scrape(metrics_port, until=lambda text: sample(text, "collection_decisions_total", "") >= 989)
        assert sample(metrics, "grpc_server_started_total", 'grpc_method="DecideBatch"') == 1  # the caller's call, not the internal one
        assert sample(metrics, "collection_decisions_total", "") == 989  # every decision counted once


def scrape(port: int, until: Callable[[str], bool] = lambda text: True, seconds: float = 20) -> str:
    """The metrics page: the first that holds `until`, or the last after `seconds`. A worker writes
    what it counted every transport.metrics.FLUSH_SECONDS, so a page right after the calls may lag."""
    deadline = time.monotonic() + seconds
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text: str = response.read().decode()
        if until(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def sample(text: str, name: str, labels: str) -> float:
    """The sum of a metric's samples whose labels contain `labels`."""
    pattern = re.compile(rf"^{name}\{{([^}}]*)\}} (\S+)$", re.MULTILINE)
    return sum(float(value) for found, value in pattern.findall(text) if labels in found)


def test_a_batch_of_100_stays_on_the_worker_that_received_it_and_is_decided_at_one_instant(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    port = free_port()
    with two_workers(tmp_path / "rules", port, tmp_path) as server:
        assert SPREAD_ABOVE >= 100
        answer = batch(port, pb.DecideBatchRequest(cases=[case(f"c{index}") for index in range(100)]))  # no as_of: the server's clock, once
        assert len({result.decision.as_of.ToNanoseconds() for result in answer.results}) == 1
        files = logged(tmp_path, 100, server.process.pid)  # a worker that decided nothing has no file
        assert [len(records) for records in files.values() if records] == [100]


def test_a_sibling_that_dies_while_the_batch_waits_for_it_costs_the_caller_nothing(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    port = free_port()
    request = pb.DecideBatchRequest(cases=cases(1000), as_of=AS_OF)
    with two_workers(tmp_path / "rules", port, tmp_path, "--watchdog-seconds", "2") as server:
        target = f"127.0.0.1:{port}"
        with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            stub.Decide(pb.DecideRequest(case=case("who-answers"), as_of=AS_OF), timeout=CALL_SECONDS)
            # The sibling is the worker that has not logged this decision (its log opens at its first record).
            answered = {pid for pid, records in logged(tmp_path, 1, server.process.pid).items() if records}
            sibling = next(pid for pid in worker_pids(server.process.pid) if pid not in answered)
            os.kill(sibling, signal.SIGSTOP)  # frozen: the watchdog kills it while the receiver waits for its part
            try:
                answer = stub.DecideBatch(request, timeout=CALL_SECONDS)
            finally:
                if Path(f"/proc/{sibling}").exists():
                    os.kill(sibling, signal.SIGKILL)
        assert f"(pid {sibling}) has not answered its probe" in server.output
        assert "a sibling did not decide 500 cases (UNAVAILABLE); deciding them here" in server.output
        assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(1000)]
        assert sum(result.HasField("decision") for result in answer.results) == 989
        assert {result.decision.policy.version for result in answer.results if result.HasField("decision")} == {"7"}
        # The replacement takes the slot's peer socket: batches are spread over it again.
        server.wait_for("serving, ", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            batch(port, request)
            replacement = {pid: records for pid, records in logged(tmp_path, 0, server.process.pid, timeout=0).items() if pid != sibling}
            if sum(len(records) > 0 for records in replacement.values()) == 2:
                break
            assert time.monotonic() < deadline, f"the replacement decided no part:\n{server.output}"
            time.sleep(1)


# --- in process: two workers on different policy versions, the peer socket's own rules --------------------------------------------


@contextmanager
def workers(tmp_path: Path, versions: tuple[str, str], tracer: Tracer | None = None) -> Iterator[tuple[RunningServer, RunningServer, tuple[Path, ...]]]:
    """Two workers in this process, each on its own rules and decision log, peers of each other."""
    sockets = (tmp_path / "peer-0.sock", tmp_path / "peer-1.sock")
    started = []
    for index, version in enumerate(versions):
        rules = tmp_path / f"rules-{index}"
        write_policy(rules, POLICY.replace('version: "7"', f'version: "{version}"'))
        config = ServerConfig(
            port=0, rules_dir=rules, reload_seconds=0, reflection=False, peer_sockets=sockets, peer_index=index,
            decision_log=f"file:{tmp_path / f'worker{index}.jsonl'}",
        )
        started.append(start_server(config, tracer=tracer))
    try:
        yield started[0], started[1], sockets
    finally:
        for server in started:
            server.stop(0)


def test_a_sibling_on_another_policy_version_refuses_and_the_batch_stays_on_one_version(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with workers(tmp_path, ("7", "8")) as (first, _, _), caplog.at_level(logging.INFO, logger="transport.batch_spread"):
        answer = batch(first.port, pb.DecideBatchRequest(cases=cases(400), as_of=AS_OF))
    assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(400)]
    assert {result.decision.policy.version for result in answer.results if result.HasField("decision")} == {"7"}
    assert "did not decide 200 cases (FAILED_PRECONDITION)" in caplog.text


def test_a_sibling_on_the_same_version_decides_its_part(tmp_path: Path) -> None:
    with workers(tmp_path, ("7", "7")) as (first, _, _):
        answer = batch(first.port, pb.DecideBatchRequest(cases=cases(400), as_of=AS_OF))
    assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(400)]
    logs = {path.name.split("-")[0]: path.read_text().splitlines() for path in tmp_path.glob("worker*.jsonl")}
    assert len(logs["worker1"]) == 200 - 2  # the second part, less its invalid cases


def test_the_internal_form_is_honoured_on_the_peer_socket_only(tmp_path: Path) -> None:
    with workers(tmp_path, ("7", "7")) as (first, second, sockets):
        bad = pb.DecideBatchRequest(cases=[case("c0", amount_due="x")], as_of=AS_OF)
        internal = ((POLICY_KEY, "not the policy"), (OFFSET_KEY, "5"))
        # On the public port the metadata is nobody's business: an ordinary call, fields from index 0.
        public = batch(second.port, bad, internal)
        assert public.results[0].error.field_violations[0].field.startswith("cases[0].")
        # On the peer socket: another version is refused, the offset names fields from the caller's batch.
        with pytest.raises(grpc.RpcError) as refused:
            batch(f"unix:{sockets[1]}", bad, internal)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        from transport.batch_spread import policy_fingerprint

        honest = ((POLICY_KEY, policy_fingerprint(second.registry.current.engine)), (OFFSET_KEY, "5"))
        part = batch(f"unix:{sockets[1]}", bad, honest)
        assert part.results[0].error.field_violations[0].field.startswith("cases[5].")
        assert oct(sockets[1].stat().st_mode & 0o777) == "0o600"


def test_the_siblings_part_joins_the_callers_trace(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with workers(tmp_path, ("7", "7"), provider.get_tracer("test")) as (first, _, _):
        batch(first.port, pb.DecideBatchRequest(cases=cases(400), as_of=AS_OF), (("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),))
    provider.shutdown()
    calls = [span for span in exporter.get_finished_spans() if span.name.endswith("/DecideBatch")]
    assert len(calls) == 2  # the caller's call and the sibling's part, in one trace
    assert {format(span.context.trace_id, "032x") for span in calls} == {trace_id}
    caller, part = sorted(calls, key=lambda span: span.start_time)
    assert part.parent is not None and part.parent.span_id == caller.context.span_id  # the part is the call's child
    assert sum(span.name == "decision" for span in exporter.get_finished_spans()) == 400 - 4  # once each, under the caller's call

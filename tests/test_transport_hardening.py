"""Nothing a caller sends can stop the service: real servers on loopback, hostile callers.

Idle streams cannot take every thread; undecodable bytes are INVALID_ARGUMENT,
counted and not logged as tracebacks, and never keep a worker from exiting;
refusals always fit in the trailers; an explained batch is bounded up front; the
server listens only where it is told to.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from tests.test_server import AS_OF, POLICY, bad_request, case, free_port, wait_serving
from transport.errors import MAX_FIELD_VIOLATIONS
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.metrics import RPC_TYPES
from transport.servicer import MAX_BATCH_CASES, MAX_EXPLAINED_CASES

SERVICE = "/collection_strategy.v1.CollectionStrategyService/"
NOT_UTF8 = pb.DecideRequest(case=pb.CaseSnapshot(case_id="PLACEHOLDER")).SerializeToString().replace(b"PLACEHOLDER", b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5")
TOO_DEEP = b"\x9b\x06" * 101 + b"\x9c\x06" * 101  # 101 nested groups of an unknown field; protobuf stops at 100
TRUNCATED = pb.DecideRequest(case=case(), as_of=AS_OF).SerializeToString()[:-7]
GARBLED = {"invalid UTF-8": NOT_UTF8, "nested over 100 levels": TOO_DEEP, "truncated": TRUNCATED}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    write_policy(directory, POLICY)
    return directory


@pytest.fixture
def serve(rules: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with some settings changed; all stopped at the end of the test."""
    running: list[RunningServer] = []

    def start(**settings: Any) -> RunningServer:
        server = start_server(ServerConfig(**{"port": 0, "rules_dir": rules, "reuse_port": False, "reload_seconds": 0, **settings}))
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop(0)


def requests_counted(method: str, code: str) -> float:
    labels = {"grpc_type": RPC_TYPES[method], "grpc_service": "collection_strategy.v1.CollectionStrategyService", "grpc_method": method, "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0


def invalid_cases_counted(method: str) -> float:
    return REGISTRY.get_sample_value("collection_invalid_cases_total", {"method": method}) or 0.0


def eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class HeldStream:
    """A DecideStream that sends `first` (if any) and then stays silent until released."""

    def __init__(self, stub: pb_grpc.CollectionStrategyServiceStub, first: list[pb.DecideStreamRequest] | None = None, timeout: float = 30):
        self.release = threading.Event()
        self.answers: list[pb.DecideStreamResponse] = []
        self.error: grpc.RpcError | None = None
        self.done = threading.Event()
        self._first = first or []
        self._call = stub.DecideStream(self._requests(), timeout=timeout)
        threading.Thread(target=self._read, daemon=True).start()

    def _requests(self) -> Iterator[pb.DecideStreamRequest]:
        yield from self._first
        self.release.wait(60)

    def _read(self) -> None:
        try:
            self.answers.extend(self._call)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.done.set()

    def code(self) -> grpc.StatusCode | None:
        return self.error.code() if self.error else (grpc.StatusCode.OK if self.done.is_set() else None)


# --- finding 1: streams cannot starve unary calls --------------------------------------


def test_idle_streams_cannot_starve_unary_calls_or_health_checks(serve: Callable[..., RunningServer]) -> None:
    server = serve(threads=8, stream_idle_seconds=60)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        streams = [HeldStream(stub) for _ in range(16)]  # twice the threads, none sending anything
        try:
            assert eventually(lambda: sum(stream.done.is_set() for stream in streams) == 12), [stream.code() for stream in streams]
            refused = [stream for stream in streams if stream.done.is_set()]
            assert {stream.code() for stream in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
            details = refused[0].error.details()  # type: ignore[union-attr]
            assert "4 streams are open" in details and "retry" in details and "DecideBatch" in details
            # The four held streams leave four threads: other calls are answered.
            for index in range(20):
                assert stub.Decide(pb.DecideRequest(case=case(f"u{index}"), as_of=AS_OF), timeout=10).decision.action == "SEND_REMINDER"
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        finally:
            for stream in streams:
                stream.release.set()
        held = [stream for stream in streams if stream not in refused]
        assert all(stream.done.wait(10) for stream in held) and {stream.code() for stream in held} == {grpc.StatusCode.OK}
        # Their places are free again.
        answers = list(stub.DecideStream(iter([pb.DecideStreamRequest(case=case("again"), as_of=AS_OF)]), timeout=10))
        assert [answer.result.case_id for answer in answers] == ["again"]


def test_a_silent_stream_is_closed_after_the_idle_time(serve: Callable[..., RunningServer]) -> None:
    server = serve(stream_idle_seconds=0.5)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        before = requests_counted("DecideStream", "DEADLINE_EXCEEDED")
        talked = HeldStream(stub, [pb.DecideStreamRequest(case=case("one"), as_of=AS_OF)], timeout=15)
        silent = HeldStream(stub, timeout=15)
        try:
            for stream in (talked, silent):
                assert stream.done.wait(20)
                assert stream.code() is grpc.StatusCode.DEADLINE_EXCEEDED
                assert "no message on this stream for 0.5 s" in stream.error.details()  # type: ignore[union-attr]
            assert [answer.result.case_id for answer in talked.answers] == ["one"]
        finally:
            talked.release.set()
            silent.release.set()
        assert eventually(lambda: requests_counted("DecideStream", "DEADLINE_EXCEEDED") == before + 2)


def test_reflection_streams_share_the_bound_and_can_be_turned_off(serve: Callable[..., RunningServer]) -> None:
    server = serve(threads=4, max_streams=1)
    release = threading.Event()

    def silent() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        release.wait(30)
        yield from ()

    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        held = reflection.ServerReflectionInfo(silent(), timeout=30)
        try:
            assert eventually(lambda: (REGISTRY.get_sample_value("collection_open_streams") or 0) >= 1)
            with pytest.raises(grpc.RpcError) as caught:
                list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
            assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            release.set()
        assert list(held) == []
    off = serve(reflection=False)
    with grpc.insecure_channel(f"127.0.0.1:{off.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            list(reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=10).policies


def test_streams_may_not_take_every_thread(rules: Path) -> None:
    with pytest.raises(ValueError, match="max_streams must be from 0 to threads - 1"):
        start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0, threads=4, max_streams=4))


# --- finding 2: undecodable bytes are INVALID_ARGUMENT, counted, no traceback ----------


@pytest.mark.parametrize("what", sorted(GARBLED))
def test_undecodable_requests_are_invalid_argument_without_a_traceback(
    serve: Callable[..., RunningServer], caplog: pytest.LogCaptureFixture, what: str
) -> None:
    server = serve()
    caplog.set_level(logging.INFO)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        for method, name in (("Decide", "DecideRequest"), ("DecideBatch", "DecideBatchRequest")):
            before = requests_counted(method, "INVALID_ARGUMENT")
            with pytest.raises(grpc.RpcError) as caught:
                channel.unary_unary(SERVICE + method)(GARBLED[what], timeout=10)  # no serializer: the bytes as they are
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
            assert caught.value.details().startswith(f"request: not a valid {name}: ")
            assert set(bad_request(caught.value)) == {"request"}
            assert requests_counted(method, "INVALID_ARGUMENT") == before + 1
        before = requests_counted("DecideStream", "INVALID_ARGUMENT")
        good = pb.DecideStreamRequest(case=case("s1"), as_of=AS_OF).SerializeToString()
        call = channel.stream_stream(SERVICE + "DecideStream")(iter([good, GARBLED[what], good]), timeout=10)
        answers = []
        with pytest.raises(grpc.RpcError) as caught:
            answers.extend(call)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith("message 2 of the stream: not a valid DecideStreamRequest: ")
        assert len(answers) == 1 and pb.DecideStreamResponse.FromString(answers[0]).result.case_id == "s1"
        assert eventually(lambda: requests_counted("DecideStream", "INVALID_ARGUMENT") == before + 1)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


def test_every_method_counts_the_status_code_it_ended_with(serve: Callable[..., RunningServer]) -> None:
    server = serve(threads=4, max_streams=1)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        before = {
            key: requests_counted(*key)
            for key in [("Decide", "OK"), ("Decide", "INVALID_ARGUMENT"), ("DecideBatch", "OK"), ("DecideBatch", "INVALID_ARGUMENT"), ("GetPolicy", "OK"),
                        ("GetPolicy", "INVALID_ARGUMENT"), ("DecideStream", "OK"), ("DecideStream", "CANCELLED"), ("DecideStream", "RESOURCE_EXHAUSTED")]
        }
        invalid_before = {method: invalid_cases_counted(method) for method in ("Decide", "DecideBatch", "DecideStream")}
        stub.Decide(pb.DecideRequest(case=case(), as_of=AS_OF), timeout=10)
        for bad in (pb.DecideRequest(), pb.DecideRequest(case=case(country="XX"), as_of=AS_OF)):
            with pytest.raises(grpc.RpcError):
                stub.Decide(bad, timeout=10)
        stub.DecideBatch(pb.DecideBatchRequest(cases=[case("b1"), case("b2", currency="XYZ")], as_of=AS_OF), timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.DecideBatch(pb.DecideBatchRequest(cases=[case()] * (MAX_BATCH_CASES + 1)), timeout=10)
        stub.GetPolicy(pb.GetPolicyRequest(), timeout=10)
        with pytest.raises(grpc.RpcError):
            channel.unary_unary(SERVICE + "GetPolicy")(b"\x0a\x05ab", timeout=10)  # truncated
        list(stub.DecideStream(iter([pb.DecideStreamRequest(case=case("s1", country="XX"), as_of=AS_OF)]), timeout=10))
        held = HeldStream(stub, [pb.DecideStreamRequest(case=case("held"), as_of=AS_OF)])
        assert eventually(lambda: len(held.answers) == 1)
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.DecideStream(iter([]), timeout=10))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        held._call.cancel()
        assert held.done.wait(10)
        expected = {
            ("Decide", "OK"): 1, ("Decide", "INVALID_ARGUMENT"): 2, ("DecideBatch", "OK"): 1, ("DecideBatch", "INVALID_ARGUMENT"): 1, ("GetPolicy", "OK"): 1,
            ("GetPolicy", "INVALID_ARGUMENT"): 1, ("DecideStream", "OK"): 1, ("DecideStream", "CANCELLED"): 1, ("DecideStream", "RESOURCE_EXHAUSTED"): 1,
        }
        counted = lambda: {key: requests_counted(*key) - before[key] for key in before}  # noqa: E731
        assert eventually(lambda: counted() == expected), " ".join(f"{key}={value}" for key, value in counted().items())
        assert {method: invalid_cases_counted(method) - invalid_before[method] for method in invalid_before} == {"Decide": 2, "DecideBatch": 1, "DecideStream": 1}
        held.release.set()


def test_a_worker_exits_on_sigterm_after_undecodable_stream_messages(tmp_path: Path) -> None:
    # A stream whose first message did not decode used to leave its handler
    # waiting forever: SIGTERM then never ended a lone worker.
    write_policy(tmp_path, POLICY)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(port), "--workers", "1", "--metrics-port", "0", "--grace", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    release = threading.Event()
    try:
        wait_serving(port)
        with grpc.insecure_channel(f"localhost:{port}") as channel:

            def garbled_then_silent() -> Iterator[bytes]:
                yield NOT_UTF8
                release.wait(60)

            calls = [channel.stream_stream(SERVICE + "DecideStream")(garbled_then_silent(), timeout=60) for _ in range(3)]
            codes = []
            for call in calls:
                with pytest.raises(grpc.RpcError) as caught:
                    list(call)
                codes.append(caught.value.code())
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0  # the grace is 2 s
            assert set(codes) == {grpc.StatusCode.INVALID_ARGUMENT}
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0]
    assert "Traceback" not in output, output


# --- finding 3: a refusal always fits in the trailers ----------------------------------


def test_a_refusal_with_huge_values_and_many_fields_still_reaches_the_caller(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    bad = case(country="Q" * 100_000)
    for _ in range(500):
        bad.prior_contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED)  # no timestamp
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Decide(pb.DecideRequest(case=bad, as_of=AS_OF), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        violations = bad_request(caught.value)
        assert "case.country" in violations and "case.prior_contacts[0].at" in violations
        # At most MAX_FIELD_VIOLATIONS, fewer when they would not fit; the last says how many more.
        assert len(violations) <= MAX_FIELD_VIOLATIONS + 1
        more = re.fullmatch(r"and (\d+) more invalid fields not listed: fix these and send again", violations["case"])
        assert more and len(violations) - 1 + int(more.group(1)) == 501
        assert all(len(description.encode()) <= 200 for description in violations.values())
        assert len(caught.value.details().encode()) <= 300
        trailers = sum(len(key) + len(value) for key, value in caught.value.trailing_metadata())
        assert trailers < 4096, trailers  # grpc clients accept 8 KiB
        # The same case in a batch: its CaseError is bounded the same way.
        [result] = stub.DecideBatch(pb.DecideBatchRequest(cases=[bad], as_of=AS_OF), timeout=10).results
        assert len(result.error.field_violations) == len(violations) and len(result.error.message.encode()) <= 300
        assert result.error.field_violations[-1].field == "cases[0]"


# --- finding 4: explain is bounded per batch -------------------------------------------


def test_a_batch_may_explain_only_a_few_cases(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            stub.DecideBatch(pb.DecideBatchRequest(cases=[case(f"c{index}") for index in range(MAX_BATCH_CASES)], as_of=AS_OF, explain=True), timeout=30)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        assert f"at most {MAX_EXPLAINED_CASES} cases" in caught.value.details() and "explain" in bad_request(caught.value)
        assert time.monotonic() - started < 5  # refused up front (generous: it took seconds before)
        results = stub.DecideBatch(pb.DecideBatchRequest(cases=[case(f"c{index}") for index in range(MAX_EXPLAINED_CASES)], as_of=AS_OF, explain=True), timeout=30).results
        assert len(results) == MAX_EXPLAINED_CASES and all(result.decision.HasField("trace") for result in results)


# --- finding 5: where and how the server listens ---------------------------------------


def _reachable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="all of 127.0.0.0/8 is loopback on Linux")
def test_the_server_listens_only_on_the_address_it_is_given(serve: Callable[..., RunningServer]) -> None:
    server = serve()  # the default: 127.0.0.1
    assert _reachable("127.0.0.1", server.port)
    assert not _reachable("127.0.0.2", server.port)
    other = serve(bind="127.0.0.2")
    assert _reachable("127.0.0.2", other.port) and not _reachable("127.0.0.1", other.port)


def test_an_ipv6_literal_is_accepted_with_or_without_brackets(serve: Callable[..., RunningServer]) -> None:
    if not socket.has_ipv6 or not _can_bind("::1"):
        pytest.skip("no IPv6 loopback here")
    for bind in ("::1", "[::1]"):
        server = serve(bind=bind)
        with grpc.insecure_channel(f"[::1]:{server.port}") as channel:
            assert pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=10).policies
        assert not _reachable("127.0.0.1", server.port)


def _can_bind(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def test_a_port_in_use_is_a_clear_error(serve: Callable[..., RunningServer], rules: Path) -> None:
    taken = serve()
    with pytest.raises(OSError, match=f"port {taken.port} is already in use") as caught:
        start_server(ServerConfig(port=taken.port, rules_dir=rules, reuse_port=False, reload_seconds=0))
    assert caught.value.errno == errno.EADDRINUSE


def test_connections_are_recycled_at_their_age_and_calls_in_flight_finish(serve: Callable[..., RunningServer]) -> None:
    server = serve(max_connection_age_seconds=1)
    states: list[grpc.ChannelConnectivity] = []
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        channel.subscribe(states.append, try_to_connect=True)
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        release = threading.Event()

        def slow_requests() -> Iterator[pb.DecideStreamRequest]:
            yield pb.DecideStreamRequest(case=case("before"), as_of=AS_OF)
            release.wait(10)
            yield pb.DecideStreamRequest(case=case("after"), as_of=AS_OF)

        call = stub.DecideStream(slow_requests(), timeout=30)
        assert next(call).result.case_id == "before"
        # The server asks the client to go away soon after the age (GOAWAY): the channel leaves READY.
        assert eventually(lambda: grpc.ChannelConnectivity.READY in states and states[-1] is not grpc.ChannelConnectivity.READY, 10), states
        release.set()  # the stream began before: it may finish
        assert [answer.result.case_id for answer in call] == ["after"]
        assert stub.Decide(pb.DecideRequest(case=case(), as_of=AS_OF), timeout=10).decision.action == "SEND_REMINDER"  # on a new connection


def test_the_probe_socket_answers_health_checks(serve: Callable[..., RunningServer], tmp_path: Path) -> None:
    path = tmp_path / "probe.sock"
    serve(probe_socket=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with grpc.insecure_channel(f"unix:{path}") as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

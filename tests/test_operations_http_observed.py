"""Calls over HTTP/JSON are observed as gRPC calls are: the caller's W3C traceparent continues
into the same span (policy version and action, nothing from the case), the same log line, and
the OpenTelemetry HTTP server histogram; gRPC calls are counted under the go-grpc-prometheus
names. GetPolicy names the holiday and time-zone data versions over both transports."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from google.protobuf import json_format
from google.protobuf.message import Message
from prometheus_client import REGISTRY

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import write_policy
from tests.test_operations_tracing import PARENT_ID, SECRET_AMOUNT, SECRET_CASE_ID, TRACE_ID, TRACEPARENT, _no_case_data
from tests.test_server import AS_OF, POLICY, case
from transport.grpc_server import RunningServer, ServerConfig, start_server

SERVICE = "collection_strategy.v1.CollectionStrategyService"
ROUTE = f"/{SERVICE}/Decide"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, exporter: InMemorySpanExporter) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, POLICY)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0, http_port=0)
    running = start_server(config, tracer=provider.get_tracer("test"))
    yield running
    running.stop(0)
    provider.shutdown()


def to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def post(server: RunningServer, method: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    assert server.http is not None
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.http.port}/{SERVICE}/{method}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def decide_body(case_id: str = SECRET_CASE_ID, amount: str = SECRET_AMOUNT) -> dict[str, Any]:
    return to_dict(pb.DecideRequest(case=case(case_id, amount_due=amount), as_of=AS_OF))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rpc(method: str, kind: str = "unary") -> dict[str, str]:
    return {"grpc_type": kind, "grpc_service": SERVICE, "grpc_method": method}


def test_an_http_decide_continues_the_callers_trace_with_version_and_action(server: RunningServer, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    status, answer = post(server, "Decide", decide_body(), {"traceparent": TRACEPARENT})
    assert status == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == f"{SERVICE}/Decide" and span.kind == SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes["collection.policy.version"] == "7" and attributes["collection.action"] == answer["decision"]["action"] == "SEND_REMINDER"
    assert attributes["rpc.system"] == "connect_rpc" and attributes["rpc.method"] == "Decide"
    assert attributes["http.request.method"] == "POST" and attributes["http.route"] == ROUTE and attributes["http.response.status_code"] == 200
    assert span.status.is_ok
    _no_case_data((span,))


def test_an_http_batch_has_a_span_per_decision(server: RunningServer, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    body = to_dict(pb.DecideBatchRequest(cases=[case(f"{SECRET_CASE_ID}-{index}", amount_due=SECRET_AMOUNT) for index in range(2)], as_of=AS_OF))
    assert post(server, "DecideBatch", body, {"traceparent": TRACEPARENT})[0] == 200
    spans = exporter.get_finished_spans()
    call = next(span for span in spans if span.name == f"{SERVICE}/DecideBatch")
    decisions = [span for span in spans if span.name == "decision"]
    assert len(decisions) == 2 and all(span.parent is not None and span.parent.span_id == call.context.span_id for span in decisions)
    _no_case_data(spans)


def test_a_refused_http_case_is_an_error_span_and_a_400_in_the_histogram(server: RunningServer, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    before = sample("http_server_request_duration_seconds_count", http_request_method="POST", http_route=ROUTE, http_response_status_code="400")
    status, _ = post(server, "Decide", decide_body(amount="-" + SECRET_AMOUNT))
    assert status == 400
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 400 and attributes["rpc.connect_rpc.error_code"] == "invalid_argument"
    assert not span.status.is_ok
    _no_case_data((span,))
    assert sample("http_server_request_duration_seconds_count", http_request_method="POST", http_route=ROUTE, http_response_status_code="400") == before + 1


def test_an_http_call_is_logged_as_a_grpc_call_is(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="transport.tracing")
    assert post(server, "Decide", decide_body())[0] == 200
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        pb_grpc.CollectionStrategyServiceStub(channel).Decide(pb.DecideRequest(case=case(SECRET_CASE_ID, amount_due=SECRET_AMOUNT), as_of=AS_OF), timeout=10)
    calls = [record for record in caplog.records if getattr(record, "event", None) == "call"]
    by_protocol = {record.protocol: record for record in calls}  # type: ignore[attr-defined]
    assert set(by_protocol) == {"http", "grpc"}, calls
    for record in by_protocol.values():
        assert (record.method, record.code, record.policy_version) == ("Decide", "OK", "7")  # type: ignore[attr-defined]
        assert record.latency_ms >= 0  # type: ignore[attr-defined]
        assert SECRET_CASE_ID not in record.getMessage() and SECRET_AMOUNT not in str(record.__dict__)


def test_http_calls_are_counted_apart_from_grpc_calls(server: RunningServer) -> None:
    http_ok = {"http_request_method": "POST", "http_route": ROUTE, "http_response_status_code": "200"}
    before = (sample("http_server_request_duration_seconds_count", **http_ok), sample("grpc_server_handled_total", **rpc("Decide"), grpc_code="OK"))
    assert post(server, "Decide", decide_body())[0] == 200
    assert sample("http_server_request_duration_seconds_count", **http_ok) == before[0] + 1
    assert sample("grpc_server_handled_total", **rpc("Decide"), grpc_code="OK") == before[1]  # not an RPC too
    assert sample("http_server_request_duration_seconds_bucket", **http_ok, le="10.0") == before[0] + 1


def test_grpc_calls_are_counted_under_the_go_grpc_prometheus_names(server: RunningServer) -> None:
    names = ("grpc_server_started_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count")
    unary, stream = rpc("Decide"), rpc("DecideStream", "bidi_stream")
    before = {(name, kind): sample(name, **labels) for name in names for kind, labels in (("unary", unary), ("stream", stream))}
    handled = (sample("grpc_server_handled_total", **unary, grpc_code="OK"), sample("grpc_server_handled_total", **stream, grpc_code="OK"))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        stub.Decide(pb.DecideRequest(case=case("u1"), as_of=AS_OF), timeout=10)
        answers = list(stub.DecideStream(iter([pb.DecideStreamRequest(case=case(f"s{index}"), as_of=AS_OF) for index in range(3)]), timeout=10))
    assert len(answers) == 3
    assert {key: sample(key[0], **(unary if key[1] == "unary" else stream)) - value for key, value in before.items()} == {
        ("grpc_server_started_total", "unary"): 1, ("grpc_server_msg_received_total", "unary"): 1, ("grpc_server_msg_sent_total", "unary"): 1,
        ("grpc_server_handling_seconds_count", "unary"): 1,
        ("grpc_server_started_total", "stream"): 1, ("grpc_server_msg_received_total", "stream"): 3, ("grpc_server_msg_sent_total", "stream"): 3,
        ("grpc_server_handling_seconds_count", "stream"): 1,
    }
    assert sample("grpc_server_handled_total", **unary, grpc_code="OK") == handled[0] + 1
    assert sample("grpc_server_handled_total", **stream, grpc_code="OK") == handled[1] + 1
    assert REGISTRY.get_sample_value("collection_requests_total", {"method": "Decide", "code": "OK"}) is None


def test_get_policy_names_the_holiday_and_time_zone_data_versions(server: RunningServer) -> None:
    expected = (metadata.version("holidays"), metadata.version("tzdata"))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        answer = pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=10)
    assert (answer.holidays_version, answer.tzdata_version) == expected
    status, body = post(server, "GetPolicy", {})
    assert status == 200 and (body["holidaysVersion"], body["tzdataVersion"]) == expected

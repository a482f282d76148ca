"""Tracing: the caller's W3C traceparent continues into one span per decision, with the policy
version and action and nothing from the case; off unless an OTLP endpoint is configured."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import write_policy
from tests.test_server import AS_OF, POLICY, case
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.tracing import tracer_provider

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SECRET_CASE_ID = "case-secret-4711"
SECRET_AMOUNT = "98765.43"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, exporter: InMemorySpanExporter) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, POLICY)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0), tracer=provider.get_tracer("test"))
    yield running
    running.stop(0)
    provider.shutdown()


@pytest.fixture
def stub(server: RunningServer, exporter: InMemorySpanExporter) -> Iterator[pb_grpc.CollectionStrategyServiceStub]:
    exporter.clear()
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        yield pb_grpc.CollectionStrategyServiceStub(channel)


def _no_case_data(spans: tuple[ReadableSpan, ...]) -> None:
    for span in spans:
        text = f"{span.name} {dict(span.attributes or {})} {[dict(event.attributes or {}) for event in span.events]}"
        assert SECRET_CASE_ID not in text and SECRET_AMOUNT not in text, text


def test_decide_continues_the_callers_trace_with_version_and_action(stub: pb_grpc.CollectionStrategyServiceStub, exporter: InMemorySpanExporter) -> None:
    request = pb.DecideRequest(case=case(SECRET_CASE_ID, amount_due=SECRET_AMOUNT), as_of=AS_OF)
    answer = stub.Decide(request, metadata=[("traceparent", TRACEPARENT)], timeout=10)
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    span = spans[0]
    assert span.name == "collection_strategy.v1.CollectionStrategyService/Decide" and span.kind == SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes["collection.policy.version"] == "7" and attributes["collection.action"] == answer.decision.action == "SEND_REMINDER"
    assert attributes["rpc.method"] == "Decide" and attributes["rpc.grpc.status_code"] == 0
    _no_case_data(spans)


def test_a_batch_has_a_span_per_decision(stub: pb_grpc.CollectionStrategyServiceStub, exporter: InMemorySpanExporter) -> None:
    cases = [case(f"{SECRET_CASE_ID}-{index}", amount_due=SECRET_AMOUNT, days_past_due=days) for index, days in enumerate((10, 45, 3))]
    stub.DecideBatch(pb.DecideBatchRequest(cases=cases, as_of=AS_OF), metadata=[("traceparent", TRACEPARENT)], timeout=10)
    spans = exporter.get_finished_spans()
    call = next(span for span in spans if span.name.endswith("/DecideBatch"))
    decisions = [span for span in spans if span.name == "decision"]
    assert len(decisions) == 3
    assert all(span.parent is not None and span.parent.span_id == call.context.span_id for span in decisions)
    assert all(f"{span.context.trace_id:032x}" == TRACE_ID for span in spans)
    actions = sorted(str((span.attributes or {})["collection.action"]) for span in decisions)
    assert actions == ["OFFER_PAYMENT_PLAN", "SEND_REMINDER", "SEND_REMINDER"]
    assert {(span.attributes or {})["collection.policy.version"] for span in decisions} == {"7"}
    _no_case_data(spans)


def test_a_stream_has_a_span_per_decision(stub: pb_grpc.CollectionStrategyServiceStub, exporter: InMemorySpanExporter) -> None:
    requests = [pb.DecideStreamRequest(case=case(f"{SECRET_CASE_ID}-{index}", amount_due=SECRET_AMOUNT), as_of=AS_OF) for index in range(2)]
    answers = list(stub.DecideStream(iter(requests), metadata=[("traceparent", TRACEPARENT)], timeout=10))
    assert len(answers) == 2
    spans = exporter.get_finished_spans()
    assert len([span for span in spans if span.name == "decision"]) == 2
    assert any(span.name.endswith("/DecideStream") for span in spans)
    _no_case_data(spans)


def test_a_refused_case_is_an_error_span_without_its_data(stub: pb_grpc.CollectionStrategyServiceStub, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stub.Decide(pb.DecideRequest(case=case(SECRET_CASE_ID, amount_due="-" + SECRET_AMOUNT), as_of=AS_OF), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (span,) = exporter.get_finished_spans()
    assert (span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert not span.status.is_ok
    assert span.status.description is None or SECRET_CASE_ID not in span.status.description
    _no_case_data((span,))


def test_tracing_is_off_unless_an_endpoint_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracer_provider(None) is None
    provider = tracer_provider("http://127.0.0.1:4318")
    assert provider is not None
    provider.shutdown()

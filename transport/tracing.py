"""Each call of the service observed from outside the servicer: a log line and, when configured, spans.

The log line (DEBUG; WARNING when slower than SLOW_SECONDS) names the method,
the status code, the latency and the policy version, never a case.

Tracing with OpenTelemetry is off unless an OTLP endpoint is given
(`--otlp-endpoint`, or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
read by the exporter): the SDK and exporter are imported only then. Hazards of
the library and what this module does about each:

- The global tracer provider is process-wide and set once: the tracer is passed
  in (`DecisionObserver(tracer)`), so a test or a second server can use its own.
- Context from a caller: only the W3C `traceparent`/`tracestate` metadata is
  read (TraceContextTextMapPropagator), not baggage, which could carry anything
  a caller put in it.
- Attributes are exported to another system: a span carries the method, the
  status code, the policy version and the action, never a case id, an amount
  or anything else from the request.
- The batch exporter sends from a thread: `shutdown` flushes it when a worker
  stops, and a dead collector costs dropped spans, never a failed decision.

Spans: one SERVER span per call. Decide and DecideDebtor decide once, so their
span carries the policy version and action. DecideBatch, the streams and
their debtor forms get a child span "decision" per answered case or debtor,
each with its policy version and action (a batch's children share the call's
timing; a stream's child spans the time since the previous answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)
SLOW_SECONDS = 1.0
SERVICE = "collection-strategy-engine"


def tracer_provider(endpoint: str | None) -> TracerProvider | None:
    """A provider exporting spans over OTLP/HTTP, or None when no endpoint is configured (tracing off)."""
    import os

    configured = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not configured:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Given on the command line: the base URL, as in OTEL_EXPORTER_OTLP_ENDPOINT; the exporter reads the variables itself.
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces") if endpoint else OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _decisions(response: Any) -> list[Any]:
    """The Decision or DebtorDecision messages in a response (none for GetPolicy or an error)."""
    if response is None:
        return []
    if hasattr(response, "decision"):
        return [response.decision] if response.HasField("decision") else []
    if hasattr(response, "result"):  # a stream's answer
        response = response.result
        return [response.decision] if response.HasField("decision") else []
    return [result.decision for result in getattr(response, "results", ()) if result.HasField("decision")]


def _describe(span: Span, decision: Any) -> None:
    span.set_attribute("collection.policy.version", decision.policy.version)
    span.set_attribute("collection.action", decision.action)


def _code(context: grpc.ServicerContext, failed: bool) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if failed and not context.is_active():  # the caller cancelled, or its deadline passed
        return "DEADLINE_EXCEEDED" if context.time_remaining() <= 0 else "CANCELLED"
    return "UNKNOWN" if failed else "OK"


class DecisionObserver(grpc.ServerInterceptor):
    """Wraps the service's handlers (only those under `service`) to log and trace each call."""

    def __init__(self, service: str, tracer: Tracer | None = None) -> None:
        self._prefix = f"/{service}/"
        self._tracer = tracer

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method_path: str = handler_call_details.method
        if handler is None or not method_path.startswith(self._prefix):
            return handler
        method = method_path[len(self._prefix):]
        metadata = handler_call_details.invocation_metadata or ()
        carrier = {key: value for key, value in metadata if isinstance(value, str)}
        if handler.unary_unary:
            behavior = self._unary(method, carrier, handler.unary_unary)
            return grpc.unary_unary_rpc_method_handler(behavior, handler.request_deserializer, handler.response_serializer)
        if handler.stream_stream:
            behavior = self._stream(method, carrier, handler.stream_stream)
            return grpc.stream_stream_rpc_method_handler(behavior, handler.request_deserializer, handler.response_serializer)
        return handler

    def _span(self, method: str, carrier: dict[str, str]) -> Span | None:
        if self._tracer is None:
            return None
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(carrier)
        span = self._tracer.start_span(
            f"{self._prefix[1:]}{method}", context=parent, kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": self._prefix.strip("/"), "rpc.method": method},
        )
        return span

    def _child(self, span: Span | None, decision: Any, start: int | None = None) -> None:
        if span is None or self._tracer is None:
            return
        from opentelemetry.trace import set_span_in_context

        child = self._tracer.start_span("decision", context=set_span_in_context(span), start_time=start)
        _describe(child, decision)
        child.end()

    def _finish(self, span: Span | None, method: str, code: str, started: float, version: str | None) -> None:
        latency = time.perf_counter() - started
        level = logging.WARNING if latency > SLOW_SECONDS else logging.DEBUG
        if log.isEnabledFor(level):
            extra = {"event": "call", "method": method, "code": code, "latency_ms": round(latency * 1000, 3)}
            log.log(level, "%s answered %s", method, code, extra=extra | ({"policy_version": version} if version else {}))
        if span is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("rpc.grpc.status_code", getattr(grpc.StatusCode, code).value[0])
            if code != "OK":
                span.set_status(Status(StatusCode.ERROR, code))
            span.end()

    def _unary(self, method: str, carrier: dict[str, str], behavior: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started, span, response, failed = time.perf_counter(), self._span(method, carrier), None, True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                decisions = _decisions(response)
                if span is not None and len(decisions) == 1 and method in ("Decide", "DecideDebtor"):
                    _describe(span, decisions[0])
                elif span is not None:
                    for decision in decisions:
                        self._child(span, decision)
                self._finish(span, method, _code(context, failed), started, decisions[0].policy.version if decisions else None)

        return observed

    def _stream(self, method: str, carrier: dict[str, str], behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def observed(requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started, span, failed, version = time.perf_counter(), self._span(method, carrier), True, None
            since = time.time_ns()
            try:
                for response in behavior(requests, context):
                    for decision in _decisions(response):
                        version = decision.policy.version
                        self._child(span, decision, since)
                    since = time.time_ns()
                    yield response
                failed = False
            finally:
                self._finish(span, method, _code(context, failed), started, version)

        return observed

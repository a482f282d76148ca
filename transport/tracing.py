"""Each call of the service observed from outside the servicer: a log line and, when configured, spans;
for gRPC calls also the grpc_server_* metrics (transport.metrics).

Calls over gRPC are observed by the interceptor, calls over HTTP/JSON by
transport.http_api through `begin` and `end`: the same log line and the same
span for either. The log line (DEBUG; WARNING when slower than SLOW_SECONDS)
names the protocol, the method, the status code (gRPC's name, for HTTP too),
the latency and the policy version, never a case.

Tracing with OpenTelemetry is off unless an OTLP endpoint is given
(`--otlp-endpoint`, or OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
read by the exporter): the SDK and exporter are imported only then. Hazards of
the library and what this module does about each:

- The global tracer provider is process-wide and set once: the tracer is passed
  in (`DecisionObserver(tracer)`), so a test or a second server can use its own.
- Context from a caller: only the W3C `traceparent`/`tracestate` metadata (or
  HTTP headers) is read (TraceContextTextMapPropagator), not baggage, which could carry anything
  a caller put in it.
- Attributes are exported to another system: a span carries the method, the
  status code, the policy version and the action, never a case id, an amount
  or anything else from the request.
- The batch exporter sends from a thread: `shutdown` flushes it when a worker
  stops, and a dead collector costs dropped spans, never a failed decision.

Spans: one SERVER span per call, named `<service>/<method>` over either
transport, with `rpc.system` "grpc" or "connect_rpc" (OpenTelemetry's name for
the Connect protocol) and, over HTTP, the `http.*` request attributes. Decide and DecideDebtor decide once, so their
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

from transport import metrics

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
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


def _code(context: Any, failed: bool, otherwise: str = "UNKNOWN") -> str:
    """The status code a call ended with: the one the handler set; else, when the caller
    cancelled or its deadline passed meanwhile (grpc's request iterator may then just end,
    as if the caller had finished sending), that; else `otherwise` for an exception grpc
    did not expect, OK for a return."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if not context.is_active():
        remaining = context.time_remaining()
        return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"
    return otherwise if failed else "OK"


def _carrier(context: grpc.ServicerContext) -> dict[str, str]:
    """The caller's metadata that may carry its trace context (text values; grpc gives keys lower-case)."""
    return {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}


def _log_call(level: int, method: str, code: str, latency: float, version: str | None, protocol: str) -> None:
    extra = {"event": "call", "protocol": protocol, "method": method, "code": code, "latency_ms": round(latency * 1000, 3)}
    log.log(level, "%s answered %s", method, code, extra=extra | ({"policy_version": version} if version else {}))


class _Counted:
    """A stream's request iterator that counts each message received. A class, not a
    generator: an ended generator would not ask grpc's iterator again, and asking again
    is how transport.streams tells a cancel from the end of the messages."""

    __slots__ = ("_requests", "_received")

    def __init__(self, requests: Iterator[Any], received: Any) -> None:
        self._requests, self._received = requests, received

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        message = next(self._requests)
        self._received.inc()
        return message


def _current(span: Span) -> Token[Context]:
    """Make `span` the current span of this thread; returns the token to detach it with."""
    from opentelemetry import context as trace_context, trace

    return trace_context.attach(trace.set_span_in_context(span))


class Call:
    """One call being observed: its method, span (None when tracing is off) and start."""

    __slots__ = ("method", "span", "started")

    def __init__(self, method: str, span: Span | None) -> None:
        self.method, self.span, self.started = method, span, time.perf_counter()


class DecisionObserver(grpc.ServerInterceptor):
    """Logs and traces each call of the service (only those under `service`), over either transport.

    As a gRPC interceptor it also counts the call in the grpc_server_* metrics;
    the HTTP transport calls `begin` and `end` itself and counts its own."""

    def __init__(self, service: str, tracer: Tracer | None = None) -> None:
        self._service = service
        self._prefix = f"/{service}/"
        self._tracer = tracer
        # grpc asks the interceptor for a handler on every call: each method's observed
        # handler is built once, beside the handler it wraps (rebuilt if that changes).
        self._observed: dict[str, tuple[Any, Any]] = {}

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method_path: str = handler_call_details.method
        if handler is None or not method_path.startswith(self._prefix):
            return handler
        known = self._observed.get(method_path)
        if known is not None and known[0] is handler:
            return known[1]
        method = method_path[len(self._prefix):]
        if handler.unary_unary:
            behavior = self._unary(method, handler.unary_unary)
            observed = grpc.unary_unary_rpc_method_handler(behavior, handler.request_deserializer, handler.response_serializer)
        elif handler.stream_stream:
            streamed = self._stream(method, handler.stream_stream)
            observed = grpc.stream_stream_rpc_method_handler(streamed, handler.request_deserializer, handler.response_serializer)
        else:
            return handler
        self._observed[method_path] = (handler, observed)
        return observed

    def begin(self, method: str, carrier: dict[str, str], attributes: dict[str, str] | None = None) -> Call:
        """Start observing a call; `carrier` holds the caller's headers or metadata, lower-case keys."""
        return Call(method, self._span(method, carrier, attributes or {"rpc.system": "grpc"}))

    def end(self, call: Call, code: str, response: Any = None, attributes: dict[str, Any] | None = None, protocol: str = "grpc") -> None:
        """Finish a call that answered `response` (None for a stream, or a refused call) with `code`."""
        span = call.span
        if span is None:  # the answer is read only for a log line that is written
            self._answered(call.method, code, time.perf_counter() - call.started, response, protocol)
            return
        decisions = _decisions(response)
        if len(decisions) == 1 and call.method in ("Decide", "DecideDebtor"):
            _describe(span, decisions[0])
        else:
            for decision in decisions:
                self._child(span, decision)
        self._finish(call, code, decisions[0].policy.version if decisions else None, attributes or {}, protocol)

    def _answered(self, method: str, code: str, latency: float, response: Any, protocol: str) -> None:
        """The log line of a call without a span: nothing is read or formatted unless it is written."""
        level = logging.WARNING if latency > SLOW_SECONDS else logging.DEBUG
        if log.isEnabledFor(level):
            decisions = _decisions(response)
            _log_call(level, method, code, latency, decisions[0].policy.version if decisions else None, protocol)

    def _span(self, method: str, carrier: dict[str, str], attributes: dict[str, str]) -> Span | None:
        if self._tracer is None:
            return None
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(carrier)
        span = self._tracer.start_span(
            f"{self._service}/{method}", context=parent, kind=SpanKind.SERVER,
            attributes={**attributes, "rpc.service": self._service, "rpc.method": method},
        )
        return span

    def _child(self, span: Span | None, decision: Any, start: int | None = None) -> None:
        if span is None or self._tracer is None:
            return
        from opentelemetry.trace import set_span_in_context

        child = self._tracer.start_span("decision", context=set_span_in_context(span), start_time=start)
        _describe(child, decision)
        child.end()

    def _finish(self, call: Call, code: str, version: str | None, attributes: dict[str, Any], protocol: str) -> None:
        latency = time.perf_counter() - call.started
        level = logging.WARNING if latency > SLOW_SECONDS else logging.DEBUG
        if log.isEnabledFor(level):
            _log_call(level, call.method, code, latency, version, protocol)
        span = call.span
        if span is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attributes(attributes)
            if code != "OK":
                span.set_status(Status(StatusCode.ERROR, code))
            span.end()

    def _unary(self, method: str, behavior: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        series = metrics.RpcSeries(metrics.RPC_TYPES.get(method, "unary"), self._service, method)
        traced = self._tracer is not None

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            series.started.inc()
            series.received.inc()
            # No Call, span or caller's metadata read when tracing is off: only the start.
            call = self.begin(method, _carrier(context)) if traced else None
            started, response, failed = time.perf_counter() if call is None else call.started, None, True
            # The call's span is current while it is handled: work it starts (a batch part
            # sent to a sibling, transport/batch_spread.py) is traced as its child.
            token = _current(call.span) if call is not None and call.span is not None else None
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                if token is not None:
                    from opentelemetry import context as trace_context

                    trace_context.detach(token)
                code = _code(context, failed)
                if not failed:
                    series.sent.inc()
                series.handled(code).inc()
                latency = time.perf_counter() - started
                series.handling.observe(latency)
                if call is None:
                    self._answered(method, code, latency, response, "grpc")
                else:
                    self.end(call, code, response, {"rpc.grpc.status_code": getattr(grpc.StatusCode, code).value[0]})

        return observed

    def _stream(self, method: str, behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        series = metrics.RpcSeries(metrics.RPC_TYPES.get(method, "bidi_stream"), self._service, method)
        traced = self._tracer is not None

        def observed(requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            series.started.inc()
            sent = series.sent
            call, failed, closed, version = self.begin(method, _carrier(context) if traced else {}), True, False, None
            since = time.time_ns()
            try:
                for response in behavior(_Counted(requests, series.received), context):
                    for decision in _decisions(response):
                        version = decision.policy.version
                        self._child(call.span, decision, since)
                    since = time.time_ns()
                    sent.inc()
                    yield response
                failed = False
            except GeneratorExit:  # grpc closed the stream while it waited for the caller to read: cancelled
                closed = True
                raise
            finally:
                # An exception without a code here is the request iterator's, raised when the caller cancels.
                code = "CANCELLED" if closed else _code(context, failed, "CANCELLED")
                series.handled(code).inc()
                series.handling.observe(time.perf_counter() - call.started)
                self._finish(call, code, version, {"rpc.grpc.status_code": getattr(grpc.StatusCode, code).value[0]}, "grpc")

        return observed

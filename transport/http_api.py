"""The unary methods over HTTP/1.1 JSON, in the Connect protocol's unary form.

`POST /collection_strategy.v1.CollectionStrategyService/<Method>` with
`Content-Type: application/json` and the request message in proto3 JSON is
answered 200 with the response message in proto3 JSON, or with a Connect error
`{"code": "invalid_argument", "message": ..., "details": [...]}` under the HTTP
status the Connect protocol gives that code (connectrpc.com/docs/protocol).
`application/proto` bodies are served too, as Connect allows.

A second transport over the same servicer, not a second engine entry point:
the JSON becomes the request's bytes and goes to the very handler gRPC calls,
with a call context that turns the handler's abort (INVALID_ARGUMENT with a
google.rpc.BadRequest, DEADLINE_EXCEEDED, ...) into the Connect error. So a
bad snapshot gets the same field violations over both transports.

The HTTP is waitress's (a maintained, pure-Python WSGI server that runs in a
thread of the worker); its hazards and what this module does about them:
- It answers a body over `max_request_body_size` with a plain-text 413 before
  the application sees it: set to the gRPC message limit, so both transports
  take the same largest request.
- An exception escaping the application is a plain 500 (tracebacks are not
  exposed): every handler error is caught here and answered as Connect JSON;
  bad input never reaches that path (tests/test_http_api.py fuzzes it).
- Stopping cancels requests still queued and waits at most a few seconds for
  running ones: it has no drain like grpc's `stop(grace)`; the worker stops
  the HTTP side first so a balancer sees refused connections, not 500s.
- It binds its own sockets without SO_REUSEPORT: the socket is bound here and
  handed over, so sibling workers can share the HTTP port as they share gRPC's.
- It has no TLS. Beside TLS (and mTLS) on gRPC a plain HTTP port would take
  unencrypted, unauthenticated calls to the same decisions, so the server
  refuses the pair (transport.grpc_server) unless told TLS ends before it
  (`--http-plaintext`: an ingress or a mesh sidecar holds the certificate).

Each call is observed as a gRPC call is: the same log line and span
(transport.tracing, the caller's `traceparent` header continued), and the
OpenTelemetry HTTP server histogram http_server_request_duration_seconds
(transport.metrics says why HTTP calls are not counted as RPCs).

Deliberate differences from a Connect server: unknown JSON fields are refused
(400 naming the field) rather than dropped, as a misspelt field silently
ignored would be a guess; streams are not offered over HTTP (404, pointing to
the batch methods); GET, compression and the Connect streaming forms are not
served.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import waitress  # type: ignore[import-untyped]  # no stubs, no py.typed
from waitress import wasyncore
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.errors import FieldProblem
from transport import metrics, proto_json
from transport.errors import cut, invalid_argument
from transport.servicer import SERVICE_NAME, CollectionStrategyServicer
from transport.tracing import DecisionObserver

log = logging.getLogger(__name__)
PREFIX = f"/{SERVICE_NAME}/"
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # as grpc_server.MAX_MESSAGE_BYTES
MAX_TIMEOUT_DIGITS = 10  # Connect-Timeout-Ms: at most 10 digits (the protocol's rule)
JSON_TYPE = "application/json"
PROTO_TYPE = "application/proto"
ACCEPTED = f"{JSON_TYPE}, {PROTO_TYPE}"

# The Connect protocol's code names and HTTP statuses, by gRPC status code.
CONNECT_CODES: dict[grpc.StatusCode, tuple[str, int]] = {
    grpc.StatusCode.CANCELLED: ("canceled", 499),
    grpc.StatusCode.UNKNOWN: ("unknown", 500),
    grpc.StatusCode.INVALID_ARGUMENT: ("invalid_argument", 400),
    grpc.StatusCode.DEADLINE_EXCEEDED: ("deadline_exceeded", 504),
    grpc.StatusCode.NOT_FOUND: ("not_found", 404),
    grpc.StatusCode.ALREADY_EXISTS: ("already_exists", 409),
    grpc.StatusCode.PERMISSION_DENIED: ("permission_denied", 403),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("resource_exhausted", 429),
    grpc.StatusCode.FAILED_PRECONDITION: ("failed_precondition", 400),
    grpc.StatusCode.ABORTED: ("aborted", 409),
    grpc.StatusCode.OUT_OF_RANGE: ("out_of_range", 400),
    grpc.StatusCode.UNIMPLEMENTED: ("unimplemented", 501),
    grpc.StatusCode.INTERNAL: ("internal", 500),
    grpc.StatusCode.UNAVAILABLE: ("unavailable", 503),
    grpc.StatusCode.DATA_LOSS: ("data_loss", 500),
    grpc.StatusCode.UNAUTHENTICATED: ("unauthenticated", 401),
}
_STATUS_KEY = "grpc-status-details-bin"


class CallRefused(Exception):
    """A call answered with an error: a gRPC status code, a message and google.rpc details."""

    def __init__(self, code: grpc.StatusCode, message: str, details: Iterable[Any] = (), status: int | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, list(details)
        self.http_status = status if status is not None else CONNECT_CODES[code][1]


class CallContext:
    """What the servicer's unary handlers ask of a grpc.ServicerContext, for one HTTP call.

    abort and abort_with_status raise CallRefused; the deadline is the caller's
    Connect-Timeout-Ms, if any (a WSGI application cannot see a caller hang up)."""

    def __init__(self, deadline: float | None):
        self._deadline = deadline
        self._code: grpc.StatusCode | None = None

    def is_active(self) -> bool:
        return self._deadline is None or time.monotonic() < self._deadline

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        self._code = code
        raise CallRefused(code, details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        """The status as grpc_status.rpc_status.to_status built it: details in trailing metadata."""
        self._code = status.code
        packed = dict(status.trailing_metadata or ()).get(_STATUS_KEY)
        details = status_pb2.Status.FromString(packed).details if packed else []
        raise CallRefused(status.code, status.details, details)


def _detail_json(detail: Any) -> dict[str, Any]:
    """A google.protobuf.Any as Connect writes an error detail: its type, its bytes in
    unpadded base64, and a readable form under "debug" for the types we send."""
    out: dict[str, Any] = {"type": detail.TypeName(), "value": base64.b64encode(detail.value).decode("ascii").rstrip("=")}
    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
        readable = error_details_pb2.BadRequest()
        detail.Unpack(readable)
        out["debug"] = json_format.MessageToDict(readable)
    return out


def _error_body(refused: CallRefused) -> bytes:
    name = CONNECT_CODES.get(refused.code, ("unknown", 500))[0]
    body: dict[str, Any] = {"code": name, "message": refused.message}
    if refused.details:
        body["details"] = [_detail_json(detail) for detail in refused.details]
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _refuse_input(context: CallContext, what: str, problem: str) -> NoReturn:
    """INVALID_ARGUMENT naming `what`, bounded like every other refusal (transport.errors)."""
    invalid_argument(context, f"{what}: {problem}", [FieldProblem(what, problem)], what)


def _deadline(header: str | None) -> float | None:
    """The call's deadline from the Connect-Timeout-Ms header, if the caller set one."""
    if header is None or header == "":
        return None
    if not (header.isascii() and header.isdigit()) or len(header) > MAX_TIMEOUT_DIGITS:
        _refuse_input(CallContext(None), "Connect-Timeout-Ms", f"must be a whole number of milliseconds of at most {MAX_TIMEOUT_DIGITS} digits")
    return time.monotonic() + int(header) / 1000


@dataclass(frozen=True)
class _Method:
    name: str
    request_type: type[Message]
    handler: Callable[[bytes, Any], Message]


def _unary_methods(servicer: CollectionStrategyServicer) -> tuple[dict[str, _Method], set[str]]:
    """The service's unary methods, and the names of its streams, from the proto's descriptor."""
    service = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"]
    unary, streams = {}, set()
    for method in service.methods:
        if method.client_streaming or method.server_streaming:
            streams.add(method.name)
            continue
        request_type = getattr(pb, method.input_type.name)
        unary[method.name] = _Method(method.name, request_type, getattr(servicer, method.name))
    return unary, streams


HTTP_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
TRACE_HEADERS = (("traceparent", "HTTP_TRACEPARENT"), ("tracestate", "HTTP_TRACESTATE"))


class ConnectApp:
    """The WSGI application: route, check the request's form, parse, call the servicer, answer.

    Each call is timed in http_server_request_duration_seconds, and a call to a
    method is logged and traced by `observer` as a gRPC call is (transport.tracing)."""

    def __init__(self, servicer: CollectionStrategyServicer, observer: DecisionObserver | None = None):
        self._methods, self._streams = _unary_methods(servicer)
        self._observer = observer or DecisionObserver(SERVICE_NAME)

    def routes(self) -> list[str]:
        return [PREFIX + name for name in self._methods]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        headers: list[tuple[str, str]] = []
        verb = environ.get("REQUEST_METHOD", "")
        verb = verb if verb in HTTP_METHODS else "_OTHER"  # as OpenTelemetry: a bounded set of label values
        path = environ.get("PATH_INFO", "")
        name = path[len(PREFIX):] if path.startswith(PREFIX) and path[len(PREFIX):] in self._methods else None
        route = PREFIX + name if name else ""  # "": no route, the same as no label to Prometheus
        call = None
        if name:
            carrier = {key: environ[variable] for key, variable in TRACE_HEADERS if variable in environ}
            call = self._observer.begin(name, carrier, {"rpc.system": "connect_rpc", "http.request.method": verb, "http.route": route})
        response, code = None, "OK"
        try:
            status, content_type, body, response = self._answer(environ, headers)
        except CallRefused as refused:
            status, content_type, body = refused.http_status, JSON_TYPE, _error_body(refused)
            code = refused.code.name
        except Exception:  # a fault of ours, not of the request: logged without the request (personal data)
            log.exception("HTTP call to %s failed", cut(path, 120))
            status, content_type, body = 500, JSON_TYPE, _error_body(CallRefused(grpc.StatusCode.INTERNAL, "internal error"))
            code = "INTERNAL"
        headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
        metrics.child(metrics.HTTP_DURATION, verb, route, str(status)).observe(time.perf_counter() - started)
        if call is not None:
            attributes: dict[str, Any] = {"http.response.status_code": status}
            if code != "OK":
                attributes["rpc.connect_rpc.error_code"] = CONNECT_CODES.get(getattr(grpc.StatusCode, code), ("unknown", 500))[0]
            self._observer.end(call, code, response, attributes, "http")
        return [body]

    def _answer(self, environ: dict[str, Any], headers: list[tuple[str, str]]) -> tuple[int, str, bytes, Message]:
        method = self._route(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST":
            headers.append(("Allow", "POST"))
            raise CallRefused(grpc.StatusCode.UNIMPLEMENTED, f"{method.name} is called with POST", status=405)
        media_type, _, parameters = environ.get("CONTENT_TYPE", "").partition(";")
        media_type = media_type.strip().lower()
        if media_type not in (JSON_TYPE, PROTO_TYPE):
            headers.append(("Accept-Post", ACCEPTED))
            shown = cut(media_type, 60) or "none"
            raise CallRefused(grpc.StatusCode.INVALID_ARGUMENT, f"Content-Type must be {JSON_TYPE} (or {PROTO_TYPE}), got {shown}", status=415)
        if environ.get("HTTP_CONTENT_ENCODING", "identity").strip().lower() not in ("", "identity"):
            raise CallRefused(grpc.StatusCode.UNIMPLEMENTED, "Content-Encoding is not supported: send the body uncompressed")
        context = CallContext(_deadline(environ.get("HTTP_CONNECT_TIMEOUT_MS")))
        data = _body(environ)
        if media_type == JSON_TYPE:
            data = _json_to_bytes(method.request_type, data, parameters, context)
        response = method.handler(data, context)
        if media_type == PROTO_TYPE:
            return 200, PROTO_TYPE, response.SerializeToString(), response
        return 200, JSON_TYPE, json_format.MessageToJson(response, indent=None, ensure_ascii=False).encode("utf-8"), response

    def _route(self, path: str) -> _Method:
        name = path[len(PREFIX):] if path.startswith(PREFIX) else None
        if name in self._streams:
            raise CallRefused(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{name} is a stream, served over gRPC only; over HTTP use {name.replace('Stream', 'Batch')} with many items in one request",
                status=404,
            )
        if name is None or name not in self._methods:
            known = ", ".join(sorted(self._methods))
            raise CallRefused(grpc.StatusCode.UNIMPLEMENTED, f"no such method: POST to {PREFIX}<method>, the method one of {known}", status=404)
        return self._methods[name]


def _body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:  # waitress refuses these first; kept for other WSGI servers
        raise CallRefused(grpc.StatusCode.RESOURCE_EXHAUSTED, f"the request body is larger than {MAX_REQUEST_BYTES} bytes")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _json_to_bytes(request_type: type[Message], data: bytes, parameters: str, context: CallContext) -> bytes:
    """The request's proto bytes from its proto3 JSON; a 400 naming the problem when it is not one."""
    name = request_type.DESCRIPTOR.name
    charset = parameters.strip().lower().removeprefix("charset=").strip('"') if "charset" in parameters.lower() else "utf-8"
    if charset not in ("utf-8", "utf8"):
        _refuse_input(context, "Content-Type", f"the JSON must be UTF-8, got charset {cut(charset, 30)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        _refuse_input(context, "request", f"the body is not UTF-8 (byte {error.start})")
    if not text.strip():
        _refuse_input(context, "request", f"the body is empty: send a {name} as a JSON object, {{}} at least")
    try:
        message = proto_json.parse(request_type, text)
    except json_format.ParseError as error:
        _refuse_input(context, "request", f"not a valid {name} in JSON: {cut(str(error), 200)}")
    except RecursionError:  # json_format wraps what it meets in ParseError; kept should one escape it
        _refuse_input(context, "request", f"not a valid {name} in JSON: nested too deeply")
    return message.SerializeToString()


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 415: "Unsupported Media Type", 429: "Too Many Requests", 499: "Client Closed Request",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class HttpServer:
    """waitress serving ConnectApp on one port, in a thread of this process."""

    server: Any
    port: int
    thread: threading.Thread

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new connections, let running calls finish within `grace`, then close the rest.

        Sockets are closed by waitress's own loop thread (through its trigger): closed
        from here, under its select(), the loop and the finishing calls fail on a closed fd."""
        server = self.server
        server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(server))  # the listening socket alone
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=grace)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        self.thread.join(grace)


def _listening_socket(bind: str, port: int, reuse_port: bool) -> socket.socket:
    host = bind.strip().strip("[]")
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # sibling workers share the port, as they share gRPC's
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def start_http(
    servicer: CollectionStrategyServicer, bind: str, port: int, reuse_port: bool = False, threads: int = 4, observer: DecisionObserver | None = None
) -> HttpServer:
    """Serve the unary methods as Connect JSON on bind:port (0: a free port) until stop()."""
    sock = _listening_socket(bind, port, reuse_port)
    app = ConnectApp(servicer, observer)
    metrics.http_start_at_zero(app.routes())
    server = waitress.create_server(
        app, sockets=[sock], threads=threads, max_request_body_size=MAX_REQUEST_BYTES,
        ident="collection-strategy", clear_untrusted_proxy_headers=True,
    )
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    return HttpServer(server, sock.getsockname()[1], thread)

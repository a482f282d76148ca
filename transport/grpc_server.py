"""Build and run one gRPC server process: servicer, health, reflection, graceful stop.

It listens on `bind` only (this machine by default), on a private unix socket
for the supervisor's probe when asked, on its peer socket for the parts of its
siblings' batches (a second server, transport.batch_spread), and with the limits that keep one caller
from stopping it: streams bounded and closed when idle (transport.streams),
requests parsed and refusals bounded by us (transport.errors), connections
recycled at an age so clients spread over replaced workers.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from engine.authoring.acceptance import acceptance_checks
from engine.handover import FOLLOW_SECONDS, FollowingRegistry, Handover
from engine.last_good import LastGoodRules
from engine.registry import PolicyRegistry
from transport import metrics
from transport.batch_spread import PeerService, Siblings, start_peer_server
from transport.decision_log import DecisionLog, sink_from
from transport.http_api import HttpServer, start_http
from transport.servicer import SERVICE_NAME, CollectionStrategyServicer, add_to_server
from transport.streams import StreamLimits
from transport.tls import server_credentials
from transport.tracing import DecisionObserver, tracer_provider

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CONNECTION_AGE_GRACE_SECONDS = 600  # calls in flight when a connection reaches its age have this long to finish
KEEPALIVE_SECONDS = 60


@dataclass(frozen=True)
class ServerConfig:
    port: int
    rules_dir: Path
    threads: int = 8
    max_concurrent_rpcs: int = 512
    grace_seconds: float = 15.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # require client certificates signed by this CA (mTLS)
    reuse_port: bool = True  # share the port with sibling workers (SO_REUSEPORT)
    reload_seconds: float = 2.0  # how often to look for changed rules; 0: never
    keep_dir: Path | None = None  # where accepted rules are kept for a worker started again after a crash
    bind: str = "127.0.0.1"  # the address gRPC listens on ("0.0.0.0" or "[::]" for every interface)
    reflection: bool = True  # server reflection (grpcurl, buf curl without the proto)
    max_streams: int | None = None  # open DecideStreams per worker; None: half the threads
    stream_idle_seconds: float = 30.0  # a stream with no message for this long is closed
    max_connection_age_seconds: float = 120.0  # clients reconnect, and so spread over replaced workers
    probe_socket: Path | None = None  # a private unix socket the supervisor's watchdog probes health on
    otlp_endpoint: str | None = None  # OTLP/HTTP base URL for traces; None: OTEL_EXPORTER_OTLP_ENDPOINT, or no tracing
    http_port: int | None = None  # the unary methods as Connect JSON over HTTP/1.1 (transport.http_api); None: off, 0: any free port
    # waitress has no TLS: plain HTTP beside TLS gRPC only when the operator says TLS ends before
    # the server (ingress, mesh); otherwise refused, so mTLS on gRPC cannot be walked around over HTTP.
    http_plaintext: bool = False
    trusted_keys: Path | None = None  # serve only rules in a bundle these keys approved (engine/bundle.py); None: any rules that pass
    decision_log: str | None = None  # stdout, file:PATH or an http(s) URL (transport/decision_log.py); None: no log
    decision_log_keep: tuple[str, ...] | None = None  # snapshot paths logged unmasked; None: the whole snapshot
    # The supervisor's keep directory, whose word (engine/handover.py) names the checked version to
    # serve; None: this process watches and checks the rules itself (a lone worker, a test).
    handover: Path | None = None
    # Every worker slot's peer socket, this worker's at peer_index: a large DecideBatch is spread
    # over the siblings through them (transport/batch_spread.py); empty: a lone worker, no spreading.
    peer_sockets: tuple[Path, ...] = ()
    peer_index: int = 0


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    registry: PolicyRegistry
    stopping: threading.Event
    http: HttpServer | None = None  # the same servicer over HTTP/JSON, when configured
    decision_log: DecisionLog | None = None
    peer: grpc.Server | None = None  # the siblings' parts of their batches, on the peer socket

    def stop(self, grace: float) -> None:
        """Stop taking new calls, let calls in flight finish within `grace`, then stop."""
        self.stopping.set()
        if self.http is not None:  # first: waitress cannot drain, so callers meet a closed port, not a cut call
            self.http.stop()
        self.health.enter_graceful_shutdown()
        # Both at once: a sibling's part refused from now on is decided by the sibling itself.
        stopped = [self.server.stop(grace), *([self.peer.stop(grace)] if self.peer is not None else [])]
        for event in stopped:
            event.wait()
        if self.decision_log is not None:  # after the last call: its record is written too
            self.decision_log.close()


_published: set[tuple[str, str, str, str]] = set()


def _publish_policy(registry: PolicyRegistry) -> None:
    """Set the policy-info gauge to 1 for what is in force and 0 for what was
    (clearing labels is not possible in prometheus_client's multiprocess mode)."""
    engine = registry.current.engine
    now = {("strategy", engine.ref.name, engine.ref.version, engine.ref.hash)}
    now |= {("compliance", pack.name, pack.version, pack.content_hash) for pack in engine.compliance.packs}
    for labels in _published - now:
        metrics.POLICY.labels(*labels).set(0)
    for labels in now:
        metrics.POLICY.labels(*labels).set(1)
    _published.clear()
    _published.update(now)
    metrics.publish_build(engine.ref.hash)


def _watch_rules(registry: PolicyRegistry, every: float, stopping: threading.Event) -> None:
    """Look for changed rules every few seconds; load, check and swap them, or refuse.
    Under a supervisor, follow its word instead: swap to the version it checked, show what it refused."""
    while not stopping.wait(every):
        try:
            swapped = registry.reload_if_changed()
        except Exception:  # never let the watcher die: the service must keep serving
            log.exception("could not check the rules directory for changes")
            continue
        if swapped is not None:
            metrics.RELOADS.labels("swapped" if swapped else "refused").inc()
            metrics.reloaded(swapped)
            if swapped:
                _publish_policy(registry)


def _stream_limits(config: ServerConfig) -> StreamLimits:
    """Streams per worker: fewer than its threads, so a thread is always free for unary calls and health checks."""
    streams = config.threads // 2 if config.max_streams is None else config.max_streams
    if not 0 <= streams < config.threads:
        raise ValueError(f"max_streams must be from 0 to threads - 1 ({config.threads - 1}), so that a thread is always free for unary calls and health checks; got {streams}")
    if config.stream_idle_seconds <= 0:
        raise ValueError(f"stream_idle_seconds must be more than 0, got {config.stream_idle_seconds}")
    return StreamLimits(streams, config.stream_idle_seconds)


def _address(bind: str, port: int) -> str:
    """host:port as gRPC reads it: an IPv6 literal goes in brackets."""
    host = bind.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class PortUnavailable(OSError):
    """The gRPC port cannot be listened on (in use, or not an address of this machine)."""

    def __str__(self) -> str:
        return str(self.strerror)  # the sentence alone, without "[Errno 98]"


def _why_not_listening(bind: str, port: int) -> PortUnavailable:
    """grpc only says "failed to bind": ask the operating system why."""
    host = bind.strip().strip("[]")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return PortUnavailable(error.errno, f"port {port} is already in use on {bind}: stop the other server, or choose another port")
        if error.errno == errno.EADDRNOTAVAIL:
            return PortUnavailable(error.errno, f"cannot listen on {bind}: it is not an address of this machine")
        return PortUnavailable(error.errno, f"cannot listen on port {port} on {bind}: {error.strerror or error}")
    return PortUnavailable(errno.EADDRINUSE, f"cannot listen on port {port} on {bind}")


def _listen(server: grpc.Server, config: ServerConfig) -> int:
    """Listen on config.bind (and on the probe socket); the port listened on (chosen by the system for port 0)."""
    address = _address(config.bind, config.port)
    try:
        if config.tls_cert and config.tls_key:
            credentials = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)  # re-read on rotation
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:  # grpc: "Failed to bind to address ..."
        raise _why_not_listening(config.bind, config.port) from None
    if config.probe_socket is not None:
        # Plain: only the supervisor, as the same user, connects (the socket is the owner's only).
        server.add_insecure_port(f"unix:{config.probe_socket}")
        os.chmod(config.probe_socket, 0o600)
    return port


def _options(config: ServerConfig) -> list[tuple[str, int]]:
    return [
        ("grpc.so_reuseport", 1 if config.reuse_port else 0),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # After this age a connection is asked to go away (GOAWAY, with grpc's
        # +-10 % jitter); the client reconnects, and so spreads over workers
        # started since, e.g. one replaced after a crash.
        ("grpc.max_connection_age_ms", int(config.max_connection_age_seconds * 1000)),
        # Calls in flight then have this long to finish before the connection
        # closes: long, as a dialer's stream may run for minutes.
        ("grpc.max_connection_age_grace_ms", int(CONNECTION_AGE_GRACE_SECONDS * 1000)),
        # Ping an idle connection now and then, to find clients that went away
        # without closing it (a crashed host, a dropped NAT entry).
        ("grpc.keepalive_time_ms", KEEPALIVE_SECONDS * 1000),
        ("grpc.keepalive_timeout_ms", 20_000),
    ]


class PlaintextBesideTls(ValueError):
    """Plain HTTP was asked for beside TLS on gRPC without http_plaintext."""


def _check_http(config: ServerConfig) -> None:
    if config.http_port is not None and config.tls_cert and not config.http_plaintext:
        raise PlaintextBesideTls(
            "http_port serves plain HTTP, and tls_cert asks for TLS: the HTTP port would take unencrypted, unauthenticated calls "
            "beside the TLS gRPC port; set http_plaintext if TLS ends before the server (an ingress or a mesh sidecar)"
        )


def start_server(config: ServerConfig, registry: PolicyRegistry | None = None, tracer: Tracer | None = None) -> RunningServer:
    _check_http(config)
    streams = _stream_limits(config)
    keep = LastGoodRules(config.keep_dir) if config.keep_dir else None
    checks = acceptance_checks()
    if config.trusted_keys:  # imported only here: engine.bundle loads the signing library, which unsigned rules never need
        from engine.bundle import require_approved

        checks.append(require_approved(config.trusted_keys))
    if registry is None:
        registry = FollowingRegistry(config.rules_dir, Handover(config.handover)) if config.handover else PolicyRegistry(config.rules_dir, checks=checks, keep=keep)
    decisions = DecisionLog(sink_from(config.decision_log), config.decision_log_keep) if config.decision_log else None
    # The series at zero and the load's outcome before the build it serves: a scrape that sees
    # a worker's build sees them too.
    metrics.start_at_zero()
    metrics.reloaded(registry.last_refusal is None)  # a start on the kept version, the rules refused, is not a success
    _publish_policy(registry)
    observer = DecisionObserver(SERVICE_NAME, tracer)  # gRPC and HTTP calls alike
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="rpc"),
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        options=_options(config),
        interceptors=[observer],  # metrics and a log line per call; spans when tracing is on
    )
    siblings = Siblings(config.peer_sockets, config.peer_index) if len(config.peer_sockets) > 1 else None
    servicer = CollectionStrategyServicer(registry, streams, decisions, siblings)
    add_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if config.reflection:
        _add_reflection(server, streams)
    port = _listen(server, config)
    server.start()
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    stopping = threading.Event()
    if config.reload_seconds > 0:
        # A follower reads a small file: often, so that every worker swaps soon after the supervisor's check.
        every = min(config.reload_seconds, FOLLOW_SECONDS) if isinstance(registry, FollowingRegistry) else config.reload_seconds
        threading.Thread(target=_watch_rules, args=(registry, every, stopping), name="rules-watcher", daemon=True).start()
    http = start_http(servicer, config.bind, config.http_port, config.reuse_port, observer=observer) if config.http_port is not None else None
    peer = start_peer_server(PeerService(servicer, registry, observer), config.peer_sockets[config.peer_index], config.threads) if siblings else None
    return RunningServer(server, port, health_servicer, registry, stopping, http, decisions, peer)


def _add_reflection(server: grpc.Server, streams: StreamLimits) -> None:
    """Server reflection, its stream under the same limits as DecideStream (it too holds a thread
    while open) and its messages parsed by us (grpc's parsing hangs on a bad first message)."""
    servicer = reflection.ReflectionServicer((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME))
    handler = grpc.stream_stream_rpc_method_handler(
        streams.guarded(servicer.ServerReflectionInfo, reflection_pb2.ServerReflectionRequest),
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(reflection.SERVICE_NAME, {"ServerReflectionInfo": handler}),))


def serve_forever(config: ServerConfig) -> None:
    """Run one worker until SIGTERM or SIGINT, then drain calls in flight and exit."""
    tracing = tracer_provider(config.otlp_endpoint)
    running = start_server(config, tracer=tracing.get_tracer(__name__) if tracing else None)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    ref = running.registry.current.engine.ref
    log.info(
        "serving %s on port %d with policy %s %s (%s)", SERVICE_NAME, running.port, ref.name, ref.version, ref.hash,
        extra={"event": "serving", "policy_version": ref.version, "policy_hash": ref.hash},
    )
    while not stopping.wait(1.0):  # a timed wait: the main thread wakes to run a signal's handler
        pass
    log.info("draining calls in flight (up to %.0f s)", config.grace_seconds)
    running.stop(config.grace_seconds)
    if tracing is not None:
        tracing.shutdown()  # sends the spans still batched

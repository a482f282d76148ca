"""Build and run one gRPC server process: servicer, health, reflection, graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine.acceptance import acceptance_checks
from engine.last_good import LastGoodRules
from engine.registry import PolicyRegistry
from transport import metrics
from transport.servicer import CollectionStrategyServicer

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"].full_name
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    port: int
    rules_dir: Path
    threads: int = 8
    max_concurrent_rpcs: int = 512
    grace_seconds: float = 15.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    reuse_port: bool = True  # share the port with sibling workers (SO_REUSEPORT)
    reload_seconds: float = 2.0  # how often to look for changed rules; 0: never
    keep_dir: Path | None = None  # where accepted rules are kept for a worker started again after a crash
    bind: str = "127.0.0.1"  # the address gRPC listens on ("0.0.0.0" or "[::]" for every interface)
    reflection: bool = True  # server reflection (grpcurl, buf curl without the proto)
    max_streams: int | None = None  # open DecideStreams per worker; None: half the threads
    stream_idle_seconds: float = 30.0  # a stream with no message for this long is closed
    max_connection_age_seconds: float = 120.0  # clients reconnect, and so spread over replaced workers
    probe_socket: Path | None = None  # a private unix socket the supervisor's watchdog probes health on


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    registry: PolicyRegistry
    stopping: threading.Event

    def stop(self, grace: float) -> None:
        """Stop taking new calls, let calls in flight finish within `grace`, then stop."""
        self.stopping.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


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


def _watch_rules(registry: PolicyRegistry, every: float, stopping: threading.Event) -> None:
    """Look for changed rules every few seconds; load, check and swap them, or refuse."""
    while not stopping.wait(every):
        try:
            swapped = registry.reload_if_changed()
        except Exception:  # never let the watcher die: the service must keep serving
            log.exception("could not check the rules directory for changes")
            continue
        if swapped is not None:
            metrics.RELOADS.labels("swapped" if swapped else "refused").inc()
            if swapped:
                _publish_policy(registry)


def start_server(config: ServerConfig, registry: PolicyRegistry | None = None) -> RunningServer:
    keep = LastGoodRules(config.keep_dir) if config.keep_dir else None
    registry = registry or PolicyRegistry(config.rules_dir, checks=acceptance_checks(), keep=keep)
    _publish_policy(registry)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="rpc"),
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        options=[
            ("grpc.so_reuseport", 1 if config.reuse_port else 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    pb_grpc.add_CollectionStrategyServiceServicer_to_server(CollectionStrategyServicer(registry), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"[::]:{config.port}"
    if config.tls_cert and config.tls_key:
        credentials = grpc.ssl_server_credentials([(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    server.start()
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    stopping = threading.Event()
    if config.reload_seconds > 0:
        threading.Thread(target=_watch_rules, args=(registry, config.reload_seconds, stopping), name="rules-watcher", daemon=True).start()
    return RunningServer(server, port, health_servicer, registry, stopping)


def serve_forever(config: ServerConfig) -> None:
    """Run one worker until SIGTERM or SIGINT, then drain calls in flight and exit."""
    running = start_server(config)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    ref = running.registry.current.engine.ref
    log.info("serving %s on port %d with policy %s %s (%s)", SERVICE_NAME, running.port, ref.name, ref.version, ref.hash)
    stopping.wait()
    log.info("draining calls in flight (up to %.0f s)", config.grace_seconds)
    running.stop(config.grace_seconds)

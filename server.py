"""Run the collection strategy service: `python server.py [--port N] [--rules DIR] ...`.

Every option has an environment variable of the same meaning (shown in --help).
With --workers above 1 (the default is one per core) this process supervises
that many worker processes that share the port (SO_REUSEPORT), each with its own
engine, since durable_rules never releases the GIL; it serves the metrics of all
of them and, on SIGTERM, lets each worker drain its calls in flight. A worker
that exits, or that stops answering its private health probe (frozen in a C
call that holds the GIL), is replaced; see transport/watchdog.py. The supervisor
alone watches the rules: it checks each new version once, in an isolated child
at a lower CPU priority, and hands the accepted version (or the refusal) to every
worker, which only compiles it and swaps; see engine/handover.py.

A port another server already listens on is refused unless --share-port asks
to share it: SO_REUSEPORT would otherwise let a second server silently take
half the connections.
"""

from __future__ import annotations

import argparse
import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from engine.decision_record import DEFAULT_KEEP
from engine.shipped import default_rules_dir
from transport.cpu import default_workers
from transport.decision_log import sink_from
from transport.logs import FORMATS, ONCE_DIR_ENV, default_format, setup_logging

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from engine.handover import RulesChecker
    from transport.watchdog import Probe

log = logging.getLogger("server")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_MAX_PROBE_DIR = 80  # characters, leaving room for "/w12-345.sock" in a unix socket path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


PLAINTEXT_BESIDE_TLS = (
    "--http-port serves plain HTTP, and --tls-cert asks for TLS: the HTTP port would take unencrypted, "
    "unauthenticated calls beside the TLS gRPC port. Give --http-plaintext if TLS ends before the server "
    "(an ingress or a mesh sidecar), or leave out --http-port"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Collection strategy engine: gRPC service.")
    # String defaults go through `type` too, so a bad environment value is reported, not a traceback.
    parser.add_argument("--port", metavar="N", type=int, default=_env("CSE_PORT", "50051"), help="gRPC port (env CSE_PORT; default 50051)")
    parser.add_argument("--bind", metavar="ADDRESS", default=_env("CSE_BIND", "127.0.0.1"), help="address gRPC listens on: 0.0.0.0 or [::] for every interface (env CSE_BIND; default 127.0.0.1, this machine only)")
    parser.add_argument("--share-port", action="store_true", default=_env_flag(parser, "CSE_SHARE_PORT", False), help="share the port with a server already listening on it (SO_REUSEPORT) instead of refusing to start (env CSE_SHARE_PORT=1)")
    parser.add_argument("--rules", type=Path, default=Path(_env("CSE_RULES", str(default_rules_dir()))), help="rules directory (env CSE_RULES; default ./rules if there is one, else the rules shipped in the package)")
    parser.add_argument("--http-port", metavar="N", type=int, default=_env("CSE_HTTP_PORT", "0"), help="port for the unary methods as JSON over HTTP/1.1 (Connect protocol), on the --bind address, 0 for none (env CSE_HTTP_PORT; default 0; make run uses 8080)")
    parser.add_argument("--http-plaintext", action="store_true", default=_env_flag(parser, "CSE_HTTP_PLAINTEXT", False), help="serve --http-port in plain HTTP beside TLS on gRPC, for TLS ended before the server (an ingress, a mesh sidecar); without it the two are refused together (env CSE_HTTP_PLAINTEXT=1)")
    parser.add_argument("--metrics-port", metavar="N", type=int, default=_env("CSE_METRICS_PORT", "9464"), help="Prometheus port, 0 for none (env CSE_METRICS_PORT; default 9464)")
    parser.add_argument("--metrics-bind", metavar="ADDRESS", default=_env("CSE_METRICS_BIND", "127.0.0.1"), help="address the Prometheus endpoint listens on (env CSE_METRICS_BIND; default 127.0.0.1)")
    parser.add_argument("--workers", metavar="N", type=int, default=_env("CSE_WORKERS", str(default_workers())), help="worker processes (env CSE_WORKERS; default: the CPUs the container may use, its cgroup CPU quota rounded up)")
    parser.add_argument("--threads", metavar="N", type=int, default=_env("CSE_THREADS", "8"), help="threads per worker (env CSE_THREADS; default 8)")
    parser.add_argument("--reload-seconds", metavar="SECONDS", type=float, default=_env("CSE_RELOAD_SECONDS", "2"), help="how often to look for changed rules, 0 for never (env CSE_RELOAD_SECONDS; default 2)")
    parser.add_argument("--grace", metavar="SECONDS", type=float, default=_env("CSE_GRACE_SECONDS", "15"), help="seconds to drain calls on SIGTERM (env CSE_GRACE_SECONDS; default 15)")
    parser.add_argument("--tls-cert", type=Path, default=_optional_path("CSE_TLS_CERT"), help="PEM certificate for TLS (env CSE_TLS_CERT)")
    parser.add_argument("--tls-key", type=Path, default=_optional_path("CSE_TLS_KEY"), help="PEM private key for TLS (env CSE_TLS_KEY)")
    parser.add_argument("--tls-client-ca", type=Path, default=_optional_path("CSE_TLS_CLIENT_CA"), help="PEM CA certificates; clients must present a certificate one of them signed (mTLS; env CSE_TLS_CLIENT_CA). Certificate, key and CA are re-read when they change")
    parser.add_argument("--no-reflection", dest="reflection", action="store_false", default=_env_flag(parser, "CSE_REFLECTION", True), help="do not serve gRPC server reflection (env CSE_REFLECTION=0)")
    parser.add_argument("--max-streams", metavar="N", type=int, default=os.environ.get("CSE_MAX_STREAMS") or None, help="open DecideStreams per worker, at most threads - 1 (env CSE_MAX_STREAMS; default half the threads)")
    parser.add_argument("--stream-idle-seconds", metavar="SECONDS", type=float, default=_env("CSE_STREAM_IDLE_SECONDS", "30"), help="close a DecideStream with no message for this long (env CSE_STREAM_IDLE_SECONDS; default 30)")
    parser.add_argument("--max-connection-age", metavar="SECONDS", type=float, default=_env("CSE_MAX_CONNECTION_AGE_SECONDS", "120"), help="seconds before a client is asked to reconnect, which spreads clients over replaced workers (env CSE_MAX_CONNECTION_AGE_SECONDS; default 120)")
    parser.add_argument("--watchdog-seconds", metavar="SECONDS", type=float, default=_env("CSE_WATCHDOG_SECONDS", "5"), help="with several workers, replace one that has not answered its health probe for this long (3 probes missed at least), 0 for never (env CSE_WATCHDOG_SECONDS; default 5)")
    parser.add_argument("--otlp-endpoint", metavar="URL", default=os.environ.get("CSE_OTLP_ENDPOINT") or None, help="send traces over OTLP/HTTP to this base URL, e.g. http://collector:4318 (env CSE_OTLP_ENDPOINT; default: OTEL_EXPORTER_OTLP_ENDPOINT if set, else no tracing)")
    parser.add_argument("--log-format", choices=FORMATS, default=os.environ.get("CSE_LOG_FORMAT") or default_format(), help="json: one JSON object per line; text: for a person (env CSE_LOG_FORMAT; default json, text when stderr is a terminal)")
    parser.add_argument("--require-approved", action="store_true", default=_env_flag(parser, "CSE_REQUIRE_APPROVED", False), help="serve only rules that are a signed bundle the --trusted-keys approved; others are refused on start and on reload (env CSE_REQUIRE_APPROVED=1; docs/bundles.md)")
    parser.add_argument("--trusted-keys", type=Path, default=_optional_path("CSE_TRUSTED_KEYS"), help="the Ed25519 keys the operator trusts, with their owners and roles (env CSE_TRUSTED_KEYS; docs/bundles.md)")
    parser.add_argument("--decision-log", metavar="SINK", default=os.environ.get("CSE_DECISION_LOG") or None, help="write every decision as one JSON object to stdout, file:PATH (one rotating file per worker) or an http(s):// URL (batches) (env CSE_DECISION_LOG; default: no log; docs/decision-log.md)")
    parser.add_argument("--decision-log-snapshots", choices=("masked", "whole"), default=_env("CSE_DECISION_LOG_SNAPSHOTS", "masked"), help="masked: only --decision-log-keep unmasked; whole: the whole snapshot, which replay needs and which holds personal data (env CSE_DECISION_LOG_SNAPSHOTS; default masked)")
    parser.add_argument("--decision-log-keep", metavar="PATHS", default=_env("CSE_DECISION_LOG_KEEP", ",".join(DEFAULT_KEEP)), help="comma-separated snapshot paths logged unmasked, `*` for every key or item (env CSE_DECISION_LOG_KEEP; default: case id, country, amounts, days past due, flags)")
    args = parser.parse_args(argv)
    if args.require_approved and not args.trusted_keys:
        parser.error("--require-approved needs --trusted-keys FILE: the keys whose approvals count")
    if args.decision_log:
        try:
            sink_from(args.decision_log)
        except ValueError as error:
            parser.error(str(error))
    for name, value in (("--port", args.port), ("--metrics-port", args.metrics_port), ("--http-port", args.http_port)):
        if not 0 <= value <= 65535:
            parser.error(f"{name} must be between 0 and 65535, got {value}")
    for name, value in (("--workers", args.workers), ("--threads", args.threads)):
        if value < 1:
            parser.error(f"{name} must be at least 1, got {value}")
    if args.max_streams is not None and not 0 <= args.max_streams < args.threads:
        parser.error(f"--max-streams must be from 0 to --threads - 1 ({args.threads - 1}), so that a thread is always free for unary calls and health checks; got {args.max_streams}")
    for name, value in (("--reload-seconds", args.reload_seconds), ("--grace", args.grace), ("--watchdog-seconds", args.watchdog_seconds)):
        if value < 0:
            parser.error(f"{name} must be 0 or more, got {value}")
    for name, value in (("--stream-idle-seconds", args.stream_idle_seconds), ("--max-connection-age", args.max_connection_age)):
        if value <= 0:
            parser.error(f"{name} must be more than 0, got {value}")
    for name, value in (("--bind", args.bind), ("--metrics-bind", args.metrics_bind)):
        if not value.strip():
            parser.error(f"{name} must name an address, e.g. 127.0.0.1 or 0.0.0.0")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over TLS")
    if args.tls_cert and args.http_port and not args.http_plaintext:
        parser.error(PLAINTEXT_BESIDE_TLS)
    return args


def _env_flag(parser: argparse.ArgumentParser, name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    parser.error(f"environment variable {name} must be 1 or 0 (or true/false), got {value!r}")


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _setup_logging(args: argparse.Namespace, role: str = "worker") -> None:
    setup_logging(args.log_format, role)


def _config(args: argparse.Namespace, probe_socket: Path | None = None, peers: tuple[Path, ...] = (), index: int = 0):  # -> grpc_server.ServerConfig (imported late, see main)
    from transport.grpc_server import ServerConfig

    return ServerConfig(
        port=args.port, rules_dir=args.rules, threads=args.threads, grace_seconds=args.grace, tls_cert=args.tls_cert, tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        reload_seconds=args.reload_seconds, keep_dir=args.keep_dir,
        # Siblings share the port; a lone worker shares it only when asked to.
        reuse_port=args.workers > 1 or args.share_port,
        bind=args.bind, reflection=args.reflection, max_streams=args.max_streams,
        stream_idle_seconds=args.stream_idle_seconds, max_connection_age_seconds=args.max_connection_age, probe_socket=probe_socket,
        http_port=args.http_port or None,  # 0: no HTTP
        http_plaintext=args.http_plaintext,
        otlp_endpoint=args.otlp_endpoint,
        trusted_keys=args.trusted_keys if args.require_approved else None,
        decision_log=args.decision_log,
        decision_log_keep=None if args.decision_log_snapshots == "whole" else tuple(path.strip() for path in args.decision_log_keep.split(",") if path.strip()),
        # Workers serve what the supervisor checked (engine/handover.py); a lone worker checks for itself.
        handover=args.keep_dir if args.workers > 1 else None,
        peer_sockets=peers, peer_index=index,
    )


def _worker(args: argparse.Namespace, probe_socket: Path | None = None, peers: tuple[Path, ...] = (), index: int = 0) -> None:
    _setup_logging(args)
    from transport.grpc_server import serve_forever

    serve_forever(_config(args, probe_socket, peers, index))


def _host(address: str) -> str:
    """The host of an address as gRPC writes it ("[::]" -> "::")."""
    address = address.strip()
    return address[1:-1] if address.startswith("[") and address.endswith("]") else address


def _port_taken(address: str, port: int) -> str | None:
    """Why `address:port` cannot be listened on, or None when it is free.

    A plain bind without SO_REUSEPORT fails on a port any other socket listens
    on, SO_REUSEPORT or not; SO_REUSEADDR only lets it reuse a port a previous
    run left in TIME_WAIT.
    """
    try:
        candidates = socket.getaddrinfo(_host(address), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"--bind {address}: not an address of this machine ({error.strerror})"
    failures: list[OSError] = []
    for family, kind, proto, _, sockaddr in candidates:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {address} is already in use (another server?); use --share-port to share it deliberately"
            failures.append(error)
    if failures and len(failures) == len(candidates):  # "localhost" on a host without IPv6 still has 127.0.0.1
        return f"cannot listen on port {port} on {address}: {failures[0].strerror or failures[0]}"
    return None


def _serve_metrics(args: argparse.Namespace, registry: CollectorRegistry | None = None) -> str | None:
    """Start the Prometheus endpoint; the reason it cannot start, or None."""
    if not args.metrics_port:
        return None
    from prometheus_client import REGISTRY, start_http_server

    try:
        start_http_server(args.metrics_port, addr=_host(args.metrics_bind), registry=registry or REGISTRY)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return f"metrics port {args.metrics_port} on {args.metrics_bind} is already in use (another server?); choose another --metrics-port, or 0 for none"
        return f"cannot serve metrics on port {args.metrics_port} on {args.metrics_bind}: {error.strerror or error}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging(args, "supervisor" if args.workers > 1 else "worker")
    # Checked first, so that a second server is refused at once, not after building its engine.
    for port in (args.port, args.http_port) if not args.share_port else ():
        taken = _port_taken(args.bind, port) if port else None
        if taken:
            print(taken, file=sys.stderr)
            return 2
    if args.tls_cert:  # refused here with the flag to blame, not by each worker as it starts
        from transport.tls import CertificateError, CertificateFiles

        try:
            CertificateFiles(args.tls_cert, args.tls_key, args.tls_client_ca)
        except CertificateError as error:
            print(error, file=sys.stderr)
            return 2
    args.keep_dir = None
    if args.workers > 1:
        # Must be set before prometheus_client is imported here or in a worker.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cse-metrics-"))
        # A worker started again after a crash falls back to the rules its siblings serve.
        args.keep_dir = Path(tempfile.mkdtemp(prefix="cse-last-good-"))
        # A refused reload, found by every worker, is logged by the first only (transport/logs.py).
        os.environ[ONCE_DIR_ENV] = tempfile.mkdtemp(prefix="cse-log-once-")
    from engine.authoring.acceptance import acceptance_checks
    from engine.bundle import require_approved
    from engine.errors import PolicyError
    from engine.handover import RulesChecker
    from engine.last_good import LastGoodRules
    from engine.registry import PolicyRegistry

    log.info("building the engine from %s ...", args.rules)
    started = time.monotonic()
    checker: RulesChecker | None = None
    try:
        # Refuse to start on rules that would be refused.
        checks = [*acceptance_checks(), *([require_approved(args.trusted_keys)] if args.require_approved else [])]
        if args.keep_dir:  # checked once here, kept, and handed to every worker (engine/handover.py)
            checker = RulesChecker(args.rules, LastGoodRules(args.keep_dir), checks)
            name, version, content = checker.word.policy
        else:
            ref = PolicyRegistry(args.rules, checks=checks).current.engine.ref  # the lone worker builds its own
            name, version, content = ref.name, ref.version, ref.hash
    except (PolicyError, ValueError, OSError) as error:
        print(f"The rules in {args.rules} do not load:\n{error}", file=sys.stderr)
        return 2
    log.info("engine built in %.1f s: policy %s %s (%s)", time.monotonic() - started, name, version, content)
    if checker is None:
        refused = _serve_metrics(args)
        if refused:
            print(refused, file=sys.stderr)
            return 2
        log.info("starting 1 worker on %s:%d (it logs when it serves)", args.bind, args.port)
        try:
            _worker(args)
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
            print(error.strerror or error, file=sys.stderr)  # the port was taken after the check, or shared by request
            return 2
        return 0
    return _supervise(args, checker)


@dataclass
class _Slot:
    """One worker place: the process in it, its probe, and its restart pacing."""

    process: BaseProcess
    probe: Probe | None  # None: the watchdog is off
    started: float
    retry_at: float = 0.0
    pause: float = 1.0
    generation: int = 0
    replacing: bool = False  # a replacement that has not answered yet


def _watch(index: int, slot: _Slot, now: float) -> None:
    """Probe a living worker; kill it if it is hung (the restart path replaces it)."""
    if slot.probe is None:
        return
    hung = slot.probe.poll(now)
    if hung:
        log.error("worker %d (pid %s) %s; killing it", index, slot.process.pid, hung)
        slot.process.kill()  # SIGKILL: a process frozen in C, or stopped, obeys nothing else
        slot.process.join(5)
    elif slot.replacing and slot.probe.liveness.first_answer is not None:
        slot.replacing = False
        log.info("worker %d (pid %s) serving, %.1f s after it started", index, slot.process.pid, now - slot.started)


def _check_rules(checker: RulesChecker, every: float, halt: threading.Event) -> None:
    """The one watcher of the rules: check each new version once, hand it (or its refusal) to the workers."""
    while not halt.wait(every):
        try:
            checker.reload_if_changed()
        except Exception:  # never let the watcher die: the workers keep serving what they have
            log.exception("could not check the rules directory for changes")


def _peer_sockets(run_dir: Path, workers: int) -> tuple[Path, ...]:
    """Each slot's peer socket, the same for a worker started again in it: a large batch is spread
    over the siblings through them (transport/batch_spread.py). In a directory only this user can
    enter; none (no spreading) when its path is too long for a unix socket."""
    peers = run_dir / "peers"
    if len(str(peers)) > _MAX_PROBE_DIR:
        log.warning("the temporary directory %s has too long a path for the workers' peer sockets: batches are not spread; set TMPDIR to a shorter one", run_dir.parent)
        return ()
    peers.mkdir(mode=0o700)
    return tuple(peers / f"worker-{index}.sock" for index in range(workers))


def _supervise(args: argparse.Namespace, checker: RulesChecker) -> int:
    from prometheus_client import CollectorRegistry, multiprocess

    from transport.watchdog import Limits, Probe

    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    refused = _serve_metrics(args, registry)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    context = multiprocessing.get_context("spawn")
    limits = Limits(hung_seconds=args.watchdog_seconds) if args.watchdog_seconds else None
    probes = Path(tempfile.mkdtemp(prefix="cse-probe-"))  # private (0700): only this user's processes reach the sockets
    if limits and len(str(probes)) > _MAX_PROBE_DIR:  # a unix socket path has at most 104-108 bytes
        shutil.rmtree(probes, ignore_errors=True)
        print(f"the temporary directory {probes.parent} has too long a path for the watchdog's sockets; set TMPDIR to a shorter one", file=sys.stderr)
        return 2
    peers = _peer_sockets(probes, args.workers)

    def start(index: int, generation: int) -> _Slot:
        socket_path = probes / f"w{index}-{generation}.sock" if limits else None
        process = context.Process(target=_worker, args=(args, socket_path, peers, index), daemon=False)
        process.start()
        now = time.monotonic()
        log.info("worker %d started (pid %s)", index, process.pid)
        probe = Probe(socket_path, now, limits) if socket_path and limits else None
        return _Slot(process, probe, now, generation=generation)

    slots = [start(index, 0) for index in range(args.workers)]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    metrics_at = f"{args.metrics_bind}:{args.metrics_port}" if args.metrics_port else "no port"
    log.info("starting %d workers on %s:%d; metrics on %s", args.workers, args.bind, args.port, metrics_at)
    all_serving = limits is None
    halt = threading.Event()
    if args.reload_seconds > 0:
        threading.Thread(target=_check_rules, args=(checker, args.reload_seconds, halt), name="rules-checker", daemon=True).start()
    # A replacement that dies at once (its rules refused with none kept, say)
    # is retried after a growing pause, while the other workers keep serving.
    while not stopping:
        now = time.monotonic()
        for index, slot in enumerate(slots):
            if slot.process.is_alive():
                if now > slot.retry_at + 60:  # it has served for a while: forget earlier crashes
                    slot.pause = 1.0
                _watch(index, slot, now)
            if slot.process.is_alive() or stopping or now < slot.retry_at:
                continue
            log.error("worker %d (pid %s) exited with code %s; starting another", index, slot.process.pid, slot.process.exitcode)
            multiprocess.mark_process_dead(slot.process.pid, directory)
            if slot.probe is not None:
                slot.probe.close()
            retry_at, pause = time.monotonic() + slot.pause, min(slot.pause * 2, 60.0)
            slots[index] = start(index, slot.generation + 1)
            slots[index].retry_at, slots[index].pause, slots[index].replacing = retry_at, pause, True
        if not all_serving and all(slot.probe and slot.probe.liveness.first_answer is not None for slot in slots):
            all_serving = True
            log.info("serving on %s:%d with %d workers", args.bind, args.port, args.workers)
        time.sleep(0.2)
    halt.set()
    checker.close()  # the check child waiting for the next version ends with the server
    for slot in slots:
        if slot.probe is not None:
            slot.probe.close()
        if slot.process.is_alive():
            os.kill(slot.process.pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + args.grace + 5
    for slot in slots:
        slot.process.join(max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            slot.process.kill()
    shutil.rmtree(args.keep_dir, ignore_errors=True)
    shutil.rmtree(os.environ.pop(ONCE_DIR_ENV, ""), ignore_errors=True)
    shutil.rmtree(probes, ignore_errors=True)
    log.info("all workers stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

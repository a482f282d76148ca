"""Run the collection strategy service: `python server.py [--port N] [--rules DIR] ...`.

Every option has an environment variable of the same meaning (shown in --help).
With --workers above 1 (the default is one per core) this process supervises
that many worker processes that share the port (SO_REUSEPORT), each with its own
engine, since durable_rules never releases the GIL; it serves the metrics of all
of them and, on SIGTERM, lets each worker drain its calls in flight.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("server")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Collection strategy engine: gRPC service.")
    parser.add_argument("--port", type=int, default=int(_env("CSE_PORT", "50051")), help="gRPC port (env CSE_PORT; default 50051)")
    parser.add_argument("--rules", type=Path, default=Path(_env("CSE_RULES", "rules")), help="rules directory (env CSE_RULES; default rules/)")
    parser.add_argument("--metrics-port", type=int, default=int(_env("CSE_METRICS_PORT", "9464")), help="Prometheus port, 0 for none (env CSE_METRICS_PORT; default 9464)")
    parser.add_argument("--workers", type=int, default=int(_env("CSE_WORKERS", str(os.cpu_count() or 1))), help="worker processes (env CSE_WORKERS; default: number of cores)")
    parser.add_argument("--threads", type=int, default=int(_env("CSE_THREADS", "8")), help="threads per worker (env CSE_THREADS; default 8)")
    parser.add_argument("--reload-seconds", type=float, default=float(_env("CSE_RELOAD_SECONDS", "2")), help="how often to look for changed rules, 0 for never (env CSE_RELOAD_SECONDS; default 2)")
    parser.add_argument("--grace", type=float, default=float(_env("CSE_GRACE_SECONDS", "15")), help="seconds to drain calls on SIGTERM (env CSE_GRACE_SECONDS)")
    parser.add_argument("--tls-cert", type=Path, default=_optional_path("CSE_TLS_CERT"), help="PEM certificate for TLS (env CSE_TLS_CERT)")
    parser.add_argument("--tls-key", type=Path, default=_optional_path("CSE_TLS_KEY"), help="PEM private key for TLS (env CSE_TLS_KEY)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _setup_logging() -> None:
    logging.basicConfig(level=os.environ.get("CSE_LOG_LEVEL", "INFO"), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


def _config(args: argparse.Namespace):  # -> grpc_server.ServerConfig (imported late, see main)
    from transport.grpc_server import ServerConfig

    return ServerConfig(
        port=args.port, rules_dir=args.rules, threads=args.threads, grace_seconds=args.grace, tls_cert=args.tls_cert, tls_key=args.tls_key,
        reload_seconds=args.reload_seconds, keep_dir=args.keep_dir,
    )


def _worker(args: argparse.Namespace) -> None:
    _setup_logging()
    from transport.grpc_server import serve_forever

    serve_forever(_config(args))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging()
    args.keep_dir = None
    if args.workers > 1:
        # Must be set before prometheus_client is imported here or in a worker.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cse-metrics-"))
        # A worker started again after a crash falls back to the rules its siblings serve.
        args.keep_dir = Path(tempfile.mkdtemp(prefix="cse-last-good-"))
    from engine.acceptance import acceptance_checks
    from engine.errors import PolicyError
    from engine.last_good import LastGoodRules
    from engine.registry import PolicyRegistry

    try:
        # Refuse to start on rules that would be refused (and keep them for the workers).
        PolicyRegistry(args.rules, checks=acceptance_checks(), keep=LastGoodRules(args.keep_dir) if args.keep_dir else None)
    except (PolicyError, ValueError, OSError) as error:
        print(f"The rules in {args.rules} do not load:\n{error}", file=sys.stderr)
        return 2
    if args.workers == 1:
        if args.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(args.metrics_port)
        _worker(args)
        return 0
    return _supervise(args)


def _supervise(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if args.metrics_port:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        start_http_server(args.metrics_port, registry=registry)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(args,), daemon=False) for _ in range(args.workers)]
    for worker in workers:
        worker.start()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("supervising %d workers on port %d; metrics on port %d", args.workers, args.port, args.metrics_port)
    # A replacement that dies at once (its rules refused with none kept, say)
    # is retried after a growing pause, while the other workers keep serving.
    retry_at = [0.0] * len(workers)
    pause = [1.0] * len(workers)
    while not stopping:
        for index, worker in enumerate(workers):
            if worker.is_alive():
                if time.monotonic() > retry_at[index] + 60:  # it has served for a while: forget earlier crashes
                    pause[index] = 1.0
                continue
            if stopping or time.monotonic() < retry_at[index]:
                continue
            log.error("worker %s exited with code %s; starting another", worker.pid, worker.exitcode)
            multiprocess.mark_process_dead(worker.pid, directory)
            workers[index] = context.Process(target=_worker, args=(args,), daemon=False)
            workers[index].start()
            retry_at[index] = time.monotonic() + pause[index]
            pause[index] = min(pause[index] * 2, 60.0)
        time.sleep(0.5)
    for worker in workers:
        if worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + args.grace + 5
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()
    shutil.rmtree(args.keep_dir, ignore_errors=True)
    log.info("all workers stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

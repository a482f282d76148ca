"""Prometheus metrics. Labels carry methods, codes, routes, actions and rule ids, never personal data.

With several worker processes prometheus_client's multiprocess mode is used:
each worker writes to PROMETHEUS_MULTIPROC_DIR and the parent serves the sum.
"""

from __future__ import annotations

import atexit
import bisect
import threading
import time
from functools import lru_cache
from importlib import metadata
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, values

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine import decision_record

# Calls of the service, under the names and labels of go-grpc-prometheus /
# py-grpc-prometheus, so the dashboards and alerts written for any gRPC server
# read ours as they are. Counted by the gRPC interceptor (transport.tracing):
# only CollectionStrategyService, not health checks or reflection.
RPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"]
GRPC_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", RPC_LABELS)
GRPC_HANDLED = Counter("grpc_server_handled_total", "RPCs completed on the server, whatever their status code.", [*RPC_LABELS, "grpc_code"])
GRPC_MSG_RECEIVED = Counter("grpc_server_msg_received_total", "RPC messages received on the server (one per unary call).", RPC_LABELS)
GRPC_MSG_SENT = Counter("grpc_server_msg_sent_total", "RPC messages sent by the server (one per answered unary call).", RPC_LABELS)
# Sub-millisecond buckets: a decision takes about 0.2 ms. The HTTP histogram has
# the same buckets, so an alert can merge both transports' buckets into one p99.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
GRPC_HANDLING = Histogram(
    "grpc_server_handling_seconds", "Time from the start of an RPC to its status, on the server.", RPC_LABELS, buckets=BUCKETS,
)
# HTTP/JSON calls (transport.http_api) are counted apart, under OpenTelemetry's
# HTTP server semantic conventions in Prometheus form, not as RPCs with a
# protocol label: what an HTTP caller and the balancer in front see is the
# HTTP status (a Connect 400 is a gRPC INVALID_ARGUMENT, a 404 no method at
# all), the route is the label HTTP dashboards group by, and a gRPC dashboard
# built on grpc_server_* then counts gRPC calls alone, as it assumes.
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests (OpenTelemetry http.server.request.duration).",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=BUCKETS,
)
DECISIONS = Counter("collection_decisions_total", "Decisions by action and channel (for DecideDebtor, one per account).", ["action", "channel"])
# One per person: the contact a DecideDebtor answer makes, however many accounts it covers.
DEBTOR_DECISIONS = Counter("collection_debtor_decisions_total", "Person-level contacts decided (DecideDebtor*), by action and channel.", ["action", "channel"])
VETOES = Counter("collection_vetoes_total", "Candidates or channels removed, by guardrail.", ["guardrail"])
INVALID_CASES = Counter("collection_invalid_cases_total", "Cases or debtors refused by validation, by method (Decide, DecideBatch, DecideStream, DecideDebtor...).", ["method"])
POLICY = Gauge(
    "collection_policy_info",
    "The policy in force (value 1), by name, version and content hash.",
    ["kind", "name", "version", "hash"],
    # live: a dead worker's values go with it (mark_process_dead), so a version
    # only a crashed worker served does not stay at 1 beside the one in force.
    multiprocess_mode="livemax",
)
RELOADS = Counter("collection_policy_reloads_total", "Attempts to load changed rules, by result (swapped or refused).", ["result"])
OPEN_STREAMS = Gauge("collection_open_streams", "Request streams open now (DecideStream, reflection).", multiprocess_mode="livesum")
EXPERIMENT_DECISIONS = Counter("collection_experiment_decisions_total", "Decisions by experiment, arm and action.", ["experiment", "arm", "action"])

DECISION_LOG_RECORDS = Counter(
    "collection_decision_log_records_total", "Decision log records by outcome: written, dropped (the queue was full), failed (the sink refused them).", ["outcome"]
)
BUILD_INFO = Gauge(
    "collection_build_info",
    "The build serving (value 1): engine version, policy content hash, holidays and tzdata package versions.",
    ["engine_version", "policy_hash", "holidays_version", "tzdata_version"],
    multiprocess_mode="livemax",  # as collection_policy_info: a replaced hash goes to 0, a dead worker's values go
)
# livemin: 0 as long as any living worker's last look at the rules was refused.
LAST_RELOAD_SUCCESS = Gauge(
    "collection_last_reload_success", "1 if the last load of the rules was accepted (at start or on change), 0 if refused.", multiprocess_mode="livemin"
)
LAST_RELOAD_TIME = Gauge(
    "collection_last_reload_timestamp_seconds", "When the rules were last loaded or refused (Unix time).", multiprocess_mode="livemax"
)
# Every label set an alert or dashboard asks about exists, at 0, from start:
# a rate over a series that appears only with its first increment misses that increment.
DECIDE_METHODS = ("Decide", "DecideBatch", "DecideStream", "DecideDebtor", "DecideDebtorBatch", "DecideDebtorStream")
RELOAD_RESULTS = ("swapped", "refused")
SERVICE = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"]
SERVICE_NAME = SERVICE.full_name
# grpc_type by method, from the proto: unary, client_stream, server_stream or bidi_stream.
RPC_TYPES = {
    method.name: {(False, False): "unary", (True, False): "client_stream", (False, True): "server_stream", (True, True): "bidi_stream"}[
        (method.client_streaming, method.server_streaming)
    ]
    for method in SERVICE.methods
}
METHODS = tuple(RPC_TYPES)
# Every code, as go-grpc-prometheus's InitializeMetrics: the error-ratio alert then sees the first error.
GRPC_CODES = tuple(code.name for code in grpc.StatusCode)


@lru_cache(maxsize=None)  # read once: installed packages do not change under a running process
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def data_versions() -> tuple[str, str]:
    """The versions of the holiday and time-zone data packages the decisions depend on: (holidays, tzdata)."""
    versions = decision_record.data_versions()
    return versions["holidays"], versions["tzdata"]


def start_at_zero() -> None:
    """Create the known label sets of the counters, at 0."""
    for method, kind in RPC_TYPES.items():
        labels = (kind, SERVICE_NAME, method)
        for metric in (GRPC_STARTED, GRPC_MSG_RECEIVED, GRPC_MSG_SENT, GRPC_HANDLING):
            metric.labels(*labels)
        for code in GRPC_CODES:
            GRPC_HANDLED.labels(*labels, code)
    for method in DECIDE_METHODS:
        INVALID_CASES.labels(method)
    for result in RELOAD_RESULTS:
        RELOADS.labels(result)


def http_start_at_zero(routes: list[str]) -> None:
    """Create the answered-call series of the HTTP routes (POST, 200), at 0: done when HTTP is served."""
    for route in routes:
        HTTP_DURATION.labels("POST", route, "200")


_build: tuple[str, str, str, str] | None = None


def publish_build(policy_hash: str) -> None:
    """Set collection_build_info to 1 for this build and policy hash, and the one it replaces to 0."""
    global _build
    labels = (_version("collection-strategy-engine"), policy_hash, *data_versions())
    if _build is not None and _build != labels:
        BUILD_INFO.labels(*_build).set(0)
    BUILD_INFO.labels(*labels).set(1)
    _build = labels


def reloaded(accepted: bool) -> None:
    """Record the outcome of loading the rules: at start (accepted) or after a change."""
    LAST_RELOAD_SUCCESS.set(1 if accepted else 0)
    LAST_RELOAD_TIME.set(time.time())


# In multiprocess mode every increment is a locked write to a memory-mapped file,
# about 5 µs, and a call makes seven or more: the worker keeps them in memory and
# writes them every FLUSH_SECONDS (and as it exits). A scrape then lags the calls by
# at most that, far less than a scrape interval; what it reports once written is
# what the direct writes would have reported, to the last bit (see _Pending*).
MULTIPROCESS = values.ValueClass is not values.MutexValue
FLUSH_SECONDS = 0.5
_pending: list[_PendingCounter | _PendingHistogram] = []
_pending_lock = threading.Lock()
_flusher: threading.Thread | None = None


class _PendingCounter:
    """A counter child's increments since the last flush."""

    __slots__ = ("_child", "_lock", "_amount")

    def __init__(self, child: Any) -> None:
        self._child, self._lock, self._amount = child, threading.Lock(), 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        with self._lock:
            self._amount += amount

    def flush(self) -> None:
        with self._lock:
            amount, self._amount = self._amount, 0.0
        if amount:  # whole increments (all ours are 1): their sum is exact below 2**53
            self._child.inc(amount)


class _PendingHistogram:
    """A histogram child's observations since the last flush: each bucket's count,
    and the values themselves, added to the stored sum one by one in their order as
    Histogram.observe would (a float sum depends on the order of its terms)."""

    __slots__ = ("_child", "_lock", "_bounds", "_counts", "_values")

    def __init__(self, child: Any) -> None:
        self._child, self._lock = child, threading.Lock()
        self._bounds = list(child._upper_bounds)  # prometheus_client's: the last is +Inf
        self._counts = [0] * len(self._bounds)
        self._values: list[float] = []

    def observe(self, amount: float) -> None:
        with self._lock:
            self._values.append(amount)
            self._counts[bisect.bisect_left(self._bounds, amount)] += 1  # the first bucket with amount <= bound

    def flush(self) -> None:
        with self._lock:
            observed, counts = self._values, self._counts
            if not observed:
                return
            self._values, self._counts = [], [0] * len(self._bounds)
        stored = self._child._sum
        total = stored.get()
        for amount in observed:
            total += amount
        stored.set(total)
        for bucket, count in zip(self._child._buckets, counts):
            if count:
                bucket.inc(count)


def flush() -> None:
    """Write every increment and observation kept in memory to the multiprocess files."""
    with _pending_lock:
        pending = list(_pending)
    for item in pending:
        item.flush()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


def _kept(metric: Any, labelled: Any) -> Any:
    global _flusher
    kept: _PendingCounter | _PendingHistogram = _PendingHistogram(labelled) if isinstance(metric, Histogram) else _PendingCounter(labelled)
    with _pending_lock:
        _pending.append(kept)
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
            _flusher.start()
            atexit.register(flush)  # a worker stopped by SIGTERM exits through sys.exit: nothing kept is lost
    return kept


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """The labelled child of a metric, cached: `labels()` costs more than the increment.
    With several workers a counter's or histogram's child is kept in memory (flush)."""
    labelled = metric.labels(*labels)
    if MULTIPROCESS and isinstance(metric, (Counter, Histogram)):
        return _kept(metric, labelled)
    return labelled


class RpcSeries:
    """The grpc_server_* children of one method, resolved once: a call then only counts
    (`child`'s cache costs a hash of the metric and its labels per lookup, five a call)."""

    __slots__ = ("started", "received", "sent", "handling", "_labels", "_handled")

    def __init__(self, grpc_type: str, service: str, method: str) -> None:
        self._labels = (grpc_type, service, method)
        self.started = child(GRPC_STARTED, *self._labels)
        self.received = child(GRPC_MSG_RECEIVED, *self._labels)
        self.sent = child(GRPC_MSG_SENT, *self._labels)
        self.handling = child(GRPC_HANDLING, *self._labels)
        self._handled: dict[str, Any] = {}

    def handled(self, code: str) -> Any:
        """The grpc_server_handled_total child of `code` (a StatusCode name)."""
        found = self._handled.get(code)
        if found is None:
            found = self._handled[code] = child(GRPC_HANDLED, *self._labels, code)
        return found

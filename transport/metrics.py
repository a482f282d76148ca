"""Prometheus metrics. Labels carry methods, codes, actions and rule ids, never personal data.

With several worker processes prometheus_client's multiprocess mode is used:
each worker writes to PROMETHEUS_MULTIPROC_DIR and the parent serves the sum.
"""

from __future__ import annotations

import time
from functools import lru_cache
from importlib import metadata
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("collection_requests_total", "gRPC requests by method and status code.", ["method", "code"])
LATENCY = Histogram(
    "collection_request_seconds",
    "gRPC request latency by method.",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
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
METHODS = (*DECIDE_METHODS, "GetPolicy")
RELOAD_RESULTS = ("swapped", "refused")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def start_at_zero() -> None:
    """Create the known label sets of the counters, at 0."""
    for method in METHODS:
        REQUESTS.labels(method, "OK")
        LATENCY.labels(method)
    for method in DECIDE_METHODS:
        INVALID_CASES.labels(method)
    for result in RELOAD_RESULTS:
        RELOADS.labels(result)


_build: tuple[str, str, str, str] | None = None


def publish_build(policy_hash: str) -> None:
    """Set collection_build_info to 1 for this build and policy hash, and the one it replaces to 0."""
    global _build
    labels = (_version("collection-strategy-engine"), policy_hash, _version("holidays"), _version("tzdata"))
    if _build is not None and _build != labels:
        BUILD_INFO.labels(*_build).set(0)
    BUILD_INFO.labels(*labels).set(1)
    _build = labels


def reloaded(accepted: bool) -> None:
    """Record the outcome of loading the rules: at start (accepted) or after a change."""
    LAST_RELOAD_SUCCESS.set(1 if accepted else 0)
    LAST_RELOAD_TIME.set(time.time())


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """The labelled child of a metric, cached: `labels()` costs more than the increment."""
    return metric.labels(*labels)

"""Prometheus metrics. Labels carry methods, codes, actions and rule ids, never personal data.

With several worker processes prometheus_client's multiprocess mode is used:
each worker writes to PROMETHEUS_MULTIPROC_DIR and the parent serves the sum.
"""

from __future__ import annotations

from functools import lru_cache
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


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str) -> Any:
    """The labelled child of a metric, cached: `labels()` costs more than the increment."""
    return metric.labels(*labels)

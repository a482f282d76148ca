"""Metrics an operator alerts on, scraped from a running supervised server: the build,
counters present at 0 from the start, and whether the last reload was accepted."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from engine.registry import build_engine
from tests.conftest import REPO, write_policy
from tests.test_server import POLICY, free_port, wait_serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SERVICE = "collection_strategy.v1.CollectionStrategyService"
METHODS = ("Decide", "DecideBatch", "DecideStream", "DecideDebtor", "DecideDebtorBatch", "DecideDebtorStream", "GetPolicy")


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def wait_until(port: int, name: str, expected: float, timeout: float = 60, **labels: str) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        if value(samples, name, **labels) == expected:
            return samples
        assert time.monotonic() < deadline, f"{name}{labels} never {expected}: {value(samples, name, **labels)}"
        time.sleep(0.2)


def test_build_info_zero_counters_and_last_reload_gauges(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write_policy(rules, POLICY)
    first_hash = build_engine(rules).ref.hash
    port, metrics_port = free_port(), free_port()
    argv = ["--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", str(metrics_port), "--reload-seconds", "0.3", "--grace", "1"]
    process = subprocess.Popen([sys.executable, "server.py", *argv], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_serving(port, timeout=60)
        build = {
            "engine_version": metadata.version("collection-strategy-engine"), "policy_hash": first_hash,
            "holidays_version": metadata.version("holidays"), "tzdata_version": metadata.version("tzdata"),
        }
        wait_until(metrics_port, "collection_build_info", 1, **build)
        # Every worker's: the gauge is the least over the live workers, and a worker still starting has not set it.
        samples = wait_until(metrics_port, "collection_last_reload_success", 1)
        for method in METHODS:  # before any call, every code (as go-grpc-prometheus), so an alert's rate sees the first error
            rpc = {"grpc_type": "bidi_stream" if method.endswith("Stream") else "unary", "grpc_service": SERVICE, "grpc_method": method}
            for code in ("OK", "INVALID_ARGUMENT", "INTERNAL", "UNAVAILABLE"):
                assert value(samples, "grpc_server_handled_total", **rpc, grpc_code=code) == 0, (method, code)
            for name in ("grpc_server_started_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count"):
                assert value(samples, name, **rpc) == 0, (name, method)
            assert value(samples, "collection_requests_total", method=method, code="OK") is None  # the old name is gone
        for method in METHODS[:-1]:
            assert value(samples, "collection_invalid_cases_total", method=method) == 0, method
        for result in ("swapped", "refused"):
            assert value(samples, "collection_policy_reloads_total", result=result) == 0, result
        assert value(samples, "collection_last_reload_success") == 1
        started_at = value(samples, "collection_last_reload_timestamp_seconds")
        assert started_at is not None and abs(started_at - time.time()) < 600

        write_policy(rules, POLICY.replace("days_past_due", "days_past_du"))  # refused
        samples = wait_until(metrics_port, "collection_last_reload_success", 0)
        assert value(samples, "collection_build_info", **build) == 1  # still serving the first version
        assert (value(samples, "collection_last_reload_timestamp_seconds") or 0) >= started_at

        write_policy(rules, POLICY.replace('version: "7"', 'version: "8"').replace("A plan.", "Another plan."))
        second_hash = build_engine(rules).ref.hash
        samples = wait_until(metrics_port, "collection_build_info", 1, **(build | {"policy_hash": second_hash}))
        wait_until(metrics_port, "collection_last_reload_success", 1)
        wait_until(metrics_port, "collection_build_info", 0, **build)  # the hash replaced goes to 0
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

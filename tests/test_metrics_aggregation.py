"""With several workers, each keeps its counter increments and histogram observations
in memory and writes them to the multiprocess files every FLUSH_SECONDS: what a
scrape reports once they are written is exactly what writing each one would have
reported: every increment counted once, the same buckets, the same float sum."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import grpc

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from tests.test_operations_metrics import scrape, value, wait_until
from tests.test_server import AS_OF, POLICY, case, free_port, wait_serving

SERVICE = "collection_strategy.v1.CollectionStrategyService"

# Run in a process of its own: prometheus_client picks multiprocess mode when it is imported.
KEPT_AND_DIRECT = textwrap.dedent(
    """
    import json, random, sys, threading
    from prometheus_client import CollectorRegistry, multiprocess
    from transport import metrics

    assert metrics.MULTIPROCESS
    rng = random.Random(5)
    observed = [rng.choice((0.0001, 0.0005, 0.00051, 0.003, 0.04, 2.5, 7.0, 11.0)) * rng.random() * 3 for _ in range(3000)]
    labels = ("unary", metrics.SERVICE_NAME)
    kept = metrics.child(metrics.GRPC_HANDLING, *labels, "Decide")
    direct = metrics.GRPC_HANDLING.labels(*labels, "DecideBatch")
    for amount in observed:
        kept.observe(amount)
        direct.observe(amount)

    counter = metrics.child(metrics.DECISIONS, "SEND_REMINDER", "sms")
    def increments():
        for _ in range(2500):
            counter.inc()
    threads = [threading.Thread(target=increments) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def samples():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return {
            sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
            for family in registry.collect() for sample in family.samples
        }

    before = samples()
    metrics.flush()
    after = samples()
    json.dump({"before": before, "after": after, "count": len(observed)}, sys.stdout)
    """
)


def test_kept_increments_and_observations_equal_direct_writes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", KEPT_AND_DIRECT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    before, after = found["before"], found["after"]

    def pick(samples: dict[str, float], name: str, method: str) -> dict[str, float]:
        return {key: number for key, number in samples.items() if key.startswith(name) and f'"grpc_method": "{method}"' in key}

    # Kept in memory until flushed: the files had none of it.
    assert sum(pick(before, "grpc_server_handling_seconds", "Decide").values()) == 0
    direct = pick(after, "grpc_server_handling_seconds", "DecideBatch")
    kept = {key.replace('"DecideBatch"', '"Decide"'): number for key, number in direct.items()}
    assert pick(after, "grpc_server_handling_seconds", "Decide") == kept  # every bucket, the count and the float sum, bit for bit
    assert kept[next(key for key in kept if key.startswith("grpc_server_handling_seconds_count"))] == found["count"]
    decisions = 'collection_decisions_total{"action": "SEND_REMINDER", "channel": "sms"}'
    assert before.get(decisions, 0) == 0
    assert after[decisions] == 8 * 2500  # from eight threads at once: none lost, none twice


def test_a_scrape_after_n_calls_reports_exactly_n(tmp_path: Path) -> None:
    """Through a supervised server with two workers: N calls answered, N counted,
    once the workers' kept increments are written, and still N after more flushes."""
    rules = tmp_path / "rules"
    write_policy(rules, POLICY)
    port, metrics_port = free_port(), free_port()
    argv = ["--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", str(metrics_port), "--grace", "1"]
    process = subprocess.Popen([sys.executable, "server.py", *argv], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calls = 60
    try:
        wait_serving(port, timeout=60)
        rpc = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "Decide"}
        before = value(scrape(metrics_port), "grpc_server_handled_total", **rpc, grpc_code="OK") or 0
        for index in range(calls):  # a connection each, so that both workers answer some
            with grpc.insecure_channel(f"localhost:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                pb_grpc.CollectionStrategyServiceStub(channel).Decide(pb.DecideRequest(case=case(f"case-{index}"), as_of=AS_OF), timeout=10)
        expected = before + calls
        wait_until(metrics_port, "grpc_server_handled_total", expected, timeout=30, **rpc, grpc_code="OK")
        time.sleep(1.5)  # flushes after the count was reached add nothing
        samples = scrape(metrics_port)
        assert value(samples, "grpc_server_handled_total", **rpc, grpc_code="OK") == expected
        for name in ("grpc_server_started_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count"):
            assert value(samples, name, **rpc) == expected, name
        decided = sum(number for (name, _), number in samples.items() if name == "collection_decisions_total")
        assert decided == calls
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

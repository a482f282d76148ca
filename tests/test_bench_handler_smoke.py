"""The handler's stage profiler and the gRPC section of bench/run.py still run and print
issue 15's targets: tiny figures, in a subprocess with a timeout; no assertion on speed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import REPO
from tests.test_bench_smoke import NUMBER, bench


def test_the_stage_profiler_prints_every_stage_and_the_handler_cpu_against_p1() -> None:
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "bench_handler.py"), "--cases", "60", "--rounds", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, err[-2000:]
    for stage in ("proto->dict", "pydantic", "facts", "fact JSON", "matching", "compliance", "window", "offers",
                  "engine bookkeeping", "decision->proto", "metrics", "servicer other", "handler CPU per decision", "call around the engine"):
        assert stage in out, stage
    assert "P1 handler CPU per decision:" in out and "target <= 150 us" in out


def test_the_grpc_section_prints_p1_and_p3_against_their_targets() -> None:
    import re

    out = bench("--only", "grpc", "--workers", "1", "--grpc-rounds", "2", "--seconds", "0.3", "--batch-calls", "1", "--in-flight", "2", "--stream-cases", "200")
    for label, target in (
        ("P1 handler CPU per decision, us", "<= 150"), ("P1 Decide requests/s, engine / bare", ">= 0.75"), ("P1 Decide p99, engine / bare", "<= 1.5"),
        ("P3 DecideBatch / unary Decide, dec/s", ">= 4"), ("P3 DecideStream / unary Decide, dec/s", ">= 2"),
    ):
        assert re.search(rf"{re.escape(label)}\s+-?{NUMBER} / -?{NUMBER} / -?{NUMBER}\s+target {re.escape(target)}", out), (label, out)
    # gRPC's own stream over its own unary calls, the most DecideStream / Decide can be: beside P3.
    assert re.search(rf"P3 ceiling: bare stream / bare unary\s+{NUMBER} / {NUMBER} / {NUMBER}\s+what DecideStream", out), out
    assert out.count("round ") >= 2

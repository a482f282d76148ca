"""The call around the decision (issue 15, P1): the stage profiler measures it without its own
timers. The profiler runs in a subprocess with a timeout; no assertion on speed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from tests.conftest import REPO


def _profile() -> str:
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "bench_handler.py"), "--cases", "40", "--rounds", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, err[-2000:]
    return out


def _figure(out: str, label: str) -> float:
    found = re.search(rf"^{re.escape(label)}\s+(\d+\.\d)\s+\d+\.\d\s+\d+\.\d$", out, re.MULTILINE)
    assert found, (label, out)
    return float(found.group(1))


def test_the_profiler_prints_the_call_around_the_engine_without_its_timers() -> None:
    # The timers cost a few µs per wrapped call, left in `servicer other`: the call around the
    # engine is measured apart, unwrapped, and is a part of the unwrapped handler CPU.
    out = _profile()
    around = _figure(out, "call around the engine")
    assert around > 0 and _figure(out, "handler CPU per decision") > 0  # the replay's own check (bench_handler) is what proves it the same call

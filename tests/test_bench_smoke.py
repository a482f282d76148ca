"""bench/run.py still runs: tiny figures, in a subprocess with a timeout; no assertion on speed."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_in_process_benchmarks_run_and_print_the_arrangement_ratios() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--cases", "40", "--rounds", "3", "--repeat", "5", "--skip-grpc"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "one case with an active instalment plan and 20 prior contacts, beside the same case with neither; 3 interleaved rounds" in out
    assert re.search(r"plan +decided NO_CONTACT by arrangement-performing-hold", out)  # the plan is judged active and kept
    ratios = re.findall(r"^(whole engine, us per decision|facts only \(derive\), us) +[0-9.]+ +[0-9.]+ +([0-9.]+) / ([0-9.]+) / ([0-9.]+)$", out, re.MULTILINE)
    assert [name for name, *_ in ratios] == ["whole engine, us per decision", "facts only (derive), us"]
    for _, low, middle, high in ratios:
        assert float(low) <= float(middle) <= float(high)

"""Bulk decisions on cores: `collection-strategy decide --workers 2` beside `--workers 1`.

    python bench/bench_bulk.py [--cases N] [--rounds R] [--command decide|simulate]

The same file of N synthetic cases (JSON Lines, 20,000 by default) is decided by
the whole command, as a user runs it (start-up, rules, reading and writing
included), with 1 and with 2 workers, in R interleaved rounds (the order
alternating between rounds). Each round prints decisions per second of both and
their ratio; then the ratio's min / median / max. The ratio is taken within a
round, so a machine whose speed drifts moves both figures alike. Both runs must
write the same bytes, or the benchmark stops. bench/run.py runs it as section `bulk`.

Beside the rates, two CPU figures that a busy machine moves little: the CPU
seconds per 1,000 rows of the caller process alone (the one that reads and
writes: with 2 workers, what it spends besides deciding is the run's serial
part) and of all the run's processes (what spreading costs in total: a helper's
start-up, pickling). `--command simulate` times `simulate` instead (no output
file to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
WORKERS = (1, 2)


# Runs the command line as `python -m` does, then writes the caller process's own CPU seconds
# (helpers not counted: a forked helper leaves with os._exit, never through this `finally`).
CALLER = """
import os, resource, runpy
try:
    runpy.run_module("engine.authoring.cli", run_name="__main__", alter_sys=True)
finally:
    used = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_CALLER_CPU"], "w") as handle:
        handle.write(str(used.ru_utime + used.ru_stime))
"""


class Run(NamedTuple):
    seconds: float  # wall
    caller_cpu: float  # the caller process alone
    all_cpu: float  # the caller and its helpers


def command_run(command: str, cases: Path, out: Path, workers: int) -> Run:
    """One whole `decide` (or `simulate`) command: wall seconds and CPU seconds."""
    options = ["--out", str(out)] if command == "decide" else []
    argv = [sys.executable, "-c", CALLER, command, str(cases), *options, "--workers", str(workers), "--as-of", AS_OF.isoformat(), "--rules", str(ROOT / "rules")]
    cpu_file = out.with_name(f"caller-cpu-{workers}.txt")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "BENCH_CALLER_CPU": str(cpu_file)})
    _, errors = process.communicate(timeout=3600)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command} --workers {workers} failed ({process.returncode}): {errors[-2000:]}")
    # The waited process's usage includes the helpers it waited for.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Run(seconds, float(cpu_file.read_text()), after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def spread(values: list[float], shown: str) -> str:
    ordered = sorted(values)
    return " / ".join(shown.format(value) for value in (ordered[0], statistics.median(ordered), ordered[-1]))


def bulk(cases: int, rounds: int, command: str = "decide") -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cases.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(case) + "\n" for case in synthetic_portfolio(cases, AS_OF))
        outs = {workers: Path(folder) / f"decisions-{workers}.jsonl" for workers in WORKERS}
        print(f"\n== Bulk decisions: `collection-strategy {command}` of {cases:,} cases (JSON Lines), whole commands, --workers 2 beside --workers 1; {rounds} interleaved rounds")
        print(f"{'round':>5}  {'first':>5}  {'1 worker/s':>11}  {'2 workers/s':>11}  {'ratio':>6}  {'caller CPU s/1k rows (1, 2)':>28}  {'all CPU s/1k rows (1, 2)':>25}  {'load':>5}")
        runs: dict[int, list[Run]] = {workers: [] for workers in WORKERS}
        for index in range(rounds):
            order = WORKERS if index % 2 == 0 else WORKERS[::-1]
            for workers in order:
                runs[workers].append(command_run(command, source, outs[workers], workers))
            if command == "decide" and outs[1].read_bytes() != outs[2].read_bytes():
                raise SystemExit("decide wrote different decisions with 1 and 2 workers")
            one, two = runs[1][-1], runs[2][-1]
            per_k = 1000 / cases
            print(
                f"{index + 1:>5}  {order[0]:>5}  {cases / one.seconds:>11,.0f}  {cases / two.seconds:>11,.0f}  {one.seconds / two.seconds:>5.2f}x"
                f"  {one.caller_cpu * per_k:>13.3f} {two.caller_cpu * per_k:>14.3f}  {one.all_cpu * per_k:>12.3f} {two.all_cpu * per_k:>12.3f}  {os.getloadavg()[0]:>5.1f}"
            )
        ratios = [one.seconds / two.seconds for one, two in zip(runs[1], runs[2])]
        for workers in WORKERS:
            print(f"{f'{workers} worker(s), decisions/s':40}{spread([cases / run.seconds for run in runs[workers]], '{:,.0f}')}")
        print(f"{'2 workers / 1 worker, within each round':40}{spread(ratios, '{:.2f}')}")
        for workers in WORKERS:
            print(f"{f'{workers} worker(s), caller CPU s/1,000 rows':40}{spread([run.caller_cpu * 1000 / cases for run in runs[workers]], '{:.3f}')}")
            print(f"{f'{workers} worker(s), all CPU s/1,000 rows':40}{spread([run.all_cpu * 1000 / cases for run in runs[workers]], '{:.3f}')}")
        print("min / median / max; whole commands: start-up, the rules, reading and writing included. The load average is the machine's (1 min).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--command", choices=("decide", "simulate"), default="decide")
    args = parser.parse_args()
    bulk(args.cases, args.rounds, args.command)


if __name__ == "__main__":
    main()

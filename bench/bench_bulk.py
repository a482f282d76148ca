"""Bulk decisions on cores: `collection-strategy decide --workers 2` beside `--workers 1`.

    python bench/bench_bulk.py [--cases N] [--rounds R] [--command decide|simulate] [--against OLD_CHECKOUT]

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
file to compare). The caller's serial CPU is its CPU less what it spends on the
chunks it decides itself (and setting up its own engine): reading, handing out,
adding up, writing, and its start-up. Its share is of all the run's CPU.

`--against DIR` runs a second checkout (e.g. the code before a change, DIR holding
engine/ and rules/) beside this one, interleaved in the same rounds, both on the
same file: old and new figures side by side on a machine whose load drifts.
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
# (helpers not counted: a forked helper leaves with os._exit, never through this `finally`),
# and the CPU it spent on its own chunks (the work `local()` gives workers.spread, timed by thread).
CALLER = """
import os, resource, runpy, time
from engine.authoring import workers

own = [0.0]
spread = workers.spread

def timed(work):
    def timed_work(batch):
        started = time.thread_time()
        try:
            return work(batch)
        finally:
            own[0] += time.thread_time() - started
    return timed_work

def made(local):
    def timed_local():
        started = time.thread_time()
        try:
            return timed(local())
        finally:
            own[0] += time.thread_time() - started
    return timed_local

# Whatever else spread takes (it changed), `local` is named: this runs old checkouts too (--against).
workers.spread = lambda *args, local, **options: spread(*args, local=made(local), **options)
try:
    runpy.run_module("engine.authoring.cli", run_name="__main__", alter_sys=True)
finally:
    used = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_CALLER_CPU"], "w") as handle:
        handle.write(f"{used.ru_utime + used.ru_stime} {own[0]}")
"""


class Run(NamedTuple):
    seconds: float  # wall
    caller_cpu: float  # the caller process alone
    all_cpu: float  # the caller and its helpers
    own_cpu: float  # the caller on its own chunks: the rest of caller_cpu is the run's serial part

    @property
    def serial_cpu(self) -> float:
        return self.caller_cpu - self.own_cpu


def command_run(command: str, cases: Path, out: Path, workers: int, root: Path = ROOT) -> Run:
    """One whole `decide` (or `simulate`) command of the checkout at `root`: wall seconds and CPU seconds."""
    options = ["--out", str(out)] if command == "decide" else []
    argv = [sys.executable, "-c", CALLER, command, str(cases), *options, "--workers", str(workers), "--as-of", AS_OF.isoformat(), "--rules", str(root / "rules")]
    cpu_file = out.with_name(f"caller-cpu-{out.stem}.txt")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "BENCH_CALLER_CPU": str(cpu_file)})
    _, errors = process.communicate(timeout=3600)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command} --workers {workers} failed ({process.returncode}): {errors[-2000:]}")
    # The waited process's usage includes the helpers it waited for.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    caller_cpu, own_cpu = map(float, cpu_file.read_text().split())
    return Run(seconds, caller_cpu, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, own_cpu)


def spread(values: list[float], shown: str) -> str:
    ordered = sorted(values)
    return " / ".join(shown.format(value) for value in (ordered[0], statistics.median(ordered), ordered[-1]))


def bulk(cases: int, rounds: int, command: str = "decide", against: Path | None = None) -> None:
    checkouts = {"": ROOT} if against is None else {"old ": against.resolve(), "new ": ROOT}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cases.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(case) + "\n" for case in synthetic_portfolio(cases, AS_OF))
        runs_of = [(label, workers) for label in checkouts for workers in WORKERS]
        outs = {(label, workers): Path(folder) / f"decisions-{label.strip() or 'this'}-{workers}.jsonl" for label, workers in runs_of}
        print(f"\n== Bulk decisions: `collection-strategy {command}` of {cases:,} cases (JSON Lines), whole commands, --workers 2 beside --workers 1; {rounds} interleaved rounds")
        print(f"{'round':>5}  {'run':>8}  {'rows/s':>8}  {'ratio 2/1':>9}  {'caller CPU s/1k':>15}  {'serial CPU s/1k':>15}  {'all CPU s/1k':>12}  {'caller share':>12}  {'load':>5}")
        runs: dict[tuple[str, int], list[Run]] = {key: [] for key in runs_of}
        per_k = 1000 / cases
        for index in range(rounds):
            order = runs_of if index % 2 == 0 else runs_of[::-1]
            for key in order:
                runs[key].append(command_run(command, source, outs[key], key[1], checkouts[key[0]]))
            if command == "decide" and len({outs[key].read_bytes() for key in runs_of}) != 1:
                raise SystemExit("decide wrote different decisions with 1 and 2 workers (or old and new)")
            for label, workers in runs_of:
                run = runs[(label, workers)][-1]
                ratio = f"{runs[(label, 1)][-1].seconds / run.seconds:>8.2f}x" if workers == 2 else ""
                print(
                    f"{index + 1:>5}  {label + str(workers) + 'w':>8}  {cases / run.seconds:>8,.0f}  {ratio:>9}  {run.caller_cpu * per_k:>15.3f}"
                    f"  {run.serial_cpu * per_k:>15.3f}  {run.all_cpu * per_k:>12.3f}  {run.caller_cpu / run.all_cpu:>12.1%}  {os.getloadavg()[0]:>5.1f}"
                )
        for label in checkouts:
            for workers in WORKERS:
                done = runs[(label, workers)]
                print(f"{f'{label}{workers} worker(s), decisions/s':44}{spread([cases / run.seconds for run in done], '{:,.0f}')}")
                print(f"{f'{label}{workers} worker(s), caller CPU s/1,000 rows':44}{spread([run.caller_cpu * per_k for run in done], '{:.3f}')}")
                print(f"{f'{label}{workers} worker(s), serial CPU s/1,000 rows':44}{spread([run.serial_cpu * per_k for run in done], '{:.4f}')}")
                print(f"{f'{label}{workers} worker(s), all CPU s/1,000 rows':44}{spread([run.all_cpu * per_k for run in done], '{:.3f}')}")
                print(f"{f'{label}{workers} worker(s), caller share of all CPU':44}{spread([run.caller_cpu / run.all_cpu * 100 for run in done], '{:.1f}%')}")
            ratios = [one.seconds / two.seconds for one, two in zip(runs[(label, 1)], runs[(label, 2)])]
            print(f"{f'{label}2 workers / 1 worker, within each round':44}{spread(ratios, '{:.2f}')}")
        print("min / median / max; whole commands: start-up, the rules, reading and writing included. The load average is the machine's (1 min).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--command", choices=("decide", "simulate"), default="decide")
    parser.add_argument("--against", type=Path, metavar="DIR", help="another checkout (engine/ and rules/) to run beside this one in the same rounds")
    args = parser.parse_args()
    bulk(args.cases, args.rounds, args.command, args.against)


if __name__ == "__main__":
    main()

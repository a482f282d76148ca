"""Bulk decisions on cores: `collection-strategy decide --workers 2` beside `--workers 1`.

    python bench/bench_bulk.py [--cases N] [--rounds R]

The same file of N synthetic cases (JSON Lines, 20,000 by default) is decided by
the whole command, as a user runs it (start-up, rules, reading and writing
included), with 1 and with 2 workers, in R interleaved rounds (the order
alternating between rounds). Each round prints decisions per second of both and
their ratio; then the ratio's min / median / max. The ratio is taken within a
round, so a machine whose speed drifts moves both figures alike. Both runs must
write the same bytes, or the benchmark stops. bench/run.py runs it as section `bulk`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
WORKERS = (1, 2)


def decide_seconds(cases: Path, out: Path, workers: int) -> float:
    """Wall seconds of one whole `decide` command."""
    command = [sys.executable, "-m", "engine.authoring.cli", "decide", str(cases), "--out", str(out), "--workers", str(workers),
               "--as-of", AS_OF.isoformat(), "--rules", str(ROOT / "rules")]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"decide --workers {workers} failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def spread(values: list[float], shown: str) -> str:
    ordered = sorted(values)
    return " / ".join(shown.format(value) for value in (ordered[0], statistics.median(ordered), ordered[-1]))


def bulk(cases: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cases.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(case) + "\n" for case in synthetic_portfolio(cases, AS_OF))
        outs = {workers: Path(folder) / f"decisions-{workers}.jsonl" for workers in WORKERS}
        print(f"\n== Bulk decisions: `collection-strategy decide` of {cases:,} cases (JSON Lines), whole commands, --workers 2 beside --workers 1; {rounds} interleaved rounds")
        print(f"{'round':>5}  {'first':>5}  {'1 worker/s':>11}  {'2 workers/s':>11}  {'ratio':>6}")
        rates: dict[int, list[float]] = {workers: [] for workers in WORKERS}
        for index in range(rounds):
            order = WORKERS if index % 2 == 0 else WORKERS[::-1]
            for workers in order:
                rates[workers].append(cases / decide_seconds(source, outs[workers], workers))
            if outs[1].read_bytes() != outs[2].read_bytes():
                raise SystemExit("decide wrote different decisions with 1 and 2 workers")
            print(f"{index + 1:>5}  {order[0]:>5}  {rates[1][-1]:>11,.0f}  {rates[2][-1]:>11,.0f}  {rates[2][-1] / rates[1][-1]:>5.2f}x")
        ratios = [two / one for one, two in zip(rates[1], rates[2])]
        print(f"{'1 worker, decisions/s':40}{spread(rates[1], '{:,.0f}')}")
        print(f"{'2 workers, decisions/s':40}{spread(rates[2], '{:,.0f}')}")
        print(f"{'2 workers / 1 worker, within each round':40}{spread(ratios, '{:.2f}')}")
        print("min / median / max; whole commands: start-up, the rules, reading and writing included.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bulk(args.cases, args.rounds)


if __name__ == "__main__":
    main()

"""Bulk decisions on Spark: the job with 1 and 2 local executor cores beside the
`decide` command with 1 and 2 workers, in the same run.

    python bench/bench_spark.py [--cases N] [--rounds R]

The same file of N synthetic cases (JSON Lines, 20,000 by default) is decided four
ways in each of R interleaved rounds (the order reversed every other round): the
whole `collection-strategy decide` command (start-up, rules, reading and writing
included) with --workers 1 and 2, and the Spark job (engine/spark_job.py: numbering,
deciding, writing decisions and refusals as Parquet) in two long-lived drivers,
local[1] and local[2], with 2 tasks per core. The Spark figures leave out the
session's start (a JVM, 10-30 s here), which a nightly job pays once; the first
run of each driver (Python workers starting, engines built) is a warm-up, not
counted. Every figure is decisions/s and its ratio to `decide --workers 1` in the
same round; then min / median / max of each. bench/run.py runs it as `--only spark`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_bulk import decide_seconds  # noqa: E402 (bench/ is on the path: this script's folder)
from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
BASELINE = "decide -w1"
RUNNERS = (BASELINE, "decide -w2", "spark local[1]", "spark local[2]")


def spark_environment() -> dict[str, str]:
    import pyspark

    return {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}


class Driver:
    """A Spark driver in its own process (one master per JVM), deciding the file on each request."""

    def __init__(self, cores: int, cases: Path, folder: Path):
        command = [sys.executable, __file__, "--serve", str(cores), "--cases-file", str(cases), "--folder", str(folder)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=spark_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, start_new_session=True)
        assert self.ask() == "ready"

    def ask(self, line: str | None = None) -> str:
        assert self.process.stdin and self.process.stdout
        if line is not None:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, "the Spark driver stopped"
        return answer

    def seconds(self) -> float:
        return float(self.ask("run"))

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def serve(cores: int, cases: Path, folder: Path) -> None:
    """The driver's side: one session, then one whole job per `run` line, its seconds printed."""
    from pyspark.sql import SparkSession

    from engine.spark_job import decide_cases, read_cases, write_decided

    spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", str(2 * cores))
             .config("spark.driver.memory", "1g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print("ready", flush=True)
    for line in sys.stdin:
        assert line.strip() == "run", line
        started = time.perf_counter()
        decided = decide_cases(read_cases(spark, str(cases)), str(ROOT / "rules"), AS_OF, partitions=2 * cores)
        write_decided(decided, str(folder / f"spark-{cores}"), str(folder / f"spark-{cores}-invalid"), overwrite=True)
        print(f"{time.perf_counter() - started:.6f}", flush=True)


def spread(values: list[float], shown: str) -> str:
    ordered = sorted(values)
    return " / ".join(shown.format(value) for value in (ordered[0], statistics.median(ordered), ordered[-1]))


def spark_beside_decide(cases: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        path = folder / "cases.jsonl"
        path.write_text("".join(json.dumps(case) + "\n" for case in synthetic_portfolio(cases, AS_OF)), encoding="utf-8")
        drivers = {1: Driver(1, path, folder), 2: Driver(2, path, folder)}
        try:
            runs = {
                BASELINE: lambda: decide_seconds(path, folder / "decide-1.parquet", 1),
                "decide -w2": lambda: decide_seconds(path, folder / "decide-2.parquet", 2),
                "spark local[1]": drivers[1].seconds,
                "spark local[2]": drivers[2].seconds,
            }
            for driver in drivers.values():
                driver.seconds()  # warm-up: Python workers started, engines built
            print(f"\n== Spark beside the decide command: {cases:,} synthetic cases (JSON Lines in, Parquet out), {rounds} interleaved rounds, {os.cpu_count()} CPUs")
            print("   decisions/s, and the ratio to `decide --workers 1` in the same round (Spark without its session start)")
            print(f"{'round':>5}  {'first':>14}" + "".join(f"{name:>16}{'ratio':>7}" for name in RUNNERS), flush=True)
            rates: dict[str, list[float]] = {name: [] for name in RUNNERS}
            for index in range(rounds):
                order = list(RUNNERS) if index % 2 == 0 else list(RUNNERS)[::-1]
                for name in order:
                    rates[name].append(cases / runs[name]())
                print(f"{index + 1:>5}  {order[0]:>14}" + "".join(f"{rates[name][-1]:>16,.0f}{rates[name][-1] / rates[BASELINE][-1]:>7.2f}" for name in RUNNERS), flush=True)
        finally:
            for driver in drivers.values():
                driver.stop()
    print(f"{'':34}min / median / max")
    for name in RUNNERS:
        print(f"{name + ', decisions/s':34}{spread(rates[name], '{:,.0f}')}")
        if name != BASELINE:
            print(f"{name + ' / ' + BASELINE:34}{spread([rate / base for rate, base in zip(rates[name], rates[BASELINE])], '{:.2f}')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the driver's side, started by this script
    parser.add_argument("--cases-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.cases_file, args.folder)
    else:
        spark_beside_decide(args.cases, args.rounds)


if __name__ == "__main__":
    main()

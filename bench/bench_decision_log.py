"""The decision log's cost: decisions with the log on beside the same decisions with it off.

    python bench/bench_decision_log.py [--cases N] [--rounds R]

The servicer's own decide path (snapshot from proto, engine, decision to proto,
decision id, and with the log on the record queued) runs over the same N
synthetic cases three ways in each of R interleaved rounds (the order rotating):
log off, log to a file with masked snapshots (the default), and log to a file
with whole snapshots (what replay needs). Each way is timed in CPU seconds of
the whole process, the log's writer thread included, up to the last record
written. Prints decisions/s of each and the ratio to "off" per round, then the
ratio's min / median / max. Issue 14's bound: on at most 10% slower than off.
bench/run.py runs it as section `decision-log`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402
from engine.decision_record import DEFAULT_KEEP  # noqa: E402
from engine.registry import build_engine  # noqa: E402
from transport.decision_log import DecisionLog, FileSink  # noqa: E402
from transport.mapping import case_from_data  # noqa: E402
from transport.servicer import CollectionStrategyServicer  # noqa: E402
from transport.streams import StreamLimits  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
WAYS = ("off", "masked", "whole")


def run(way: str, engine: Any, cases: list[pb.CaseSnapshot], folder: Path) -> float:
    """CPU seconds to decide every case one way, up to the last record written."""
    log = None if way == "off" else DecisionLog(FileSink(folder / f"{way}.jsonl"), DEFAULT_KEEP if way == "masked" else None, capacity=len(cases) + 1)
    servicer = CollectionStrategyServicer(SimpleNamespace(current=SimpleNamespace(engine=engine)), StreamLimits(1, 30.0), log)  # type: ignore[arg-type]
    request = pb.DecideRequest()
    request.as_of.FromDatetime(AS_OF)
    started = time.process_time()
    for case in cases:
        servicer._decide(engine, case, request, "Decide")
    if log is not None:
        log.close(timeout=600)
    return time.process_time() - started


def decision_log(cases: int, rounds: int) -> None:
    engine = build_engine(ROOT / "rules")
    protos = [case_from_data(case) for case in synthetic_portfolio(cases, AS_OF)]
    print(f"\n== Decision log: the servicer's decide path over {cases:,} cases, log off / to a file masked / whole; {rounds} interleaved rounds (CPU s of the process)")
    print(f"{'round':>5}  {'off/s':>8}  {'masked/s':>9}  {'whole/s':>8}  {'masked/off':>10}  {'whole/off':>9}")
    ratios: dict[str, list[float]] = {"masked": [], "whole": []}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(rounds):
            order = WAYS[number % 3:] + WAYS[:number % 3]
            seconds = {way: run(way, engine, protos, Path(folder)) for way in order}
            rate = {way: cases / seconds[way] for way in WAYS}
            for way in ratios:
                ratios[way].append(rate[way] / rate["off"])
            print(f"{number + 1:>5}  {rate['off']:>8.0f}  {rate['masked']:>9.0f}  {rate['whole']:>8.0f}  {ratios['masked'][-1]:>10.2f}  {ratios['whole'][-1]:>9.2f}")
    for way, values in ratios.items():
        ordered = sorted(values)
        print(f"{way}/off decisions/s: min {ordered[0]:.2f} / median {statistics.median(ordered):.2f} / max {ordered[-1]:.2f}"
              f"  (target: at least 0.90, the log at most 10% slower)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    decision_log(args.cases, args.rounds)


if __name__ == "__main__":
    main()

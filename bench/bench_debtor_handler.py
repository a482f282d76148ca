"""DecideDebtor's own CPU per debtor, with the fast debtor reader on and off.

    python bench/bench_debtor_handler.py [--debtors N] [--rounds R]

Runs the servicer's DecideDebtor (transport/servicer.py -> engine/debtor.py) over N
synthetic-portfolio debtors (engine/authoring/portfolio_debtors.py, 2.1 accounts on
average), in process, with in-memory metrics. Each round decides them all with the
reader on and with it off (transport/debtor_reader.ENABLED; off is the validated path:
debtor_data, then parse_debtor), the order alternating from round to round, so that the
machine's load falls on both alike. Beside the handler, the reading alone: read_debtor
against debtor_data + parse_debtor over the same messages. CPU time (the machines are
shared: wall time would count others' work); figures in µs per debtor, min / median /
max over the rounds. Each request has its own as_of, a second apart, as calls answered
at the server's clock do.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_handler import _Context  # noqa: E402  # bench/ is on the path: this script's folder

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def measure(debtors: int, rounds: int) -> dict[str, list[float]]:
    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from engine.authoring.portfolio_debtors import synthetic_debtors
    from engine.debtor_snapshot import parse_debtor
    from engine.registry import build_engine
    from transport import debtor_reader, mapping, servicer as servicer_module
    from transport.debtor_mapping import debtor_data, debtor_from_data
    from transport.streams import StreamLimits

    engine = build_engine(ROOT / "rules", "durable")
    registry = type("Registry", (), {"current": type("Active", (), {"engine": engine})()})()
    messages = [debtor_from_data(data) for data in synthetic_debtors(debtors, AS_OF, seed=11)]
    requests = [
        pb.DecideDebtorRequest(debtor=debtor, as_of=mapping.timestamp(AS_OF + timedelta(seconds=index))).SerializeToString()
        for index, debtor in enumerate(messages)
    ]
    servicer = servicer_module.CollectionStrategyServicer(registry, StreamLimits(4, 60.0))
    context = _Context()
    for data in requests[: min(300, debtors)]:  # warm caches (holiday calendars, zones)
        servicer.DecideDebtor(data, context)
    assert all(debtor_reader.read_debtor(debtor, AS_OF) is not None for debtor in messages), "the reader declined a portfolio debtor"

    def handler(reader_on: bool) -> float:
        debtor_reader.ENABLED = reader_on
        started = time.process_time()
        for data in requests:
            servicer.DecideDebtor(data, context)
        return (time.process_time() - started) / debtors * 1e6

    def reading(reader_on: bool) -> float:
        debtor_reader.ENABLED = True
        started = time.thread_time()
        if reader_on:
            for debtor in messages:
                debtor_reader.read_debtor(debtor, AS_OF)
        else:
            for debtor in messages:
                parse_debtor(debtor_data(debtor), AS_OF)
        return (time.thread_time() - started) / debtors * 1e6

    figures: dict[str, list[float]] = defaultdict(list)
    for round_number in range(rounds):
        order = (True, False) if round_number % 2 == 0 else (False, True)
        for reader_on in order:
            figures[f"DecideDebtor handler CPU, reader {'on' if reader_on else 'off'}"].append(handler(reader_on))
        for reader_on in order:
            figures[f"reading the debtor, {'read_debtor' if reader_on else 'debtor_data + parse_debtor'}"].append(reading(reader_on))
    debtor_reader.ENABLED = True
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debtors", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"== DecideDebtor: servicer over {args.debtors} synthetic-portfolio debtors, {args.rounds} interleaved rounds (µs per debtor, CPU)")
    figures = measure(args.debtors, args.rounds)
    for name, values in figures.items():
        print(f"{name:<58} min {min(values):8.1f}  median {statistics.median(values):8.1f}  max {max(values):8.1f}")
    # Paired by round (the two passes of a round ran under the same load): off less on.
    for what, on_name, off_name in (
        ("handler CPU saved by the reader", "DecideDebtor handler CPU, reader on", "DecideDebtor handler CPU, reader off"),
        ("reading CPU saved by the reader", "reading the debtor, read_debtor", "reading the debtor, debtor_data + parse_debtor"),
    ):
        saved = [off - on for on, off in zip(figures[on_name], figures[off_name])]
        share = statistics.median(saved) / statistics.median(figures[off_name])
        print(f"{what + ', paired by round':<58} min {min(saved):8.1f}  median {statistics.median(saved):8.1f}  max {max(saved):8.1f}  ({share:.0%} of off)")


if __name__ == "__main__":
    main()

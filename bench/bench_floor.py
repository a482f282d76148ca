"""The floor under P1: what any unary Decide costs here while durable_rules is the matcher.

    python bench/bench_floor.py [--cases N] [--rounds R]

Issue 15 asks for a handler costing at most 150 µs of CPU per decision. Some of
that work no redesign of our code can remove while durable_rules stays the
production matcher and gRPC/protobuf the transport; this measures it, per
decision, on the shipped policy and portfolio:

- parse: DecideRequest.FromString of the request's bytes;
- match: the durable matcher's call (the facts' JSON text, assert, the fired
  rules' actions, retract) on the facts the engine derived for the case, which are
  worked out beforehand and not timed;
- answer: the engine's decision, made beforehand, written into a DecideResponse
  (transport.mapping.decision_to_proto) and serialized;
- count: one collection_decisions_total update, as the servicer makes it.

Their sum is the floor; reading the case, deriving its facts, the guardrails,
windows, offers and the engine's own steps all come on top. Beside it, the same
match with the plain-Python matcher on the same compiled policy. Figures: CPU
µs per decision (time.process_time), median over R rounds with min and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
TARGET_US = 150.0  # P1 (issue 15)


def _per_decision(items: list[Any], work: Callable[[Any], Any]) -> float:
    started = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - started) / len(items) * 1e6


def measure(cases: int, rounds: int) -> dict[str, list[float]]:
    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from engine.authoring.portfolio import synthetic_portfolio
    from engine.engine import StrategyEngine
    from engine.experiments import assign
    from engine.facts import EXPERIMENT_PREFIX, derive
    from engine.matching import make_matcher
    from engine.registry import build_engine
    from engine.snapshot import parse_snapshot
    from transport import mapping, metrics

    engine: StrategyEngine = build_engine(ROOT / "rules", "durable")
    python_matcher = make_matcher(engine.matched_rules, "python")
    durable_matcher = engine._matcher  # the production matcher, as built for this policy
    requests, facts, decisions = [], [], []
    for index, data in enumerate(synthetic_portfolio(cases, AS_OF, seed=11)):
        as_of = AS_OF + timedelta(seconds=index)
        requests.append(pb.DecideRequest(case=mapping.case_from_data(data), as_of=mapping.timestamp(as_of)).SerializeToString())
        snapshot = parse_snapshot(dict(data), as_of)
        context = derive(snapshot, as_of, dict(engine.policy.posting_grace), None, engine.fact_need)
        context.facts.update({EXPERIMENT_PREFIX + e.id: assign(e, snapshot.case_id) for e in engine.policy.experiments})
        facts.append(context.facts)
        decisions.append(engine.decide(snapshot, as_of))

    def answer(decision: Any) -> bytes:
        response = pb.DecideResponse()
        mapping.decision_to_proto(decision, response.decision)
        return response.SerializeToString()

    def count(decision: Any) -> None:
        metrics.child(metrics.DECISIONS, decision.action, decision.channel.value if decision.channel else "none").inc()

    stages: dict[str, tuple[list[Any], Callable[[Any], Any]]] = {
        "parse": (requests, pb.DecideRequest.FromString),
        "match (durable)": (facts, durable_matcher.matching),
        "answer": (decisions, answer),
        "count": (decisions, count),
        "match (plain Python)": (facts, python_matcher.matching),
    }
    for items, work in stages.values():  # warm up
        for item in items[:200]:
            work(item)
    figures: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(rounds):
        for name, (items, work) in stages.items():
            figures[name].append(_per_decision(items, work))
    return figures


def floor(cases: int, rounds: int) -> None:
    """Print each part, the floor and what the P1 target leaves for the rest."""
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-floor-metrics-"))  # as a server with workers counts
    figures = measure(cases, rounds)
    print(f"== The floor under P1: {cases} shipped-portfolio cases, {rounds} rounds, CPU us per decision")
    print(f"{'part':24}{'median':>10}{'min':>8}{'max':>8}")
    for name, values in figures.items():
        print(f"{name:24}{statistics.median(values):>10.1f}{min(values):>8.1f}{max(values):>8.1f}")
    total = [sum(parts) for parts in zip(*(figures[name] for name in ("parse", "match (durable)", "answer", "count")))]
    print(f"{'floor (durable)':24}{statistics.median(total):>10.1f}{min(total):>8.1f}{max(total):>8.1f}")
    print(f"P1 target {TARGET_US:.0f} us leaves {TARGET_US - statistics.median(total):.0f} us for reading the case, its facts, "
          "guardrails, windows, offers and the engine's steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    floor(args.cases, args.rounds)


if __name__ == "__main__":
    main()

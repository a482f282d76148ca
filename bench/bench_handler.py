"""Where a unary Decide's own CPU goes: µs per decision per stage, in process.

    python bench/bench_handler.py [--cases N] [--rounds R] [--single-process]

Runs the servicer's Decide (what a request runs: transport/servicer.py ->
engine/bulk.py decide_one -> engine/engine.py) over N shipped-portfolio cases,
with the grpc_server_* metrics the interceptor adds, in prometheus_client's
multiprocess mode as a server with several workers runs it (--single-process:
in-memory metrics). Each stage's functions are wrapped with a timer of the
thread's CPU time (the machines are shared: wall time would count others'
work); `engine bookkeeping` is the engine's time less the stages inside it
(and so also the timers' own cost of the stages inside), `servicer other` the
handler's total less every stage; `metrics` is the servicer's counting plus the
interceptor's updates replayed unwrapped. `handler CPU per decision` is the
process's CPU time per decision over a separate pass without the timers: the
figure to compare with P1. Each request has its own as_of, a second apart, as
calls answered at the server's clock do. Figures: median over R rounds, min and
max beside.

The timers cost: a thread CPU clock read is a system call on these machines
(about 2 µs; two per wrapped call), and part of each lands in the caller's stage,
`servicer other` or `engine bookkeeping`. So the call around the decision is also
measured without them: `call around the engine` is the CPU per decision of the
same Decide with the case reader and the engine answering what they answered
before (recorded, replayed in order): parsing, as_of, the interceptor, the
decision id, decision->proto and the metrics, as a request pays them.
`--root DIR` measures another checkout (e.g. the code before a change) with this
script's accounting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
TARGET_US = 150.0  # P1: the handler's own CPU per decision (issue 15)
# Stages in the order a request meets them; the engine's are inside "engine".
STAGES = (
    "proto reader", "proto->dict", "pydantic", "facts", "fact JSON", "matching", "compliance", "window", "offers",
    "engine bookkeeping", "decision->proto", "metrics", "servicer other",
)


class _Context:
    """Enough of grpc.ServicerContext for a unary Decide that succeeds."""

    def is_active(self) -> bool:
        return True

    def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(f"{code}: {details}")

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    def code(self) -> None:
        return None


class _Clock:
    """Accumulates the time spent in wrapped functions, by stage (exclusive of nested wraps)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []

    def time(self, stage: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._stack.append(0.0)
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.thread_time() - started
            inner = self._stack.pop()
            self.spent[stage] += elapsed - inner
            if self._stack:
                self._stack[-1] += elapsed

    def wrap(self, owner: Any, name: str, stage: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            return self.time(stage, original, *args, **kwargs)

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def _interceptor_metrics(metrics: Any, cases: int) -> float:
    """Seconds per call of the interceptor's grpc_server_* updates for an answered Decide
    (transport/tracing.py), replayed unwrapped: a timer around each would cost more than they do."""
    series = metrics.RpcSeries("unary", metrics.SERVICE_NAME, "Decide")  # resolved once per method, as the interceptor does
    started = time.thread_time()
    for _ in range(cases):
        series.started.inc()
        series.received.inc()
        series.sent.inc()
        series.handled("OK").inc()
        series.handling.observe(0.0004)
    return (time.thread_time() - started) / cases


def _observed(servicer: Any, observer: Any) -> Callable[[bytes, Any], Any]:
    """The servicer's Decide behind the interceptor, as grpc calls it."""
    import grpc

    handler = grpc.unary_unary_rpc_method_handler(servicer.Decide)
    details = type("Details", (), {"method": f"/{observer._service}/Decide", "invocation_metadata": ()})()
    wrapped = observer.intercept_service(lambda _: handler, details)
    return wrapped.unary_unary  # type: ignore[no-any-return]


def _around_engine(servicer_module: Any, decide: Callable[[bytes, Any], Any], requests: list[bytes], context: Any, passes: int = 5) -> float:
    """CPU µs per decision of `decide` over `requests` with the case reader and the engine replaced
    by a replay of what they answered (recorded in a first pass): the call around the engine alone."""
    names = ("read_case", "decide_one", "decide_snapshot")
    originals = {name: getattr(servicer_module, name) for name in names}
    answers: dict[str, list[Any]] = {name: [] for name in names}

    def recording(name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            answers[name].append(originals[name](*args, **kwargs))
            return answers[name][-1]

        return record

    try:
        for name in names:
            setattr(servicer_module, name, recording(name))
        for data in requests:
            decide(data, context)
        spent = []
        for _ in range(passes):  # short passes: the median of several
            replays = {name: iter(answers[name]) for name in names}
            for name, replay in replays.items():
                setattr(servicer_module, name, lambda *args, _next=replay.__next__, **kwargs: _next())
            started = time.process_time()
            for data in requests:
                decide(data, context)
            spent.append(time.process_time() - started)
            # Each answer replayed once, in the order it was made: the calls were the same.
            assert all(next(replay, None) is None for replay in replays.values()), "the replay did not follow the recording"
        return statistics.median(spent) / len(requests) * 1e6
    finally:
        for name, original in originals.items():
            setattr(servicer_module, name, original)


def measure(cases: int, rounds: int) -> dict[str, list[float]]:
    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from engine import bulk, compliance, engine as engine_module
    from engine.authoring.portfolio import synthetic_portfolio
    from engine.matching import durable_matcher
    from engine.registry import build_engine
    from transport import mapping, metrics, servicer as servicer_module
    from transport.streams import StreamLimits
    from transport.tracing import DecisionObserver

    engine = build_engine(ROOT / "rules", "durable")
    registry = type("Registry", (), {"current": type("Active", (), {"engine": engine})()})()
    # Each request at its own instant, a second apart, as calls answered at the server's
    # clock are: a cache keyed by the instant would hit on one shared as_of and never here.
    requests = [
        pb.DecideRequest(case=mapping.case_from_data(data), as_of=mapping.timestamp(AS_OF + timedelta(seconds=index))).SerializeToString()
        for index, data in enumerate(synthetic_portfolio(cases, AS_OF, seed=11))
    ]
    servicer = servicer_module.CollectionStrategyServicer(registry, StreamLimits(4, 60.0))
    decide = _observed(servicer, DecisionObserver(metrics.SERVICE_NAME))
    context = _Context()
    for data in requests[: min(500, cases)]:  # warm caches (holiday calendars, zones)
        decide(data, context)

    figures: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        # The total, unwrapped: the process's CPU time per decision.
        started = time.process_time()
        for data in requests:
            decide(data, context)
        figures["total CPU"].append((time.process_time() - started) / cases * 1e6)
        figures["call around the engine"].append(_around_engine(servicer_module, decide, requests, context))

        clock = _Clock()
        engine_clock = _Clock()
        restore = [
            clock.wrap(servicer_module, "read_case", "proto reader"),  # the fast path (transport/case_reader.py)
            clock.wrap(servicer_module, "snapshot_data", "proto->dict"),  # its fallback, and the path without it

            clock.wrap(bulk, "parse_snapshot", "pydantic"),
            clock.wrap(engine_module, "derive", "facts"),
            clock.wrap(durable_matcher.DurableMatcher, "fact_text", "fact JSON"),
            clock.wrap(durable_matcher.DurableMatcher, "_run", "matching"),
            clock.wrap(compliance.Compliance, "shaping", "compliance"),
            clock.wrap(compliance.Compliance, "guards", "compliance"),
            clock.wrap(engine_module.guardrails, "action_vetoes", "compliance"),
            clock.wrap(engine_module.guardrails, "channel_veto", "compliance"),
            clock.wrap(engine_module.guardrails, "data_warnings", "compliance"),
            clock.wrap(engine_module, "next_window", "window"),
            clock.wrap(engine_module, "offer_bounds", "offers"),
            clock.wrap(servicer_module, "decision_to_proto", "decision->proto"),
            clock.wrap(servicer_module, "_count", "metrics"),
            engine_clock.wrap(engine_module.StrategyEngine, "decide", "engine"),
        ]
        started = time.thread_time()
        for data in requests:
            decide(data, context)
        wall = (time.thread_time() - started) / cases * 1e6
        for undo in reversed(restore):
            undo()
        per = {stage: seconds / cases * 1e6 for stage, seconds in clock.spent.items()}
        per["metrics"] = per.get("metrics", 0.0) + _interceptor_metrics(metrics, cases) * 1e6
        inside = sum(per.get(stage, 0.0) for stage in ("facts", "fact JSON", "matching", "compliance", "window", "offers"))
        per["engine bookkeeping"] = engine_clock.spent["engine"] / cases * 1e6 - inside
        per["servicer other"] = wall - sum(per.values())
        for stage in STAGES:
            figures[stage].append(per.get(stage, 0.0))
    return figures


def _use_root(root: Path) -> None:
    """Measure the checkout at `root`: its packages first on the path, its rules."""
    global ROOT
    if root != ROOT:
        sys.path.remove(str(ROOT))
        sys.path.insert(0, str(root))
        ROOT = root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single-process", action="store_true", help="prometheus_client's in-memory metrics, as with one worker")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: this script's)")
    args = parser.parse_args()
    _use_root(args.root.resolve())
    if not args.single_process:  # before prometheus_client is imported, as server.py does
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-handler-metrics-"))
    figures = measure(args.cases, args.rounds)
    mode = "in-memory" if args.single_process else "multiprocess"
    print(f"== Handler stages: servicer Decide over {args.cases} shipped-portfolio cases, {args.rounds} rounds, metrics {mode}")
    print(f"{'stage':24}{'median us':>10}{'min':>8}{'max':>8}")
    for stage in (*STAGES, "total CPU", "call around the engine"):
        values = figures[stage]
        label = "handler CPU per decision" if stage == "total CPU" else stage
        print(f"{label:24}{statistics.median(values):>10.1f}{min(values):>8.1f}{max(values):>8.1f}")
    print("(call around the engine: without timers, what decision->proto, metrics and servicer other stand for)")
    total = statistics.median(figures["total CPU"])
    print(f"P1 handler CPU per decision: {total:.0f} us (target <= {TARGET_US:.0f} us): {'met' if total <= TARGET_US else 'NOT met'}")


if __name__ == "__main__":
    main()

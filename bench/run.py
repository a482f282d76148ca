"""Benchmarks: every figure beside a baseline measured in the same run.

    python bench/run.py [--cases N] [--rounds R] [--repeat K] [--seconds S] [--workers W] [--skip-grpc]

1. In process: decisions per second through the whole engine with the
   durable_rules matcher, beside the same compiled policy evaluated as plain
   Python predicates (the floor for Python here), and the matchers alone.
2. Arrangements and history: the time per decision of a case with an active
   instalment plan and 20 prior contacts, beside the same case with neither,
   in R interleaved rounds of K decisions each (the order alternating between
   rounds); the ratio of each round, min / median / max, for the whole engine
   and for the facts alone.
3. gRPC: unary Decide (requests/s, p50, p99), DecideBatch (1,000 cases per
   call) and DecideStream (decisions/s) against the real server, beside a bare
   server answering constants with the same workers and message options.
The machine is noisy: compare the ratios, which are measured minutes apart at most.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc  # noqa: E402
from engine.facts import derive  # noqa: E402
from engine.portfolio import synthetic_portfolio  # noqa: E402
from engine.registry import build_engine  # noqa: E402
from engine.snapshot import parse_snapshot  # noqa: E402
from transport.mapping import case_from_data  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def per_item_seconds(items: list[Any], work: Callable[[Any], Any]) -> float:
    started = time.perf_counter()
    for item in items:
        work(item)
    return (time.perf_counter() - started) / len(items)


def in_process(cases: int) -> None:
    engines = {backend: build_engine(ROOT / "rules", backend) for backend in ("python", "durable")}
    policy = engines["durable"].policy
    snapshots = [parse_snapshot(data, AS_OF) for data in synthetic_portfolio(cases, AS_OF)]
    contexts = [derive(snapshot, AS_OF) for snapshot in snapshots]
    for engine in engines.values():  # warm caches (holiday calendars, zones)
        for snapshot in snapshots[:500]:
            engine.decide(snapshot, AS_OF)
    whole = {name: best_of(3, lambda e=engine: per_item_seconds(snapshots, lambda s: e.decide(s, AS_OF))) for name, engine in engines.items()}
    matching = {name: best_of(3, lambda e=engine: per_item_seconds(contexts, lambda c: e._matcher.matching(c.facts))) for name, engine in engines.items()}
    packs = engines["durable"].compliance.packs
    print(f"\n== In process: policy {policy.name} {policy.version}, {len(policy.rules)} rules, {len(packs)} compliance packs ({sum(len(p.rules) for p in packs)} rules), {cases} synthetic cases, best of 3")
    print(f"{'':34}{'durable_rules':>16}{'plain Python':>16}{'ratio':>8}")
    for label, figures in (("whole engine, us per decision", whole), ("matching only (strategy + packs), us", matching)):
        print(f"{label:34}{figures['durable'] * 1e6:>16.1f}{figures['python'] * 1e6:>16.1f}{figures['durable'] / figures['python']:>7.2f}x")
    print(f"{'whole engine, decisions/s':34}{1 / whole['durable']:>16,.0f}{1 / whole['python']:>16,.0f}")


# --- arrangements and history -----------------------------------------------------


# Neither an arrangement nor a contact: 75 days past due, 1,200 PLN.
PLAIN_CASE: dict[str, Any] = {
    "case_id": "bench-plain", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "1200.00", "currency": "PLN", "days_past_due": 75,
    "segment": "retail", "product": "personal_loan", "language": "pl", "consents": {"sms": True, "email": True, "phone": True, "letter": True},
}
# The contacts of the same case: the ladder up to the call it agreed a plan in, the
# confirmation, courtesy reminders and the debtor's own calls; (days ago, channel,
# action, template, outcome, delivery, direction).
_HISTORY = (
    (74, "sms", "SEND_REMINDER", "reminder-general", "delivered", "delivered", "outbound"),
    (70, "email", "SEND_REMINDER", "reminder-soft", "delivered", "delivered", "outbound"),
    (66, "email", "SEND_REMINDER", "reminder-soft", "failed", "bounced", "outbound"),
    (62, "sms", "SEND_REMINDER", "reminder-soft", "delivered", "delivered", "outbound"),
    (58, "email", "SEND_REMINDER", "reminder-firm", "delivered", "delivered", "outbound"),
    (57, "phone", "CALL", "call-personal", "no_answer", None, "outbound"),
    (56, "phone", "CALL", "call-personal", "no_answer", None, "outbound"),
    (55, "letter", "SEND_REMINDER", "reminder-firm", "delivered", "delivered", "outbound"),
    (54, "phone", "CALL", "call-personal", "right_party_contact", "callback_requested", "outbound"),
    (53, "phone", None, None, "right_party_contact", None, "inbound"),
    (52, "phone", "CALL", "call-personal", "refused", "delivered", "outbound"),
    (51, "email", "OFFER_PAYMENT_PLAN", "plan-offer", "delivered", "delivered", "outbound"),
    (50, "phone", "OFFER_PAYMENT_PLAN", "plan-offer", "promise_to_pay", "delivered", "outbound"),
    (49, "email", "CONFIRM_ARRANGEMENT", "arrangement-confirmation", "delivered", "delivered", "outbound"),
    (42, "sms", "SEND_REMINDER", "instalment-due-soon", "delivered", "delivered", "outbound"),
    (38, "email", None, None, "right_party_contact", None, "inbound"),
    (12, "sms", "SEND_REMINDER", "instalment-due-soon", "failed", "failed", "outbound"),
    (12, "email", "SEND_REMINDER", "instalment-due-soon", "delivered", "delivered", "outbound"),
    (9, "phone", None, None, "right_party_contact", None, "inbound"),
    (3, "email", None, None, "promise_to_pay", None, "inbound"),
)


def planned_case() -> dict[str, Any]:
    """The plain case with an instalment plan agreed 50 days ago (six of 200 PLN, monthly
    from 40 days ago; the two due so far paid on time, the next due in 20 days) and 20 contacts."""
    agreed = AS_OF - timedelta(days=50)
    contacts = []
    for days_ago, channel, action, template, outcome, delivery, direction in _HISTORY:
        contact = {"channel": channel, "at": (AS_OF - timedelta(days=days_ago, hours=2)).isoformat(), "outcome": outcome, "direction": direction}
        contact.update({key: value for key, value in (("action", action), ("template", template), ("delivery", delivery)) if value})
        contacts.append(contact)
    due = [(agreed + timedelta(days=10 + 30 * index)).date() for index in range(6)]
    plan = {
        "arrangement_id": "bench-plan-1", "type": "instalment_plan", "agreed_at": agreed.isoformat(), "agreed_on": "phone", "method": "card",
        "schedule": [{"due_date": day.isoformat(), "amount": "200.00"} for day in due],
        "payments": [{"amount": "200.00", "paid_at": f"{day - timedelta(days=1)}T12:00:00+00:00", "method": "card"} for day in due[:2]],
    }
    return {**PLAIN_CASE, "case_id": "bench-plan", "prior_contacts": contacts, "arrangements": [plan]}


def arrangement_cost(rounds: int, repeat: int) -> None:
    engine = build_engine(ROOT / "rules")
    grace = dict(engine.policy.posting_grace)
    cases = {"plan": parse_snapshot(planned_case(), AS_OF), "neither": parse_snapshot(PLAIN_CASE, AS_OF)}
    facts = derive(cases["plan"], AS_OF, grace).facts
    assert facts["arrangement.state"] == "performing" and facts["arrangement.active"] and len(cases["plan"].prior_contacts) == 20, facts
    work: dict[str, Callable[[Any], Any]] = {"decide": lambda snapshot: engine.decide(snapshot, AS_OF), "derive": lambda snapshot: derive(snapshot, AS_OF, grace)}
    for snapshot in cases.values():  # warm caches (holiday calendars, zones)
        per_item_seconds([snapshot] * 200, work["decide"])
    seconds: dict[tuple[str, str], list[float]] = {(step, name): [] for step in work for name in cases}
    for index in range(rounds):
        order = list(cases.items()) if index % 2 == 0 else list(cases.items())[::-1]  # neither goes first every other round
        for step, run in work.items():
            for name, snapshot in order:
                seconds[(step, name)].append(per_item_seconds([snapshot] * repeat, run))
    decided = {name: engine.decide(snapshot, AS_OF) for name, snapshot in cases.items()}
    print(f"\n== Arrangements and history: one case with an active instalment plan and 20 prior contacts, beside the same case with neither; {rounds} interleaved rounds of {repeat:,} decisions")
    for name, decision in decided.items():
        channel = f" on {decision.channel.value}" if decision.channel else ""
        print(f"   {name:8} decided {decision.action}{channel} by {decision.reasons[0].code}")
    print(f"{'':34}{'plan+20 contacts':>18}{'neither':>10}   ratio min / median / max")
    for step, label in (("decide", "whole engine, us per decision"), ("derive", "facts only (derive), us")):
        ratios = sorted(with_plan / alone for with_plan, alone in zip(seconds[(step, "plan")], seconds[(step, "neither")]))
        medians = [statistics.median(seconds[(step, name)]) * 1e6 for name in cases]
        print(f"{label:34}{medians[0]:>18.1f}{medians[1]:>10.1f}   {ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}")


# --- gRPC ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# SO_REUSEPORT spreads connections, not calls, over the workers: every client
# below opens its own connection (a local subchannel pool) to reach them all.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 64 << 20)]


def wait_serving(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        while True:
            try:
                stub.DecideBatch(pb.DecideBatchRequest(), timeout=1)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


def start(kind: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    if kind == "bare":
        command = [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port), str(workers)]
    else:
        command = [sys.executable, str(ROOT / "server.py"), "--port", str(port), "--workers", str(workers), "--metrics-port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "CSE_LOG_LEVEL": "WARNING"})
    wait_serving(port)
    return process


async def unary_load(port: int, cases: list[pb.CaseSnapshot], seconds: float, in_flight: int) -> tuple[float, float, float]:
    as_of = timestamp_pb2.Timestamp()
    as_of.FromDatetime(AS_OF)
    latencies: list[float] = []
    # One connection per caller, as from a fleet of CRM instances: the kernel
    # spreads connections (not calls) over the workers, and four may all land on one.
    channels = [grpc.aio.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) for _ in range(in_flight)]
    try:
        stop_at = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            stub = pb_grpc.CollectionStrategyServiceStub(channels[offset % len(channels)])
            index = offset
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await stub.Decide(pb.DecideRequest(case=cases[index % len(cases)], as_of=as_of), timeout=10)
                latencies.append(time.perf_counter() - started)
                index += in_flight

        started = time.perf_counter()
        await asyncio.gather(*(client(offset) for offset in range(in_flight)))
        elapsed = time.perf_counter() - started
    finally:
        for channel in channels:
            await channel.close()
    quantiles = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000


def batch_load(port: int, cases: list[pb.CaseSnapshot], calls: int) -> float:
    as_of = timestamp_pb2.Timestamp()
    as_of.FromDatetime(AS_OF)
    batches = [cases[start : start + 1000] for start in range(0, len(cases), 1000)]
    channels = [grpc.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) for _ in range(8)]
    stubs = [pb_grpc.CollectionStrategyServiceStub(channel) for channel in channels]
    try:
        # Calls in flight on several connections, so that every worker has work.
        started = time.perf_counter()
        futures = []
        decided = 0
        for index in range(calls):
            request = pb.DecideBatchRequest(cases=batches[index % len(batches)], as_of=as_of)
            futures.append(stubs[index % len(stubs)].DecideBatch.future(request, timeout=120))
            if len(futures) == len(stubs):
                decided += len(futures.pop(0).result().results)
        decided += sum(len(future.result().results) for future in futures)
        return decided / (time.perf_counter() - started)
    finally:
        for channel in channels:
            channel.close()


# A worker admits half its threads (4 of 8 by default) as open streams, and the
# kernel may put every connection on one worker: no more streams than that.
STREAMS = 4


def stream_load(port: int, cases: list[pb.CaseSnapshot], count: int, streams: int = STREAMS) -> float:
    as_of = timestamp_pb2.Timestamp()
    as_of.FromDatetime(AS_OF)

    async def one(offset: int) -> int:
        def requests():
            for index in range(offset, count, streams):
                yield pb.DecideStreamRequest(case=cases[index % len(cases)], as_of=as_of)

        async with grpc.aio.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            return sum([1 async for _ in stub.DecideStream(requests(), timeout=300)])

    async def run() -> float:
        started = time.perf_counter()
        decided = sum(await asyncio.gather(*(one(offset) for offset in range(streams))))
        return decided / (time.perf_counter() - started)

    return asyncio.run(run())


def over_grpc(workers: int, seconds: float, in_flight: int) -> None:
    cases = [case_from_data(case) for case in (synthetic_portfolio(5000, AS_OF, seed=11))]
    figures: dict[str, dict[str, Any]] = {}
    for kind in ("bare", "engine"):
        port = free_port()
        process = start(kind, port, workers)
        try:
            asyncio.run(unary_load(port, cases, 1.0, in_flight))  # warm up
            figures[kind] = {
                "unary": asyncio.run(unary_load(port, cases, seconds, in_flight)),
                "batch": batch_load(port, cases, calls=12),
                "stream": stream_load(port, cases, count=10_000),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    bare, real = figures["bare"], figures["engine"]
    print(f"\n== gRPC on loopback: {workers} workers each, {in_flight} unary calls in flight, client on the same cores")
    print(f"{'':34}{'engine':>12}{'bare':>12}{'ratio':>8}")
    print(f"{'Decide requests/s':34}{real['unary'][0]:>12,.0f}{bare['unary'][0]:>12,.0f}{real['unary'][0] / bare['unary'][0]:>8.2f}")
    print(f"{'Decide p50 ms':34}{real['unary'][1]:>12.1f}{bare['unary'][1]:>12.1f}")
    print(f"{'Decide p99 ms':34}{real['unary'][2]:>12.1f}{bare['unary'][2]:>12.1f}")
    print(f"{'DecideBatch (1000/call) decisions/s':34}{real['batch']:>12,.0f}{bare['batch']:>12,.0f}{real['batch'] / bare['batch']:>8.2f}")
    print(f"{f'DecideStream ({STREAMS} streams) decisions/s':34}{real['stream']:>12,.0f}{bare['stream']:>12,.0f}{real['stream'] / bare['stream']:>8.2f}")
    print(f"{'bulk over unary (engine)':34}{'batch':>12}{real['batch'] / real['unary'][0]:>11.1f}x   stream {real['stream'] / real['unary'][0]:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds of the arrangements and history comparison")
    parser.add_argument("--repeat", type=int, default=2000, help="decisions of each case per round")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each unary load")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--skip-grpc", action="store_true")
    args = parser.parse_args()
    in_process(args.cases)
    arrangement_cost(args.rounds, args.repeat)
    if not args.skip_grpc:
        over_grpc(args.workers, args.seconds, args.in_flight)


if __name__ == "__main__":
    main()

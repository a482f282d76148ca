"""Benchmarks: every figure beside a baseline measured in the same run.

    python bench/run.py [--cases N] [--rounds R] [--repeat K] [--debtor-cases D] [--seconds S] [--debtor-seconds T]
                        [--workers W] [--grpc-rounds G] [--batch-calls B]
                        [--skip-grpc] [--only SECTION ...]

1. In process: decisions per second through the whole engine with the
   durable_rules matcher, beside the same compiled policy evaluated as plain
   Python predicates (the floor for Python here), and the matchers alone.
1b. The floor under P1 (bench/bench_floor.py): what a unary Decide costs per decision
   whatever our code does while durable_rules is the matcher (parse, match, answer,
   count), beside the P1 target, with the plain-Python matcher's match.
2. Arrangements and history: the time per decision of a case with an active
   instalment plan and 20 prior contacts, beside the same case with neither,
   in R interleaved rounds of K decisions each (the order alternating between
   rounds); the ratio of each round, min / median / max, for the whole engine
   and for the facts alone.
3. Debtors: the time of one person's decision (parse_debtor + decide_debtor) for
   debtors of 1, 3 and 10 accounts, built from the same D synthetic cases (each
   debtor: consecutive cases with the first one's person data), beside
   single-account Decide (parse_snapshot + decide) of those cases, in R
   interleaved rounds (the order reversed every other round); persons/s and
   accounts/s of every round and min / median / max, and the per-account cost of a
   debtor over one Decide (1.0: an account costs what a lone case does). Timed
   in CPU seconds of the benchmark process, so other load counts less.
4. gRPC: unary Decide (requests/s, p50, p99, server CPU per call), DecideBatch
   (1,000 cases per call, one caller) and DecideStream (decisions/s) against the
   real server, beside a bare server answering constants with the same workers
   and message options, in interleaved rounds; issue 15's targets P1 (handler
   CPU per decision, the unary and p99 ratios) and P3 (batch and stream over
   unary) with min / median / max over the rounds, and P3's ceiling for the stream:
   the bare server's stream over its unary calls.
5. Debtors over gRPC: unary DecideDebtor with the same debtors as in 3, beside unary
   Decide of the same cases on the same server, T seconds of each per round in R
   interleaved rounds; the same figures as 3. And DecideDebtorBatch of 300 of the
   debtors of 3 accounts from one caller (spread over the workers), T seconds per
   round: its accounts/s beside unary DecideDebtor's for debtors of 3 in the round.
6. HTTP/JSON beside gRPC: the server's CPU time per unary Decide over HTTP/1.1
   JSON (Connect protocol, transport/http_api.py) and over gRPC, the same
   cases to one worker, N calls of each per round in R interleaved rounds (the
   order alternating); the ratio of each round, min / median / max. Timed in
   the server process's CPU seconds (/proc), so the client's work counts not.
7. Policy build (bench/bench_build.py): load, compile, lint and policy tests of
   generated 500- and 1,000-rule policies beside the shipped one, R rounds (P5).
8. Bulk decisions (bench/bench_bulk.py): the whole `collection-strategy decide`
   command on 4 x N synthetic cases with --workers 2 beside --workers 1, R
   interleaved rounds; decisions/s and the ratio of each round (P4).
9. Spark (bench/bench_spark.py, only with --only spark: it starts two JVMs): the job
   with local[1] and local[2] beside the decide command with 1 and 2 workers on
   4 x N synthetic cases, at most 3 interleaved rounds; decisions/s and ratios.
10. Decision log (bench/bench_decision_log.py): the servicer's decide path with the log
   off, to a file masked and whole, N cases per round in R interleaved rounds (CPU
   seconds of the process, its writer thread included); the ratios to "off".
11. Hot swap (bench/bench_swap.py): a real server with 2 workers under unary load from 16
   callers; throughput per 250 ms, failed calls and the time from the check's end to every
   connection on the new version (P5).
Sections (--only): in-process, floor, arrangements, debtors, grpc, grpc-debtors, grpc-http, build, bulk, spark, decision-log, swap.
The machine is noisy: compare the ratios, which are measured minutes apart at most.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import math
import os
import signal
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
from google.protobuf import json_format, timestamp_pb2  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc  # noqa: E402
from engine.debtor import decide_debtor  # noqa: E402
from engine.debtor_snapshot import parse_debtor  # noqa: E402
from engine.facts import derive  # noqa: E402
from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402
from engine.registry import build_engine  # noqa: E402
from engine.snapshot import parse_snapshot  # noqa: E402
from transport.mapping import case_from_data  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def per_item_seconds(items: list[Any], work: Callable[[Any], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    started = clock()
    for item in items:
        work(item)
    return (clock() - started) / len(items)


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


# --- debtors ------------------------------------------------------------------------


DEBTOR_SIZES = (1, 3, 10)
# Where and how to reach the person: the first case's. Flags stay on each account,
# where the packs say which of them hold the whole person (flag_scope).
_PERSON = ("country", "region", "time_zone", "language", "consents", "preferred_channel", "preferred_hours", "third_party_collector")
_ACCOUNT = ("amount_due", "currency", "days_past_due", "segment", "product", "legal", "gdpr", "payment", "prior_contacts", "arrangements", "attributes")


def debtor_pool(cases: int) -> int:
    """At least `cases`, and a whole number of debtors of every size."""
    whole = math.lcm(*DEBTOR_SIZES)
    return -(-max(cases, 1) // whole) * whole


def as_debtor(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Synthetic cases as the accounts of one person, with the first case's person data."""
    person = {key: cases[0][key] for key in _PERSON if key in cases[0]}
    accounts = [{"account_id": case["case_id"], **{key: case[key] for key in _ACCOUNT if key in case}} for case in cases]
    return {"debtor_id": f"debtor-{cases[0]['case_id']}", **person, "accounts": accounts}


def debtor_cost(cases: int, rounds: int) -> None:
    engine = build_engine(ROOT / "rules")
    pool = debtor_pool(cases)
    data = list(synthetic_portfolio(pool, AS_OF, seed=13))
    work: dict[str, tuple[int, list[dict[str, Any]], Callable[[Any], Any]]] = {"Decide": (1, data, lambda case: engine.decide(parse_snapshot(case, AS_OF), AS_OF))}
    for size in DEBTOR_SIZES:
        debtors = [as_debtor(data[start : start + size]) for start in range(0, pool, size)]
        work[f"{size}"] = (size, debtors, lambda debtor: decide_debtor(engine, parse_debtor(debtor, AS_OF), AS_OF))
    outcomes: dict[str, list[Any]] = {name: [run(item) for item in items] for name, (_, items, run) in work.items()}  # also warms caches
    faults = [d.debtor_id for name in outcomes if name != "Decide" for d in outcomes[name] if d.reasons[0].code == "DEBTOR_FAULT"]
    assert not faults, f"debtors decided on a fault: {faults[:5]}"  # a fault is a cheap NO_CONTACT and would flatter the figures
    seconds: dict[str, list[float]] = {name: [] for name in work}
    print(f"\n== Debtors: one decision per person (parse_debtor + decide_debtor) for debtors of {', '.join(map(str, DEBTOR_SIZES))} accounts, built from the same {pool} synthetic cases")
    print("   (each debtor: consecutive cases, the first one's person data), beside single-account Decide (parse_snapshot + decide) of those cases;")
    print(f"   {rounds} interleaved rounds, the order reversed every other round; per second of this process's CPU time (other load on the machine counts less)")
    for name, decided in outcomes.items():
        if name != "Decide":
            contacted = [d for d in decided if d.channel is not None]
            covered = sum(len(d.account_ids) for d in contacted)
            print(f"   debtors of {name:>2}: {len(contacted)} of {len(decided)} contacted now; accounts those contacts cover: {covered}")
    sizes = {name: size for name, (size, _, _) in work.items()}
    names = list(work)
    print_round_header(names)
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            _, items, run = work[name]
            seconds[name].append(per_item_seconds(items, run, time.process_time))
        print_round(index, order[0], {name: 1 / seconds[name][-1] for name in names}, sizes)
    print_spreads({name: [1 / value for value in values] for name, values in seconds.items()}, sizes, "Decide, decisions/s")


# Rates are keyed "Decide" (single-account Decide, the baseline) or a debtor size ("1", "3", "10").
def _label(name: str) -> str:
    return "Decide" if name == "Decide" else f"{name} acct"


def print_round_header(names: list[str]) -> None:
    print(f"{'round':>5}  {'first':>7}" + "".join(f"  {_label(name):>8} persons/s accounts/s  ratio" if name != "Decide" else f"  {'Decide/s':>10}" for name in names))


def print_round(index: int, first: str, rates: dict[str, float], sizes: dict[str, int]) -> None:
    row = f"{index + 1:>5}  {_label(first):>7}  {rates['Decide']:>10,.0f}"
    for name, rate in rates.items():
        if name != "Decide":
            row += f"  {'':>8} {rate:>9,.0f} {sizes[name] * rate:>10,.0f} {rates['Decide'] / (sizes[name] * rate):>6.2f}"
    print(row)


def print_spreads(rates: dict[str, list[float]], sizes: dict[str, int], decide_label: str) -> None:
    """min / median / max of every figure; the ratio is taken within each round."""
    print(f"{'':44}min / median / max")
    print(f"{decide_label:44}{spread(rates['Decide'], '{:,.0f}')}")
    for name, size in sizes.items():
        if name == "Decide":
            continue
        print(f"{f'debtors of {size}, persons/s':44}{spread(rates[name], '{:,.0f}')}")
        print(f"{f'debtors of {size}, accounts/s':44}{spread([size * rate for rate in rates[name]], '{:,.0f}')}")
        ratios = [single / (size * rate) for rate, single in zip(rates[name], rates["Decide"])]
        print(f"{f'debtors of {size}, per-account cost / Decide':44}{spread(ratios, '{:.2f}')}")
    print("ratio: the time per person (1 / persons/s) divided by its accounts, over the time per Decide, in the same round.")
    print("   1.0: an account costs what a lone case does; above it: the person-level work (every account's caps read")
    print("   all the person's contacts, ranking, bundling, consolidating offers); below it: a call's own cost shared by")
    print("   the accounts (over gRPC). Expected near 1.0-1.3.")


def spread(values: list[float], shown: str) -> str:
    ordered = sorted(values)
    return " / ".join(shown.format(value) for value in (ordered[0], statistics.median(ordered), ordered[-1]))


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


def start(kind: str, port: int, workers: int, http_port: int = 0) -> subprocess.Popen[bytes]:
    if kind == "bare":
        command = [sys.executable, str(ROOT / "bench" / "bare_server.py"), str(port), str(workers)]
    else:
        command = [sys.executable, str(ROOT / "server.py"), "--port", str(port), "--workers", str(workers), "--metrics-port", "0", "--http-port", str(http_port)]
    # Its own process group, so that stop() can end the workers with it.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "CSE_LOG_LEVEL": "WARNING"}, start_new_session=True)
    try:
        wait_serving(port)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM, then SIGKILL to the server's process group if it has not exited
    within `grace` (said on stderr: a server should drain and exit on SIGTERM)."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        print(f"bench: server pid {process.pid} still running {grace:g} s after SIGTERM; killed", file=sys.stderr)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def as_of_stamp() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(AS_OF)
    return stamp


async def unary_load(port: int, requests: list[Any], seconds: float, in_flight: int, method: str = "Decide") -> tuple[float, float, float]:
    """Calls of `method` with `requests` in turn, `in_flight` at a time: calls/s, p50 ms, p99 ms."""
    latencies: list[float] = []
    # One connection per caller, as from a fleet of CRM instances: the kernel
    # spreads connections (not calls) over the workers, and four may all land on one.
    channels = [grpc.aio.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) for _ in range(in_flight)]
    try:
        stop_at = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            call = getattr(pb_grpc.CollectionStrategyServiceStub(channels[offset % len(channels)]), method)
            index = offset
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await call(requests[index % len(requests)], timeout=10)
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
    """DecideBatch of 1,000 cases from a single caller, one call after another: decisions/s."""
    as_of = timestamp_pb2.Timestamp()
    as_of.FromDatetime(AS_OF)
    batches = [pb.DecideBatchRequest(cases=cases[start : start + 1000], as_of=as_of) for start in range(0, len(cases), 1000)]
    with grpc.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) as channel:
        call = pb_grpc.CollectionStrategyServiceStub(channel).DecideBatch
        started = time.perf_counter()
        decided = sum(len(call(batches[index % len(batches)], timeout=120).results) for index in range(calls))
        return decided / (time.perf_counter() - started)


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


def process_tree_cpu(pid: int) -> float:
    """CPU seconds so far of a process and every process under it (a server and its workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return total


# Issue 15's targets, each a ratio measured in the same run.
P1_HANDLER_US, P1_UNARY, P1_P99 = 150.0, 0.75, 1.5
P3_BATCH, P3_STREAM = 4.0, 2.0


def over_grpc(workers: int, seconds: float, in_flight: int, rounds: int = 3, batch_calls: int = 4, stream_cases: int = 10_000) -> None:
    """The real server beside the bare one, both up for the whole run, in `rounds`
    interleaved rounds (the order alternating): unary Decide with `in_flight` callers,
    DecideBatch of 1,000 from a single caller, DecideStream; and the servers' CPU per
    unary call, whose difference is the handler's own CPU per decision (P1)."""
    cases = [case_from_data(case) for case in (synthetic_portfolio(5000, AS_OF, seed=11))]
    decide = [pb.DecideRequest(case=case, as_of=as_of_stamp()) for case in cases]
    ports = {kind: free_port() for kind in ("bare", "engine")}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    figures: dict[str, dict[str, list[float]]] = {kind: {} for kind in ports}
    try:
        for kind, port in ports.items():
            processes[kind] = start(kind, port, workers)
            # Warm up: every case once on each worker's caches (holiday calendars, zones, windows).
            asyncio.run(unary_load(port, decide, 1.0, in_flight))
            stream_load(port, cases, count=min(stream_cases, len(cases)) * workers)
        for index in range(rounds):
            order = list(ports) if index % 2 == 0 else list(ports)[::-1]
            for kind in order:
                port, found = ports[kind], figures[kind]
                cpu = process_tree_cpu(processes[kind].pid)
                started = time.perf_counter()
                rate, p50, p99 = asyncio.run(unary_load(port, decide, seconds, in_flight))
                calls = rate * (time.perf_counter() - started)
                cpu_us = (process_tree_cpu(processes[kind].pid) - cpu) / max(calls, 1) * 1e6
                batch = batch_load(port, cases, batch_calls)
                stream = stream_load(port, cases, count=stream_cases)
                for name, number in (("unary", rate), ("p50", p50), ("p99", p99), ("cpu_us", cpu_us), ("batch", batch), ("stream", stream)):
                    found.setdefault(name, []).append(number)
            print(f"round {index + 1}: " + "  ".join(
                f"{kind} {figures[kind]['unary'][-1]:,.0f} req/s p99 {figures[kind]['p99'][-1]:.1f} ms {figures[kind]['cpu_us'][-1]:,.0f} us CPU/call"
                for kind in ports
            ))
    finally:
        for process in processes.values():
            stop(process)
    bare, real = figures["bare"], figures["engine"]

    def spread3(values: list[float], shown: str = ",.2f") -> str:
        return f"{min(values):{shown}} / {statistics.median(values):{shown}} / {max(values):{shown}}"

    print(f"\n== gRPC on loopback: {workers} workers each, {in_flight} unary callers, {rounds} interleaved rounds, client on the same cores (min / median / max)")
    print(f"{'':38}{'engine':>26}{'bare':>26}")
    for label, name, shown in (
        ("Decide requests/s", "unary", ",.0f"), ("Decide p50 ms", "p50", ".1f"), ("Decide p99 ms", "p99", ".1f"),
        ("server CPU per Decide, us", "cpu_us", ",.0f"),
        ("DecideBatch (1,000, one caller) dec/s", "batch", ",.0f"), (f"DecideStream ({STREAMS} streams) dec/s", "stream", ",.0f"),
    ):
        print(f"{label:38}{spread3(real[name], shown):>26}{spread3(bare[name], shown):>26}")
    handler = [engine_cpu - bare_cpu for engine_cpu, bare_cpu in zip(real["cpu_us"], bare["cpu_us"])]
    unary = [engine / bare_rate for engine, bare_rate in zip(real["unary"], bare["unary"])]
    p99 = [engine / bare_p99 for engine, bare_p99 in zip(real["p99"], bare["p99"])]
    batch = [engine_batch / engine_unary for engine_batch, engine_unary in zip(real["batch"], real["unary"])]
    stream = [engine_stream / engine_unary for engine_stream, engine_unary in zip(real["stream"], real["unary"])]
    print("targets (issue 15), each round's ratio, min / median / max:")
    for label, values, target, shown, met in (
        ("P1 handler CPU per decision, us", handler, f"<= {P1_HANDLER_US:.0f}", ",.0f", statistics.median(handler) <= P1_HANDLER_US),
        ("P1 Decide requests/s, engine / bare", unary, f">= {P1_UNARY}", ".2f", statistics.median(unary) >= P1_UNARY),
        ("P1 Decide p99, engine / bare", p99, f"<= {P1_P99}", ".2f", statistics.median(p99) <= P1_P99),
        ("P3 DecideBatch / unary Decide, dec/s", batch, f">= {P3_BATCH:.0f}", ".2f", statistics.median(batch) >= P3_BATCH),
        ("P3 DecideStream / unary Decide, dec/s", stream, f">= {P3_STREAM:.0f}", ".2f", statistics.median(stream) >= P3_STREAM),
    ):
        print(f"  {label:38}{spread3(values, shown):>24}   target {target:<8} {'met' if met else 'NOT met'}")
    # A stream's answers cannot gain on unary calls more than gRPC's own stream gains on its own unary
    # calls: with a decision costing D per message on top, (unary + D) / (stream + D) only falls as D grows.
    ceiling = [bare_stream / bare_unary for bare_stream, bare_unary in zip(bare["stream"], bare["unary"])]
    print(f"  {'P3 ceiling: bare stream / bare unary':38}{spread3(ceiling):>24}   what DecideStream / Decide would be if deciding cost nothing")
    print("  (handler CPU: the engine server's CPU per unary call less the bare server's, both processes and workers; bench/bench_handler.py splits it by stage)")


def debtor_message(cases: list[pb.CaseSnapshot]) -> pb.Debtor:
    """as_debtor over the API: the cases as one person's accounts, with the first case's person data."""
    first = cases[0]
    debtor = pb.Debtor(
        debtor_id=f"debtor-{first.case_id}", country=first.country, region=first.region, time_zone=first.time_zone, language=first.language,
        preferred_channel=first.preferred_channel, third_party_collector=first.third_party_collector,
    )
    for name in ("consents", "preferred_hours"):
        if first.HasField(name):
            getattr(debtor, name).CopyFrom(getattr(first, name))
    for case in cases:
        account = debtor.accounts.add(
            account_id=case.case_id, amount_due=case.amount_due, currency=case.currency, days_past_due=case.days_past_due, segment=case.segment, product=case.product,
            legal=case.legal, gdpr=case.gdpr, payment=case.payment, prior_contacts=case.prior_contacts, arrangements=case.arrangements,
        )
        account.attributes.update(case.attributes)
    return debtor


# DecideDebtorBatch: one caller's list of 300 persons of 3 accounts (900 of the 1,000 a call may hold).
BATCH_DEBTORS = 300


def debtor_batch_load(port: int, batch: pb.DecideDebtorBatchRequest, seconds: float) -> float:
    """DecideDebtorBatch from a single caller, one call after another for `seconds` (at least one): accounts/s."""
    accounts = sum(len(debtor.accounts) for debtor in batch.debtors)
    with grpc.insecure_channel(f"localhost:{port}", options=OWN_CONNECTION) as channel:
        call = pb_grpc.CollectionStrategyServiceStub(channel).DecideDebtorBatch
        started, calls = time.perf_counter(), 0
        while calls == 0 or time.perf_counter() - started < seconds:
            call(batch, timeout=120)
            calls += 1
        return calls * accounts / (time.perf_counter() - started)


def debtors_over_grpc(workers: int, rounds: int, seconds: float, in_flight: int, cases: int) -> None:
    pool = debtor_pool(cases)
    messages = [case_from_data(case) for case in synthetic_portfolio(pool, AS_OF, seed=13)]
    requests: dict[str, list[Any]] = {"Decide": [pb.DecideRequest(case=case, as_of=as_of_stamp()) for case in messages]}
    for size in DEBTOR_SIZES:
        requests[f"{size}"] = [pb.DecideDebtorRequest(debtor=debtor_message(messages[start : start + size]), as_of=as_of_stamp()) for start in range(0, pool, size)]
    method = {name: "Decide" if name == "Decide" else "DecideDebtor" for name in requests}
    sizes = {name: 1 if name == "Decide" else int(name) for name in requests}
    names = list(requests)
    threes = [request.debtor for request in requests["3"]]
    batch = pb.DecideDebtorBatchRequest(debtors=[threes[index % len(threes)] for index in range(BATCH_DEBTORS)], as_of=as_of_stamp())
    port = free_port()
    process = start("engine", port, workers)
    try:
        with grpc.insecure_channel(f"localhost:{port}") as channel:  # every debtor decided, none on a fault
            call = pb_grpc.CollectionStrategyServiceStub(channel).DecideDebtor
            faults = [r.debtor.debtor_id for name in names[1:] for r in requests[name] if call(r, timeout=30).decision.reasons[0].code == "DEBTOR_FAULT"]
        assert not faults, f"debtors decided on a fault: {faults[:5]}"
        for name in names:  # warm up
            asyncio.run(unary_load(port, requests[name], min(seconds, 1.0), in_flight, method[name]))
        debtor_batch_load(port, batch, 0)
        print(f"\n== Debtors over gRPC: DecideDebtor for debtors of {', '.join(map(str, DEBTOR_SIZES))} accounts beside unary Decide of the same {pool} cases, on the real server;")
        print(f"   {workers} workers, {in_flight} calls in flight, {seconds:g} s of each per round, {rounds} interleaved rounds, the order reversed every other round")
        rates: dict[str, list[float]] = {name: [] for name in names}
        batch_rates: list[float] = []  # accounts/s
        print_round_header(names)
        for index in range(rounds):
            loads = [*names, "batch"] if index % 2 == 0 else ["batch", *names[::-1]]
            for name in loads:
                if name == "batch":
                    batch_rates.append(debtor_batch_load(port, batch, seconds))
                else:
                    rates[name].append(asyncio.run(unary_load(port, requests[name], seconds, in_flight, method[name]))[0])
            print_round(index, names[0] if index % 2 == 0 else names[-1], {name: rates[name][-1] for name in names}, sizes)
            print(f"{'':>14}DecideDebtorBatch {batch_rates[-1]:>8,.0f} accounts/s, {batch_rates[-1] / (3 * rates['3'][-1]):.2f} x unary DecideDebtor of 3")
    finally:
        stop(process)
    print_spreads(rates, sizes, "Decide, requests/s")
    label = f"DecideDebtorBatch of {BATCH_DEBTORS} debtors of 3, one caller"
    print(f"{label + ', accounts/s':64}{spread(batch_rates, '{:,.0f}')}")
    print(f"{'DecideDebtorBatch / DecideDebtor of 3, accounts/s':64}{spread([rate / (3 * three) for rate, three in zip(batch_rates, rates['3'])], '{:.2f}')}")
    print("   (accounts/s of one caller's batches over those of unary DecideDebtor from all callers, in the same round)")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc: utime and stime, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_beside_grpc(rounds: int, calls: int) -> None:
    """Server CPU per Decide over HTTP/JSON and over gRPC, one worker, calls one after another."""
    cases = [case_from_data(case) for case in synthetic_portfolio(200, AS_OF, seed=17)]
    requests = [pb.DecideRequest(case=case, as_of=as_of_stamp()) for case in cases]
    bodies = [json_format.MessageToJson(request, indent=None).encode() for request in requests]
    path = "/collection_strategy.v1.CollectionStrategyService/Decide"
    port, http_port = free_port(), free_port()
    process = start("engine", port, 1, http_port)
    try:
        with grpc.insecure_channel(f"localhost:{port}") as channel:
            decide = pb_grpc.CollectionStrategyServiceStub(channel).Decide
            connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)  # kept alive, as a CRM's pool would

            def over_grpc_calls() -> None:
                for index in range(calls):
                    decide(requests[index % len(requests)], timeout=30)

            def over_http_calls() -> None:
                for index in range(calls):
                    connection.request("POST", path, bodies[index % len(bodies)], {"Content-Type": "application/json"})
                    answer = connection.getresponse()
                    answer.read()
                    assert answer.status == 200, answer.status

            runs = {"gRPC": over_grpc_calls, "HTTP": over_http_calls}
            for run in runs.values():  # warm up
                run()
            print(f"\n== HTTP/JSON beside gRPC: server CPU per unary Decide, 1 worker, {calls} calls of each per round, {rounds} interleaved rounds")
            print(f"{'round':>5}  {'first':>5}  {'gRPC us':>9}  {'HTTP us':>9}  {'ratio':>6}")
            costs: dict[str, list[float]] = {name: [] for name in runs}
            for index in range(rounds):
                order = list(runs) if index % 2 == 0 else list(runs)[::-1]
                for name in order:
                    before = cpu_seconds(process.pid)
                    runs[name]()
                    costs[name].append((cpu_seconds(process.pid) - before) / calls * 1e6)
                print(f"{index + 1:>5}  {order[0]:>5}  {costs['gRPC'][-1]:>9.0f}  {costs['HTTP'][-1]:>9.0f}  {costs['HTTP'][-1] / max(costs['gRPC'][-1], 1e-9):>6.2f}")
            connection.close()
    finally:
        stop(process)
    ratios = [over_http / max(over_grpc, 1e-9) for over_http, over_grpc in zip(costs["HTTP"], costs["gRPC"])]
    print(f"{'':36}min / median / max")
    print(f"{'gRPC, server CPU us per Decide':36}{spread(costs['gRPC'], '{:,.0f}')}")
    print(f"{'HTTP, server CPU us per Decide':36}{spread(costs['HTTP'], '{:,.0f}')}")
    print(f"{'HTTP / gRPC, within each round':36}{spread(ratios, '{:.2f}')}")
    print("target: HTTP at most 1.3x gRPC (the JSON parsing and printing, and waitress's HTTP/1.1, against grpc's C core).")


SECTIONS = ("in-process", "floor", "arrangements", "debtors", "grpc", "grpc-debtors", "grpc-http", "build", "bulk", "spark", "decision-log", "swap")
OPT_IN = ("spark",)  # run only when asked: two Spark JVMs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds of the arrangements and debtor comparisons")
    parser.add_argument("--repeat", type=int, default=2000, help="decisions of each case per round")
    parser.add_argument("--debtor-cases", type=int, default=600, help="cases grouped into debtors of 1, 3 and 10 accounts (rounded up to a multiple of 30)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each unary load")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--debtor-seconds", type=float, default=2.0, help="duration of each DecideDebtor and Decide load of a round")
    parser.add_argument("--http-calls", type=int, default=2000, help="Decide calls over each of HTTP and gRPC per round of the grpc-http section")
    parser.add_argument("--grpc-rounds", type=int, default=3, help="interleaved rounds of the grpc section (each: unary, batch and stream on both servers)")
    parser.add_argument("--stream-cases", type=int, default=10_000, help="cases sent over DecideStream per round of the grpc section")
    parser.add_argument("--batch-calls", type=int, default=4, help="DecideBatch calls of 1,000 cases per round of the grpc section, from one caller")
    parser.add_argument("--skip-grpc", action="store_true", help="skip the sections that start a server")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run this section only (repeat for several); default: all")
    args = parser.parse_args()
    sections = [name for name in args.only or [name for name in SECTIONS if name not in OPT_IN] if not (args.skip_grpc and (name.startswith("grpc") or name == "swap"))]
    if "in-process" in sections:
        in_process(args.cases)
    if "floor" in sections:
        from bench_floor import floor  # bench/ is on the path: this script's folder

        floor(min(args.cases, 3000), min(args.rounds, 5))
    if "arrangements" in sections:
        arrangement_cost(args.rounds, args.repeat)
    if "debtors" in sections:
        debtor_cost(args.debtor_cases, args.rounds)
    if "grpc" in sections:
        over_grpc(args.workers, args.seconds, args.in_flight, args.grpc_rounds, args.batch_calls, args.stream_cases)
    if "grpc-debtors" in sections:
        debtors_over_grpc(args.workers, args.rounds, args.debtor_seconds, args.in_flight, args.debtor_cases)
    if "grpc-http" in sections:
        http_beside_grpc(args.rounds, args.http_calls)
    if "build" in sections:
        from bench_build import run as policy_build  # bench/ is on the path: this script's folder

        policy_build([500, 1000], args.rounds)
    if "bulk" in sections:
        from bench_bulk import bulk  # bench/ is on the path: this script's folder

        bulk(4 * args.cases, args.rounds)
    if "spark" in sections:
        from bench_spark import spark_beside_decide  # bench/ is on the path: this script's folder

        spark_beside_decide(4 * args.cases, min(args.rounds, 3))
    if "decision-log" in sections:
        from bench_decision_log import decision_log  # bench/ is on the path: this script's folder

        decision_log(args.cases, args.rounds)
    if "swap" in sections:
        from bench_swap import run as hot_swap  # bench/ is on the path: this script's folder

        hot_swap(min(args.rounds, 4))


if __name__ == "__main__":
    main()

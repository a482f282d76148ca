"""A hot swap under load (issue 15, P5): throughput, failed calls, and when every connection sees the new version.

    python bench/bench_swap.py [--rounds R] [--callers C] [--workers W] [--server PATH]

A real server (server.py, W workers, default 2) serves unary Decide to C
callers (default 16), each on its own connection, as fast as each gets answers.
Each round replaces the policy in its rules directory with a new version:
rounds alternate between the 500-rule generated policy of bench/bench_build.py
and the shipped one, each with a version of its own (`bench-swap-<round>`).
Every caller records the time and policy_version of each answer and every failed call.

Printed per round: the failed calls; the check, from writing the files to
"build finished" (the supervisor's `policy_accepted` log event; a server without
one: the first worker's `policy_swapped`, the earliest moment a build was done),
with its CPU seconds; the swap, from "build finished" to the moment every
connection has answered with the new version, with each worker's build CPU
seconds and the moment each worker swapped (its `policy_swapped`); and the answers per 250 ms bucket as a ratio to the median bucket
before the change: the lowest while checking, the lowest while swapping (until
one bucket after the last connection moved), and the lowest over as long a time
after it with no change at all (the machine's own noise: on a shared machine it
can be as low as the others). Then min / median / max over the rounds, with the
targets beside (P5: lowest bucket at least 0.80, no failed call, every
connection on the new version within 2 s).

--server runs another checkout's server.py (e.g. a copy of the code before a
change), to measure it with the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import grpc  # noqa: E402
from google.protobuf import timestamp_pb2  # noqa: E402

from bench_build import SHIPPED, write_policy  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc  # noqa: E402
from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402
from transport.mapping import case_from_data  # noqa: E402

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
BUCKET = 0.25  # seconds
BEFORE_SECONDS = 4.0  # load before each change; its first second is not counted (connections warming)
AFTER_SECONDS = 1.0  # load after every connection moved
CONTROL_SECONDS = 30.0  # at most this long a control with no change
GIVE_UP_SECONDS = 90.0  # a round whose change is not seen by then counts as not seen
TARGET_RATIO, TARGET_FAILED, TARGET_SWAP = 0.80, 0, 2.0
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
VERSION = re.compile(r'^version: ".*"$', re.MULTILINE)


@dataclass
class Caller:
    answers: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), policy_version)
    failed: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), status code)
    moved: bool = False  # has answered with the new version


@dataclass
class Round:
    target: str
    checking: list[float]  # throughput per bucket while the new version was checked and built, ratio to before
    swapping: list[float]  # the same from "build finished" until one bucket after the last connection moved
    control: list[float]  # the same over as long a time after it, with no change: the machine's own noise
    failed: int
    check: float | None  # seconds from the files written to "build finished"
    swap: float | None  # seconds from "build finished" to every connection on the new version; None: not seen
    check_cpu: float | None  # CPU seconds of the supervisor's check (its log), None: not logged
    build_cpu: list[float]  # CPU seconds of each worker's build (their logs)
    swapped: list[float]  # when each worker swapped (its log), seconds after "build finished"

    @property
    def lowest(self) -> float:
        """The lowest bucket from the change until every connection moved."""
        return min(self.checking + self.swapping)


class Log:
    """The server's JSON log lines (stderr), read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.records: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                self.records.append(record)

    def build_finished(self, version: str) -> float | None:
        """When the build of `version` finished, as time.time(): the supervisor's check, else the first worker's swap."""
        for event in ("policy_accepted", "policy_swapped"):
            stamps = [_epoch(record["timestamp"]) for record in list(self.records) if record.get("event") == event and record.get("policy_version") == version]
            if stamps:
                return min(stamps)
        return None


    def figures(self, version: str, event: str, name: str) -> list[float]:
        """A number each log event of `version` carries (e.g. check_cpu_seconds)."""
        return [float(record[name]) for record in list(self.records) if record.get("event") == event and record.get("policy_version") == version and name in record]


    def moments(self, version: str, event: str) -> list[float]:
        """When each log event of `version` was written, as time.time()."""
        return [_epoch(record["timestamp"]) for record in list(self.records) if record.get("event") == event and record.get("policy_version") == version]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def policy_text(source: Path, version: str) -> str:
    text, count = VERSION.subn(f'version: "{version}"', source.read_text(encoding="utf-8"), count=1)
    assert count == 1, f"no top-level version line in {source}"
    return text


def replace_strategy(rules: Path, text: str) -> None:
    """Put a new strategy file in place at once (written aside, renamed), as a deployment would."""
    target = rules / "strategies" / "default.yaml"
    aside = target.with_name(".default.yaml.new")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, target)


def start_server(server: Path, rules: Path, port: int, workers: int) -> tuple[subprocess.Popen[str], Log]:
    command = [
        sys.executable, str(server), "--rules", str(rules), "--port", str(port), "--workers", str(workers),
        "--metrics-port", "0", "--reload-seconds", "1", "--log-format", "json",
    ]
    environment = {**os.environ, "CSE_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(command, cwd=server.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment, start_new_session=True)
    return process, Log(process)


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_serving(port: int, version: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    request = pb.DecideRequest(case=case_from_data(next(iter(synthetic_portfolio(1, AS_OF, seed=3)))), as_of=_stamp())
    while True:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                answer = pb_grpc.CollectionStrategyServiceStub(channel).Decide(request, timeout=2)
            if answer.decision.policy.version == version:
                return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server on port {port} did not serve version {version} within {timeout:g} s")
        time.sleep(0.3)


def _stamp() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(AS_OF)
    return stamp


async def one_round(port: int, requests: list[pb.DecideRequest], callers: int, rules: Path, text: str, version: str, log: Log) -> Round:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=OWN_CONNECTION) for _ in range(callers)]
    records = [Caller() for _ in range(callers)]
    done, all_moved = asyncio.Event(), asyncio.Event()
    moved: list[float] = []  # when each connection first answered with the new version

    async def call(index: int) -> None:
        stub = pb_grpc.CollectionStrategyServiceStub(channels[index])
        record, turn = records[index], index
        while not done.is_set():
            try:
                answer = await stub.Decide(requests[turn % len(requests)], timeout=10)
                at, seen = time.time(), answer.decision.policy.version
                record.answers.append((at, seen))
                if seen == version and not record.moved:
                    record.moved = True
                    moved.append(at)
                    if len(moved) == callers:
                        all_moved.set()
            except grpc.aio.AioRpcError as error:
                record.failed.append((time.time(), error.code().name))
            turn += callers

    tasks = [asyncio.create_task(call(index)) for index in range(callers)]
    try:
        started = time.time()
        await asyncio.sleep(BEFORE_SECONDS)
        written = time.time()
        replace_strategy(rules, text)
        try:
            await asyncio.wait_for(all_moved.wait(), GIVE_UP_SECONDS)
        except asyncio.TimeoutError:
            pass
        changing = time.time() - written
        await asyncio.sleep(AFTER_SECONDS)
        control_from = time.time()
        await asyncio.sleep(min(max(changing, 1.0), CONTROL_SECONDS))  # as long again with no change: the machine's own noise
        control_to = time.time()
    finally:
        done.set()
        await asyncio.gather(*tasks)
        for channel in channels:
            await channel.close()
    last_moved = max(moved) if len(moved) == callers else None
    counts: dict[int, int] = {}
    for record in records:
        for at, _ in record.answers:
            counts[int((at - started) // BUCKET)] = counts.get(int((at - started) // BUCKET), 0) + 1

    def bucket(at: float) -> int:
        return int((at - started) // BUCKET)

    baseline = statistics.median(counts.get(index, 0) for index in range(bucket(started + 1.0), bucket(written)))
    finished = log.build_finished(version)
    built = bucket(finished) if finished is not None else bucket(written)
    end = bucket(last_moved or control_from) + 1  # one bucket past the last connection's move

    def ratios(first: int, last: int) -> list[float]:
        return [counts.get(index, 0) / baseline for index in range(first, last)]

    return Round(
        "500 rules" if text.count("\n  - id:") > 100 else "shipped",
        ratios(bucket(written), built),
        ratios(built, end + 1),
        ratios(bucket(control_from) + 1, bucket(control_to)),
        sum(len(record.failed) for record in records),
        None if finished is None else finished - written,
        None if finished is None or last_moved is None else last_moved - finished,
        next(iter(log.figures(version, "policy_accepted", "check_cpu_seconds")), None),
        log.figures(version, "policy_swapped", "build_cpu_seconds"),
        sorted(at - finished for at in log.moments(version, "policy_swapped")) if finished is not None else [],
    )


def _lowest(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}" if ratios else "-"


def spread(values: list[float], form: str) -> str:
    return " / ".join(form.format(value) for value in (min(values), statistics.median(values), max(values))) if values else "-"


def run(rounds: int = 4, callers: int = 16, workers: int = 2, server: Path = ROOT / "server.py") -> list[Round]:
    """Measure `rounds` swaps on a real server; print each round and the spread beside the P5 targets."""
    requests = [pb.DecideRequest(case=case_from_data(case), as_of=_stamp()) for case in synthetic_portfolio(2000, AS_OF, seed=11)]
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-swap-") as scratch:
        large = write_policy(Path(scratch) / "large", 500) / "strategies" / "default.yaml"
        rules = Path(scratch) / "rules"
        shutil.copytree(SHIPPED / "strategies", rules / "strategies")
        shutil.copytree(SHIPPED / "compliance", rules / "compliance")
        replace_strategy(rules, policy_text(SHIPPED / "strategies" / "default.yaml", "bench-swap-0"))
        port = _free_port()
        process, log = start_server(server, rules, port, workers)
        try:
            wait_serving(port, "bench-swap-0")
            print(f"\n== Hot swap under load (P5): {server.relative_to(ROOT) if server.is_relative_to(ROOT) else server}, {workers} workers, {callers} callers each on its own connection, unary Decide; {rounds} rounds")
            print(f"{'round':>5}  {'to':>9}  {'failed':>6}  {'check s':>7}  {'CPU s':>5}  {'swap s':>6}  {'workers CPU s':>13}  {'swapped at s':>12}  {'lowest':>6}  {'check':>5}  {'swap':>5}  {'noise':>5}  swap: throughput per {BUCKET * 1000:.0f} ms, ratio to before")
            for index in range(1, rounds + 1):
                source = large if index % 2 else SHIPPED / "strategies" / "default.yaml"
                result = asyncio.run(one_round(port, requests, callers, rules, policy_text(source, f"bench-swap-{index}"), f"bench-swap-{index}", log))
                results.append(result)
                check = "-" if result.check is None else f"{result.check:.2f}"
                swap = "never" if result.swap is None else f"{result.swap:.2f}"
                check_cpu = "-" if result.check_cpu is None else f"{result.check_cpu:.2f}"
                build_cpu = " ".join(f"{cpu:.2f}" for cpu in result.build_cpu) or "-"
                swapped = " ".join(f"{at:.2f}" for at in result.swapped) or "-"
                shown = " ".join(f"{ratio:.2f}" for ratio in result.swapping[:24]) + (" ..." if len(result.swapping) > 24 else "")
                print(
                    f"{index:>5}  {result.target:>9}  {result.failed:>6}  {check:>7}  {check_cpu:>5}  {swap:>6}  {build_cpu:>13}  {swapped:>12}  {result.lowest:>6.2f}"
                    f"  {_lowest(result.checking):>5}  {_lowest(result.swapping):>5}  {_lowest(result.control):>5}  {shown}",
                    flush=True,
                )
        finally:
            stop_server(process)
    swaps = [result.swap for result in results if result.swap is not None]
    print(f"\n{'':40}min / median / max over {rounds} rounds{'':6}target")
    rows: list[tuple[str, list[float], str, str]] = [
        ("lowest throughput, ratio to before", [result.lowest for result in results], "{:.2f}", f">= {TARGET_RATIO:.2f}"),
        ("  while checking", [min(result.checking) for result in results if result.checking], "{:.2f}", ""),
        ("  while swapping", [min(result.swapping) for result in results if result.swapping], "{:.2f}", ""),
        ("  no change, as long (noise)", [min(result.control) for result in results if result.control], "{:.2f}", ""),
        ("failed calls", [float(result.failed) for result in results], "{:.0f}", f"{TARGET_FAILED}"),
        ("check: files written to built, s", [result.check for result in results if result.check is not None], "{:.2f}", ""),
        ("swap: built to all connections, s", swaps, "{:.2f}", f"<= {TARGET_SWAP:g}" + ("" if len(swaps) == len(results) else f" ({len(results) - len(swaps)} never seen)")),
    ]
    for label, values, form, target in rows:
        print(f"{label:40}{spread(values, form):32}{target}")
    met = (
        all(result.lowest >= TARGET_RATIO for result in results)
        and all(result.failed == TARGET_FAILED for result in results)
        and len(swaps) == len(results) and max(swaps) <= TARGET_SWAP
    )
    print(f"P5: during a hot swap under load, no failed call, throughput never below {TARGET_RATIO:.0%} of before, every connection on the new version within {TARGET_SWAP:g} s: {'met' if met else 'NOT met'} in every round")
    return results


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", type=Path, default=ROOT / "server.py", help="the server.py to run (default: this checkout's)")
    args = parser.parse_args()
    for name in ("rounds", "callers", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not args.server.is_file():
        parser.error(f"--server {args.server}: no such file")
    run(args.rounds, args.callers, args.workers, args.server.resolve())


if __name__ == "__main__":
    main()

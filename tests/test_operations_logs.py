"""Logs: one JSON object per line, with the fields an operator filters on and no case data;
a refused reload is one event however many workers find it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from tests.test_server import AS_OF, POLICY, case, free_port, wait_serving

SECRET_CASE_ID = "case-secret-4711"
SECRET_AMOUNT = "98765.43"


class Stderr:
    """The stderr lines of a server.py process, as they arrive."""

    def __init__(self, *argv: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "server.py", *argv], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.lines.append(line)

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in list(self.lines)) < count:
            assert time.monotonic() < deadline, f"no {count} x {text!r} within {timeout} s:\n{''.join(self.lines)}"
            assert self.process.poll() is None, f"the server exited with {self.process.returncode}:\n{''.join(self.lines)}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def _parsed(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not one JSON object per line: {line!r}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records


def test_a_supervised_server_logs_json_lines_with_no_case_data_and_one_refusal(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write_policy(rules, POLICY)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CSE_", "OTEL_"))}
    env["CSE_LOG_LEVEL"] = "DEBUG"  # the per-call lines, with their latency
    argv = ("--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--reload-seconds", "0.3", "--grace", "2")
    server = Stderr(*argv, env=env)  # stderr is a pipe: JSON by default
    try:
        server.wait_for("with 2 workers")
        wait_serving(port)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            stub.Decide(pb.DecideRequest(case=case(SECRET_CASE_ID, amount_due=SECRET_AMOUNT), as_of=AS_OF), timeout=10)
            try:
                stub.Decide(pb.DecideRequest(case=case(SECRET_CASE_ID, amount_due="-" + SECRET_AMOUNT), as_of=AS_OF), timeout=10)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        server.wait_for('"method": "Decide"', count=2)
        write_policy(rules, POLICY.replace('version: "7"', 'version: "8"').replace("days_past_due", "days_past_du"))
        server.wait_for('"event": "policy_refused"')
        time.sleep(3)  # both workers have looked at the broken rules many times over
    finally:
        server.stop()
    records = _parsed(server.lines)
    assert records
    for record in records:
        assert {"timestamp", "level", "event", "message", "worker"} <= record.keys(), record
        assert isinstance(record["worker"], int)
    text = "".join(server.lines)
    assert SECRET_CASE_ID not in text and SECRET_AMOUNT not in text
    refusals = [record for record in records if record["event"] == "policy_refused"]
    assert len(refusals) == 1, refusals
    assert refusals[0]["level"] == "ERROR" and refusals[0]["policy_version"] == "7" and "days_past_du" in refusals[0]["message"]
    calls = [record for record in records if record["event"] == "call" and record.get("method") == "Decide"]
    assert {record["code"] for record in calls} == {"OK", "INVALID_ARGUMENT"}
    assert all(isinstance(record["latency_ms"], float) for record in calls)
    assert any(record.get("policy_version") == "7" for record in calls)
    serving = [record for record in records if record["event"] == "serving"]
    assert len(serving) == 2 and {record["policy_version"] for record in serving} == {"7"}
    assert len({record["worker"] for record in serving}) == 2
    assert {record["role"] for record in records} == {"supervisor", "worker"}


def test_text_format_on_request(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    done = subprocess.run(
        [sys.executable, "server.py", "--rules", str(tmp_path), "--log-format", "xml"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--log-format" in done.stderr and "json" in done.stderr

"""The supervisor: command line, port ownership, the watchdog that replaces a
frozen worker, and metrics that count only living workers."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

import server
from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from tests.test_server import AS_OF, POLICY, case, free_port, worker_pids
from transport.watchdog import Limits, Liveness

SERVING = "serving collection_strategy.v1.CollectionStrategyService"
IN_USE = "is already in use (another server?); use --share-port to share it deliberately"
needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the worker processes in /proc")


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("CSE_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_listen_on_this_machine_only_with_reflection_and_an_unshared_port(clean_env: pytest.MonkeyPatch) -> None:
    args = server.parse_args([])
    assert (args.bind, args.metrics_bind, args.reflection, args.share_port) == ("127.0.0.1", "127.0.0.1", True, False)
    assert args.watchdog_seconds == 5


def test_flags_set_bind_reflection_and_sharing(clean_env: pytest.MonkeyPatch) -> None:
    args = server.parse_args(["--bind", "0.0.0.0", "--metrics-bind", "[::]", "--no-reflection", "--share-port", "--watchdog-seconds", "0"])
    assert (args.bind, args.metrics_bind, args.reflection, args.share_port, args.watchdog_seconds) == ("0.0.0.0", "[::]", False, True, 0)


def test_environment_variables_set_the_same(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in {"CSE_BIND": "0.0.0.0", "CSE_METRICS_BIND": "0.0.0.0", "CSE_REFLECTION": "0", "CSE_SHARE_PORT": "1", "CSE_PORT": "6000"}.items():
        clean_env.setenv(name, value)
    args = server.parse_args([])
    assert (args.bind, args.metrics_bind, args.reflection, args.share_port, args.port) == ("0.0.0.0", "0.0.0.0", False, True, 6000)
    clean_env.setenv("CSE_REFLECTION", "true")
    clean_env.setenv("CSE_SHARE_PORT", "no")
    args = server.parse_args([])
    assert (args.reflection, args.share_port) == (True, False)


@pytest.mark.parametrize(
    ("env", "argv", "named"),
    [
        ({"CSE_SHARE_PORT": "maybe"}, [], "CSE_SHARE_PORT must be 1 or 0"),
        ({"CSE_REFLECTION": "off please"}, [], "CSE_REFLECTION must be 1 or 0"),
        ({"CSE_PORT": "fifty"}, [], "argument --port: invalid int value: 'fifty'"),
        ({}, ["--port", "70000"], "--port must be between 0 and 65535"),
        ({}, ["--bind", " "], "--bind must name an address"),
        ({}, ["--watchdog-seconds", "-1"], "--watchdog-seconds must be 0 or more"),
        ({}, ["--threads", "4", "--max-streams", "4"], "--max-streams must be from 0 to --threads - 1 (3)"),
    ],
)
def test_bad_values_are_refused_naming_the_flag_or_variable(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], argv: list[str], named: str) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        server.parse_args(argv)
    assert exited.value.code == 2 and named in capsys.readouterr().err


def test_the_config_carries_the_flags_and_a_lone_worker_does_not_share_its_port(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def config(*argv: str, probe: Path | None = None):  # type: ignore[no-untyped-def]
        args = server.parse_args(list(argv))
        args.keep_dir = None
        return server._config(args, probe)

    alone = config("--workers", "1", "--bind", "0.0.0.0", "--no-reflection", "--max-streams", "3", "--stream-idle-seconds", "9", "--max-connection-age", "60")
    assert (alone.reuse_port, alone.bind, alone.reflection, alone.max_streams, alone.stream_idle_seconds, alone.max_connection_age_seconds) == (False, "0.0.0.0", False, 3, 9, 60)
    assert alone.probe_socket is None and config("--workers", "1").max_streams is None
    assert config("--workers", "1", "--share-port").reuse_port is True
    siblings = config("--workers", "2", probe=tmp_path / "w0-0.sock")
    assert siblings.reuse_port is True and siblings.probe_socket == tmp_path / "w0-0.sock"


# --- the watchdog's rule -------------------------------------------------------------------


def test_a_worker_that_stops_answering_is_hung_after_three_misses_and_the_allowed_silence() -> None:
    liveness = Liveness(started=0.0, limits=Limits(misses=3, hung_seconds=5.0, start_seconds=60.0))
    liveness.answered(10.0)
    for _ in range(3):
        liveness.missed()
    assert liveness.hung(13.0) is None  # three misses, but not yet 5 s of silence
    reason = liveness.hung(15.5)
    assert reason is not None and "5.5 s" in reason
    liveness.answered(16.0)  # an answer clears the misses
    assert liveness.hung(30.0) is None


def test_a_starting_worker_gets_the_longer_allowance() -> None:
    liveness = Liveness(started=0.0, limits=Limits(misses=3, hung_seconds=5.0, start_seconds=60.0))
    for _ in range(30):
        liveness.missed()
    assert liveness.hung(59.0) is None
    reason = liveness.hung(61.0)
    assert reason is not None and "since it started" in reason


# --- the real process ---------------------------------------------------------------------------


class Server:
    """A `server.py` process with its log lines, each with the moment it arrived."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen([sys.executable, "server.py", *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.append((time.monotonic(), line))

    @property
    def output(self) -> str:
        return "".join(line for _, line in self.lines)

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> float:
        """Wait until `text` has appeared in `count` log lines; the moment the last one arrived."""
        deadline = time.monotonic() + timeout
        while True:
            seen = [at for at, line in list(self.lines) if text in line]
            if len(seen) >= count:
                return seen[count - 1]
            assert time.monotonic() < deadline, f"no {count} x {text!r} within {timeout} s:\n{self.output}"
            assert self.process.poll() is None, f"the server exited with {self.process.returncode}:\n{self.output}"
            time.sleep(0.1)

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@contextmanager
def running(*argv: str) -> Iterator[Server]:
    started = Server(*argv)
    try:
        yield started
    finally:
        started.stop()


def decide_on_fresh_connections(port: int, count: int = 8, timeout: float = 10) -> list[str]:
    """Decide on `count` new connections, which the kernel spreads over the workers."""
    versions = []
    for index in range(count):
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            versions.append(stub.Decide(pb.DecideRequest(case=case(f"c{index}"), as_of=AS_OF), timeout=timeout).decision.policy.version)
    return versions


@needs_proc
def test_a_frozen_worker_is_killed_and_replaced(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port = free_port()
    with running("--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--grace", "2") as supervisor:
        # The operator sees where start-up is; every worker has answered its probe, so its silence now counts.
        supervisor.wait_for(f"serving on 127.0.0.1:{port} with 2 workers")
        assert f"building the engine from {tmp_path} ..." in supervisor.output
        frozen = worker_pids(supervisor.process.pid)[0]
        os.kill(frozen, signal.SIGSTOP)  # answers nothing from now on, as if stuck in C holding the GIL
        frozen_at = time.monotonic()
        try:
            supervisor.wait_for(f"(pid {frozen}) has not answered its probe", timeout=40)
            serving_at = supervisor.wait_for("serving, ", timeout=60)  # the replacement answers its probe
        finally:
            if Path(f"/proc/{frozen}").exists():
                os.kill(frozen, signal.SIGKILL)
        print(f"freeze to a serving replacement: {serving_at - frozen_at:.1f} s")
        assert frozen not in worker_pids(supervisor.process.pid)
        assert decide_on_fresh_connections(port) == ["7"] * 8
        assert supervisor.stop() == 0
    assert supervisor.output.count(SERVING) == 3


def test_a_second_server_on_a_port_in_use_refuses_to_start(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port = free_port()
    with running("--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", "0") as first:
        first.wait_for(SERVING, count=2)
        second = subprocess.run(
            [sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", "0"],
            cwd=REPO, capture_output=True, text=True, timeout=30,
        )
        assert second.returncode == 2
        assert f"port {port} on 127.0.0.1 {IN_USE}" in second.stderr
        assert decide_on_fresh_connections(port) == ["7"] * 8
        with running("--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--share-port") as deliberate:
            deliberate.wait_for(SERVING, count=2)


def test_a_lone_worker_binds_its_port_alone(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port = free_port()
    with running("--rules", str(tmp_path), "--port", str(port), "--workers", "1", "--metrics-port", "0") as lone:
        lone.wait_for(SERVING)
        # A socket that asks to share (SO_REUSEPORT) can join only a listener that asked too.
        with socket.socket() as intruder:
            intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with pytest.raises(OSError) as refused:
                intruder.bind(("127.0.0.1", port))
            assert refused.value.errno == errno.EADDRINUSE
        # So a server that asks to share is refused by the system, and says so.
        sharing = subprocess.run(
            [sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(port), "--workers", "1", "--metrics-port", "0", "--share-port"],
            cwd=REPO, capture_output=True, text=True, timeout=30,
        )
        assert sharing.returncode == 2 and str(port) in sharing.stderr and "already in use" in sharing.stderr, sharing.stderr
        assert decide_on_fresh_connections(port, count=2) == ["7", "7"]


def scrape_policy(metrics_address: str) -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "collection_policy_info":
                found[(sample.labels["kind"], sample.labels["name"], sample.labels["version"])] = sample.value
            if sample.name == "collection_policy_reloads_total" and sample.labels["result"] == "swapped":
                found[("reloads", "swapped", "")] = sample.value
    return found


@needs_proc
def test_after_a_crash_only_the_versions_in_force_are_1(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port, metrics_port = free_port(), free_port()
    # 127.0.0.2 is loopback too: the endpoint must listen where --metrics-bind says.
    metrics_address = f"127.0.0.2:{metrics_port}"
    argv = ["--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", str(metrics_port), "--metrics-bind", "127.0.0.2"]
    with running(*argv, "--reload-seconds", "0.5") as supervisor:
        supervisor.wait_for(SERVING, count=2)
        crashed = worker_pids(supervisor.process.pid)[0]
        os.kill(crashed, signal.SIGKILL)
        supervisor.wait_for(SERVING, count=3)  # the replacement, on version 7
        write_policy(tmp_path, POLICY.replace('version: "7"', 'version: "8"'))
        deadline = time.monotonic() + 60
        while (policy := scrape_policy(metrics_address)).get(("reloads", "swapped", ""), 0) < 2:  # both living workers
            assert time.monotonic() < deadline, f"{policy}\n{supervisor.output}"
            time.sleep(0.3)
        in_force = {key for key, value in policy.items() if value == 1 and key[0] != "reloads"}
        assert {key for key in in_force if key[0] == "strategy"} == {("strategy", "server-test", "8")}, policy
        assert len({key[:2] for key in in_force}) == len(in_force), f"two versions of one policy at 1: {policy}"
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)

"""One check per version under a supervisor: the supervisor checks a change of the
rules once, in one isolated child, and every worker serves what it accepted or
shows what it refused (engine/handover.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine import handover as handover_module
from engine.authoring.acceptance import acceptance_checks
from engine.errors import PolicyError
from engine.handover import LOADED, FollowingRegistry, Handover, RulesChecker
from engine.isolation import Trial
from engine.last_good import LastGoodRules
from engine.registry import read_loaded
from tests.conftest import AS_OF as AS_OF_DATETIME
from tests.conftest import REPO, snapshot, write_policy
from tests.test_hot_reload import write
from tests.test_server import AS_OF, POLICY, case, free_port
from tests.test_supervisor import running

T = TypeVar("T")
SERVING = "serving collection_strategy.v1.CollectionStrategyService"
# Started in every Python process on the path: counts the isolated checks (`python -m engine.isolation`)
# as they end; the supervisor's spare check child, started ahead of the next check, counts once it has run it.
COUNTER = """
import atexit, os, sys
def counted():
    with open(os.environ["CSE_TEST_CHECKS"], "a") as checks:
        checks.write(f"{os.getpid()}\\n")
if "engine.isolation" in sys.orig_argv:
    atexit.register(counted)
"""


# --- in process: the supervisor's checker and its workers' registries ----------------------------------------------


@pytest.fixture
def checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, RulesChecker, list[Path]]:
    """Rules at version 1, checked by a supervisor's checker that records every directory it tries."""
    tried: list[Path] = []
    real = handover_module.try_rules

    def counted(rules_dir: Path, *args: Any, **kwargs: Any) -> Trial:
        tried.append(rules_dir)
        return real(rules_dir, *args, **kwargs)

    monkeypatch.setattr(handover_module, "try_rules", counted)
    rules = tmp_path / "rules"
    write(rules, "1")
    return rules, RulesChecker(rules, LastGoodRules(tmp_path / "kept"), acceptance_checks()), tried


def test_a_change_is_checked_once_and_every_worker_serves_it(checked: tuple[Path, RulesChecker, list[Path]]) -> None:
    rules, checker, tried = checked
    workers = [FollowingRegistry(rules, checker.handover) for _ in range(2)]
    assert [worker.current.engine.ref.version for worker in workers] == ["1", "1"] and len(tried) == 1
    assert [worker.reload_if_changed() for worker in workers] == [None, None]  # no new word

    write(rules, "2", action="CALL")
    assert checker.reload_if_changed() is True and len(tried) == 2
    assert checker.reload_if_changed() is None and len(tried) == 2  # the same files are not checked again
    assert [worker.reload_if_changed() for worker in workers] == [True, True]
    for worker in workers:
        assert worker.current.engine.ref.version == "2" and worker.last_refusal is None
        assert worker.current.engine.decide(snapshot(consents={"sms": True}), AS_OF_DATETIME).action == "CALL"
    assert len(tried) == 2  # the workers ran no check of their own


def test_a_refusal_is_decided_once_and_shown_by_every_worker(checked: tuple[Path, RulesChecker, list[Path]]) -> None:
    rules, checker, tried = checked
    workers = [FollowingRegistry(rules, checker.handover) for _ in range(2)]
    write(rules, "2", action="CALL", tested_action="SEND_REMINDER")  # fails its own policy tests
    assert checker.reload_if_changed() is False and len(tried) == 2
    assert checker.reload_if_changed() is None and len(tried) == 2  # refused once, not again at every look
    assert [worker.reload_if_changed() for worker in workers] == [False, False]
    for worker in workers:
        assert worker.current.engine.ref.version == "1"
        assert worker.last_refusal is not None and "policy tests failed" in worker.last_refusal.reason
    assert [worker.reload_if_changed() for worker in workers] == [None, None]

    write(rules, "3", action="CALL")  # a good version clears the refusal everywhere
    assert checker.reload_if_changed() is True
    assert [worker.reload_if_changed() for worker in workers] == [True, True]
    assert all(worker.last_refusal is None and worker.current.engine.ref.version == "3" for worker in workers)


def test_the_same_version_with_other_content_is_refused_by_the_supervisor(checked: tuple[Path, RulesChecker, list[Path]]) -> None:
    rules, checker, _ = checked
    write(rules, "1", action="CALL")
    assert checker.reload_if_changed() is False
    assert checker.word.refusal is not None and "its version did not" in checker.word.refusal.reason


def test_a_worker_compiles_the_checked_form_without_reading_the_yaml_again(
    checked: tuple[Path, RulesChecker, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, checker, _ = checked
    worker = FollowingRegistry(rules, checker.handover)
    write(rules, "2", action="CALL")
    assert checker.reload_if_changed() is True
    kept = checker.handover.kept(checker.word)
    assert (kept / LOADED).is_file()

    def no_yaml(*_: object) -> None:
        raise AssertionError("the worker loaded the rules files again")

    monkeypatch.setattr(handover_module, "build_engine", no_yaml)
    assert worker.reload_if_changed() is True and worker.current.engine.ref.version == "2"
    # A saved form of another strategy is not taken for this one: the files are loaded instead.
    assert read_loaded(kept / LOADED, "not-this-hash") is None and read_loaded(kept / "absent", checker.word.policy[2]) is None


def test_a_worker_started_after_a_refusal_serves_the_kept_version_and_says_so(
    checked: tuple[Path, RulesChecker, list[Path]], caplog: pytest.LogCaptureFixture
) -> None:
    rules, checker, tried = checked
    write(rules, "2", action="CALL", tested_action="SEND_REMINDER")
    assert checker.reload_if_changed() is False
    restarted = FollowingRegistry(rules, checker.handover)  # e.g. after a crash
    assert restarted.current.engine.ref.version == "1" and len(tried) == 2
    assert restarted.last_refusal is not None and "policy tests failed" in restarted.last_refusal.reason
    assert "refused the rules in" in caplog.text and "starting on the last good version" in caplog.text


def test_a_worker_with_no_word_to_follow_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no checked version"):
        FollowingRegistry(tmp_path, Handover(tmp_path))


def test_a_word_that_cannot_be_read_is_no_word(tmp_path: Path) -> None:
    (tmp_path / "handover.json").write_text('{"generation": 1, "accep', encoding="utf-8")  # cut short
    assert Handover(tmp_path).read() is None


# --- a real supervisor ---------------------------------------------------------------------------------------------


def _counting_environment(tmp_path: Path) -> Path:
    """Make every isolated check started from now on append a line to the returned file."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(COUNTER, encoding="utf-8")
    counter = tmp_path / "checks.txt"
    counter.touch()
    os.environ["CSE_TEST_CHECKS"] = str(counter)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(site), os.environ.get("PYTHONPATH"))))
    return counter


@pytest.fixture
def count_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # restored after the test
    monkeypatch.setenv("CSE_TEST_CHECKS", "")
    return _counting_environment(tmp_path)


def _checks(counter: Path) -> int:
    return len(counter.read_text().split())


def _on_fresh_connections(port: int, ask: Callable[[pb_grpc.CollectionStrategyServiceStub], T], count: int = 16) -> list[T]:
    """Ask on `count` new connections, which the kernel spreads over the workers."""
    answers = []
    for _ in range(count):
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            answers.append(ask(pb_grpc.CollectionStrategyServiceStub(channel)))
    return answers


def _strategy_version(stub: pb_grpc.CollectionStrategyServiceStub) -> tuple[str, str]:
    answer = stub.GetPolicy(pb.GetPolicyRequest(), timeout=10)
    strategy = next(policy for policy in answer.policies if policy.kind == "strategy")
    return strategy.version, answer.last_refusal.reason if answer.HasField("last_refusal") else ""


def _wait(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="counts checks with sys.orig_argv")
def test_two_workers_check_each_version_once_serve_it_and_show_one_refusal(tmp_path: Path, count_checks: Path) -> None:
    rules = tmp_path / "rules"
    write_policy(rules, POLICY)
    port = free_port()
    argv = ("--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--reload-seconds", "0.3", "--grace", "2", "--log-format", "json")
    with running(*argv) as supervisor:
        supervisor.wait_for(SERVING, count=2, timeout=90)
        assert _checks(count_checks) == 1  # at start: once for the server, not once more per worker

        write_policy(rules, POLICY.replace('version: "7"', 'version: "8"'))
        _wait(lambda: set(_on_fresh_connections(port, _strategy_version)) == {("8", "")})
        assert supervisor.output.count('"event": "policy_swapped"') == 2  # each worker swapped
        assert _checks(count_checks) == 2

        write_policy(rules, POLICY.replace('version: "7"', 'version: "9"').replace("days_past_due", "days_past_du"))
        supervisor.wait_for('"event": "policy_refused"', timeout=90)
        _wait(lambda: all(version == "8" and "days_past_du" in refusal for version, refusal in _on_fresh_connections(port, _strategy_version)))
        time.sleep(1.5)  # many looks later: still one check and one event for the broken version
        assert _checks(count_checks) == 3
        refusals = [json.loads(line) for line in supervisor.output.splitlines() if '"event": "policy_refused"' in line]
        assert len(refusals) == 1 and refusals[0]["role"] == "supervisor" and refusals[0]["policy_version"] == "8"
        versions = _on_fresh_connections(port, lambda stub: stub.Decide(pb.DecideRequest(case=case(), as_of=AS_OF), timeout=10).decision.policy.version)
        assert set(versions) == {"8"}


def test_no_call_fails_while_the_workers_swap_under_load(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write_policy(rules, POLICY)
    port = free_port()
    argv = ("--rules", str(rules), "--port", str(port), "--workers", "2", "--metrics-port", "0", "--reload-seconds", "0.3", "--grace", "2", "--log-format", "json")
    with running(*argv) as supervisor:
        supervisor.wait_for(SERVING, count=2, timeout=90)
        stop = threading.Event()
        seen: list[list[str]] = [[] for _ in range(6)]
        failed: list[str] = []

        def caller(index: int) -> None:
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                stub = pb_grpc.CollectionStrategyServiceStub(channel)
                while not stop.is_set():
                    try:
                        seen[index].append(stub.Decide(pb.DecideRequest(case=case(f"c{index}"), as_of=AS_OF), timeout=10).decision.policy.version)
                    except grpc.RpcError as error:
                        failed.append(error.code().name)

        callers = [threading.Thread(target=caller, args=(index,), daemon=True) for index in range(6)]
        for thread in callers:
            thread.start()
        try:
            _wait(lambda: all(seen))
            for version in ("8", "9"):  # two swaps while the callers keep calling on their connections
                write_policy(rules, POLICY.replace('version: "7"', f'version: "{version}"'))
                _wait(lambda: all(answers and answers[-1] == version for answers in seen))
        finally:
            stop.set()
            for thread in callers:
                thread.join(15)
        assert failed == []
        # Each connection moved forward only: never an older version after a newer one.
        for answers in seen:
            assert answers == sorted(answers), answers
        assert '"event": "policy_accepted"' in supervisor.output  # the supervisor's check handed them over


def test_the_swap_benchmark_runs_and_prints_the_targets() -> None:
    """bench/bench_swap.py still runs (one round, two callers): figures, not speed, are checked."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "bench_swap.py"), "--rounds", "1", "--callers", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the server it started too
        process.communicate()
        raise
    assert process.returncode == 0, err[-2000:]
    assert "500 rules       0" in out  # the round swapped to the large policy with no failed call
    for label in ("lowest throughput, ratio to before", "no change, as long (noise)", "swap: built to all connections, s"):
        assert label in out, out
    assert ">= 0.80" in out and "<= 2" in out and "P5: during a hot swap under load" in out

"""The reload check's child started ahead of need (engine/isolation.py SpareChild): a
reload does not wait for an interpreter and the engine's imports, and the child is the
same isolated child as ever: limits, priority, refusals with the step and the reason."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.authoring.acceptance import acceptance_checks
from engine.handover import RulesChecker
from engine.isolation import SpareChild, try_rules
from engine.last_good import LastGoodRules
from tests.conftest import REPO
from tests.isolation_checks import eats_memory, spins_when_marked
from tests.spare_checks import records_its_process
from tests.test_hot_reload import write


def _processes(rules: Path) -> list[int]:
    record = rules.parent / "check-processes.txt"
    return [int(line) for line in record.read_text().split()] if record.exists() else []


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # ours: collect its exit
        except ChildProcessError:
            pass  # not ours: its parent collects it
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists()


def test_a_reload_is_checked_in_the_child_started_before_the_rules_changed(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    write(rules, "1")
    checker = RulesChecker(rules, LastGoodRules(tmp_path / "kept"), [*acceptance_checks(), records_its_process])
    try:
        waiting = checker.spare.pid
        assert waiting is not None and _processes(rules) != [waiting]  # the first check ran in a child of its own
        write(rules, "2")
        assert checker.reload_if_changed() is True
        assert _processes(rules)[-1] == waiting
        assert checker.spare.pid not in (None, waiting)  # the next one waits already
    finally:
        checker.close()
    assert _gone(waiting)


def test_a_spare_started_for_other_limits_is_ended_and_the_check_runs_as_asked(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    spare = SpareChild()
    spare.prepare([records_its_process], cpu_seconds=60)
    waiting = spare.pid
    assert waiting is not None
    trial = try_rules(rules, [records_its_process], cpu_seconds=61, spare=spare)
    assert trial.finished and trial.reasons == [] and trial.versions
    assert _processes(rules) != [waiting] and spare.pid is None
    assert _gone(waiting)


def test_a_check_that_never_ends_in_a_spare_is_refused_when_its_cpu_time_is_spent(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "spin.yaml").write_text("spin: true\n")
    spare = SpareChild()
    spare.prepare([spins_when_marked], cpu_seconds=3)
    assert spare.pid is not None
    trial = try_rules(rules, [spins_when_marked], cpu_seconds=3, spare=spare)
    assert not trial.finished
    assert trial.reasons == [
        "building the rules used more than 3 s of CPU time while running spins when marked; the rule set is too large or too complex (CSE_BUILD_CPU_SECONDS raises the limit)"
    ]


def test_a_check_that_eats_memory_in_a_spare_is_refused_at_the_memory_limit() -> None:
    spare = SpareChild()
    spare.prepare([eats_memory], memory_mb=512)
    assert spare.pid is not None
    trial = try_rules(REPO / "rules", [eats_memory], memory_mb=512, spare=spare)
    assert not trial.finished
    assert "needed more than 512 MiB while running eats memory" in trial.reasons[0]


SUPERVISOR = """
import sys
from pathlib import Path
from engine.handover import RulesChecker
from engine.last_good import LastGoodRules
from tests.isolation_checks import spins_when_marked
rules, kept = Path(sys.argv[1]), Path(sys.argv[2])
checker = RulesChecker(rules, LastGoodRules(kept), [spins_when_marked], nice=0)  # at full priority: a busy machine does not turn the CPU limit into the wall-clock one
accepted = checker.word.accepted
(rules / "spin.yaml").write_text("spin: true\\n")
print("refused" if checker.reload_if_changed() is False else "not refused", checker.word.accepted == accepted, checker.word.refusal.reason)
(rules / "spin.yaml").unlink()
(rules / "strategies" / "default.yaml").write_text((rules / "strategies" / "default.yaml").read_text().replace('version: "', 'version: "next-'))
print("accepted" if checker.reload_if_changed() else "not accepted", checker.word.accepted != accepted)
print("spare", checker.spare.pid)
"""


def test_a_reload_that_would_never_finish_is_refused_by_the_supervisor_and_the_next_one_is_checked(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    # In a subprocess with a timeout: a regression here would wait for good.
    result = subprocess.run(
        [sys.executable, "-c", SUPERVISOR, str(rules), str(tmp_path / "kept")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "CSE_BUILD_CPU_SECONDS": "3"},
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout + result.stderr
    assert lines[0].startswith("refused True building the rules used more than 3 s of CPU time while running spins when marked")
    assert lines[1] == "accepted True"
    spare = int(lines[2].split()[1])
    assert _gone(spare)  # its supervisor gone, the spare reads the end of its input and leaves


def test_an_unused_spare_ends_with_its_server(tmp_path: Path) -> None:
    code = "from engine.isolation import SpareChild\nspare = SpareChild()\nspare.prepare()\nprint(spare.pid)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _gone(int(result.stdout))


@pytest.mark.parametrize("nice", [0, 5])
def test_a_spare_runs_at_the_priority_it_was_started_for(tmp_path: Path, nice: int) -> None:
    spare = SpareChild()
    spare.prepare(nice=nice)
    pid = spare.pid
    assert pid is not None
    try:
        wanted, deadline = os.getpriority(os.PRIO_PROCESS, 0) + nice, time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, pid) != wanted and time.monotonic() < deadline:
            time.sleep(0.05)  # the child lowers its priority as it starts
        assert os.getpriority(os.PRIO_PROCESS, pid) == wanted
    finally:
        spare.close()
    assert _gone(pid)


def test_a_spare_no_one_holds_any_more_is_ended() -> None:
    spare = SpareChild()
    spare.prepare()
    pid = spare.pid
    assert pid is not None
    del spare  # a checker dropped without close()
    gc.collect()
    assert _gone(pid)

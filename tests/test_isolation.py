"""Rules are built and checked in a child process with limits: what would hang or
exhaust the builder is refused there, and the last good version keeps serving."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.authoring.cli import main
from engine.isolation import try_rules
from tests.conftest import REPO
from tests.isolation_checks import eats_memory, spins_when_marked


def test_a_check_that_never_ends_is_refused_when_its_cpu_time_is_spent(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "spin.yaml").write_text("spin: true\n")
    trial = try_rules(rules, [spins_when_marked], cpu_seconds=2)
    assert not trial.finished
    assert trial.reasons == [
        "building the rules used more than 2 s of CPU time while running spins when marked; the rule set is too large or too complex (CSE_BUILD_CPU_SECONDS raises the limit)"
    ]


def test_a_check_that_eats_memory_is_refused_at_the_memory_limit() -> None:
    trial = try_rules(REPO / "rules", [eats_memory], memory_mb=512)
    assert not trial.finished
    assert "needed more than 512 MiB while running eats memory" in trial.reasons[0]


def test_rules_that_load_and_pass_are_accepted_and_load_problems_are_listed(tmp_path: Path) -> None:
    assert try_rules(REPO / "rules") == try_rules(REPO / "rules", [spins_when_marked]) == type(try_rules(REPO / "rules"))([], True)
    broken = tmp_path / "strategies"
    broken.mkdir()
    (broken / "p.yaml").write_text('policy: p\nversion: "1"\nrules:\n  - {id: a, priority: 1, when: {segmnt: x}, then: {action: NO_CONTACT}, reason: x}\n')
    trial = try_rules(tmp_path)
    assert trial.finished and len(trial.reasons) == 1 and "p.yaml:4:" in trial.reasons[0] and "did you mean `segment`" in trial.reasons[0]


RELOAD = """
import sys, time
from pathlib import Path
from engine.registry import PolicyRegistry
from tests.isolation_checks import spins_when_marked
rules = Path(sys.argv[1])
registry = PolicyRegistry(rules, checks=[spins_when_marked])
before = registry.current
(rules / "spin.yaml").write_text("spin: true\\n")
print("swapped" if registry.reload() else "refused", registry.current is before, registry.last_refusal.reason)
"""


def test_a_reload_that_would_never_finish_is_refused_and_the_last_good_version_serves(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    # In a subprocess with a timeout: built in the server's own process, this hangs for good.
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(rules)], cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "CSE_BUILD_CPU_SECONDS": "3"}
    )
    assert result.stdout.startswith("refused True building the rules used more than 3 s of CPU time"), result.stdout + result.stderr


def test_lint_and_test_stop_with_the_reason_when_the_rules_cannot_be_built_within_the_limits(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CSE_BUILD_MEMORY_MB", "20")  # too little even to start: stands in for a rule set that exhausts it
    for command in ("lint", "test", "check"):
        assert main([command, "--rules", str(REPO / "rules")]) == 1
        assert "building the rules" in capsys.readouterr().err

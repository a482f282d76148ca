"""What makes a large policy build fast (issue 15, P5) without changing what it builds:
each strategy file's YAML is read once per load, and the cyclic garbage collector does
not walk the process while a policy loads or lint runs (engine/policy/gc_pause.py)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Iterator

import pytest

from engine.authoring.lint import lint_policy
from engine.errors import PolicyError
from engine.policy import loader
from engine.policy.gc_pause import gc_paused
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from tests.conftest import REPO, write_policy

SHIPPED = REPO / "rules"
INPUTS = """
policy: p
version: "1"
inputs:
  - {name: score, type: number, min: 0, max: 100, description: a score}
rules:
  - {id: low, priority: 10, when: {inputs.score: {lt: 50}}, then: {action: NO_CONTACT}, reason: low score}
"""
OTHER = """
policy: p
version: "1"
rules:
  - {id: high, priority: 20, when: {inputs.score: {gte: 50}}, then: {action: NO_CONTACT}, reason: high score}
"""


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every cyclic collection that starts while the test runs."""
    started: list[int] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        yield started
    finally:
        gc.callbacks.remove(seen)


def test_each_strategy_file_is_read_once_per_load_and_a_file_that_cannot_be_read_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_policy(tmp_path, INPUTS, "a.yaml")
    write_policy(tmp_path, OTHER, "b.yaml")  # reads the input a.yaml declares
    read: list[str] = []
    real = loader.read_yaml_file

    def counted(path: Path) -> str:
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(loader, "read_yaml_file", counted)
    policy = load_strategy(tmp_path / "strategies")
    assert sorted(read) == ["a.yaml", "b.yaml"]
    assert [rule.id for rule in policy.rules] == ["high", "low"]

    read.clear()
    write_policy(tmp_path, OTHER.replace("gte: 50", "gte: fifty"), "b.yaml")
    write_policy(tmp_path, "policy: p\nversion: [\n", "c.yaml")
    with pytest.raises(PolicyError) as refused:
        load_strategy(tmp_path / "strategies")
    assert sorted(read) == ["a.yaml", "b.yaml", "c.yaml"]
    assert [Path(problem.file).name for problem in refused.value.problems] == ["b.yaml", "c.yaml"]


def test_no_cyclic_collection_runs_while_a_policy_loads_or_is_linted(collections: list[int], tmp_path: Path) -> None:
    # At most one each: the collection that may start as the collector comes back at the end
    # (the shipped policy took 20-30 while loading and a few more in lint).
    counts = []
    policy = load_strategy(SHIPPED / "strategies")
    counts.append(len(collections))
    packs = load_packs(SHIPPED / "compliance")
    counts.append(len(collections) - sum(counts))
    findings = lint_policy(policy, packs)
    counts.append(len(collections) - sum(counts))
    assert max(counts) <= 1, counts
    assert gc.isenabled()
    assert not [finding for finding in findings if finding.severity == "error"]
    write_policy(tmp_path, "policy: p\nversion: [\n")
    with pytest.raises(PolicyError):
        load_strategy(tmp_path / "strategies")
    assert gc.isenabled()  # back after a load that fails too


def test_a_pause_inside_a_pause_leaves_the_collector_paused_until_the_outer_one_ends() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # paused by someone else: left as it was
    finally:
        gc.enable()

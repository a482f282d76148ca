"""The default worker count is the container's CPU quota (cgroup v2 or v1), not the host's cores."""

from __future__ import annotations

from pathlib import Path

import pytest

import server
from transport import cpu


def _v2(root: Path, text: str) -> Path:
    (root / "cpu.max").write_text(text + "\n")
    return root


def _v1(root: Path, quota: str, period: str, controller: str = "cpu,cpuacct") -> Path:
    directory = root / controller
    directory.mkdir()
    (directory / "cpu.cfs_quota_us").write_text(quota + "\n")
    (directory / "cpu.cfs_period_us").write_text(period + "\n")
    return root


@pytest.fixture
def many_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host with 64 cores, all usable, whatever this machine has."""
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 64)


def test_cgroup_v2_quota(tmp_path: Path, many_cpus: None) -> None:
    assert cpu.cgroup_quota(_v2(tmp_path, "150000 100000")) == 1.5
    assert cpu.default_workers(tmp_path) == 2  # rounded up: 1.5 CPUs keep two workers busy


def test_cgroup_v2_without_limit_uses_affinity(tmp_path: Path, many_cpus: None) -> None:
    assert cpu.cgroup_quota(_v2(tmp_path, "max 100000")) is None
    assert cpu.default_workers(tmp_path) == 64


def test_cgroup_v1_quota(tmp_path: Path, many_cpus: None) -> None:
    assert cpu.default_workers(_v1(tmp_path, "400000", "100000")) == 4


def test_cgroup_v1_without_limit(tmp_path: Path, many_cpus: None) -> None:
    assert cpu.cgroup_quota(_v1(tmp_path, "-1", "100000", "cpu")) is None
    assert cpu.default_workers(tmp_path) == 64


def test_small_quota_is_one_worker_and_quota_above_affinity_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert cpu.default_workers(_v2(tmp_path, "10000 100000")) == 1  # a tenth of a CPU
    _v2(tmp_path, "800000 100000")
    assert cpu.default_workers(tmp_path) == 2  # 8 CPUs of quota, but pinned to 2


@pytest.mark.parametrize("text", ["", "garbage", "0 100000", "100000 0", "-5 100000"])
def test_garbled_or_empty_files_mean_no_quota(tmp_path: Path, many_cpus: None, text: str) -> None:
    assert cpu.cgroup_quota(_v2(tmp_path, text)) is None
    assert cpu.default_workers(tmp_path) == 64


def test_no_cgroup_files_fall_back_to_affinity(tmp_path: Path, many_cpus: None) -> None:
    assert cpu.cgroup_quota(tmp_path) is None
    assert cpu.default_workers(tmp_path) == 64


def test_server_default_workers_follow_the_quota(tmp_path: Path, many_cpus: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSE_WORKERS", raising=False)
    monkeypatch.setattr(cpu, "CGROUP_ROOT", _v2(tmp_path, "200000 100000"))
    assert server.parse_args([]).workers == 2
    monkeypatch.setenv("CSE_WORKERS", "3")  # an explicit count still wins
    assert server.parse_args([]).workers == 3

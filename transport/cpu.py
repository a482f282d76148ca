"""How many CPUs this process may use: the container's quota, not the host's cores.

In a container `os.cpu_count()` is the host's core count (64 on a large node)
while the CPU limit may be 2: one worker per host core would then fight over two
CPUs' worth of time, each throttled by the kernel. The rule: the smallest of
the cgroup CPU quota (rounded up, at least 1) and the CPUs this process may run
on (its affinity, narrowed by cpusets or `taskset`).

The quota is read from cgroup v2 (`cpu.max`: "<quota> <period>" or "max
<period>") or else cgroup v1 (`cpu.cfs_quota_us` and `cpu.cfs_period_us`, -1
for none). Only the files under `root` (/sys/fs/cgroup) are read; a hierarchy
nested deeper (a process's own cgroup path) is what a container sees at the
root anyway, because of the cgroup namespace.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_quota(root: Path | None = None) -> float | None:
    """The CPU quota in CPUs (1.5 for 150 ms per 100 ms), or None when there is none or it cannot be read."""
    root = root or CGROUP_ROOT
    v2 = root / "cpu.max"
    if v2.is_file():
        return _ratio(*_read(v2).split()[:2])
    for directory in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu", root):
        quota, period = directory / "cpu.cfs_quota_us", directory / "cpu.cfs_period_us"
        if quota.is_file() and period.is_file():
            return _ratio(_read(quota), _read(period))
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:  # unreadable: as if there were no quota
        return ""


def _ratio(quota: str = "", period: str = "") -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max", or an empty or garbled file: no quota
        return None
    return q / p if q > 0 and p > 0 else None


def usable_cpus() -> int:
    """The CPUs this process may run on (affinity), the host's count where affinity is unknown."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_workers(root: Path | None = None) -> int:
    """One worker per CPU the container may use: the quota rounded up, within the usable CPUs."""
    cpus = usable_cpus()
    quota = cgroup_quota(root)
    if quota is None:
        return cpus
    return max(1, min(cpus, math.ceil(quota)))

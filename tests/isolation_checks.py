"""Acceptance checks that misbehave, for tests/test_isolation.py (checks reach the
child process by module and name, so they live in a module of their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def spins_when_marked(rules_dir: Path, engine: Any) -> list[str]:
    """A check that never returns once `spin.yaml` is in the rules directory
    (standing in for durable_rules or a regular expression gone wrong)."""
    while (rules_dir / "spin.yaml").exists():
        pass
    return []


def eats_memory(rules_dir: Path, engine: Any) -> list[str]:
    hoard = [bytearray(64 * 1024 * 1024) for _ in range(64)]
    return [str(len(hoard))]

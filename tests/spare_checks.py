"""An acceptance check that says which process ran it, for tests/test_spare_check_child.py
(checks reach the child process by module and name, so they live in a module of their own)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def records_its_process(rules_dir: Path, engine: Any) -> list[str]:
    """Append this process's id to `check-processes.txt` beside the rules directory (not in it:
    a file there would be a change of the rules); passes."""
    with open(rules_dir.parent / "check-processes.txt", "a", encoding="utf-8") as record:
        record.write(f"{os.getpid()}\n")
    return []

"""Where the shipped rules are: the strategy, compliance packs and schemas this project releases.

A checkout keeps them in rules/ at the top of the repository; the wheel carries
the same tree as package data in engine/shipped_rules/ (pyproject.toml maps it
at build time), so an installed server finds them with no --rules and no
./rules. Policy files name their schema by a relative path
(`../schema/policy.schema.json`), which holds in both places.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_PACKAGED = "shipped_rules"
_LOCAL = Path("rules")


def rules_dir() -> Path:
    """The shipped rules directory: the installed package data, else the checkout's rules/."""
    packaged = Path(str(files("engine") / _PACKAGED))  # pip always unpacks a wheel: a real directory
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


def default_rules_dir() -> Path:
    """The rules a server serves when not told: ./rules when there is one, else the shipped rules."""
    return _LOCAL if _LOCAL.is_dir() else rules_dir()

"""Two rooms: the decide path (what a request runs) never imports the authoring
tools (lint, policy tests, simulate, portfolio, diff, the CLI), so a newcomer can
tell them apart at a glance and a request never loads what only analysts run."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DECIDE_PATH = [
    *sorted((REPO / "engine").glob("*.py")),
    *sorted((REPO / "engine" / "matching").glob("*.py")),
    *sorted((REPO / "engine" / "policy").glob("*.py")),
    REPO / "transport" / "servicer.py",
    REPO / "transport" / "mapping.py",
    REPO / "transport" / "debtor_mapping.py",
]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_decide_path_never_imports_the_authoring_tools() -> None:
    crossing = {
        str(path.relative_to(REPO)): sorted(name for name in imported(path) if name.startswith("engine.authoring"))
        for path in DECIDE_PATH
    }
    assert {path: names for path, names in crossing.items() if names} == {}


def test_the_authoring_tools_live_in_their_own_room() -> None:
    tools = {path.stem for path in (REPO / "engine" / "authoring").glob("*.py")}
    assert {"cli", "lint", "policy_tests", "policy_diff", "simulate", "portfolio", "acceptance"} <= tools
    assert not any((REPO / "engine" / f"{name}.py").exists() for name in tools - {"__init__"})

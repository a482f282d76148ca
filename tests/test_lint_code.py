"""The linter is part of `make test`: ruff finds none of the bug patterns pyproject.toml selects.

ruff runs once over the whole checkout (the generated code and downloaded tools
excluded, see [tool.ruff]), in a subprocess with a timeout. The failure message
is ruff's own report: file, line, column and rule code for each finding.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import REPO

TIMEOUT_SECONDS = 300  # ruff takes about a second; a hang must fail, not stall CI
_FINDING = re.compile(r"^(?P<path>[^:\n]+):\d+:\d+: (?P<code>[A-Z]+[0-9]+) ", re.MULTILINE)


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"ruff did not finish in {TIMEOUT_SECONDS} s:\n{expired.stdout or ''}{expired.stderr or ''}")


def test_ruff_finds_nothing() -> None:
    done = _ruff("check", "--output-format", "concise", "--no-cache", ".")
    output = done.stdout + done.stderr
    # 0: clean; 1: findings, one per line; anything else is ruff failing to run (a bad config, say).
    assert done.returncode in (0, 1) and (done.returncode == 0 or _FINDING.search(output)), f"ruff could not check the code:\n{output}"
    assert done.returncode == 0, f"ruff reports:\n{output}"


def test_ruff_checks_the_bug_rules_on_every_python_directory() -> None:
    """The configuration selects pyflakes and bugbear, and excludes only generated code and tools."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    assert {"F", "E9", "B"} <= set(config["lint"]["select"])
    assert set(config.get("extend-exclude", [])) <= {"collection_strategy", ".tools"}
    listed = _ruff("check", "--show-files", ".").stdout
    for directory in ("engine/", "transport/", "tests/", "bench/", "scripts/", "client_examples/"):
        assert f"/{directory}" in listed, f"ruff does not look at {directory}"
    assert "/server.py" in listed

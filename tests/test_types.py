"""The type checker is part of `make test`: mypy finds no error in engine/, transport/ or server.py.

mypy runs once, in a subprocess with a timeout, with the settings in
pyproject.toml ([tool.mypy]); its cache (.mypy_cache/, ignored by git) makes
later runs take seconds. Each test prints mypy's whole report when it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("engine", "transport", "server.py")
TIMEOUT_SECONDS = 600  # a cold cache takes about a minute; a hang must fail, not stall CI
_ERROR = re.compile(r"^(?P<path>[^:\n]+):\d+(?::\d+)?: error: ", re.MULTILINE)


@dataclass(frozen=True)
class Report:
    returncode: int
    output: str

    def errors_in(self, *prefixes: str) -> list[str]:
        """The files of every error whose path starts with one of `prefixes` (all errors when none)."""
        paths = [match["path"].replace("\\", "/") for match in _ERROR.finditer(self.output)]
        return [path for path in paths if not prefixes or path.startswith(prefixes)]


@pytest.fixture(scope="module")
def report() -> Report:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mypy", *TARGETS], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"mypy did not finish in {TIMEOUT_SECONDS} s:\n{expired.stdout or ''}{expired.stderr or ''}")
    result = Report(done.returncode, done.stdout + done.stderr)
    # 0: clean; 1: errors, each on a line of its own; anything else is mypy failing to run.
    assert result.returncode == 0 or (result.returncode == 1 and result.errors_in()), f"mypy could not check the code:\n{result.output}"
    return result


def test_engine_and_server_type_check(report: Report) -> None:
    """Every error outside transport/ fails this test, including those in modules mypy follows from server.py."""
    outside_transport = [path for path in report.errors_in() if not path.startswith("transport/")]
    assert not outside_transport, f"mypy reports errors:\n{report.output}"


def test_transport_type_checks(report: Report) -> None:
    assert report.returncode == 0 and not report.errors_in(), f"mypy reports errors:\n{report.output}"

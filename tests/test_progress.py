"""Long runs show progress on a terminal and stay quiet in CI (issue 17)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.conftest import REPO

CLI = [sys.executable, "-m", "engine.authoring.cli"]


def _stderr_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run the CLI with stderr on a pseudo-terminal; what it drew there."""
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size; a new pty has none
    try:
        process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=terminal, env={**os.environ, **(env or {})})
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal closed: the process is done with it
                break
            if not chunk:
                break
            drawn += chunk
        assert process.wait(timeout=300) == 0
        return drawn.decode("utf-8", "replace")
    finally:
        os.close(main)


def test_portfolio_simulate_and_decide_draw_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    drawn = _stderr_on_a_terminal([*CLI, "portfolio", "--count", "400", "--out", str(cases)], tmp_path)
    assert "400/400" in drawn and "cases" in drawn
    drawn = _stderr_on_a_terminal([*CLI, "simulate", str(cases), "--rules", str(REPO / "rules"), "--workers", "1"], tmp_path)
    assert "400/400" in drawn
    drawn = _stderr_on_a_terminal([*CLI, "decide", str(cases), "--out", str(tmp_path / "d.jsonl"), "--rules", str(REPO / "rules"), "--workers", "1"], tmp_path)
    assert "400/400" in drawn
    quiet = subprocess.run([*CLI, "simulate", str(cases), "--rules", str(REPO / "rules"), "--workers", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and "400/400" not in quiet.stderr  # no terminal (CI, a pipe): no bar


def test_no_color_draws_the_bar_in_plain_ascii(tmp_path: Path) -> None:
    drawn = _stderr_on_a_terminal([*CLI, "portfolio", "--count", "300", "--out", str(tmp_path / "c.jsonl")], tmp_path, {"NO_COLOR": "1"})
    assert "300/300" in drawn and "█" not in drawn and "#" in drawn


def test_a_bar_on_a_terminal_starts_no_thread_so_helpers_are_still_forked() -> None:
    # tqdm's monitor thread would make workers.start_method() answer "spawn": every helper
    # of decide or simulate would then import and build everything again.
    code = (
        "import time\n"
        "from engine.authoring import progress, workers\n"
        "with progress.bar(10, ' rows') as shown:\n"
        "    shown.update(1); time.sleep(0.2)\n"
        "    print(workers.start_method())\n"
    )
    main, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120, check=True)
    finally:
        os.close(terminal)
        os.close(main)
    assert done.stdout.strip() == "fork"

"""The command line's help says what the docs say.

`simulate --compare DIR` names the baseline (e.g. the rules in production) and
a comparison reads from what it decides to what `--rules` decides
(docs/simulate.md, engine/authoring/simulate_report.py); the help once said the opposite
("e.g. a proposed change"), which turns every reported move around.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.authoring.cli import main

REPO = Path(__file__).resolve().parent.parent


def option_help(command: str, option: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The help text of one option of a command, as `--help` prints it, on one line."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    lines = capsys.readouterr().out.splitlines()
    start = next((index for index, line in enumerate(lines) if line.lstrip().startswith(f"{option} ")), None)
    assert start is not None, f"{option} is not in `{command} --help`"
    words = [lines[start].split(maxsplit=2)[2]]
    for line in lines[start + 1 :]:  # continuation lines are indented and start no option
        if not line.startswith("   ") or line.lstrip().startswith("-"):
            break
        words.append(line.strip())
    return " ".join(words)


def test_simulate_compare_help_names_the_baseline_as_the_docs_do(capsys: pytest.CaptureFixture[str]) -> None:
    words = option_help("simulate", "--compare", capsys)
    assert "baseline" in words and "proposed change" not in words, words
    assert "from what it decides to what --rules decides" in words, words
    docs = (REPO / "docs" / "simulate.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `--compare DIR`"))
    assert "baseline" in row and "*from* what `--compare` decides *to* what `--rules` decides" in row

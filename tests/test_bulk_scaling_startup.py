"""The command line imports a command's modules only when that command runs
(engine/authoring/cli.py, `COMMANDS`): `--help` imports none, and `simulate` or
`decide` none of the others' (the linter, the evaluator, the bundle signer). The
process that runs `simulate` or `decide` also reads and writes the files, the
serial part of a run over many processes: its start-up is part of that, so their
helpers are forked before those imports and import them at the same time
(engine/authoring/workers.py, `start_early`).

Each check runs the command line in a fresh interpreter (a subprocess with a
timeout) and looks at sys.modules."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.cli import COMMANDS
from engine.authoring.portfolio import synthetic_portfolio
from tests.conftest import REPO

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
TIMEOUT = 300
HEAVY = ("pydantic", "yaml", "cryptography", "jinja2", "xlsxwriter", "pyarrow", "pandas", "durable", "re2", "holidays", "grpc")
COMMAND_MODULES = tuple(command.module for command in COMMANDS.values())

LOADED = """
import json, sys
from engine.authoring.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)  # stdout holds the help
"""


def loaded_by(*argv: str) -> set[str]:
    """The modules loaded after the command line ran `argv` in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", LOADED, *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("argv", [("--help",), ("--version",)])
def test_help_and_version_import_no_command(argv: tuple[str, ...]) -> None:
    modules = loaded_by(*argv)
    assert not modules & set(COMMAND_MODULES), sorted(modules & set(COMMAND_MODULES))
    assert not top_level(modules) & set(HEAVY), sorted(top_level(modules) & set(HEAVY))


@pytest.mark.parametrize("command", ["simulate", "decide"])
def test_a_bulk_command_imports_no_other_commands_modules(command: str) -> None:
    modules = loaded_by(command, "--help")
    others = {COMMANDS[name].module for name in COMMANDS if name != command}
    assert COMMANDS[command].module in modules
    assert not modules & others, sorted(modules & others)


class _Recorder:
    """Stands for argparse's subparsers: records the help each command registers with."""

    def __init__(self) -> None:
        self.helps: dict[str, Any] = {}

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser:
        self.helps[name] = options.get("help")
        return argparse.ArgumentParser(prog=name)


FORKS = """
import json, os, sys
from engine.authoring.cli import main

module, argv = sys.argv[1], sys.argv[2:]
caller, forks, fork = os.getpid(), [], os.fork

def recorded():  # whether the caller had imported the command's module when it forked a helper
    if os.getpid() == caller:
        forks.append(module in sys.modules)
    return fork()

os.fork = recorded
code = main(argv)
print(json.dumps({"code": code, "imported_at_fork": forks}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="helpers are forked on Linux only")
@pytest.mark.parametrize("command", ["simulate", "decide"])
def test_the_helper_is_forked_before_the_command_imports_its_modules(tmp_path: Path, command: str) -> None:
    """The helper imports the command's modules while the caller does, and its work
    is still that of a worker started with them: the same output as one worker."""
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(case) + "\n" for case in synthetic_portfolio(300, AS_OF, seed=3)), encoding="utf-8")
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.json" if command == "simulate" else tmp_path / f"out-{workers}.jsonl"
        options = ["--json", str(out)] if command == "simulate" else ["--out", str(out)]
        argv = [command, str(cases), *options, "--workers", workers, "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat()]
        result = subprocess.run([sys.executable, "-c", FORKS, COMMANDS[command].module, *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout.splitlines()[-1])
        assert answer["code"] == 0
        assert answer["imported_at_fork"] == ([] if workers == "1" else [False]), answer
        outputs[workers] = out.read_text(encoding="utf-8")
    if command == "simulate":  # the run's own figures aside
        reports = [json.loads(outputs[workers]) for workers in ("1", "2")]
        for report in reports:
            del report["workers"], report["seconds"], report["cases_per_second"]
        assert reports[0] == reports[1]
    else:
        assert outputs["1"] == outputs["2"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    """`--help` lists a command without importing it: its line must be the one the command registers."""
    recorder = _Recorder()
    importlib.import_module(COMMANDS[name].module).register(recorder)
    assert recorder.helps == {name: COMMANDS[name].help}


def doubled(batch: list[int]) -> list[int]:
    """A helper's work (module-level: a task pickles by name)."""
    return [2 * item for item in batch]


def no_setup() -> None:
    """Nothing to build."""


MISMATCH = """
import json
import tests.test_bulk_scaling_startup as here
from engine.authoring import workers

workers.start_early(2, "json")  # two helpers, for a run that then asks for one
methods, method = [], workers.start_method
workers.start_method = lambda: methods.append(method()) or methods[-1]
out = [item for items in workers.spread(here.doubled, [[1], [2], [3], [4], [5], [6]], 2, here.no_setup, (), local=lambda: here.doubled) for item in items]
print(json.dumps({"out": out, "methods": methods, "left": workers._early is not None}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="helpers are forked on Linux only")
def test_helpers_started_early_for_another_count_are_stopped_and_a_new_pool_still_forks() -> None:
    """Left running, the early pool's thread would make the run's own helpers spawned (a second start-up each)."""
    result = subprocess.run([sys.executable, "-c", MISMATCH], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"out": [2, 4, 6, 8, 10, 12], "methods": ["fork"], "left": False}

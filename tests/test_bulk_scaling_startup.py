"""The command line imports a command's modules only when that command runs
(engine/authoring/cli.py, `COMMANDS`): `--help` imports none, and `simulate` or
`decide` none of the others' (the linter, the evaluator, the bundle signer). The
process that runs `simulate` or `decide` also reads and writes the files, the
serial part of a run over many processes. Its helpers are forked once it has
imported the command's modules and built its engine, and work with that engine
(engine/authoring/workers.py): they import and build nothing.

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
from engine import registry
from engine.authoring.cli import main

module, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
caller, forks, fork, build = os.getpid(), [], os.fork, registry.build_engine

def built():  # the processes that built an engine, one line each
    with open(log, encoding="utf-8") as lines:
        return ["caller" if int(line) == caller else "helper" for line in lines]

def recorded():  # whether the caller had imported the command's module, and how many engines it had built, when it forked a helper
    if os.getpid() == caller:
        forks.append([module in sys.modules, len(built())])
    return fork()

def counted(*args, **options):  # written down in any process (a helper's memory is its own)
    with open(log, "a", encoding="utf-8") as lines:
        lines.write(f"{os.getpid()}\\n")
    return build(*args, **options)

open(log, "w").close()
os.fork, registry.build_engine = recorded, counted
code = main(argv)
print(json.dumps({"code": code, "at_fork": forks, "built_by": built()}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="helpers are forked on Linux only")
@pytest.mark.parametrize("command", ["simulate", "decide"])
def test_the_helper_is_forked_after_the_caller_built_its_engine_and_builds_none(tmp_path: Path, command: str) -> None:
    """The helper decides with the caller's engine (no imports, no rules loaded a second
    time), and its work is that of the caller: the same output as one worker."""
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(case) + "\n" for case in synthetic_portfolio(300, AS_OF, seed=3)), encoding="utf-8")
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.json" if command == "simulate" else tmp_path / f"out-{workers}.jsonl"
        options = ["--json", str(out)] if command == "simulate" else ["--out", str(out)]
        argv = [command, str(cases), *options, "--workers", workers, "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat()]
        log = str(tmp_path / f"built-{workers}.txt")
        result = subprocess.run([sys.executable, "-c", FORKS, COMMANDS[command].module, log, *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout.splitlines()[-1])
        assert answer["code"] == 0
        assert answer["at_fork"] == ([] if workers == "1" else [[True, 1]]), answer
        assert answer["built_by"] == ["caller"], answer
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

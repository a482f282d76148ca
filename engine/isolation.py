"""Try a rules directory in a child process with CPU-time and memory limits.

Building an engine runs analyst input through code we do not control:
durable_rules' C ruleset builder (which has spun forever holding the GIL on
some shapes of rules), the YAML parser, lint's analyses, the policy tests.
Whatever goes wrong there must cost a refused version, never a frozen or
exhausted server. So before a server builds a new version in its own process,
a child process builds it and runs the acceptance checks under limits
(`resource.setrlimit`: RLIMIT_CPU, RLIMIT_AS) and a wall-clock timeout; a
child that runs out of either, crashes or hangs is a refusal that says what
it was doing. The analyst's `check`, `lint` and `test` try the rules the same
way first.

The checks are passed to the child by name (`module:function`), so they must
be module-level functions. The child also reports the versions it built (the
strategy's and every pack's name, version and content hash), so that a
supervisor can judge a version without building it in its own process; and a
server may ask it to run at a lower CPU priority (`nice`), so that checking a
reload under load takes longer rather than taking calls' CPU.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

CPU_SECONDS = 120  # default of CSE_BUILD_CPU_SECONDS: a 1,000-rule policy builds and lints in about 50 s
MEMORY_MB = 2048  # default of CSE_BUILD_MEMORY_MB: the shipped rules build in about 60 MiB
_STEP, _RESULT, _VERSIONS = "step: ", "result: ", "versions: "


@dataclass(frozen=True)
class Trial:
    reasons: list[str]  # to refuse the rules; none: they build within the limits and pass the checks
    finished: bool  # False: the child ran out of a limit, crashed or hung
    # What was built: the strategy's and every pack's name -> (version, content hash); empty when it did not build.
    versions: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)


def try_rules(
    rules_dir: Path, checks: Sequence[Any] = (), cpu_seconds: int | None = None, memory_mb: int | None = None, nice: int = 0, save: Path | None = None
) -> Trial:
    """Build the engine for `rules_dir` and run `checks` in a child process within the limits,
    `nice` steps below this process's CPU priority (0: the same). With `save`, a version that
    passes leaves its loaded form there (engine/registry.py `save_loaded`), so that whoever
    serves it next compiles it without reading the YAML again."""
    cpu_seconds = cpu_seconds or int(os.environ.get("CSE_BUILD_CPU_SECONDS", CPU_SECONDS))
    memory_mb = memory_mb or int(os.environ.get("CSE_BUILD_MEMORY_MB", MEMORY_MB))
    names = [f"{check.__module__}:{check.__qualname__}" for check in checks]
    command = [sys.executable, "-m", "engine.isolation", str(rules_dir), "--cpu", str(cpu_seconds), "--memory", str(memory_mb), *(f"--check={name}" for name in names), *(["--nice", str(nice)] if nice else []), *(["--save", str(save)] if save else [])]
    wall = cpu_seconds * 2 + 30  # a child waiting on nothing still ends
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=wall, env=_environment())
    except subprocess.TimeoutExpired as timeout:
        return Trial([f"building the rules took more than {wall} s while {_last_step(_text(timeout.stdout))}; refused"], False)
    lines = result.stdout.splitlines()
    for line in reversed(lines):
        if line.startswith(_RESULT):
            built = [json.loads(seen[len(_VERSIONS) :]) for seen in lines if seen.startswith(_VERSIONS)]
            versions = {name: (version, content) for name, (version, content) in (built[-1] if built else {}).items()}
            return Trial(list(json.loads(line[len(_RESULT) :])), True, versions)
    doing = _last_step(result.stdout)
    if result.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = f"building the rules used more than {cpu_seconds} s of CPU time while {doing}; the rule set is too large or too complex (CSE_BUILD_CPU_SECONDS raises the limit)"
    elif "MemoryError" in result.stderr:
        reason = f"building the rules needed more than {memory_mb} MiB while {doing}; the rule set is too large (CSE_BUILD_MEMORY_MB raises the limit)"
    else:
        detail = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        reason = f"building the rules failed while {doing}: {detail[0]}"
    return Trial([reason], False)


def _environment() -> dict[str, str]:
    # The child imports this project even when it runs from a checkout, not installed.
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _last_step(stdout: str) -> str:
    steps = [line[len(_STEP) :] for line in stdout.splitlines() if line.startswith(_STEP)]
    return steps[-1] if steps else "starting"


def _step(text: str) -> None:
    print(_STEP + text, flush=True)


def _child(rules_dir: Path, cpu_seconds: int, memory_mb: int, check_names: list[str], save: Path | None = None) -> list[str]:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))  # SIGXCPU at the soft limit
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from engine.engine import StrategyEngine
    from engine.errors import PolicyError
    from engine.registry import load_rules, save_loaded

    _step(f"loading and compiling the rules in {rules_dir}")
    try:
        policy, packs = load_rules(rules_dir)
        loaded = save_loaded(policy, packs) if save else None  # before anything decides with them
        engine = StrategyEngine(policy, packs)
    except PolicyError as error:
        return [str(problem) for problem in error.problems] or [str(error)]
    built = {engine.policy.name: (engine.policy.version, engine.policy.content_hash)}
    print(_VERSIONS + json.dumps(built | {pack.name: (pack.version, pack.content_hash) for pack in engine.compliance.packs}), flush=True)
    reasons: list[str] = []
    for name in check_names:
        module, _, function = name.partition(":")
        _step(f"running {function.replace('_', ' ')}")
        reasons += getattr(importlib.import_module(module), function)(rules_dir, engine)
    if save and loaded and not reasons:
        save.write_bytes(loaded)
    return reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check a rules directory under limits (used by the server and the CLI).")
    parser.add_argument("rules", type=Path)
    parser.add_argument("--cpu", type=int, default=CPU_SECONDS)
    parser.add_argument("--memory", type=int, default=MEMORY_MB)
    parser.add_argument("--check", action="append", default=[])
    parser.add_argument("--nice", type=int, default=0, help="run this many steps below the caller's CPU priority")
    parser.add_argument("--save", type=Path, help="where a version that passes leaves its loaded form")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    reasons = _child(args.rules, args.cpu, args.memory, args.check, args.save)
    print(_RESULT + json.dumps(reasons), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

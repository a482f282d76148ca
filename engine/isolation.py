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

A child spends about a second of CPU starting (the interpreter and the engine's
imports) before it reads a rule. A server that checks every reload keeps one
started ahead (SpareChild): it starts with the limits and the priority of the
next check already set, does its imports, and waits for the rules directory on
its standard input. The limits count its start as they always did (RLIMIT_CPU is
the process's whole CPU time), so a spare is the same child, only earlier; one
whose limits or environment no longer match the check asked for is ended, and
one whose server goes away reads the end of its input and leaves.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

CPU_SECONDS = 120  # default of CSE_BUILD_CPU_SECONDS: a 500-rule policy is checked in about 2 s, the child's start included
MEMORY_MB = 2048  # default of CSE_BUILD_MEMORY_MB: the shipped rules build in about 60 MiB
_STEP, _RESULT, _VERSIONS = "step: ", "result: ", "versions: "


@dataclass(frozen=True)
class Trial:
    reasons: list[str]  # to refuse the rules; none: they build within the limits and pass the checks
    finished: bool  # False: the child ran out of a limit, crashed or hung
    # What was built: the strategy's and every pack's name -> (version, content hash); empty when it did not build.
    versions: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)


def try_rules(
    rules_dir: Path,
    checks: Sequence[Any] = (),
    cpu_seconds: int | None = None,
    memory_mb: int | None = None,
    nice: int = 0,
    save: Path | None = None,
    spare: SpareChild | None = None,
) -> Trial:
    """Build the engine for `rules_dir` and run `checks` in a child process within the limits,
    `nice` steps below this process's CPU priority (0: the same). With `save`, a version that
    passes leaves its loaded form there (engine/registry.py `save_loaded`), so that whoever
    serves it next compiles it without reading the YAML again. With `spare`, the child it holds
    runs the check when it was started for the same checks, limits and priority."""
    order = _Order.of(checks, cpu_seconds, memory_mb, nice)
    child = (spare.take(order) if spare else None) or order.start()
    wall = order.cpu_seconds * 2 + 30  # a child waiting on nothing still ends
    job = json.dumps({"rules": str(rules_dir), "save": str(save) if save else None})
    try:
        stdout, stderr = child.communicate(job + "\n", timeout=wall)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, _ = child.communicate()
        return Trial([f"building the rules took more than {wall} s while {_last_step(_text(stdout))}; refused"], False)
    except BaseException:
        child.kill()  # not left behind, whatever stopped the wait
        child.wait()
        raise
    return _trial(stdout, stderr, child.returncode, order)


def _trial(stdout: str, stderr: str, returncode: int, order: _Order) -> Trial:
    lines = stdout.splitlines()
    for line in reversed(lines):
        if line.startswith(_RESULT):
            built = [json.loads(seen[len(_VERSIONS) :]) for seen in lines if seen.startswith(_VERSIONS)]
            versions = {name: (version, content) for name, (version, content) in (built[-1] if built else {}).items()}
            return Trial(list(json.loads(line[len(_RESULT) :])), True, versions)
    doing = _last_step(stdout)
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = f"building the rules used more than {order.cpu_seconds} s of CPU time while {doing}; the rule set is too large or too complex (CSE_BUILD_CPU_SECONDS raises the limit)"
    elif "MemoryError" in stderr:
        reason = f"building the rules needed more than {order.memory_mb} MiB while {doing}; the rule set is too large (CSE_BUILD_MEMORY_MB raises the limit)"
    else:
        detail = stderr.strip().splitlines()[-1:] or [f"exit code {returncode}"]
        reason = f"building the rules failed while {doing}: {detail[0]}"
    return Trial([reason], False)


@dataclass(frozen=True)
class _Order:
    """What a check child is started with: its checks, limits, priority and environment."""

    checks: tuple[str, ...]  # `module:function`
    cpu_seconds: int
    memory_mb: int
    nice: int
    environment: tuple[tuple[str, str], ...]

    @staticmethod
    def of(checks: Sequence[Any], cpu_seconds: int | None, memory_mb: int | None, nice: int) -> _Order:
        return _Order(
            tuple(f"{check.__module__}:{check.__qualname__}" for check in checks),
            cpu_seconds or int(os.environ.get("CSE_BUILD_CPU_SECONDS", CPU_SECONDS)),
            memory_mb or int(os.environ.get("CSE_BUILD_MEMORY_MB", MEMORY_MB)),
            nice,
            tuple(sorted(_environment().items())),
        )

    def start(self) -> subprocess.Popen[str]:
        """A child with its limits set, which imports what the checks need and then waits for a job on its input."""
        command = [sys.executable, "-m", "engine.isolation", "--cpu", str(self.cpu_seconds), "--memory", str(self.memory_mb), *(f"--check={name}" for name in self.checks), *(["--nice", str(self.nice)] if self.nice else [])]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(self.environment))


class SpareChild:
    """One check child started ahead of the next check (see the module's docstring).

    `prepare` starts it (once the last check is over, so it never competes with one);
    `try_rules(..., spare=...)` hands it the next job when it was started for that
    check, else ends it and starts a child as always. `close` ends a spare not used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[str] | None = None
        self._order: _Order | None = None
        self._ender: weakref.finalize | None = None  # ends the waiting child when this object goes (a checker not closed)

    def prepare(self, checks: Sequence[Any] = (), cpu_seconds: int | None = None, memory_mb: int | None = None, nice: int = 0) -> None:
        """Have a child waiting for the next check with these checks, limits and priority."""
        order = _Order.of(checks, cpu_seconds, memory_mb, nice)
        with self._lock:
            if self._child is not None and self._order == order and self._child.poll() is None:
                return
            self._end()
            self._child, self._order = order.start(), order
            self._ender = weakref.finalize(self, _end, self._child)

    @property
    def pid(self) -> int | None:
        """The waiting child's process id; None when none waits."""
        with self._lock:
            return self._child.pid if self._child is not None and self._child.poll() is None else None

    def take(self, order: _Order) -> subprocess.Popen[str] | None:
        """The waiting child when it was started for `order` and is still alive; None otherwise (then none waits)."""
        with self._lock:
            child, fits = self._child, self._order == order
            self._forget()
            if child is not None and fits and child.poll() is None:
                return child
            if child is not None:
                _end(child)
            return None

    def close(self) -> None:
        with self._lock:
            self._end()

    def _end(self) -> None:
        if self._child is not None:
            _end(self._child)
        self._forget()

    def _forget(self) -> None:
        if self._ender is not None:
            self._ender.detach()
        self._child, self._order, self._ender = None, None, None


def _end(child: subprocess.Popen[str]) -> None:
    """End an idle child (it only waits on its input) and collect its exit."""
    child.kill()
    child.communicate()


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


def _limit(cpu_seconds: int, memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))  # SIGXCPU at the soft limit
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _prepare(check_names: list[str]) -> None:
    """Import what a check runs, before the job comes; then set those objects aside from the
    garbage collector, which would otherwise walk them again at every full collection of the build."""
    import engine.engine  # noqa: F401
    import engine.registry  # noqa: F401

    for name in check_names:
        importlib.import_module(name.partition(":")[0])
    gc.freeze()


def _child(rules_dir: Path, check_names: list[str], save: Path | None = None) -> list[str]:
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
    parser.add_argument("rules", type=Path, nargs="?", help="the rules directory; without it, read from the input as a job (try_rules)")
    parser.add_argument("--cpu", type=int, default=CPU_SECONDS)
    parser.add_argument("--memory", type=int, default=MEMORY_MB)
    parser.add_argument("--check", action="append", default=[])
    parser.add_argument("--nice", type=int, default=0, help="run this many steps below the caller's CPU priority")
    parser.add_argument("--save", type=Path, help="where a version that passes leaves its loaded form")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    _limit(args.cpu, args.memory)  # before the imports: they count against the limits too
    _prepare(args.check)
    rules, save = args.rules, args.save
    if rules is None:
        line = sys.stdin.readline()
        if not line:  # the server went away (or ended a spare it did not use): no check, no trace
            os._exit(0)
        job = json.loads(line)
        rules, save = Path(job["rules"]), (Path(job["save"]) if job.get("save") else None)
    reasons = _child(rules, args.check, save)
    print(_RESULT + json.dumps(reasons), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A helper forked after the caller built its engine decides with a copy of it
(engine/authoring/workers.py): the output of 1 and 2 workers is the same bytes on a
few thousand cases, for `decide` and `simulate`, whether the helper was forked
(building nothing) or spawned (building its own engine, as off Linux). And the one
set-up of a spawned helper: rules that do not load, or a chunk before any set-up,
are a clear error, not a traceback from the pool.

Anything that starts worker processes runs in a subprocess with a timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.authoring import workers
from engine.authoring.portfolio import synthetic_portfolio
from engine.errors import PolicyError, PolicyProblem
from tests.conftest import REPO

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
COUNT = 3000  # thirty chunks: the helper and the caller each decide many
TIMEOUT = 600

RUN = """
import json, os, sys
from engine import registry
from engine.authoring import workers
from engine.authoring.cli import main

method, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
caller, forks, fork, build = os.getpid(), [], os.fork, registry.build_engine

def recorded():
    if os.getpid() == caller:
        forks.append(True)
    return fork()

def counted(*args, **options):  # written down in any process forked from here (a helper's memory is its own)
    with open(log, "a", encoding="utf-8") as lines:
        lines.write(f"{os.getpid()}\\n")
    return build(*args, **options)

open(log, "w").close()
os.fork, registry.build_engine = recorded, counted
if method == "spawn":  # as off Linux, or beside a thread
    workers.start_method = lambda: "spawn"
code = main(argv)
with open(log, encoding="utf-8") as lines:
    built = ["caller" if int(line) == caller else "helper" for line in lines]
print(json.dumps({"code": code, "forked": len(forks), "built_by": built}))
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case in synthetic_portfolio(COUNT, AS_OF, seed=8)), encoding="utf-8")
    return path


def run(command: str, cases: Path, folder: Path, count: str, method: str) -> tuple[dict[str, Any], bytes]:
    """The command line over `cases` with `count` workers: what the run saw, and what it wrote."""
    out = folder / (f"report-{count}-{method}.json" if command == "simulate" else f"decisions-{count}-{method}.jsonl")
    options = ["--json", str(out)] if command == "simulate" else ["--out", str(out)]
    argv = [command, str(cases), *options, "--workers", count, "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat()]
    log = str(folder / f"built-{count}-{method}.txt")
    result = subprocess.run([sys.executable, "-c", RUN, method, log, *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert answer["code"] == 0, answer
    if command == "decide":
        return answer, out.read_bytes()
    report = json.loads(out.read_text(encoding="utf-8"))
    del report["workers"], report["seconds"], report["cases_per_second"]  # the run's own figures
    return answer, json.dumps(report, sort_keys=True).encode()


@pytest.mark.skipif(sys.platform != "linux", reason="helpers are forked on Linux only")
@pytest.mark.parametrize("command", ["decide", "simulate"])
def test_two_workers_write_what_one_writes_whether_the_helper_is_forked_or_spawned(tmp_path: Path, cases: Path, command: str) -> None:
    """Forked, the helper decides with the caller's engine and builds none; spawned, it builds its own."""
    one, one_wrote = run(command, cases, tmp_path, "1", "fork")
    assert one == {"code": 0, "forked": 0, "built_by": ["caller"]}
    forked, forked_wrote = run(command, cases, tmp_path, "2", "fork")
    assert forked == {"code": 0, "forked": 1, "built_by": ["caller"]}
    spawned, spawned_wrote = run(command, cases, tmp_path, "2", "spawn")
    assert spawned["forked"] == 0  # a spawned helper's own build is not seen here: it imports the registry anew
    assert forked_wrote == one_wrote
    assert spawned_wrote == one_wrote
    assert one_wrote


# --- a spawned helper's one set-up (workers.set_up), in this process ----------------------------


def refuses(_: str) -> Callable[[list[int]], list[int]]:
    raise PolicyError([PolicyProblem("rules/policy.yaml", 12, 5, "unknown action 'sing'")])


def doubles(factor: int) -> Callable[[list[int]], list[int]]:
    return lambda batch: [factor * item for item in batch]


def test_a_chunk_before_the_set_up_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "_work", None)
    with pytest.raises(RuntimeError, match="the worker was not started"):
        workers._work_on([1])


def test_rules_that_do_not_load_in_a_helper_are_its_chunks_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller loads the same rules and reports them: the helper says only that it could not."""
    monkeypatch.setattr(workers, "_work", None)
    workers.set_up(refuses, ("rules",))
    with pytest.raises(RuntimeError, match="the worker could not load the rules: .*unknown action 'sing'"):
        workers._work_on([1])


def test_a_helper_set_up_once_works_every_chunk_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "_work", None)
    workers.set_up(doubles, (3,))
    assert workers._work_on([1, 2]) == [3, 6]
    assert workers._work_on([5]) == [15]


# --- the caller hands chunks over without waiting on its own GIL ---------------------------------

SWITCH = """
import json, sys
from engine.authoring import workers
import tests.test_workers_fork as here

before, seen = sys.getswitchinterval(), []

def local():
    def work(batch):
        seen.append(sys.getswitchinterval())
        return batch
    return work

rows = [row for part in workers.spread([[item] for item in range(40)], 2, local=local, make=here.doubles, make_args=(1,)) for row in part]
after = sys.getswitchinterval()
for part in workers.spread([[item] for item in range(40)], 2, local=local, make=here.doubles, make_args=(1,)):
    break  # a reader that stops early (the file cannot be written): the generator is closed here
print(json.dumps({"rows": rows, "before": before, "seen": sorted(set(seen)), "after": after, "after a break": sys.getswitchinterval()}))
"""


def test_the_callers_gil_switch_interval_is_short_while_helpers_run_and_restored_after() -> None:
    """The caller decides holding the GIL; the pool's threads that write a chunk to a helper and
    read its results back wait for it at every step, up to the switch interval (Python's default
    5 ms: a helper idled about 6 ms between chunks of 40 ms, 13% of its time). While helpers run
    it is workers.SWITCH_SECONDS, then as before, also when the reader stops early."""
    result = subprocess.run([sys.executable, "-c", SWITCH], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["rows"] == list(range(40))
    assert answer["seen"] == [workers.SWITCH_SECONDS]
    assert workers.SWITCH_SECONDS < answer["before"]
    assert answer["after"] == answer["after a break"] == answer["before"]

"""`decide` and `simulate` on more than one core: the caller (the process that reads and
writes the files) does only the serial part, helpers are forked with the caller's
engine where that is safe, the output is the same bytes with 1 and 2 workers in every
format, and a helper that dies is a clear error, never a hang (engine/authoring/workers.py).

Anything that starts worker processes runs in a subprocess with a timeout, so a pool
that hangs fails the test instead of CI."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from engine.authoring import workers
from engine.authoring.portfolio import synthetic_portfolio
from engine.bulk import DECISION_COLUMNS
from tests.conftest import REPO
from tests.test_bulk_decide import decide, flat, write_csv, write_jsonl, write_parquet

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
COUNT = 420  # more than four chunks of 100: both workers decide some
TIMEOUT = 300


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return [flat(case) for case in synthetic_portfolio(COUNT, AS_OF, seed=5)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, cases: list[dict[str, Any]]) -> dict[str, Path]:
    """The same cases in each input format, with refused rows among them where the format has any."""
    folder = tmp_path_factory.mktemp("scaling")
    lines = [json.dumps(case) for case in cases]
    lines[150:150] = ["{not json", "", json.dumps({**cases[0], "case_id": "bad-country", "country": "XX"}), "[1, 2]"]
    csv_path = write_csv(folder / "cases.csv", cases)
    with csv_path.open("a", encoding="utf-8") as handle:  # a row with a cell more than the header, then a blank line
        handle.write("too-long," + ",".join("x" for _ in csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")) + "\n\n")
    return {
        "jsonl": write_jsonl(folder / "cases.jsonl", lines),
        "csv": csv_path,
        "parquet": write_parquet(folder / "cases.parquet", cases),
    }


@pytest.mark.parametrize(("source", "suffix"), [("jsonl", ".csv"), ("csv", ".jsonl"), ("parquet", ".parquet"), ("jsonl", ".jsonl")])
def test_one_and_two_workers_write_the_same_bytes(tmp_path: Path, inputs: dict[str, Path], source: str, suffix: str) -> None:
    """Decisions and refused rows (with their row numbers) alike, whatever process decided them."""
    written = {}
    for count in ("1", "2"):
        out = tmp_path / f"decisions-{count}{suffix}"
        result = decide(inputs[source], out, "--workers", count)
        assert result.returncode in (0, 1), result.stderr
        written[count] = (out.read_bytes(), out.with_name(f"{out.stem}.invalid{suffix}").read_bytes(), result.stdout.splitlines()[1].split(" in ")[0])
    assert written["1"] == written["2"]
    assert written["1"][0]  # something was decided


# --- the caller does only the serial part --------------------------------------------------------

CALLER_WORK = """
import json, os, sys, types
from datetime import datetime
from pathlib import Path
from engine.authoring import bulk_decide, bulk_files, simulate, simulate_input

caller = os.getpid()
counts = {"decided": 0, "lines": 0, "cells": 0, "made": 0}

def mine(name, real, rows=lambda args: 1):
    def counted(*args, **options):
        if os.getpid() == caller:  # a forked helper runs this too, and is not counted
            counts[name] += rows(args)
        return real(*args, **options)
    return counted

chunk = lambda args: len(args[-1])
bulk_decide.decide_chunk_with = mine("decided", bulk_decide.decide_chunk_with, chunk)
simulate._Decider.chunk = mine("decided", simulate._Decider.chunk, chunk)
bulk_files.json = types.SimpleNamespace(dumps=mine("lines", json.dumps), loads=json.loads, JSONDecodeError=json.JSONDecodeError)
bulk_files._cell = mine("cells", bulk_files._cell)
simulate_input.case_from_row = mine("made", simulate_input.case_from_row)
bulk_files._case_from_record = mine("made", bulk_files._case_from_record)
command, cases, out, rules, as_of = sys.argv[1:]
if command == "decide":
    outcome = bulk_decide.decide_file(Path(rules), Path(cases), Path(out), Path(out + ".invalid" + Path(out).suffix), datetime.fromisoformat(as_of), 2)
    total = outcome.decided + outcome.refused
else:
    report = simulate.simulate(Path(rules), Path(cases), workers=2, as_of=datetime.fromisoformat(as_of))
    total = report.decided + report.invalid
print(json.dumps({**counts, "total": total}))
"""


def caller_work(command: str, cases: Path, out: Path) -> dict[str, int]:
    run = [sys.executable, "-c", CALLER_WORK, command, str(cases), str(out), str(REPO / "rules"), AS_OF.isoformat()]
    result = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = json.loads(result.stdout.splitlines()[-1])
    assert 0 < counts["decided"] < counts["total"], counts  # the caller decided some rows, a helper the others
    return counts


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_the_caller_formats_only_the_rows_it_decided(tmp_path: Path, inputs: dict[str, Path], suffix: str) -> None:
    """A helper sends back its decisions as the text to write: the caller formats none of them."""
    counts = caller_work("decide", inputs["jsonl"], tmp_path / f"decisions{suffix}")
    # The rows of the chunks the caller decided, and the refused rows (three), which it writes itself.
    formatted = counts["lines"] if suffix == ".jsonl" else counts["cells"] / len(DECISION_COLUMNS)
    assert 0 < formatted <= counts["decided"] + 3


@pytest.mark.parametrize(("command", "source"), [("decide", "csv"), ("simulate", "csv"), ("decide", "parquet")])
def test_the_caller_makes_cases_only_of_the_rows_it_decides(tmp_path: Path, inputs: dict[str, Path], command: str, source: str) -> None:
    """A CSV row goes to its worker as its cells, a Parquet row as pyarrow reads it; the worker makes the case."""
    counts = caller_work(command, inputs[source], tmp_path / "decisions.jsonl")
    assert counts["made"] <= counts["decided"]


# --- how helpers start ---------------------------------------------------------------------------

MARK = "set by the test module"  # a forked helper has the caller's value, a spawned one imports this again


def mark(origin: str, batch: list[int]) -> list[tuple[bool, str, str]]:
    """The work: whether a helper did it, who made the work, and the value it sees.
    The caller works a batch only once a helper has worked one, however slowly it started."""
    helper = multiprocessing.parent_process() is not None
    if helper:
        Path(os.environ["HELPER_WORKED"]).touch()
    deadline = time.monotonic() + TIMEOUT
    while not helper and not Path(os.environ["HELPER_WORKED"]).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return [(helper, origin, MARK) for _ in batch]


def marking(origin: str) -> Callable[[list[int]], list[tuple[bool, str, str]]]:
    """The work, made once by `origin` (the caller, or a spawned helper)."""
    return partial(mark, origin)


START = """
import json, threading
import tests.test_bulk_scaling as here
from engine.authoring import workers
stop = threading.Event()
if "{thread}" == "before":
    threading.Thread(target=stop.wait, daemon=True).start()
here.MARK = "set by the caller"
batches = [[item] for item in range(8)]

def local():
    if "{thread}" == "in local":  # building the work started a thread: no fork after all
        threading.Thread(target=stop.wait, daemon=True).start()
    return here.marking("made by the caller")

parts = workers.spread(batches, 2, local=local, make=here.marking, make_args=("made by the helper",))
rows = [row for rows in parts for row in rows]
helpers = sorted({{(origin, mark) for helper, origin, mark in rows if helper}})
print(json.dumps({{"method": workers.start_method(), "helpers": helpers, "work kept": workers._work is not None}}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="helpers are forked on Linux only")
@pytest.mark.parametrize(("thread", "method"), [("none", "fork"), ("before", "spawn"), ("in local", "spawn")])
def test_a_helper_is_forked_with_the_callers_work_from_a_caller_with_one_thread_else_spawned(tmp_path: Path, thread: str, method: str) -> None:
    """Forked once the caller has made its work, a helper works with that very work (the
    caller's engine): it imports and builds nothing. With another thread running, before the
    work is made or started by making it, it is spawned, as a fork would copy locks that
    thread may hold, and makes its own. The caller's work is not kept past the run."""
    environment = {**os.environ, "HELPER_WORKED": str(tmp_path / "worked")}
    result = subprocess.run([sys.executable, "-c", START.format(thread=thread)], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT, env=environment)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["method"] == method
    assert not answer["work kept"]
    if method == "fork":
        assert answer["helpers"] == [["made by the caller", "set by the caller"]]
    else:
        assert answer["helpers"] == [["made by the helper", "set by the test module"]]


def test_start_method_spawns_beside_another_thread() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert workers.start_method() == "spawn"
    finally:
        stop.set()
        thread.join()


# --- a helper that dies --------------------------------------------------------------------------

DIES = """
import multiprocessing, os, signal, sys
from engine.authoring import bulk_decide
from engine.authoring.cli import main


class KillsTheHelpers:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, rows):  # after the first chunk: every helper killed, as the kernel's OOM killer would
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)


bulk_decide.progress.file_bar = lambda *args: KillsTheHelpers()
sys.exit(main(sys.argv[1:]))
"""


def test_a_helper_that_dies_is_a_clear_error_and_writes_nothing(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Enough chunks that some are still to come when the helpers die, however fast or slow each
    # process is: with a few chunks, the helper may have finished its share before it is killed.
    many = write_jsonl(tmp_path_factory.mktemp("many") / "cases.jsonl", [json.dumps(flat(case)) for case in synthetic_portfolio(3000, AS_OF, seed=6)])
    out = tmp_path / "decisions.jsonl"
    command = ["decide", str(many), "--out", str(out), "--workers", "2", "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat()]
    result = subprocess.run([sys.executable, "-c", DIES, *command], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "a worker process died" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no decisions, no refusals, no .partial file

"""`collection-strategy decide CASES --out DECISIONS`: every case of a file decided
at one instant with one policy version, one flat row per decision (a dialer's list).

    collection-strategy decide cases.jsonl --out decisions.csv --as-of 2026-11-24T10:00:00+01:00

Cases and decisions are JSON Lines, CSV or Parquet, by extension
(engine/authoring/bulk_files.py). Each case goes through engine.bulk, as
DecideBatch, `simulate` and the Spark job do, so they all agree. A row that is
not a valid case is written to the invalid file with its row number, case id,
field and reason, never dropped. Rows come out in the input's order whatever
the number of workers, so two runs over the same file at the same --as-of write
the same bytes. The work is spread over processes as `simulate` spreads it
(engine/authoring/workers.py). The process that reads and writes the files is
the run's one serial part, so it does no more than that: a worker parses its
rows, decides them, formats the decisions (JSON Lines and CSV) and counts the
reviews per queue; the reader writes the text and adds up the counts
(`Chunk`). See docs/decide.md.

Exit codes, as linters have them: 0 every case was decided; 1 some rows were
refused (every valid one was still decided and written); 2 nothing was decided:
a usage error, a file that cannot be read or written, rules that do not load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from engine.authoring import bulk_files, progress, workers as processes
from engine.authoring.arguments import instant  # the one reader of --as-of
from engine.authoring.simulate_input import Invalid, Payload, case_data
from engine.authoring.work_load import QueueLoad, WorkTally, format_load, load_dicts, queue_load
from engine.bulk import DECISION_COLUMNS, REFUSAL_COLUMNS, Refusal, decided_row
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.registry import build_engine
from engine.shipped import default_rules_dir

DECIDED, REFUSED, UNUSABLE = 0, 1, 2  # exit codes
CHUNK = 100  # cases per task: pickling is cheap next to deciding (~0.1 s), and the last chunks end close together
Row = tuple[Any, ...]  # a decision row, in DECISION_COLUMNS order
Item = Payload | bulk_files.ParquetRow  # a case as read (bulk_files.read_raw), made a case where it is decided


class Outcome(NamedTuple):
    decided: int
    refused: int
    policy: str  # name, version and hash of the policy every case was decided with
    work_queues: list[QueueLoad]  # the review decisions per queue against its capacity (engine/authoring/work_load.py)


# --- deciding (in the workers) ------------------------------------------------------------------


class Chunk(NamedTuple):
    """A chunk of cases as a worker sends it back: what the caller writes, and counts."""

    decisions: str | list[Row]  # the decision rows as the output's text (JSON Lines, CSV), or the rows (Parquet)
    decided: int
    refusals: list[Row]  # REFUSAL_COLUMNS, in the file's order
    work: WorkTally  # the chunk's review decisions per queue


def decide_chunk_with(engine: StrategyEngine, as_of: datetime, text: bulk_files.RowFormatter | None, items: list[tuple[int, Item]]) -> Chunk:
    """Each numbered case of a chunk decided: the decision rows formatted by `text`
    (as they are without one), the refused rows with their row number, the reviews counted."""
    rows: list[Row] = []
    refusals: list[Row] = []
    work = WorkTally()
    for number, payload in items:
        data = case_data(number, bulk_files.case_of(payload))
        if isinstance(data, Invalid):  # refused while reading (a CSV row longer than its header), or not JSON
            refusals.append((data.line, data.case_id, data.field, data.problem))
            continue
        result = decided_row(engine, number, data, as_of)
        if isinstance(result, Refusal):
            refusals.append((result.row, result.case_id, result.field, result.problem))
            continue
        work.add_row(result)
        rows.append(tuple(result[column] for column in DECISION_COLUMNS))  # a tuple pickles lighter than a dict
    return Chunk(text(rows) if text else rows, len(rows), refusals, work)


def worker(rules_dir: Path, as_of: datetime, out_kind: str, engine: StrategyEngine | None = None) -> Callable[[list[tuple[int, Item]]], Chunk]:
    """A worker's work: its chunks decided with `engine` (built from `rules_dir` without one:
    a spawned helper's), the decisions formatted for an `out_kind` file."""
    return partial(decide_chunk_with, engine or build_engine(rules_dir), as_of, bulk_files.formatter(DECISION_COLUMNS, out_kind))


# --- running ------------------------------------------------------------------------------------


def default_invalid(out: Path) -> Path:
    """Beside the decisions, in their format: decisions.csv -> decisions.invalid.csv."""
    return out.with_name(f"{out.stem}.invalid{out.suffix}")


def decide_file(
    rules_dir: Path, cases: Path, out: Path, invalid: Path, as_of: datetime, workers: int, progress: Any = None
) -> Outcome:
    """Decide every case of `cases` with `rules_dir` at `as_of`, writing decision rows to
    `out` and refused rows to `invalid` (each written whole or not at all).

    Raises PolicyError when the rules do not load, ValueError or OSError when a file
    cannot be read or written."""
    for path in (cases, out, invalid):
        bulk_files.format_of(path)
    built: list[StrategyEngine] = []
    out_kind = bulk_files.format_of(out)

    def own_work() -> Callable[[list[tuple[int, Item]]], Chunk]:
        built.append(build_engine(rules_dir))  # rules that do not load stop here, before anything is decided
        return worker(rules_dir, as_of, out_kind, built[0])

    partial_files = [path.with_name(path.name + ".partial") for path in (out, invalid)]
    # Written aside and renamed at the end: a run that fails leaves no half file to mistake for a whole one.
    decisions = bulk_files.writer(partial_files[0], DECISION_COLUMNS, out_kind)
    refusals = bulk_files.writer(partial_files[1], REFUSAL_COLUMNS, bulk_files.format_of(invalid))
    decided = refused = 0
    work = WorkTally()
    try:
        chunks = processes.chunks(bulk_files.read_raw(cases), workers, CHUNK)
        for chunk in processes.spread(chunks, workers, local=own_work, make=worker, make_args=(rules_dir, as_of, out_kind)):
            if isinstance(chunk.decisions, str):
                decisions.write_text(chunk.decisions)
            else:
                decisions.write(chunk.decisions)
            refusals.write(chunk.refusals)
            work.merge(chunk.work)
            decided, refused = decided + chunk.decided, refused + len(chunk.refusals)
            if progress is not None:
                progress.update(chunk.decided + len(chunk.refusals))
    except BaseException:
        for writer, path in zip((decisions, refusals), partial_files):
            writer.close()
            path.unlink(missing_ok=True)
        raise
    for writer, path, final in zip((decisions, refusals), partial_files, (out, invalid)):
        writer.close()
        os.replace(path, final)
    policy = built[0].policy  # own_work ran before the first chunk, even for an empty file
    loads = queue_load(work, built[0].work_plan, decided)
    return Outcome(decided, refused, f"{policy.name} {policy.version} ({policy.content_hash})", loads)


# --- command line -------------------------------------------------------------------------------


def _file_in_a_format(text: str) -> Path:
    path = Path(text)
    try:
        bulk_files.format_of(path)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return path


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1 or more)")
    return value


def register(subparsers: Any) -> None:
    """Add `decide` to the `collection-strategy` command line."""
    parser = subparsers.add_parser(
        "decide",
        help="decide every case of a file (JSON Lines, CSV or Parquet) at one instant and write one flat row per decision; "
        "refused rows go to a separate file with their field and reason",
        description="Exit codes: 0 every case decided; 1 some rows refused (see --invalid); 2 nothing decided "
        "(usage, a file that cannot be read or written, rules that do not load). See docs/decide.md.",
    )
    parser.add_argument("cases", type=_file_in_a_format, help="the cases: .jsonl (one snapshot per line), .csv (simulate's flat columns) or .parquet")
    parser.add_argument("--out", type=_file_in_a_format, required=True, help="where the decisions go: .jsonl, .csv or .parquet")
    parser.add_argument("--rules", type=Path, default=default_rules_dir(), help="the rules directory (default: ./rules, else the shipped rules)")
    parser.add_argument("--as-of", type=instant, help="the instant every case is decided at, with its offset (default: now)")
    parser.add_argument("--workers", type=_workers, default=os.cpu_count() or 1, help="processes (default: one per core)")
    parser.add_argument(
        "--invalid", type=_file_in_a_format,
        help="where refused rows go, with row, case_id, field and problem (default: beside --out, e.g. decisions.invalid.csv); always written",
    )
    parser.add_argument("--summary-json", type=Path, metavar="FILE", help="write the run's summary as JSON here: counts, policy and the load per work queue")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    as_of: datetime = args.as_of or datetime.now(timezone.utc)
    invalid: Path = args.invalid or default_invalid(args.out)
    clash = _same_files(args.cases, args.out, invalid)
    if clash:
        print(f"cannot decide: {clash}", file=sys.stderr)
        return UNUSABLE
    print(f"deciding {args.cases} as of {as_of.isoformat()} with {args.rules}, {args.workers} worker(s)")
    started = time.perf_counter()
    try:
        with progress.file_bar(args.cases, " rows") as shown:
            outcome = decide_file(args.rules, args.cases, args.out, invalid, as_of, args.workers, shown)
    except PolicyError as error:
        print(error, file=sys.stderr)
        print(f"\n{len(error.problems)} problem(s); the rules were not loaded.", file=sys.stderr)
        return UNUSABLE
    except (OSError, ValueError) as error:
        print(f"cannot decide: {error}", file=sys.stderr)
        return UNUSABLE
    except BrokenProcessPool as error:  # a worker was killed (out of memory?): nothing was written
        print(f"cannot decide: a worker process died ({error})", file=sys.stderr)
        return UNUSABLE
    seconds = time.perf_counter() - started
    decided, refused, policy, loads = outcome
    total = decided + refused
    print(f"{decided:,} decided, {refused:,} refused of {total:,} rows in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} rows/s), policy {policy}")
    print(f"wrote decisions to {args.out}")
    print(f"wrote refused rows to {invalid}" + (f" ({refused:,}: row, case_id, field, problem)" if refused else " (none)"))
    if loads:
        print("\n" + "\n".join(format_load(loads)))
    if args.summary_json:
        summary = {"cases": str(args.cases), "as_of": as_of.isoformat(), "decided": decided, "refused": refused, "policy": policy, "work_queues": load_dicts(loads)}
        try:
            args.summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as error:
            print(f"cannot write the summary: {error}", file=sys.stderr)
            return UNUSABLE
        print(f"wrote the summary to {args.summary_json}")
    return REFUSED if refused else DECIDED


def _same_files(cases: Path, out: Path, invalid: Path) -> str | None:
    named = {"CASES": cases, "--out": out, "--invalid": invalid}
    seen: dict[Path, str] = {}
    for name, path in named.items():
        key = path.resolve()
        if key in seen:
            return f"{seen[key]} and {name} are the same file ({path})"
        seen[key] = name
    return None


"""Simulate: decide a whole portfolio with a rules directory and count what happens.

Analysts use it before a change goes live: how many cases get which action, on
which channel, at which stage, what the guardrails stop, how the debtors'
arrangements stand (the engine's verdict on each current one) and (with
`--compare OLD_RULES`) exactly which cases the change moves, from what OLD_RULES
decide to what `--rules` decide. Every case is decided at the same `as_of`, so
two runs over the same file agree. See docs/simulate.md.

A file of debtors (DecideDebtor, several accounts per person) is run over days
instead (`--days`, engine/authoring/simulate_debtor_run.py): each person is decided every
day and the contact chosen recorded, and the report counts per person, how
often each was contacted a week and against the caps of the packs in force
(engine/authoring/simulate_debtor_report.py).

This module decides and runs the command line. Reading a file is
engine/authoring/simulate_input.py, counting engine/authoring/simulate_report.py, the text summary
engine/authoring/simulate_text.py, the HTML page and its exported tables
engine/authoring/simulate_html.py (its templates in engine/authoring/report/templates/), imported
only by a run that writes a page or its tables (--html, --export): jinja2 and the page's
modules are otherwise a start-up cost of the one process that reads the file.

The engine's durable_rules C code never releases the GIL, so the work is spread
over processes (engine/authoring/workers.py), each deciding cases in chunks with an
engine built once (a forked helper with a copy of this process's), each chunk's cases tallied where they are decided (the
caller merges the tallies, simulate_report.Tally.merge). A case is validated and decided by engine.bulk.decide_one,
as the `decide` command, DecideBatch and the Spark job do, so they all agree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from engine.authoring import progress, simulate_debtor_run, workers as processes
from engine.authoring.arguments import instant
from engine.bulk import decide_one
from engine.engine import StrategyEngine
from engine.errors import InvalidSnapshot, PolicyError
from engine.facts import judged_arrangements
from engine.registry import build_engine
from engine.authoring.simulate_debtor_report import DebtorSimulationReport, DebtorTally, build_debtor_report
from engine.authoring.simulate_input import DEBTORS, Invalid, Payload, case_data, case_from_row, csv_columns, form_of, read_cases, read_raw_cases, row_from_case
from engine.authoring.simulate_report import NO_ARRANGEMENT, NO_CHANNEL, Decided, SimulationReport, Tally, build_report
from engine.authoring.simulate_text import format_debtor_summary, format_summary
from engine.snapshot import CaseSnapshot
from engine.vocabulary import PaymentMethod
from engine.zones import possible_zones
from engine.shipped import default_rules_dir

# The command's parts live in their own modules; these names stay importable from here.
__all__ = [
    "Decided", "DebtorSimulationReport", "Invalid", "SimulationReport", "case_from_row", "csv_columns", "current_arrangement_state",
    "format_debtor_summary", "format_summary", "instant", "read_cases", "register", "render_debtor_html", "render_html", "row_from_case",
    "simulate", "simulate_debtors", "write_outputs",
]

CHUNK = 100  # cases per task: pickling is cheap next to deciding, and the last chunks end close together
DEBTOR_CHUNK = 10  # debtors per task: each is decided on every day of the run
DEFAULT_DAYS = 14  # two weeks: every 7-day window of the first week's contacts ends inside the run


# --- deciding (in the workers) ------------------------------------------------------------------


def current_arrangement_state(snapshot: CaseSnapshot, as_of: datetime, posting_grace: dict[PaymentMethod, int]) -> str:
    """The fact `arrangement.state` as engine.facts.derive finds it (NO_ARRANGEMENT without
    one), at a fraction of its cost: only the arrangements are judged, with the same
    local date, business days and posting grace. The decision does not carry the facts
    it was made on, and deriving them all again would add about half to the time of a
    case with an arrangement (this, a sixth of that); tests/test_simulate.py holds it to
    derive's answer."""
    if not snapshot.arrangements:
        return NO_ARRANGEMENT
    # No contacts: they only say whether it was confirmed, not how it is going.
    facts, _ = judged_arrangements(snapshot, as_of, possible_zones(snapshot, as_of), posting_grace)
    return str(facts["arrangement.state"])


class _Decider:
    def __init__(self, rules_dir: Path, compare_dir: Path | None, as_of: datetime, engines: tuple[Any, Any] | None = None):
        built = engines or (build_engine(rules_dir), build_engine(compare_dir) if compare_dir else None)
        self.engine: StrategyEngine = built[0]
        self.other: StrategyEngine | None = built[1]
        self.as_of = as_of
        self.grace = dict(self.engine.policy.posting_grace)
        self.other_grace = dict(self.other.policy.posting_grace) if self.other else self.grace

    def chunk(self, items: list[tuple[int, Payload]]) -> Tally:
        """A chunk's cases decided and tallied here, in the worker: the reader only merges."""
        tally = Tally()
        tally.add([self.one(line, payload) for line, payload in items])
        return tally

    def one(self, line: int, payload: Payload) -> Decided | Invalid:
        data = case_data(line, payload)  # a CSV row's cells or a JSON line made a case here, in the worker
        if isinstance(data, Invalid):
            return data
        if not isinstance(data, dict):
            return Invalid(line, None, "line", "is not a JSON object (one case per line)")
        case_id = data.get("case_id") if isinstance(data.get("case_id"), str) else None
        try:
            snapshot, decision = decide_one(self.engine, data, self.as_of)
        except InvalidSnapshot as error:  # a shape validation did not foresee is named `case`: one bad case, not a dead worker
            first = error.problems[0]
            return Invalid(line, case_id, first.field, first.description)
        result = Decided(
            line,
            snapshot.case_id,
            snapshot.segment,
            snapshot.days_past_due,
            decision.action,
            decision.channel.value if decision.channel else NO_CHANNEL,
            decision.reasons[0].code if decision.reasons else "",
            tuple(veto.guardrail for veto in decision.vetoes),
            getattr(decision, "experiment_arm", "") or "",
            arrangement=current_arrangement_state(snapshot, self.as_of, self.grace),
            work_queue=decision.work.queue if decision.work else None,
            work_priority=decision.work.priority if decision.work else None,
            work_due_in=decision.work.due - decision.as_of if decision.work else None,
        )
        if self.other is None:
            return result
        other = self.other.decide(snapshot, self.as_of)
        # The same verdict unless the baseline declares another posting grace.
        baseline = result.arrangement if self.other_grace == self.grace else current_arrangement_state(snapshot, self.as_of, self.other_grace)
        channel = other.channel.value if other.channel else NO_CHANNEL
        return result._replace(baseline_action=other.action, baseline_channel=channel, baseline_arrangement=baseline)


def decider(rules_dir: Path, compare_dir: Path | None, as_of: datetime) -> Callable[[list[tuple[int, Payload]]], Tally]:
    """A spawned helper's work: its chunks decided and tallied with engines it builds."""
    return _Decider(rules_dir, compare_dir, as_of).chunk


# --- running ------------------------------------------------------------------------------------


def simulate(
    rules_dir: Path,
    cases_path: Path,
    compare_dir: Path | None = None,
    workers: int | None = os.cpu_count(),
    as_of: datetime | None = None,
    shown: Any = None,
) -> SimulationReport:
    """Decide every case of `cases_path` with `rules_dir` (and `compare_dir`) at one instant.

    Raises PolicyError when a rules directory does not load, ValueError or OSError
    when the file cannot be read; an invalid case is only counted.
    """
    as_of = as_of or datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone offset")
    workers = max(1, workers or 1)
    started = time.perf_counter()
    built: list[tuple[StrategyEngine, StrategyEngine | None]] = []

    def own() -> Callable[[list[tuple[int, Payload]]], Tally]:
        # This process decides too. It builds its engines before the first case is read (rules that
        # do not load stop here); forked helpers decide with copies, spawned ones build their own.
        built.append((build_engine(rules_dir), build_engine(compare_dir) if compare_dir else None))
        return _Decider(rules_dir, compare_dir, as_of, built[0]).chunk

    tally = Tally()
    chunks = processes.chunks(read_raw_cases(cases_path), workers, CHUNK)
    for part in processes.spread(chunks, workers, local=own, make=decider, make_args=(rules_dir, compare_dir, as_of)):
        tally.merge(part)  # in file order (spread keeps it), so the report is the one of a single tally
        if shown is not None:  # a progress bar (engine/authoring/progress.py)
            shown.update(part.total)
    return build_report(tally, rules_dir, cases_path, compare_dir, built[0], as_of, workers, time.perf_counter() - started)


def simulate_debtors(
    rules_dir: Path, debtors_path: Path, days: int = DEFAULT_DAYS, workers: int | None = os.cpu_count(), as_of: datetime | None = None, at_review: bool = False,
    shown: Any = None,
) -> DebtorSimulationReport:
    """Run every debtor of `debtors_path` for `days` days from `as_of` with `rules_dir`
    (engine/authoring/simulate_debtor_run.py) and count, per person, the contacts made.

    Raises PolicyError when the rules do not load, ValueError or OSError when the
    file cannot be read or `days` is not 1 to 366; an invalid debtor is only counted.
    """
    as_of = as_of or datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone offset")
    if not 1 <= days <= 366:
        raise ValueError(f"days must be 1 to 366, not {days}")
    workers = max(1, workers or 1)
    started = time.perf_counter()
    engine = build_engine(rules_dir)  # here first: rules that do not load fail before any worker starts
    tally = DebtorTally()
    chunks = processes.chunks(read_cases(debtors_path), workers, DEBTOR_CHUNK)
    own = lambda: simulate_debtor_run.DebtorRunner(rules_dir, as_of, days, at_review, engine).chunk  # noqa: E731 - this process runs persons too
    for part in processes.spread(chunks, workers, local=own, make=simulate_debtor_run.runner, make_args=(rules_dir, as_of, days, at_review)):
        tally.merge(part)  # in file order, as for cases: the report is the one of a single tally
        if shown is not None:
            shown.update(part.total)
    return build_debtor_report(tally, rules_dir, debtors_path, engine, as_of, days, workers, time.perf_counter() - started, at_review)


def write_outputs(
    report: SimulationReport | DebtorSimulationReport, json_path: Path | None = None, html_path: Path | None = None, export_dir: Path | None = None,
) -> Path | None:
    """The JSON, the page, and every table of the page as CSV and XLSX in `export_dir`
    (with a page and no folder named: <page>_files beside it, which the page links).
    Returns the folder of the tables, if any was written."""
    if json_path:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if export_dir is None:
        if html_path is None:
            return None
        export_dir = html_path.with_name(f"{html_path.stem}_files")
    # Imported here: the page's modules and jinja2 are for a run that asks for a page or its tables.
    from engine.authoring.report.exports import write_tables
    from engine.authoring.simulate_html import debtor_page, render_page, simulation_page

    page = debtor_page(report) if isinstance(report, DebtorSimulationReport) else simulation_page(report)
    write_tables(page.tables, export_dir)
    if html_path:
        html_path.write_text(render_page(page, exports_link(html_path, export_dir)), encoding="utf-8")
    return export_dir


def render_html(report: SimulationReport, exports: str | None = None) -> str:
    """The cases' page (engine/authoring/simulate_html.py, imported only when a page is asked for)."""
    from engine.authoring import simulate_html

    return simulate_html.render_html(report, exports)


def render_debtor_html(report: DebtorSimulationReport, exports: str | None = None) -> str:
    """The debtors' page (engine/authoring/simulate_html.py, imported only when a page is asked for)."""
    from engine.authoring import simulate_html

    return simulate_html.render_debtor_html(report, exports)


def exports_link(html_path: Path, folder: Path) -> str:
    """The folder of the tables as the page links it: relative, so the two move together."""
    try:
        return quote(Path(os.path.relpath(folder.resolve(), html_path.resolve().parent)).as_posix())
    except ValueError:  # another drive (Windows): no relative path
        return folder.resolve().as_uri()


# --- command line -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `simulate` to the `collection-strategy` command line."""
    parser = subparsers.add_parser(
        "simulate",
        help="decide a portfolio (JSON Lines or CSV) and count actions, channels and vetoes; compare two rule sets; "
        "run a file of debtors over days and count contacts per person against the caps",
    )
    parser.add_argument(
        "cases", type=Path,
        help="cases: .jsonl (one snapshot per line) or .csv; or debtors: .jsonl with one DecideDebtor debtor per line, "
        "told apart by its first object having accounts (see docs/simulate.md)",
    )
    parser.add_argument("--rules", type=Path, default=default_rules_dir(), help="the rules directory (default: ./rules, else the shipped rules)")
    parser.add_argument("--compare", type=Path, help="the baseline rules directory (e.g. the rules in production) to decide the same cases with; changes read from what it decides to what --rules decides")
    parser.add_argument("--as-of", type=instant, help="the instant every case is decided at; for debtors, the first day of the run (default: now)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--html", type=Path, help="write a self-contained HTML report here, its tables as CSV and XLSX in <name>_files beside it")
    parser.add_argument("--export", type=Path, metavar="DIR", help="write every table of the report as CSV and XLSX in DIR (default with --html: <name>_files beside the page)")
    parser.add_argument(
        "--days", type=int,
        help=f"debtors only: decide every person on this many days from --as-of, recording each contact made (default: {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--at-review", action="store_true",
        help="debtors only: decide a person again only when its last decision's next_review_at falls due, not every day",
    )
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    try:
        debtors = form_of(args.cases) == DEBTORS
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot simulate: {error}", file=sys.stderr)
        return 1
    problem = _misused(args, debtors)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        report: SimulationReport | DebtorSimulationReport
        with progress.file_bar(args.cases, " debtors" if debtors else " cases") as shown:
            if debtors:
                report = simulate_debtors(args.rules, args.cases, args.days or DEFAULT_DAYS, args.workers, args.as_of, args.at_review, shown)
            else:
                report = simulate(args.rules, args.cases, args.compare, args.workers, args.as_of, shown)
    except PolicyError as error:
        print(error, file=sys.stderr)
        print(f"\n{len(error.problems)} problem(s); the rules were not loaded.", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"cannot simulate: {error}", file=sys.stderr)
        return 1
    print(format_debtor_summary(report) if isinstance(report, DebtorSimulationReport) else format_summary(report))
    tables = write_outputs(report, args.json, args.html, args.export)
    for label, path in (("JSON", args.json), ("HTML", args.html)):
        if path:
            print(f"wrote {label} report to {path}")
    if tables:
        print(f"wrote its tables as CSV and XLSX to {tables}")
    return 0


def _misused(args: argparse.Namespace, debtors: bool) -> str | None:
    """Options that do not fit the file's form, said plainly."""
    if debtors and args.compare:
        return f"{args.cases} holds debtors (its first object has accounts): --compare compares the decisions of cases and is not supported for debtors"
    if not debtors and (args.days is not None or args.at_review):
        return f"--days and --at-review run debtors over days, but {args.cases} holds cases (no accounts in its first object): see docs/simulate.md"
    if args.days is not None and not 1 <= args.days <= 366:
        return f"--days must be 1 to 366, not {args.days}"
    return None

"""Decisions joined with their outcomes: the accounts `evaluate` measures.

Decisions come from either source the engine writes, told apart line by line:
the bulk `decide` output (engine.bulk.DECISION_COLUMNS, JSON Lines, CSV or
Parquet) or the decision log (engine/decision_record.py: a JSON line with a
flat `decision` and a `snapshot`; the segment and days past due are taken from
the flat decision when it has them, else from the snapshot).

The join rule, per case:
- each decision opens an observation window: from the day it was made (its
  `as_of`, UTC) for `window_days` days, or until the case's next decision,
  whichever ends first;
- an outcome row counts for the decision made on or before its date, the latest
  such one, if the row falls inside that decision's window; its amounts, costs
  and contacts are summed and its flags (cured, rolled, ...) OR-ed with the
  window's other rows;
- two decisions of one case on the same day: the later in the file stands (the
  earlier is counted in `replaced_decisions`);
- an outcome row with no decision for its case, dated before the case's first
  decision, or after its decision's window is not counted, and counted in the
  report's join summary: nothing is dropped silently.
"""

from __future__ import annotations

import bisect
import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.authoring import bulk_files
from engine.authoring.simulate_input import Invalid
from engine.authoring.outcomes import Outcome, Promise, RefusedRow

BULK, DECISION_LOG = "bulk", "decision_log"
NO_EXPERIMENT = ""  # a decision without experiments: evaluated as one group, without comparisons


@dataclass(frozen=True)
class DecidedCase:
    """One decision, as `evaluate` needs it."""

    line: int
    case_id: str
    decided_on: date  # the UTC day of its as_of
    arms: dict[str, str]  # experiment -> arm
    segment: str | None
    days_past_due: int | None
    action: str | None


RefusedDecision = RefusedRow


@dataclass
class Account:
    """A decision and what followed it inside its window."""

    decision: DecidedCase
    outcome_rows: int = 0
    currencies: set[str] = field(default_factory=set)
    paid: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    contacts: int = 0
    cured: bool = False
    rolled: bool = False
    promises_kept: int = 0
    promises_broken: int = 0
    complaint: bool = False
    opted_out: bool = False
    hardship: bool = False

    @property
    def currency(self) -> str | None:
        """The one currency of its money, None without rows or with several (then money is not counted)."""
        return next(iter(self.currencies)) if len(self.currencies) == 1 else None

    def add(self, outcome: Outcome) -> None:
        self.outcome_rows += 1
        self.currencies.add(outcome.currency)
        self.paid += outcome.paid_amount
        self.cost += outcome.contact_cost
        self.contacts += outcome.contacts
        self.cured |= outcome.cured
        self.rolled |= outcome.rolled
        self.promises_kept += outcome.promise is Promise.KEPT
        self.promises_broken += outcome.promise is Promise.BROKEN
        self.complaint |= outcome.complaint
        self.opted_out |= outcome.opted_out
        self.hardship |= outcome.hardship_declared


@dataclass
class JoinSummary:
    decisions: int = 0
    replaced_decisions: int = 0
    outcome_rows: int = 0
    outcome_rows_counted: int = 0
    outcome_rows_without_decision: int = 0
    outcome_rows_before_decision: int = 0
    outcome_rows_after_window: int = 0
    accounts_without_outcomes: int = 0
    accounts_with_several_currencies: int = 0


# --- reading decisions ---------------------------------------------------------------------------


def read_decisions(path: Path) -> tuple[str, list[DecidedCase | RefusedDecision]]:
    """The file's kind (BULK or DECISION_LOG, by its first row) and every row of it.
    ValueError for a file that cannot be read as its format."""
    kind = bulk_files.format_of(path)
    if kind == bulk_files.CSV:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            return BULK, [_from_flat(reader.line_num, {k: v or None for k, v in row.items()}) for row in reader]
    if kind == bulk_files.PARQUET:
        _, parquet = bulk_files._pyarrow()
        try:
            table = parquet.read_table(path)
        except Exception as error:  # pyarrow's own types for a file that is not Parquet
            raise ValueError(f"{path}: not a Parquet file ({error})") from None
        return BULK, [_from_flat(number, row) for number, row in enumerate(table.to_pylist(), start=1)]
    rows: list[DecidedCase | RefusedDecision] = []
    kinds: set[str] = set()
    for line, data in bulk_files.json_lines(path):
        if isinstance(data, Invalid):
            rows.append(RefusedDecision(*data))
        elif not isinstance(data, dict):
            rows.append(RefusedDecision(line, None, "line", "is not an object (one decision per line)"))
        elif isinstance(data.get("decision"), dict):
            kinds.add(DECISION_LOG)
            rows.extend(_from_record(line, data))
        else:
            kinds.add(BULK)
            rows.append(_from_flat(line, data))
    if len(kinds) > 1:
        raise ValueError(f"{path}: mixes decision-log records and `decide` rows; evaluate one kind at a time")
    return (kinds.pop() if kinds else BULK), rows


def _from_record(line: int, record: dict[str, Any]) -> Iterator[DecidedCase | RefusedDecision]:
    """A decision-log record: a case's one decision, or a debtor's account decisions."""
    logged = record.get("snapshot")
    snapshot: dict[str, Any] = logged if isinstance(logged, dict) else {}
    decision = record["decision"]
    if record.get("kind") == "debtor":
        accounts = {item.get("account_id"): item for item in snapshot.get("accounts", []) if isinstance(item, dict)}
        for account in decision.get("accounts") or []:
            yield _from_flat(line, account, accounts.get(account.get("case_id"), {}))
        return
    yield _from_flat(line, decision, snapshot)


def _from_flat(line: int, row: dict[str, Any], snapshot: dict[str, Any] | None = None) -> DecidedCase | RefusedDecision:
    snapshot = snapshot or {}
    case_id = row.get("case_id")
    if not isinstance(case_id, str) or not case_id:
        return RefusedDecision(line, None, "case_id", "is required")
    as_of = row.get("as_of")
    try:
        decided = datetime.fromisoformat(str(as_of).replace("Z", "+00:00"))
    except ValueError:
        return RefusedDecision(line, case_id, "as_of", f"is {as_of!r}, not an instant (ISO 8601)")
    if decided.tzinfo is None:
        return RefusedDecision(line, case_id, "as_of", f"is {as_of!r}, without an offset")
    days = row.get("days_past_due")
    if days is None:  # a decision-log record's flat decision may lack it; its snapshot keeps it
        days = snapshot.get("days_past_due")
    if days is not None:
        try:
            days = int(days)
        except (TypeError, ValueError):
            return RefusedDecision(line, case_id, "days_past_due", f"is {days!r}, not a whole number")
    segment = row.get("segment") or snapshot.get("segment")
    arms: dict[str, str] = {}
    for pair in str(row.get("experiment_arm") or "").split(","):
        if not pair:
            continue
        experiment, _, arm = pair.partition(":")
        if not arm:
            return RefusedDecision(line, case_id, "experiment_arm", f"has {pair!r}, not experiment:arm")
        arms[experiment] = arm
    return DecidedCase(line, case_id, decided.astimezone(timezone.utc).date(), arms, segment if isinstance(segment, str) else None, days, row.get("action"))


# --- the join ------------------------------------------------------------------------------------


def join(decisions: Iterable[DecidedCase], outcomes: Iterable[Outcome], window_days: int) -> tuple[list[Account], JoinSummary]:
    """The accounts (one per decision that stands), each with its window's outcomes summed."""
    summary = JoinSummary()
    by_case: dict[str, dict[date, Account]] = defaultdict(dict)
    for decision in decisions:
        days = by_case[decision.case_id]
        if decision.decided_on in days:
            summary.replaced_decisions += 1
        days[decision.decided_on] = Account(decision)
    ordered = {case_id: sorted(days.items()) for case_id, days in by_case.items()}
    for outcome in outcomes:
        summary.outcome_rows += 1
        windows = ordered.get(outcome.case_id)
        if windows is None:
            summary.outcome_rows_without_decision += 1
            continue
        at = bisect.bisect_right([day for day, _ in windows], outcome.date) - 1
        if at < 0:
            summary.outcome_rows_before_decision += 1
            continue
        opened, account = windows[at]
        closes = opened + timedelta(days=window_days)
        if at + 1 < len(windows):
            closes = min(closes, windows[at + 1][0])
        if outcome.date >= closes:
            summary.outcome_rows_after_window += 1
            continue
        account.add(outcome)
        summary.outcome_rows_counted += 1
    accounts = [account for days in ordered.values() for _, account in days]
    summary.decisions = len(accounts)
    summary.accounts_without_outcomes = sum(1 for account in accounts if account.outcome_rows == 0)
    summary.accounts_with_several_currencies = sum(1 for account in accounts if len(account.currencies) > 1)
    return accounts, summary

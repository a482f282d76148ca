"""What happened after a decision: the outcomes file `evaluate` joins with decisions.

One row per case and date (JSON Lines, CSV or Parquet, by extension): money paid,
whether the case was cured (back to current) or rolled to a later bucket, a
promise kept or broken, a complaint, an opt-out, hardship declared, and what the
contacts cost. Several rows of one case are summed over the observation window
(engine/authoring/evaluate_join.py). docs/outcomes.md documents every field;
`rules/schema/outcome.schema.json` is generated from `Outcome`.

A bad row is never dropped: it comes back as a `RefusedOutcome` naming its line
(the file's, header counted; a Parquet row's position from 1) and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.authoring import bulk_files
from engine.authoring.simulate_input import Invalid

CURRENCY_PATTERN = r"^[A-Z]{3}$"
OUTCOME_COLUMNS = (
    "case_id", "date", "paid_amount", "currency", "cured", "rolled", "promise",
    "complaint", "opted_out", "hardship_declared", "contact_cost", "contacts",
)
_BOOLEAN_FIELDS = ("cured", "rolled", "complaint", "opted_out", "hardship_declared")
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})


class Promise(str, Enum):
    KEPT = "kept"
    BROKEN = "broken"
    NONE = "none"


class Outcome(BaseModel):
    """One case on one date: what it paid, where it went, what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Outcome")

    case_id: str = Field(min_length=1, max_length=128, description="the case the decision was about")
    date: dt.date = Field(description="the day this happened (ISO 8601, YYYY-MM-DD)")
    paid_amount: Decimal = Field(default=Decimal(0), ge=0, description="money received that day, exact decimal text, e.g. \"12.50\"")
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code of paid_amount and contact_cost")
    cured: bool = Field(default=False, description="the account came back to current")
    rolled: bool = Field(default=False, description="the account rolled to a later days-past-due bucket")
    promise: Promise = Field(default=Promise.NONE, description="a promise to pay that fell due that day: kept, broken, or none")
    complaint: bool = Field(default=False, description="the debtor complained")
    opted_out: bool = Field(default=False, description="the debtor opted out of a channel")
    hardship_declared: bool = Field(default=False, description="the debtor declared financial hardship")
    contact_cost: Decimal = Field(default=Decimal(0), ge=0, description="what that day's contacts cost, in currency")
    contacts: int = Field(default=0, ge=0, description="contact attempts made that day")

    @field_validator("paid_amount", "contact_cost", mode="before")
    @classmethod
    def _exact_money(cls, value: Any) -> Any:
        # A float has already lost cents; money travels as text (or an integer).
        if isinstance(value, float):
            raise ValueError("is a floating-point number; give money as exact text, e.g. \"12.50\"")
        return value


@dataclass(frozen=True)
class RefusedRow:
    """A row of an outcomes or decisions file that was refused: where it was, the field and
    why (the first problem)."""

    line: int
    case_id: str | None
    field: str
    problem: str

    def to_row(self) -> dict[str, Any]:
        return {"line": self.line, "case_id": self.case_id, "field": self.field, "problem": self.problem}


RefusedOutcome = RefusedRow


def outcome_schema() -> dict[str, Any]:
    """The JSON Schema of one outcome row (rules/schema/outcome.schema.json)."""
    schema = Outcome.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = "One row of an outcomes file (docs/outcomes.md): one case on one date."
    return schema


def parse_outcome(line: int, data: Any) -> Outcome | RefusedOutcome:
    """Row `line` as an Outcome, or refused naming the first bad field."""
    if not isinstance(data, dict):
        return RefusedOutcome(line, None, "row", "is not an object (one outcome per row)")
    case_id = data.get("case_id")
    try:
        return Outcome.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "row"
        problem = "is required" if first["type"] == "missing" else "is not a known field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        return RefusedOutcome(line, case_id if isinstance(case_id, str) else None, field, problem)


def read_outcomes(path: Path) -> Iterator[Outcome | RefusedOutcome]:
    """Every row of the file, in order, as an Outcome or a RefusedOutcome.
    ValueError for a file that cannot be read as its format (unknown extension, not Parquet)."""
    kind = bulk_files.format_of(path)
    if kind == bulk_files.PARQUET:
        yield from _parquet(path)
    elif kind == bulk_files.CSV:
        yield from _csv(path)
    else:
        yield from _json_lines(path)


def _json_lines(path: Path) -> Iterator[Outcome | RefusedOutcome]:
    for line, data in bulk_files.json_lines(path):
        yield RefusedOutcome(*data) if isinstance(data, Invalid) else parse_outcome(line, data)


def _csv(path: Path) -> Iterator[Outcome | RefusedOutcome]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        unknown = [name for name in reader.fieldnames or () if name not in OUTCOME_COLUMNS]
        if unknown:  # a misspelt header would silently drop a flag from every row
            raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(OUTCOME_COLUMNS)}")
        for row in reader:
            line = reader.line_num
            if None in row:
                yield RefusedOutcome(line, row.get("case_id") or None, "row", "has more cells than the header has columns")
                continue
            cells = {name: value for name, value in row.items() if value not in ("", None)}
            for name in _BOOLEAN_FIELDS:
                if name in cells:
                    text = cells[name].strip().lower()
                    if text not in _TRUE | _FALSE:
                        yield RefusedOutcome(line, row.get("case_id") or None, name, f"is {cells[name]!r}, not true or false")
                        break
                    cells[name] = text in _TRUE
            else:
                yield parse_outcome(line, cells)


def _parquet(path: Path) -> Iterator[Outcome | RefusedOutcome]:
    _, parquet = bulk_files._pyarrow()
    try:
        table = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own types for a file that is not Parquet
        raise ValueError(f"{path}: not a Parquet file ({error})") from None
    unknown = [name for name in table.schema_arrow.names if name not in OUTCOME_COLUMNS]
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(OUTCOME_COLUMNS)}")
    line = 0
    for batch in table.iter_batches(batch_size=bulk_files.BATCH):
        for record in batch.to_pylist():
            line += 1
            # A double column for money is refused row by row, as a JSON float is; a decimal column is exact.
            yield parse_outcome(line, {name: value for name, value in record.items() if value is not None})


def write_outcomes(path: Path, outcomes: list[Outcome]) -> None:
    """The outcomes in the format the extension names, columns in OUTCOME_COLUMNS order."""
    rows = [_flat(outcome) for outcome in outcomes]
    kind = bulk_files.format_of(path)
    if kind == bulk_files.PARQUET:
        arrow, parquet = bulk_files._pyarrow()
        types = {"cured": arrow.bool_(), "rolled": arrow.bool_(), "complaint": arrow.bool_(), "opted_out": arrow.bool_(),
                 "hardship_declared": arrow.bool_(), "contacts": arrow.int64()}
        schema = arrow.schema([arrow.field(name, types.get(name, arrow.string())) for name in OUTCOME_COLUMNS])
        parquet.write_table(arrow.Table.from_pylist(rows, schema=schema), path)
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        if kind == bulk_files.CSV:
            writer = csv.DictWriter(handle, OUTCOME_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows({name: ("true" if value is True else "false" if value is False else value) for name, value in row.items()} for row in rows)
        else:
            handle.writelines(json.dumps(row) + "\n" for row in rows)


def _flat(outcome: Outcome) -> dict[str, Any]:
    return {
        "case_id": outcome.case_id, "date": outcome.date.isoformat(), "paid_amount": str(outcome.paid_amount), "currency": outcome.currency,
        "cured": outcome.cured, "rolled": outcome.rolled, "promise": outcome.promise.value, "complaint": outcome.complaint,
        "opted_out": outcome.opted_out, "hardship_declared": outcome.hardship_declared, "contact_cost": str(outcome.contact_cost),
        "contacts": outcome.contacts,
    }

"""Reading a portfolio for `simulate`: JSON Lines (one snapshot per line) or flat CSV,
or JSON Lines of debtors (one DecideDebtor debtor per line).

A JSON line is parsed later, in the worker that decides it; a CSV row becomes a
snapshot dict, its text passed on as it is, so the snapshot's own validation
names a bad cell. The CSV columns follow the snapshot model, so a flag added to
the snapshot becomes a column by itself.

`read_cases` gives snapshot dicts; `read_raw_cases` gives a CSV row as its cells
(`CsvRow`), for the process that decides it to make the dict (`case_data`): the
reading process of a run over many processes is its one serial part, so it only
splits the file into rows.
"""

from __future__ import annotations

import csv
import functools
import json
import types
import typing
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Union

from pydantic import BaseModel

from engine.snapshot import CaseSnapshot


class Invalid(NamedTuple):
    line: int
    case_id: str | None
    field: str
    problem: str


class CsvRow(NamedTuple):
    """A CSV row as read: its cells under the file's header (the header is one object per
    file, so a pickled chunk carries it once)."""

    header: tuple[str, ...]
    cells: list[str]


# A JSON line, a CSV row (made a snapshot dict, or as read), or already refused.
Payload = Union[str, dict[str, Any], CsvRow, Invalid]


_GROUP_PREFIX = {"consents": "consent_", "gdpr": "gdpr_", "legal": "legal_", "payment": ""}
ATTRIBUTE_PREFIX = "attr_"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is Union else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def csv_columns() -> dict[str, tuple[str, ...]]:
    """CSV column -> path in the snapshot, derived from the snapshot model so new flags appear by themselves."""
    columns: dict[str, tuple[str, ...]] = {}
    for name, spec in CaseSnapshot.model_fields.items():
        if typing.get_origin(spec.annotation) in (list, dict):  # contacts, arrangements: JSON Lines only; attributes: attr_<name>
            continue
        model = _nested_model(spec.annotation)
        if model is None:
            columns[name] = (name,)
            continue
        prefix = _GROUP_PREFIX.get(name, f"{name}_")
        for inner in model.model_fields:
            columns[prefix + inner] = (name, inner)
    return columns


def case_from_row(row: dict[str, str], columns: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A snapshot dict from a CSV row. Empty cells are left out (the default applies);
    text is passed on as it is, so the snapshot's own validation names a bad cell."""
    case: dict[str, Any] = {}
    for column, text in row.items():
        if text is None or text.strip() == "":
            continue
        if column.startswith(ATTRIBUTE_PREFIX):
            case.setdefault("attributes", {})[column[len(ATTRIBUTE_PREFIX):]] = text.strip()
            continue
        path = columns[column]
        target = case
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = text.strip()
    return case


def row_from_case(case: dict[str, Any], columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The CSV row of a snapshot dict (prior contacts are not carried)."""
    row: dict[str, str] = {}
    for column, path in columns.items():
        value: Any = case
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            row[column] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for key, value in (case.get("attributes") or {}).items():
        row[ATTRIBUTE_PREFIX + key] = str(value)
    return row


def _read_csv(path: Path) -> Iterator[tuple[int, Payload]]:
    columns = csv_columns()
    for line, row in _read_csv_rows(path):
        yield line, row if isinstance(row, Invalid) else case_from_row(dict(zip(row.header, row.cells)), columns)


def _read_csv_rows(path: Path) -> Iterator[tuple[int, CsvRow | Invalid]]:
    columns = csv_columns()
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel writes a BOM
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        unknown = [name for name in header if name not in columns and not name.startswith(ATTRIBUTE_PREFIX)]
        if unknown:
            # A misspelt header would silently drop a flag for every case: refuse the file.
            raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(columns)} and attr_<name>")
        if "case_id" not in header:
            raise ValueError(f"{path}: the header has no case_id column")
        for cells in reader:
            if not cells:
                continue  # a blank line is no row (as csv.DictReader reads it)
            line = reader.line_num
            if len(cells) > len(header):
                case_id = cells[header.index("case_id")]
                yield line, Invalid(line, case_id, "row", "has more cells than the header")
                continue
            yield line, CsvRow(header, cells)  # a short row's missing cells are empty: zip() stops at the last


def _read_json_lines(path: Path) -> Iterator[tuple[int, Payload]]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield line, text  # parsed in the worker, in parallel


def read_cases(path: Path) -> Iterator[tuple[int, Payload]]:
    """(line number, case) for every case of a JSON Lines or CSV file (by its suffix)."""
    return _read_csv(path) if path.suffix.lower() == ".csv" else _read_json_lines(path)


def read_raw_cases(path: Path) -> Iterator[tuple[int, Payload]]:
    """As read_cases, but a CSV row as its cells (CsvRow): `case_data` makes it a case
    in the worker that decides it. A file that cannot be read fails here, at once."""
    return _read_csv_rows(path) if path.suffix.lower() == ".csv" else _read_json_lines(path)


@functools.cache
def _columns() -> dict[str, tuple[str, ...]]:
    return csv_columns()  # the same for every row: derived once per process


def case_data(line: int, payload: Payload) -> Any:
    """The case of a payload as JSON data (a dict, unless a JSON line holds another value),
    or the Invalid of a row that cannot be one: JSON that does not parse, a refused row."""
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as error:
            return Invalid(line, None, "line", f"not valid JSON: {error.msg} (column {error.colno})")
    if isinstance(payload, CsvRow):
        return case_from_row(dict(zip(payload.header, payload.cells)), _columns())
    return payload


CASES, DEBTORS = "cases", "debtors"
FORM_LOOKAHEAD = 1000  # lines read to find the first JSON object


def form_of(path: Path) -> str:
    """DEBTORS when the file's first JSON object has `accounts` (a debtor of
    DecideDebtor), else CASES: a CSV file, or JSON Lines of case snapshots. Lines
    that are not JSON objects are skipped here (they are reported as invalid later)."""
    if path.suffix.lower() == ".csv":
        return CASES
    with path.open(encoding="utf-8") as handle:
        for _, text in zip(range(FORM_LOOKAHEAD), handle):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return DEBTORS if "accounts" in data else CASES
    return CASES

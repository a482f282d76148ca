"""The files of `decide`: cases in, decision rows and refused rows out, in the
format the extension names (.jsonl, .csv or .parquet). See docs/decide.md.

Cases: a JSON line is one snapshot, parsed later in the worker that decides it;
a CSV row has simulate's flat columns (engine/authoring/simulate_input.py); a
Parquet row has, by column name, either the snapshot's own fields (structs for
consents, gdpr, legal and payment, lists of structs for prior_contacts and
arrangements) or the CSV's flat columns, or a mix of both. A null is an absent
field, whose default applies. An unknown column refuses the whole file: a
misspelt header would silently drop a flag for every case.

Rows out have the columns of engine.bulk, in order; Parquet with a fixed schema
(text, int64, bool, all nullable), so two runs over the same file write the
same bytes. pyarrow is needed for Parquet only (the `parquet` extra).

A run over many processes has one serial part, the process that reads and
writes: so the workers get rows as read (`read_raw`: a JSON line's text, a CSV
row's cells, a Parquet row as pyarrow gives it) and send back JSON Lines and CSV
as the text to write (`formatter`); a writer writes that text as it stands
(`write_text`), the same bytes its `write` gives the same rows. Parquet rows
come back as rows: only the writer makes row groups.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from functools import partial
from types import ModuleType
from typing import Any, NamedTuple, Protocol

from engine.authoring.simulate_input import ATTRIBUTE_PREFIX, Payload, case_data, csv_columns, read_cases, read_raw_cases
from engine.bulk import BOOLEAN_COLUMNS, INTEGER_COLUMNS
from engine.snapshot import CaseSnapshot

JSON_LINES, CSV, PARQUET = ".jsonl", ".csv", ".parquet"
FORMATS = (JSON_LINES, CSV, PARQUET)
ROW_GROUP = 65_536  # Parquet rows per row group written
BATCH = 4_096  # Parquet rows read at a time


def format_of(path: Path) -> str:
    """The file's format, by its extension; ValueError for any other extension."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown extension {suffix or '(none)'!r}; use .jsonl, .csv or .parquet")
    return suffix


def _pyarrow() -> tuple[ModuleType, ModuleType]:
    try:
        import pyarrow  # type: ignore[import-untyped]  # no type information shipped
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError:
        raise ValueError("Parquet needs pyarrow: pip install 'collection-strategy-engine[parquet]' (or pip install pyarrow)") from None
    return pyarrow, pyarrow.parquet


# --- cases in ------------------------------------------------------------------------------------


def read(path: Path) -> Iterator[tuple[int, Payload]]:
    """(row number, case) for every case of the file: its line for JSON Lines and CSV (the
    header counted), its position from 1 for Parquet. ValueError for a file that cannot be read as its format."""
    if format_of(path) == PARQUET:
        flat = _flat_columns()
        return ((number, _case_from_record(record, flat)) for number, record in _parquet_records(path))
    return read_cases(path)


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each line of a JSON Lines file that is not blank; a line
    that is not JSON as the Invalid naming it (field "line"), never dropped."""
    return ((line, case_data(line, text)) for line, text in read_cases(path))


class ParquetRow(NamedTuple):
    """A Parquet row as pyarrow gives it (`case_of` makes it a case where it is decided)."""

    record: dict[str, Any]


def read_raw(path: Path) -> Iterator[tuple[int, Payload | ParquetRow]]:
    """As `read`, but a CSV row as its cells (simulate_input.case_data makes it a case where
    it is decided) and a Parquet row as pyarrow gives it (`case_of`)."""
    if format_of(path) == PARQUET:
        return ((number, ParquetRow(record)) for number, record in _parquet_records(path))
    return read_raw_cases(path)


@functools.cache
def _flat_columns() -> dict[str, tuple[str, ...]]:
    return csv_columns()  # the same for every row: derived once per process


def case_of(payload: Payload | ParquetRow) -> Payload:
    """A payload of `read_raw` as `read` gives it (only a Parquet row changes)."""
    return _case_from_record(payload.record, _flat_columns()) if isinstance(payload, ParquetRow) else payload


def count(path: Path) -> int:
    """About how many cases the file holds, cheaply: for the progress bar only."""
    if format_of(path) == PARQUET:
        return int(_pyarrow()[1].ParquetFile(path).metadata.num_rows)
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return max(0, lines - 1) if format_of(path) == CSV else lines


def _parquet_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position from 1, the row as pyarrow gives it); ValueError for a file that is not Parquet or has an unknown column."""
    _, parquet = _pyarrow()
    try:
        table = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own types for a file that is not Parquet
        raise ValueError(f"{path}: not a Parquet file ({error})") from None
    flat, fields = csv_columns(), CaseSnapshot.model_fields
    names = table.schema_arrow.names
    unknown = [name for name in names if name not in fields and name not in flat and not name.startswith(ATTRIBUTE_PREFIX)]
    if unknown:
        raise ValueError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are the snapshot's fields ({', '.join(fields)}), "
            f"or the flat columns of CSV ({', '.join(flat)}) and attr_<name>"
        )
    if "case_id" not in names:
        raise ValueError(f"{path}: has no case_id column")
    number = 0
    for batch in table.iter_batches(batch_size=BATCH):
        for record in batch.to_pylist():
            number += 1
            yield number, record


def _case_from_record(record: dict[str, Any], flat: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    case: dict[str, Any] = {}
    for name, value in record.items():
        if value is None:
            continue
        if name.startswith(ATTRIBUTE_PREFIX):
            case.setdefault("attributes", {})[name[len(ATTRIBUTE_PREFIX):]] = value
            continue
        path = flat.get(name, (name,))
        target = case
        for part in path[:-1]:
            target = target.setdefault(part, {})
        present = _without_nulls(value)
        if isinstance(present, dict) and isinstance(target.get(path[-1]), dict):
            target[path[-1]].update(present)  # a struct column beside flat columns of the same group
        else:
            target[path[-1]] = present
    return case


def _without_nulls(value: Any) -> Any:
    """A struct's null fields are absent fields (Arrow gives every struct all its fields)."""
    if isinstance(value, dict):
        return {key: _without_nulls(inner) for key, inner in value.items() if inner is not None}
    if isinstance(value, list):
        return [_without_nulls(inner) for inner in value]
    return value


# --- rows out ------------------------------------------------------------------------------------


class RowWriter(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def write_text(self, text: str) -> None: ...

    def close(self) -> None: ...


def writer(path: Path, columns: Sequence[str], kind: str) -> RowWriter:
    """A writer of rows (tuples in `columns` order) to `path` in format `kind` (one of FORMATS)."""
    if kind == PARQUET:
        return _Parquet(path, columns)
    return _Csv(path, columns) if kind == CSV else _JsonLines(path, columns)


RowFormatter = Callable[[Sequence[tuple[Any, ...]]], str]


def formatter(columns: Sequence[str], kind: str) -> RowFormatter | None:
    """The text the writer of `kind` writes for rows after its header, for a worker to
    make; None for Parquet, a binary file whose row groups only its writer makes."""
    if kind == PARQUET:
        return None
    return _csv_text if kind == CSV else partial(_json_lines_text, tuple(columns))


def _json_lines_text(columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> str:
    return "".join([json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n" for row in rows])


class _JsonLines:
    """One JSON object per line, every column present (null when empty), in order."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.handle = path.open("w", encoding="utf-8", newline="\n")
        self.columns = tuple(columns)

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.handle.write(_json_lines_text(self.columns, rows))

    def write_text(self, text: str) -> None:
        self.handle.write(text)

    def close(self) -> None:
        self.handle.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(rows: Sequence[tuple[Any, ...]]) -> str:
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\n").writerows([_cell(value) for value in row] for row in rows)
    return text.getvalue()


class _Csv:
    """A header, then one line per row; an empty cell is an empty column, booleans are true/false."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.handle = path.open("w", encoding="utf-8", newline="")
        csv.writer(self.handle, lineterminator="\n").writerow(columns)

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.handle.write(_csv_text(rows))

    def write_text(self, text: str) -> None:
        self.handle.write(text)

    def close(self) -> None:
        self.handle.close()


class _Parquet:
    """Row groups of ROW_GROUP rows under a fixed schema: int64 and bool where engine.bulk says, text elsewhere."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.arrow, parquet = _pyarrow()
        kinds = {"int": self.arrow.int64(), "bool": self.arrow.bool_(), "text": self.arrow.string()}
        self.schema = self.arrow.schema(
            [self.arrow.field(name, kinds["int" if name in INTEGER_COLUMNS else "bool" if name in BOOLEAN_COLUMNS else "text"], nullable=True) for name in columns]
        )
        self.file = parquet.ParquetWriter(path, self.schema)
        self.pending: list[tuple[Any, ...]] = []

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.pending.extend(rows)
        while len(self.pending) >= ROW_GROUP:  # groups of exactly ROW_GROUP: the same bytes whatever the chunks
            self._flush(self.pending[:ROW_GROUP])
            del self.pending[:ROW_GROUP]

    def write_text(self, text: str) -> None:
        raise TypeError("Parquet is written from rows (formatter() gives no text for it)")

    def _flush(self, rows: list[tuple[Any, ...]]) -> None:
        arrays = [self.arrow.array(values, type=field.type) for values, field in zip(zip(*rows), self.schema)]
        self.file.write_table(self.arrow.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        if self.pending:
            self._flush(self.pending)
        self.file.close()

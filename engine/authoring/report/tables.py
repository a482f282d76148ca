"""The tables of a report: what the page shows and what its CSV and XLSX files hold.

A table keeps its values raw (counts as integers, shares as fractions of one) and
names the kind of each column; the page formats them (1,234 and 12.3%), the
exports write the numbers themselves, so a spreadsheet can add them up again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

# text: a name, wrapped between words only; free: ids and messages, wrapped anywhere rather than widen
# the table; count: an integer; share: a fraction of one; number: any other number.
Kind = Literal["text", "free", "count", "share", "number"]
Value = str | int | float | None

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """One table of a report, shown on the page and exported as <key>.csv and <key>.xlsx.

    `marked` holds the (row, column) cells the reader's eye should go to (a case
    that moved, a cap exceeded). A from→to matrix (`matrix`) names its rows in
    the first column and its columns in the header row; the page keeps both in
    view while it scrolls.
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]
    marked: frozenset[tuple[int, int]] = frozenset()
    matrix: bool = False

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"table key {self.key!r}: lower-case letters, digits, '-' and '_' only (it names the exported files)")
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.key!r}, row {number}: {len(row)} values for {len(self.columns)} columns")


def slug(text: str) -> str:
    """A table key from a name of the data (an experiment id, say): lower case, anything else a '-'."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")[:60] or "table"


def table(key: str, title: str, columns: Sequence[Column | str], rows: Iterable[Sequence[Value]], marked: Iterable[tuple[int, int]] = ()) -> Table:
    """A table; a column given as a plain name holds text."""
    return Table(key, title, tuple(column if isinstance(column, Column) else Column(column) for column in columns), tuple(tuple(row) for row in rows), frozenset(marked))


def count_table(key: str, title: str, heading: str, counts: Mapping[str, int], total: int, unit: str = "cases") -> Table:
    """Names, their counts and their shares of `total`; no rows when there is nothing to share."""
    rows = [(name, count, count / total) for name, count in counts.items()] if total else []
    return table(key, title, [heading, Column(unit, "count"), Column("share", "share")], rows)


def matrix(key: str, title: str, corner: str, rows: Mapping[str, Mapping[str, int]], columns: Sequence[str], moved: bool = False) -> Table:
    """Counts by row and column with a total per row. With `moved`, rows and columns name
    the same things (from → to) and every count off the diagonal is marked: those moved."""
    body: list[tuple[Value, ...]] = [(name, *(counts.get(column, 0) for column in columns), sum(counts.values())) for name, counts in rows.items()]
    marked = {
        (row, index + 1)
        for row, (name, counts) in enumerate(rows.items())
        for index, column in enumerate(columns)
        if moved and column != name and counts.get(column)
    }
    header = [Column(corner), *(Column(column, "count") for column in columns), Column("all", "count")]
    return Table(key, title, tuple(header), tuple(body), frozenset(marked), matrix=True)

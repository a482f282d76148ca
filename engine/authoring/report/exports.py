"""Every table of a report as a CSV file and an XLSX workbook, beside the page.

CSV (the standard library) for pipelines and any spreadsheet; XLSX
(XlsxWriter: write-only, no dependencies) so that a share arrives as a number
formatted as a percentage, not as the text "12.3%". Both hold the raw values of
the Table the page shows: counts as integers, shares as fractions of one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from engine.authoring.report.tables import Table

_SHEET_NAME = 31  # Excel's limit on a worksheet's name
_FORMATS = {"count": "#,##0", "share": "0.0%", "number": "General"}
# A spreadsheet opening a CSV runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"): such text is written after an apostrophe, which spreadsheets
# show as text and hide. Case ids, segments and rule names are the caller's text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value as the CSV holds it: text that a spreadsheet would run as a formula is
    quoted with an apostrophe; an empty cell for a missing value."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(item: Table, path: Path) -> None:
    """A header row of the column names, then the rows (csv_cell)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_cell(column.name) for column in item.columns])
        writer.writerows([[csv_cell(value) for value in row] for row in item.rows])


def write_xlsx(item: Table, path: Path) -> None:
    """One worksheet named after the table, its header frozen, numbers formatted by the column's kind."""
    # Imported here: every command of the CLI imports simulate, and only a page's exports need it.
    import xlsxwriter  # type: ignore[import-untyped]  # no stubs, no py.typed

    with xlsxwriter.Workbook(str(path)) as workbook:
        sheet = workbook.add_worksheet(item.key[:_SHEET_NAME])
        bold = workbook.add_format({"bold": True})
        formats = {kind: workbook.add_format({"num_format": pattern}) for kind, pattern in _FORMATS.items()}
        for index, column in enumerate(item.columns):
            sheet.write_string(0, index, column.name, bold)
            widest = max([len(column.name), *(len(str(row[index])) for row in item.rows if row[index] is not None)])
            sheet.set_column(index, index, min(60, widest + 2), formats.get(column.kind))
        for number, row in enumerate(item.rows, 1):
            for index, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(number, index, value)  # never read as a formula or a number
                else:
                    sheet.write_number(number, index, value)
        sheet.freeze_panes(1, 1 if item.matrix else 0)


def write_tables(tables: Iterable[Table], folder: Path) -> list[Path]:
    """<key>.csv and <key>.xlsx for each table in `folder` (made if missing); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in tables:
        for suffix, write in ((".csv", write_csv), (".xlsx", write_xlsx)):
            path = folder / f"{item.key}{suffix}"
            write(item, path)
            written.append(path)
    return written

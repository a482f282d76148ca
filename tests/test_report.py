"""The report package (engine/authoring/report/): templates, charts, tables and their exports.

The browser's view of the pages is tests/test_report_browser.py; here, what the
templates and the exports hold.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import jinja2
import pytest

from engine.authoring.report import _environment, breakable, render
from engine.authoring.report.charts import Estimate, bar_chart, comparison_chart, interval_chart, interval_table
from engine.authoring.report.exports import write_tables
from engine.authoring.report.tables import Column, Table, matrix, table
from engine.authoring.simulate_html import simulation_page
from engine.authoring.cli import main
from tests.conftest import REPO
from tests.test_report_browser import cases_report


def macro(call: str, **context: object) -> str:
    return _environment().from_string('{% import "macros.html" as m %}' + call).render(**context)


def test_a_value_the_template_needs_and_is_not_given_is_an_error_not_an_empty_cell() -> None:
    context = simulation_page(cases_report()).context
    del context["colours"]
    with pytest.raises(jinja2.UndefinedError, match="colours"):
        render("simulate.html", exports=None, **context)


def test_names_are_escaped_and_may_wrap_only_where_the_page_allows() -> None:
    assert str(breakable("<b>pl/draft_act.calls")) == "&lt;b&gt;pl/<wbr>draft_<wbr>act.<wbr>calls"
    page = macro("{{ m.bar_chart(chart) }}", chart=bar_chart("t", {"<script>x</script>": 3}, 4))
    assert "<script>" not in page and "&lt;script&gt;" in page and "3 (75.0%)" in page


def test_the_comparison_puts_baseline_and_change_side_by_side_with_the_difference() -> None:
    chart = comparison_chart("actions", {"CALL": 30, "SEND_REMINDER": 70}, {"CALL": 45, "SEND_REMINDER": 50, "FINAL_NOTICE": 5}, baseline_label="old", change_label="new")
    assert [(row.name, row.baseline, row.change, row.delta) for row in chart.rows] == [("CALL", 30, 45, 15), ("SEND_REMINDER", 70, 50, -20), ("FINAL_NOTICE", 0, 5, 5)]
    assert chart.rows[0].delta_share == pytest.approx(0.15)
    page = macro("{{ m.comparison_chart(chart) }}", chart=chart)
    assert "30 → 45 <strong class=\"up\">+15</strong> (+15.0 pp)" in page and "<strong class=\"down\">-20</strong>" in page
    exported = chart.table("compared", "action")
    assert [column.name for column in exported.columns][:4] == ["action", "old", "new", "difference"] and exported.rows[1][3] == -20


def test_an_interval_chart_draws_each_value_with_its_interval_and_refuses_one_outside_it() -> None:
    estimates = [Estimate("champion", 0.20, 0.18, 0.22), Estimate("challenger_with_a_long_name", 0.25, 0.21, 0.30)]
    chart = interval_chart("payment rate by arm", estimates)
    assert (chart.start, chart.end) == ("0.0%", "30.0%")  # from zero, so lengths compare
    assert (interval_chart("t", estimates, from_zero=False).start, chart.zero) == ("18.0%", 0)
    champion = chart.intervals[0]
    assert champion.text == "20.0% [18.0%, 22.0%]" and champion.low == pytest.approx(60) and champion.at == pytest.approx(200 / 3)
    page = macro("{{ m.interval_chart(chart) }}", chart=chart)
    assert "challenger_<wbr>with_<wbr>a_<wbr>long_<wbr>name" in page and "25.0% [21.0%, 30.0%]" in page
    assert interval_table("rates", "payment rate", "arm", estimates).rows[1] == ("challenger_with_a_long_name", 0.25, 0.21, 0.30)
    with pytest.raises(ValueError, match="estimate 'odd': the interval \\[0.1, 0.2\\] does not hold the value 0.3"):
        interval_chart("t", [Estimate("odd", 0.3, 0.1, 0.2)])


def test_a_matrix_marks_what_moved_and_totals_each_row() -> None:
    moved = matrix("m", "t", "from \\ to", {"CALL": {"CALL": 5, "SEND_REMINDER": 2}, "SEND_REMINDER": {"SEND_REMINDER": 9}}, ["CALL", "SEND_REMINDER"], moved=True)
    assert moved.rows == (("CALL", 5, 2, 7), ("SEND_REMINDER", 0, 9, 9)) and moved.marked == {(0, 2)}
    page = macro("{{ m.table(t, 'x_files') }}", t=moved)
    assert '<td class="moved">2</td>' in page and '<td class="diagonal">5</td>' in page
    assert 'href="x_files/m.csv"' in page and 'href="x_files/m.xlsx"' in page


def test_a_table_refuses_a_row_of_the_wrong_length_naming_it() -> None:
    with pytest.raises(ValueError, match="table 'x', row 2: 1 values for 2 columns"):
        table("x", "t", ["a", "b"], [("1", 2), ("3",)])


def test_the_exports_hold_the_numbers_themselves(tmp_path: Path) -> None:
    item = table("shares", "t", ["action", Column("cases", "count"), Column("share", "share"), Column("note", "free")], [
        ("CALL", 1234, 0.25, "=HYPERLINK(\"x\")"), ("NO_CONTACT", 3702, 0.75, None), ("@SUM(A1)", -2, -0.5, "+3.4 points"), ("-cmd", 0, 0.0, "a=b"),
    ])
    written = write_tables([item], tmp_path / "out")
    assert [path.name for path in written] == ["shares.csv", "shares.xlsx"]
    with written[0].open(encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [["action", "cases", "share", "note"], ["CALL", "1234", "0.25", "'=HYPERLINK(\"x\")"], ["NO_CONTACT", "3702", "0.75", ""],
            ["'@SUM(A1)", "-2", "-0.5", "'+3.4 points"], ["'-cmd", "0", "0.0", "a=b"],  # text that would run as a formula is quoted; numbers stay numbers
        ]
    with zipfile.ZipFile(written[1]) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        styles = book.read("xl/styles.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<v>1234</v>" in sheet and "<v>0.25</v>" in sheet and "<f>" not in sheet  # numbers as numbers; text never a formula
    assert 'formatCode="0.0%"' in styles and "=HYPERLINK" in strings.replace("&quot;", '"')
    assert '<pane ySplit="1"' in sheet  # the header stays in view


def test_the_command_writes_every_table_beside_the_page_or_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"case_id": "c-1", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "420.00", "currency": "PLN", "days_past_due": 12, "segment": "retail"}) + "\n", encoding="utf-8")
    base = ["simulate", str(cases), "--rules", str(REPO / "rules"), "--as-of", "2026-11-24T10:00:00+01:00", "--workers", "1"]
    assert main([*base, "--html", str(tmp_path / "my report.html")]) == 0
    folder = tmp_path / "my report_files"
    page = (tmp_path / "my report.html").read_text(encoding="utf-8")
    assert (folder / "actions.csv").exists() and (folder / "actions.xlsx").exists() and 'href="my%20report_files/actions.csv"' in page
    assert f"wrote its tables as CSV and XLSX to {folder}" in capsys.readouterr().out
    assert main([*base, "--export", str(tmp_path / "tables")]) == 0
    assert sorted(path.name for path in (tmp_path / "tables").iterdir()) == sorted(path.name for path in folder.iterdir())


def test_two_tables_of_one_page_never_share_a_key() -> None:
    from engine.authoring.report import tables_of

    with pytest.raises(ValueError, match="two tables are keyed 'a'"):
        tables_of(Table("a", "t", (), ()), Table("a", "u", (), ()))

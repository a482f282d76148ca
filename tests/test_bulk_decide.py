"""`collection-strategy decide`: every format in and out, any number of workers, the same
decisions as the engine itself (decision_row of engine.decide, the oracle), refused rows
reported with their row, field and reason, and the same bytes twice.

Commands that start worker processes run in a subprocess with a timeout, so a pool
that hangs fails the test instead of CI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.authoring.bulk_decide import DECIDED, REFUSED, UNUSABLE
from engine.authoring.cli import main
from engine.authoring.portfolio import synthetic_portfolio
from engine.authoring.simulate_input import csv_columns, row_from_case
from engine.bulk import DECISION_COLUMNS, REFUSAL_COLUMNS, decision_row
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from tests.conftest import REPO

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
COUNT = 250  # more than two chunks of 100: with 2 workers the caller decides some itself
TIMEOUT = 300


def decide(cases: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    command = [sys.executable, "-m", "engine.authoring.cli", "decide", str(cases), "--out", str(out), "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat(), *options]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)


def flat(case: dict[str, Any]) -> dict[str, Any]:
    """The case as a CSV row carries it: without contact histories, arrangements and typed inputs (docs/inputs.md)."""
    return {key: value for key, value in case.items() if key not in ("prior_contacts", "arrangements", "inputs")}


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return [flat(case) for case in synthetic_portfolio(COUNT, AS_OF)]


@pytest.fixture(scope="module")
def oracle(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = build_engine(REPO / "rules")
    return [row_of(engine, case) for case in cases]


def row_of(engine: Any, case: dict[str, Any]) -> dict[str, Any]:
    """The engine's own flat row of a case (the oracle)."""
    snapshot = parse_snapshot(case, AS_OF)
    return decision_row(engine.decide(snapshot, AS_OF), snapshot)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_csv(path: Path, cases: list[dict[str, Any]]) -> Path:
    columns = csv_columns()
    rows = [row_from_case(case, columns) for case in cases]
    names = list(columns) + sorted({name for row in rows for name in row if name not in columns})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, cases: list[dict[str, Any]]) -> Path:
    """Nested columns, named as the snapshot's fields (structs, lists of structs)."""
    names = sorted({name for case in cases for name in case})
    columns = {name: pa.array([case.get(name) for case in cases]) for name in names}
    kept = {name: array for name, array in columns.items() if not (pa.types.is_struct(array.type) and array.type.num_fields == 0)}
    pq.write_table(pa.table(kept), path)
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of any of the three formats, as JSON would give them (CSV cells typed back by the column)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    with path.open(newline="", encoding="utf-8") as handle:
        return [{name: typed(name, text) for name, text in row.items()} for row in csv.DictReader(handle)]


def typed(name: str, text: str) -> Any:
    if text == "":
        return None
    if name in ("offer_instalments_min", "offer_instalments_max", "offer_max_deferral_days", "days_past_due", "row"):
        return int(text)
    if name == "offer_payment_holiday":
        return text == "true"
    return text


# --- every format, every worker count, the oracle's decisions ------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cases: list[dict[str, Any]]) -> dict[str, Path]:
    """The same cases through each input format, written in each output format, with 1 and 2 workers."""
    folder = tmp_path_factory.mktemp("bulk")
    inputs = {
        "jsonl": write_jsonl(folder / "cases.jsonl", [json.dumps(case) for case in cases]),
        "csv": write_csv(folder / "cases.csv", cases),
        "parquet": write_parquet(folder / "cases.parquet", cases),
    }
    plan = {  # name: (input, output suffix, workers)
        "jsonl-1": ("jsonl", ".jsonl", "1"), "jsonl-1-again": ("jsonl", ".jsonl", "1"), "jsonl-2": ("jsonl", ".jsonl", "2"),
        "csv-2": ("csv", ".csv", "2"), "parquet-2": ("parquet", ".parquet", "2"), "parquet-1": ("parquet", ".parquet", "1"),
    }
    outputs = {}
    for name, (source, suffix, workers) in plan.items():
        out = folder / f"{name}{suffix}"
        result = decide(inputs[source], out, "--workers", workers)
        assert result.returncode == DECIDED, result.stderr
        assert f"{COUNT:,} decided, 0 refused of {COUNT:,} rows" in result.stdout
        outputs[name] = out
    return outputs


def test_every_format_and_worker_count_gives_the_engines_own_decisions(runs: dict[str, Path], oracle: list[dict[str, Any]]) -> None:
    for name, out in runs.items():
        rows = read_rows(out)
        assert [list(row) for row in rows[:1]] == [list(DECISION_COLUMNS)], name
        # CSV has one empty cell for no value and for empty text (no vetoes)
        expected = [{key: None if value == "" else value for key, value in row.items()} for row in oracle] if out.suffix == ".csv" else oracle
        assert rows == expected, name


def test_the_same_file_at_the_same_instant_gives_the_same_bytes(runs: dict[str, Path]) -> None:
    assert runs["jsonl-1"].read_bytes() == runs["jsonl-1-again"].read_bytes()
    assert runs["jsonl-1"].read_bytes() == runs["jsonl-2"].read_bytes()  # whatever the number of workers
    assert runs["parquet-1"].read_bytes() == runs["parquet-2"].read_bytes()


def test_parquet_has_a_fixed_schema(runs: dict[str, Path]) -> None:
    schema = pq.read_schema(runs["parquet-2"])
    assert schema.names == list(DECISION_COLUMNS)
    types = {field.name: str(field.type) for field in schema}
    assert {name for name, kind in types.items() if kind == "int64"} == {"offer_instalments_min", "offer_instalments_max", "offer_max_deferral_days", "days_past_due"}
    assert {name for name, kind in types.items() if kind == "bool"} == {"offer_payment_holiday"}
    assert {kind for kind in types.values()} == {"string", "int64", "bool"}
    assert all(field.nullable for field in schema)


def test_parquet_in_carries_contact_histories_and_arrangements_as_lists_of_structs(tmp_path: Path) -> None:
    whole = list(synthetic_portfolio(COUNT, AS_OF))
    assert any(case.get("prior_contacts") for case in whole) and any(case.get("arrangements") for case in whole)
    engine = build_engine(REPO / "rules")
    expected = [row_of(engine, case) for case in whole]
    assert expected != [row_of(engine, flat(case)) for case in whole]  # the lists count
    result = decide(write_parquet(tmp_path / "whole.parquet", whole), tmp_path / "out.jsonl", "--workers", "1")
    assert result.returncode == DECIDED, result.stderr
    assert read_rows(tmp_path / "out.jsonl") == expected


# --- the caller is one of the workers ------------------------------------------------------------


def tagged(batch: list[int]) -> list[tuple[int, int]]:
    """Each item with the process that worked it (slow enough that a helper gets some)."""
    time.sleep(0.02)
    return [(os.getpid(), item) for item in batch]


def tagging() -> Callable[[list[int]], list[tuple[int, int]]]:
    """A spawned helper's work, made there: nothing to build."""
    return tagged


SPREAD = """
import json, os
from engine.authoring import workers
from tests.test_bulk_decide import tagged, tagging
batches = [[index * 3 + offset for offset in range(3)] for index in range(60)]
rows = [row for rows in workers.spread(batches, 2, local=tagging, make=tagging, make_args=()) for row in rows]
print(json.dumps({"caller": os.getpid(), "rows": rows}))
"""


def test_spread_gives_results_in_order_and_the_caller_works_too() -> None:
    result = subprocess.run([sys.executable, "-c", SPREAD], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert [item for _, item in answer["rows"]] == list(range(180))
    # 2 workers: the caller and one helper process, both at work
    assert {pid for pid, _ in answer["rows"]} - {answer["caller"]} != set()
    assert answer["caller"] in {pid for pid, _ in answer["rows"]}


# --- refused rows --------------------------------------------------------------------------------


def test_refused_jsonl_rows_are_reported_with_line_field_and_reason_and_counted(tmp_path: Path, cases: list[dict[str, Any]], oracle: list[dict[str, Any]]) -> None:
    bad_country = dict(cases[1], case_id="bad-country", country="XX")
    lines = [json.dumps(cases[0]), "{not json", "", json.dumps(bad_country), "[1, 2]", json.dumps(cases[2])]
    result = decide(write_jsonl(tmp_path / "cases.jsonl", lines), tmp_path / "decisions.jsonl", "--workers", "2")
    assert result.returncode == REFUSED, result.stderr
    assert "2 decided, 3 refused of 5 rows" in result.stdout  # the blank line is no row
    assert f"wrote refused rows to {tmp_path / 'decisions.invalid.jsonl'}" in result.stdout
    assert read_rows(tmp_path / "decisions.jsonl") == [oracle[0], oracle[2]]
    refused = read_rows(tmp_path / "decisions.invalid.jsonl")
    assert [list(row) for row in refused[:1]] == [list(REFUSAL_COLUMNS)]
    assert [(row["row"], row["case_id"], row["field"]) for row in refused] == [(2, None, "line"), (4, "bad-country", "country"), (5, None, "case")]
    assert refused[0]["problem"].startswith("not valid JSON")
    assert "XX" in refused[1]["problem"]


def test_refused_csv_rows_count_the_header_and_go_to_the_file_named(tmp_path: Path, cases: list[dict[str, Any]]) -> None:
    source = write_csv(tmp_path / "cases.csv", [cases[0], dict(cases[1], case_id="bad-dpd", days_past_due="many"), cases[2]])
    with source.open("a", encoding="utf-8") as handle:
        handle.write("too-long" + ",x" * 200 + "\n")
    result = decide(source, tmp_path / "decisions.csv", "--workers", "1", "--invalid", str(tmp_path / "refused.csv"))
    assert result.returncode == REFUSED, result.stderr
    assert "2 decided, 2 refused of 4 rows" in result.stdout
    refused = read_rows(tmp_path / "refused.csv")
    assert [(row["row"], row["case_id"], row["field"]) for row in refused] == [(3, "bad-dpd", "days_past_due"), (5, "too-long", "row")]
    assert all(row["problem"] for row in refused)
    assert not (tmp_path / "decisions.invalid.csv").exists()


def test_refused_parquet_rows_are_numbered_from_one(tmp_path: Path, cases: list[dict[str, Any]]) -> None:
    source = write_parquet(tmp_path / "cases.parquet", [cases[0], dict(cases[1], case_id="bad-country", country="XX")])
    result = decide(source, tmp_path / "decisions.parquet", "--workers", "1")
    assert result.returncode == REFUSED, result.stderr
    refused = read_rows(tmp_path / "decisions.invalid.parquet")
    assert [(row["row"], row["case_id"], row["field"]) for row in refused] == [(2, "bad-country", "country")]


def test_a_clean_run_still_writes_an_empty_invalid_file(tmp_path: Path, cases: list[dict[str, Any]]) -> None:
    (tmp_path / "decisions.invalid.csv").write_text("row,case_id,field,problem\n1,old,country,from an earlier run\n")
    source = write_jsonl(tmp_path / "cases.jsonl", [json.dumps(cases[0])])
    assert main(["decide", str(source), "--out", str(tmp_path / "decisions.csv"), "--workers", "1", "--as-of", AS_OF.isoformat(), "--rules", str(REPO / "rules")]) == DECIDED
    assert read_rows(tmp_path / "decisions.invalid.csv") == []


# --- what stops a run ----------------------------------------------------------------------------


def run_main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as stop:  # argparse's usage errors
        return int(stop.code or 0)


@pytest.mark.parametrize("cases_name, out_name", [("cases.txt", "decisions.jsonl"), ("cases.jsonl", "decisions.xlsx"), ("cases.jsonl", "decisions")])
def test_an_unknown_extension_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], cases_name: str, out_name: str) -> None:
    (tmp_path / cases_name).write_text("{}\n")
    assert run_main("decide", str(tmp_path / cases_name), "--out", str(tmp_path / out_name)) == UNUSABLE
    assert "unknown extension" in capsys.readouterr().err
    assert not (tmp_path / out_name).exists()


def test_a_missing_or_unreadable_file_is_a_clear_error_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "decisions.jsonl"
    assert run_main("decide", str(tmp_path / "absent.jsonl"), "--out", str(out), "--workers", "1") == UNUSABLE
    err = capsys.readouterr().err
    assert "cannot decide" in err and "absent.jsonl" in err
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    assert run_main("decide", str(tmp_path / "broken.parquet"), "--out", str(out), "--workers", "1") == UNUSABLE
    assert "broken.parquet: not a Parquet file" in capsys.readouterr().err
    (tmp_path / "typo.csv").write_text("case_id,contry\nc-1,PL\n")
    assert run_main("decide", str(tmp_path / "typo.csv"), "--out", str(out), "--workers", "1") == UNUSABLE
    assert "unknown column(s) contry" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.parquet", "typo.csv"]  # no decisions, no half file


def test_the_input_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "cases.jsonl", ["{}"])
    assert run_main("decide", str(source), "--out", str(source)) == UNUSABLE
    assert "CASES and --out are the same file" in capsys.readouterr().err
    assert source.read_text() == "{}\n"


def test_rules_that_do_not_load_decide_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "cases.jsonl", ["{}"])
    assert run_main("decide", str(source), "--out", str(tmp_path / "out.jsonl"), "--rules", str(tmp_path / "no-rules")) == UNUSABLE
    assert "the rules were not loaded" in capsys.readouterr().err


def test_without_pyarrow_parquet_names_the_extra_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cases: list[dict[str, Any]]) -> None:
    source = write_parquet(tmp_path / "cases.parquet", cases[:1])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert run_main("decide", str(source), "--out", str(tmp_path / "out.jsonl"), "--workers", "1", "--rules", str(REPO / "rules")) == UNUSABLE
    assert "collection-strategy-engine[parquet]" in capsys.readouterr().err


def test_workers_must_be_a_positive_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main("decide", str(tmp_path / "cases.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--workers", "0") == UNUSABLE
    assert "number of processes" in capsys.readouterr().err

"""The Spark job decides what the `decide` command decides: 20,000 synthetic cases and a
few invalid rows through `spark-submit engine/spark_job.py` in local mode (a subprocess
with a timeout, so a hung JVM fails), every decision and refusal compared with the
command's on the same file at the same as_of, and the engine built once per Python
worker, not per task."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pyspark = pytest.importorskip("pyspark")
parquet = pytest.importorskip("pyarrow.parquet")

from engine.authoring.portfolio import synthetic_portfolio  # noqa: E402
from engine.bulk import DECISION_COLUMNS, REFUSAL_COLUMNS  # noqa: E402
from engine.errors import PolicyError  # noqa: E402
from engine.spark_job import engine_for, parse_as_of  # noqa: E402

AS_OF = "2026-11-24T09:00:00Z"
CASES = 20_000
TASKS = 8  # more tasks than the 2 local cores: a per-task build would show
# Not cases: each lands in the refusals with its line, none is dropped.
INVALID = ['{"case_id": "no-country", "amount_due": "10.00"}', "not json", "[1, 2]", '{"case_id": "bad-money", "country": "PL", "amount_due": 12.5, "currency": "PLN", "days_past_due": 3, "segment": "retail"}']


def run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command's outcome; on a timeout its whole process group (a JVM included) is killed."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def spark_environment() -> dict[str, str]:
    """Local mode with this virtualenv's Python on the workers and the project importable there."""
    return {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO),
    }


def spark_submit(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    submit = str(Path(pyspark.__file__).parent / "bin" / "spark-submit")
    small = ["--master", "local[2]", "--driver-memory", "1g", "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
             "--conf", "spark.sql.files.maxPartitionBytes=4m"]  # several splits of the one file: line numbers across partitions
    return run([submit, *small, str(REPO / "engine" / "spark_job.py"), *args], timeout, spark_environment())


def portfolio(path: Path) -> int:
    """The synthetic cases with the invalid rows and a blank line among them; the count of rows that are not blank."""
    as_of = parse_as_of(AS_OF)
    lines = [json.dumps(case) for case in synthetic_portfolio(CASES, as_of)]
    for index, text in enumerate(INVALID):
        lines.insert(1 + index * (CASES // len(INVALID)), text)
    lines.insert(CASES // 2, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def read_parquet(directory: Path) -> list[dict[str, Any]]:
    return [row for part in sorted(directory.glob("*.parquet")) for row in parquet.read_table(part).to_pylist()]


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("spark")
    cases = folder / "cases.jsonl"
    rows = portfolio(cases)
    command = run([sys.executable, "-m", "engine.authoring.cli", "decide", str(cases), "--out", str(folder / "decisions.jsonl"), "--invalid", str(folder / "invalid.jsonl"),
                   "--rules", str(REPO / "rules"), "--as-of", AS_OF, "--workers", "2"], timeout=300)
    assert command.returncode in (0, 1), command.stderr[-2000:]  # 1: some rows refused
    started = time.monotonic()
    spark = spark_submit("--rules", str(REPO / "rules"), "--as-of", AS_OF, "--cases", str(cases), "--out", str(folder / "spark"), "--invalid", str(folder / "spark-invalid"),
                         "--partitions", str(TASKS))
    seconds = time.monotonic() - started
    assert spark.returncode == 0, spark.stderr[-4000:]
    print(f"\nspark-submit of {rows} rows: {seconds:.0f} s")
    yield {
        "rows": rows, "log": spark.stdout + spark.stderr,  # spark-submit sends the driver's stderr to its stdout
        "spark": read_parquet(folder / "spark"), "spark_invalid": read_parquet(folder / "spark-invalid"),
        "command": read_json_lines(folder / "decisions.jsonl"), "command_invalid": read_json_lines(folder / "invalid.jsonl"),
    }


def test_every_decision_equals_the_decide_commands(job: dict[str, Any]) -> None:
    spark, command = job["spark"], job["command"]
    assert len(command) == CASES and len(spark) == CASES
    assert all(list(row) == list(DECISION_COLUMNS) for row in spark[:1] + command[:1])
    by_case = {row["case_id"]: row for row in command}
    assert [row for row in spark if row != by_case.get(row["case_id"])] == []
    assert {row["action"] for row in spark} >= {"SEND_REMINDER", "NO_CONTACT"}  # not one answer for all


def test_every_input_row_lands_in_the_decisions_or_the_refusals(job: dict[str, Any]) -> None:
    refused = sorted(job["spark_invalid"], key=lambda row: row["row"])
    assert all(list(row) == list(REFUSAL_COLUMNS) for row in refused)
    assert refused == sorted(job["command_invalid"], key=lambda row: row["row"])  # same lines, fields and reasons
    assert len(refused) == len(INVALID) and len(job["spark"]) + len(refused) == job["rows"]
    assert f"{CASES} decisions to" in job["log"] and f"{len(INVALID)} refused rows to" in job["log"]


def test_the_engine_is_built_once_per_python_worker_not_per_task(job: dict[str, Any]) -> None:
    builds = re.findall(r"engine built in process (\d+) from", job["log"])
    workers = builds[1:]  # the first: the driver, loading the rules before any task
    assert len(builds) == len(set(builds)), builds  # never twice in one process
    assert 1 <= len(workers) <= 2 < TASKS, builds  # local[2]: at most two Python workers for the 8 tasks


def test_rules_that_do_not_load_are_refused_with_their_file_and_line(tmp_path: Path) -> None:
    strategy = tmp_path / "strategies"
    strategy.mkdir()
    (strategy / "policy.yaml").write_text("name: broken\nversion: '1'\nrules:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml:\d+"):
        engine_for(str(tmp_path))
    with pytest.raises(PolicyError, match="no directory 'nowhere'"):
        engine_for("nowhere")


def test_executors_with_other_rules_than_the_driver_are_refused() -> None:
    engine = engine_for(str(REPO / "rules"))
    assert engine_for(str(REPO / "rules"), engine.ref.hash) is engine  # cached: built once in this process
    with pytest.raises(PolicyError, match="ship the same rules to every executor"):
        engine_for(str(REPO / "rules"), "another-hash")


def test_as_of_needs_an_offset() -> None:
    assert parse_as_of(AS_OF) == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    with pytest.raises(Exception, match="no UTC offset"):
        parse_as_of("2026-11-24T09:00:00")

r"""Bulk decisions on Apache Spark: every case of a DataFrame decided at one `as_of`
with one policy version, each input row landing in the decisions or the refusals.

    spark-submit engine/spark_job.py --rules DIR --as-of ISO --cases IN --out OUT [--invalid OUT2]

A case is one JSON snapshot text per row (what `spark.read.text` gives of a JSON
Lines file, or `cases_from_columns` makes of a table with nested columns); a
decision is engine.bulk's flat row (DECISION_COLUMNS), a refusal its
REFUSAL_COLUMNS. docs/spark.md is the recipe (environment, rules, tables).

PySpark's hazards, and what this module does about each:
- Python runs in worker processes Spark forks per concurrent task and reuses
  across tasks (spark.python.worker.reuse, on by default): the engine is built
  once per worker process (`engine_for`, a module-level cache keyed by rules
  directory), never per task or batch, and each build is logged on the worker's
  stderr (the executor log) with its process id and policy.
- Executors may be shipped other rules than the driver loaded: the driver loads
  the rules first (a policy that does not load is refused there, with file:line),
  and an executor whose rules are another policy version fails its task rather
  than split one job across two versions.
- A mapped function must be importable on the executors: the functions Spark
  ships live in this module, so the project must be installed in the executors'
  Python (a packed virtualenv or an image); run as a script, `main` re-imports
  this module by name for the same reason.
- mapInArrow, not mapInPandas: the engine reads Python dicts, and pandas would
  only add a conversion each way (and a pandas pin); Arrow batches are bounded by
  spark.sql.execution.arrow.maxRecordsPerBatch (10,000 rows by default).
- Spark has no line numbers: rows are numbered in the order Spark reads them
  (`numbered`: the line of a single JSON Lines file) unless the input carries a
  `row` column, which is then kept.
- Evaluation is lazy: decisions and refusals are two filters of one computation;
  `main` persists it before writing both, or every case would be decided twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

if __name__ == "__main__" and __package__ in (None, ""):  # run as a file by spark-submit
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from engine.spark_job import main as _main  # the shipped functions must be engine.spark_job's, not __main__'s

    sys.exit(_main())

import pyarrow as pa  # type: ignore[import-untyped]
from pyspark import SparkFiles
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

from engine.bulk import BOOLEAN_COLUMNS, DECISION_COLUMNS, INTEGER_COLUMNS, REFUSAL_COLUMNS, Refusal, decided_row
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.registry import build_engine

SNAPSHOT = "snapshot"  # the column holding one case's JSON text
ROW = "row"  # the position of a case in its input, counted from 1


def _type(column: str) -> Any:
    return LongType() if column in INTEGER_COLUMNS else BooleanType() if column in BOOLEAN_COLUMNS else StringType()


DECISION_SCHEMA = StructType([StructField(column, _type(column)) for column in DECISION_COLUMNS])
REFUSAL_SCHEMA = StructType([StructField("row", LongType()), StructField("case_id", StringType()), StructField("field", StringType()), StructField("problem", StringType())])
# What the mapped function yields: a decision (field null) or a refusal (field set), with its row.
_OUTCOME_SCHEMA = StructType([StructField(ROW, LongType()), *DECISION_SCHEMA.fields, StructField("field", StringType()), StructField("problem", StringType())])


@dataclass(frozen=True)
class Decided:
    """The outcome of a job: every input row is in exactly one of the two frames."""

    decisions: DataFrame  # DECISION_COLUMNS, DECISION_SCHEMA
    refusals: DataFrame  # REFUSAL_COLUMNS, REFUSAL_SCHEMA
    outcomes: DataFrame  # both, one row per input row: persist this one before acting on both
    policy: str  # name, version and hash of the policy every executor decided with


# --- on the executors -----------------------------------------------------------------

_engines: dict[str, StrategyEngine] = {}  # rules directory -> its engine, one per Python worker process


def rules_directory(given: str) -> Path:
    """The rules directory as this process sees it: the path itself, or, when the
    rules were shipped with --archives/--files, the copy Spark unpacked under that name."""
    path = Path(given)
    if path.is_dir():
        return path
    try:
        shipped = Path(SparkFiles.get(given))
    except Exception:  # no SparkContext in this process
        shipped = path
    if shipped.is_dir():
        return shipped
    raise PolicyError.plain(f"rules: no directory {given!r} here (cwd {os.getcwd()}), nor shipped under that name (SparkFiles)")


def engine_for(rules: str, policy_hash: str | None = None) -> StrategyEngine:
    """The engine of this worker process for `rules`, built on first use. With
    `policy_hash`, rules that load as another policy version are refused."""
    engine = _engines.get(rules)
    if engine is None:
        directory = rules_directory(rules)
        engine = build_engine(directory)
        _engines[rules] = engine
        print(f"collection-strategy spark: engine built in process {os.getpid()} from {directory} ({_policy(engine)})", file=sys.stderr, flush=True)
    if policy_hash is not None and engine.ref.hash != policy_hash:
        raise PolicyError.plain(f"rules: {rules!r} here is {_policy(engine)}, the driver loaded policy hash {policy_hash}: ship the same rules to every executor")
    return engine


def _policy(engine: StrategyEngine) -> str:
    return f"policy {engine.ref.name} {engine.ref.version} {engine.ref.hash}"


def decide_text(engine: StrategyEngine, number: int, text: str | None, as_of: datetime) -> dict[str, Any]:
    """One numbered JSON text decided at `as_of`: its outcome row, a decision or a refusal
    (worded as the `decide` command words them)."""
    if text is None:
        return {ROW: number, "case_id": None, "field": "case", "problem": "is empty (no snapshot text)"}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return {ROW: number, "case_id": None, "field": "line", "problem": f"not valid JSON: {error.msg} (column {error.colno})"}
    outcome = decided_row(engine, number, data, as_of)
    if isinstance(outcome, Refusal):
        return {ROW: number, "case_id": outcome.case_id, "field": outcome.field, "problem": outcome.problem}
    return {ROW: number, **outcome, "field": None, "problem": None}


def _decide_batches(batches: Iterator[Any], rules: str, as_of: str, policy_hash: str) -> Iterator[Any]:
    """mapInArrow's function: runs in a Python worker over one partition's batches."""
    engine = engine_for(rules, policy_hash)
    instant = datetime.fromisoformat(as_of)
    schema = _arrow_schema()
    for batch in batches:
        columns = batch.to_pydict()
        rows = [decide_text(engine, number, text, instant) for number, text in zip(columns[ROW], columns[SNAPSHOT])]
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _arrow_schema() -> Any:
    kinds = {"long": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
    return pa.schema([pa.field(field.name, kinds[field.dataType.typeName()]) for field in _OUTCOME_SCHEMA.fields])


# --- on the driver ----------------------------------------------------------------------


def cases_from_columns(table: DataFrame) -> DataFrame:
    """A table of cases with nested columns (the snapshot's fields as columns) as one
    JSON text per row; null fields are left out, as a caller leaves them out of JSON."""
    return table.select(F.to_json(F.struct(*[F.col(name) for name in table.columns])).alias(SNAPSHOT))


def numbered(cases: DataFrame) -> DataFrame:
    """The cases with a `row` column: kept when the input has one, else each row's
    position in the order Spark reads them, from 1 (for one JSON Lines file: its line).
    Costs one count per partition, in the JVM."""
    if ROW in cases.columns:
        return cases.withColumn(ROW, F.col(ROW).cast(LongType()))
    ids = cases.withColumn("_id", F.monotonically_increasing_id())  # partition index << 33 | position in it
    counts: dict[int, int] = dict(ids.groupBy(F.shiftright("_id", 33).alias("part")).count().collect())
    offsets, total = [], 0
    for part in range(max(counts, default=-1) + 1):
        offsets.append(total)
        total += counts.get(part, 0)
    if not offsets:
        return ids.withColumn(ROW, F.lit(None).cast(LongType())).drop("_id")
    offset: Column = F.element_at(F.array(*[F.lit(value) for value in offsets]), F.shiftright("_id", 33).cast("int") + 1)
    position = F.col("_id").bitwiseAND((1 << 33) - 1)
    return ids.withColumn(ROW, (offset + position + 1).cast(LongType())).drop("_id")


def decide_cases(cases: DataFrame, rules: str, as_of: datetime, column: str = SNAPSHOT, partitions: int | None = None) -> Decided:
    """Decide every case of `cases` (one JSON snapshot text per row in `column`) at
    `as_of` with the rules at `rules` (a path the executors see, or the name the rules
    were shipped under). The rules are loaded here first: a policy that does not load
    raises PolicyError naming file:line before any executor starts. `partitions`: spread
    the cases over that many tasks (after numbering them, so rows keep their numbers)."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of: needs a UTC offset (e.g. 2026-11-24T09:00:00Z)")
    if column not in cases.columns:
        raise ValueError(f"{column}: no such column in the cases (columns: {', '.join(cases.columns)})")
    engine = engine_for(rules)
    policy_hash = engine.ref.hash
    source = numbered(cases).select(F.col(ROW), F.col(column).cast(StringType()).alias(SNAPSHOT))
    if partitions:
        source = source.repartition(partitions)
    stamp = as_of.isoformat()
    outcomes = source.mapInArrow(lambda batches: _decide_batches(batches, rules, stamp, policy_hash), _OUTCOME_SCHEMA)
    refused = F.col("field").isNotNull()
    return Decided(
        decisions=outcomes.where(~refused).select(*DECISION_COLUMNS),
        refusals=outcomes.where(refused).select(*REFUSAL_COLUMNS),
        outcomes=outcomes,
        policy=_policy(engine),
    )


def read_cases(spark: SparkSession, where: str) -> DataFrame:
    """Cases from `table:NAME` (a catalog table), a JSON Lines file or directory
    (.jsonl, .json, .ndjson), else Parquet; nested columns become JSON text."""
    if where.startswith("table:"):
        return cases_from_columns(spark.table(where.removeprefix("table:")))
    if where.rstrip("/").endswith((".jsonl", ".json", ".ndjson")):
        lines = numbered(spark.read.text(where).withColumnRenamed("value", SNAPSHOT))
        return lines.where(F.trim(F.col(SNAPSHOT)) != "")  # blank lines are no cases; the others keep their line numbers
    frame = spark.read.parquet(where)
    return frame if frame.columns == [SNAPSHOT] else cases_from_columns(frame)


def write_rows(frame: DataFrame, where: str, overwrite: bool) -> None:
    """Rows to `table:NAME` (saveAsTable) or a Parquet directory."""
    writer = frame.write.mode("overwrite" if overwrite else "errorifexists")
    if where.startswith("table:"):
        writer.saveAsTable(where.removeprefix("table:"))
    else:
        writer.parquet(where)


def write_decided(decided: Decided, out: str, invalid: str, overwrite: bool = False) -> tuple[int, int]:
    """The decisions to `out` and the refusals to `invalid`, each case decided once
    (the outcomes persisted for both writes); how many of each were written."""
    outcomes = decided.outcomes.persist()
    try:
        write_rows(decided.decisions, out, overwrite)
        write_rows(decided.refusals, invalid, overwrite)
        total, refused = outcomes.count(), decided.refusals.count()
    finally:
        outcomes.unpersist()
    return total - refused, refused


def parse_as_of(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant such as 2026-11-24T09:00:00Z") from None
    if instant.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset: add Z or +HH:MM")
    return instant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spark-submit engine/spark_job.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", required=True, help="the rules directory as the executors see it, or the name it was shipped under (--archives rules.tgz#rules)")
    parser.add_argument("--as-of", required=True, type=parse_as_of, help="the one instant every case is decided at, ISO 8601 with an offset")
    parser.add_argument("--cases", required=True, help="JSON Lines (.jsonl), Parquet, or table:NAME")
    parser.add_argument("--out", required=True, help="the decisions: a Parquet directory or table:NAME")
    parser.add_argument("--invalid", help="the refused rows (row, case_id, field, problem); default: OUT-invalid")
    parser.add_argument("--partitions", type=int, help="spread the cases over this many tasks (default: as read)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT and INVALID if they exist")
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("collection-strategy decide").getOrCreate()
    try:
        decided = decide_cases(read_cases(spark, args.cases), args.rules, args.as_of, partitions=args.partitions)
    except PolicyError as error:
        print(f"collection-strategy spark: rules refused:\n{error}", file=sys.stderr)
        return 2
    invalid = args.invalid or f"{args.out.rstrip('/')}-invalid"
    decisions, refused = write_decided(decided, args.out, invalid, args.overwrite)
    print(f"collection-strategy spark: {decisions} decisions to {args.out}, {refused} refused rows to {invalid} ({decided.policy}, as of {args.as_of.isoformat()})", file=sys.stderr)
    return 0

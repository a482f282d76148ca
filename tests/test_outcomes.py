"""The outcomes file (engine/authoring/outcomes.py) and the synthetic outcome generator
(engine/authoring/outcome_generator.py): bad rows named by line and field, never
dropped; the three formats read back what was written; the generated schema
accepts what the model accepts; the generator is deterministic per seed and its
effect lands on the named arm only."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from engine.authoring.evaluate_join import DecidedCase
from engine.authoring.outcome_generator import Case, _case, generate, parse_effect
from engine.authoring.outcomes import Outcome, Promise, RefusedOutcome, outcome_schema, read_outcomes, write_outcomes

REPO = Path(__file__).resolve().parent.parent
GOOD = {"case_id": "case-1", "date": "2026-12-01", "paid_amount": "12.50", "currency": "EUR", "cured": True, "contacts": 2, "contact_cost": "0.10"}


def refused(path: Path) -> list[tuple[int, str]]:
    return [(row.line, row.field) for row in read_outcomes(path) if isinstance(row, RefusedOutcome)]


def test_bad_json_lines_are_refused_by_line_and_field_and_good_ones_kept(tmp_path: Path) -> None:
    rows = [
        GOOD,
        {**GOOD, "date": "2026-13-01"},
        {**GOOD, "paid_amount": 12.5},  # a float has lost cents already
        {**GOOD, "promise": "maybe"},
        {**GOOD, "cure": True},  # misspelt: never a silent default
        {key: value for key, value in GOOD.items() if key != "currency"},
        {**GOOD, "contacts": -1},
    ]
    path = tmp_path / "outcomes.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json\n", encoding="utf-8")
    assert refused(path) == [(2, "date"), (3, "paid_amount"), (4, "promise"), (5, "cure"), (6, "currency"), (7, "contacts"), (8, "line")]
    kept = [row for row in read_outcomes(path) if isinstance(row, Outcome)]
    assert [row.paid_amount for row in kept] == [Decimal("12.50")]
    problems = {row.field: row.problem for row in read_outcomes(path) if isinstance(row, RefusedOutcome)}
    assert problems["currency"] == "is required" and problems["cure"] == "is not a known field" and "exact text" in problems["paid_amount"]


def test_bad_csv_cells_are_refused_by_line_and_an_unknown_column_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "case_id,date,paid_amount,currency,cured,complaint\n"
        "case-1,2026-12-01,10.00,EUR,true,false\n"
        "case-2,2026-12-01,10.00,EUR,perhaps,false\n"
        "case-3,2026-12-01,ten,EUR,false,false\n"
        "case-4,2026-12-01,1.00,EUR,false,false,extra\n",
        encoding="utf-8",
    )
    assert refused(path) == [(3, "cured"), (4, "paid_amount"), (5, "row")]
    path.write_text("case_id,date,currency,cure\ncase-1,2026-12-01,EUR,true\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown column.*cure"):
        list(read_outcomes(path))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_each_format_reads_back_what_was_written(tmp_path: Path, suffix: str) -> None:
    outcomes = [
        Outcome.model_validate(GOOD),
        Outcome(case_id="case-2", date=date(2026, 12, 2), currency="PLN", promise=Promise.BROKEN, complaint=True, hardship_declared=True),
    ]
    path = tmp_path / f"outcomes{suffix}"
    write_outcomes(path, outcomes)
    assert list(read_outcomes(path)) == outcomes


def test_the_generated_schema_is_current_and_agrees_with_the_model() -> None:
    committed = json.loads((REPO / "rules" / "schema" / "outcome.schema.json").read_text(encoding="utf-8"))
    assert committed == outcome_schema(), "run `make generate`"
    validator = jsonschema.Draft202012Validator(committed)
    assert not list(validator.iter_errors(GOOD))
    assert list(validator.iter_errors({**GOOD, "promise": "maybe"})) and list(validator.iter_errors({**GOOD, "cure": True}))


# --- the generator -------------------------------------------------------------------------------


def decisions(count: int) -> list[DecidedCase]:
    return [DecidedCase(n, f"case-{n:05d}", date(2026, 11, 24), {"tone": "challenger" if n % 2 else "champion"}, "retail", 10 + (n // 2) % 80, "CALL") for n in range(count)]


def test_the_generator_is_deterministic_per_seed_and_independent_of_order() -> None:
    made = decisions(200)
    first = generate(made, {}, 7, 30, None, {})
    assert first == generate(made, {}, 7, 30, None, {})
    assert first != generate(made, {}, 8, 30, None, {})
    by_case = {outcome.case_id: outcome for outcome in generate(list(reversed(made)), {}, 7, 30, None, {})}
    assert [by_case[outcome.case_id] for outcome in first] == first
    assert all(date(2026, 11, 24) <= outcome.date < date(2026, 12, 24) for outcome in first)


def test_an_effect_lands_on_the_named_arm_only_and_amounts_come_from_the_case() -> None:
    made = decisions(2000)
    cases = {decision.case_id: Case(Decimal("80.00"), "GBP", None) for decision in made}
    plain, moved = generate(made, cases, 3, 30, "challenger", {}), generate(made, cases, 3, 30, "challenger", {"complaints": 0.5})
    arm = {decision.case_id: decision.arms["tone"] for decision in made}
    complaints = {name: sum(o.complaint for o in outcomes if arm[o.case_id] == "challenger") for name, outcomes in (("plain", plain), ("moved", moved))}
    assert complaints["moved"] > complaints["plain"] + 400
    assert [o for o in plain if arm[o.case_id] == "champion"] == [o for o in moved if arm[o.case_id] == "champion"]
    assert {o.currency for o in plain} == {"GBP"} and {o.paid_amount for o in plain if o.cured} == {Decimal("80.00")}


def test_an_effect_names_a_known_metric() -> None:
    assert parse_effect("cure_rate=0.05") == ("cure_rate", 0.05)
    with pytest.raises(Exception, match="unknown metric 'cure'"):
        parse_effect("cure=0.05")
    with pytest.raises(Exception, match="not a number"):
        parse_effect("cure_rate=lots")


def test_a_self_cure_score_in_the_cases_inputs_raises_the_chance_to_cure() -> None:
    made = decisions(1000)
    likely = {d.case_id: _case({"amount_due": "10.00", "currency": "EUR", "inputs": {"self_cure_score": 95}}) for d in made}
    unlikely = {d.case_id: _case({"amount_due": "10.00", "currency": "EUR", "inputs": {"self_cure_score": 5}}) for d in made}
    assert next(iter(likely.values())).self_cure_score == 0.95
    cures = [sum(o.cured for o in generate(made, cases, 1, 30, None, {})) for cases in (likely, unlikely)]
    assert cures[0] > cures[1] + 300

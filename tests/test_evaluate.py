"""`collection-strategy evaluate` (engine/authoring/evaluate*.py): intervals against known
values, the join rules, verdicts with their direction, calibration over repeated
seeds, and the whole loop through the command line (portfolio -> decide -> outcomes
-> evaluate), the page included, in a real browser."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.evaluate import evaluate, stage_of
from engine.authoring.evaluate_join import DECISION_LOG, DecidedCase, RefusedDecision, join, read_decisions
from engine.authoring.evaluate_stats import newcombe, ratio_interval, welch, wilson
from engine.authoring.outcome_generator import generate
from engine.authoring.outcomes import Outcome
from engine.bulk import DECISION_COLUMNS, decision_row
from engine.decision_record import DEFAULT_KEEP, keep_paths, record
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from tests.conftest import write_policy

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)
DAY = date(2026, 11, 24)
TIMEOUT = 300
POLICY = """
    policy: tiny
    version: "1"
    experiments:
      - {id: tone, arms: {control: 50, kinder: 50}}
    rules:
      - {id: kinder-reminder, priority: 20, arm: {tone: kinder}, when: {days_past_due: {gte: 1}}, then: {action: SEND_REMINDER, channel: [email, sms], template: kind}, reason: x}
      - {id: remind, priority: 10, when: {days_past_due: {gte: 1}}, then: {action: SEND_REMINDER, channel: [email, sms]}, reason: x}
      - {id: wait, priority: 5, when: {}, then: {action: NO_CONTACT}, reason: x}
    """


def approx(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) < 5e-4


# --- intervals -----------------------------------------------------------------------------------


def test_wilson_and_newcombe_give_the_published_values() -> None:
    ten = wilson(10, 100, 0.95)  # 0.0552 to 0.1744 (Newcombe 1998, table I's method)
    assert approx(ten.low, 0.0552) and approx(ten.high, 0.1744)
    none = wilson(0, 10, 0.95)
    assert none.low == 0.0 and approx(none.high, 0.2775)  # exactly: 0/n must lie inside its own interval
    assert wilson(136, 136, 0.95).high == 1.0
    difference = newcombe(56, 70, 48, 80, 0.95)  # Newcombe 1998, example (a): +0.0524 to +0.3339
    assert approx(difference.value, 0.2) and approx(difference.low, 0.0524) and approx(difference.high, 0.3339)
    assert wilson(1, 0, 0.95).value is None


def test_welch_and_the_ratio_interval_by_hand() -> None:
    # means 2.5 and 5, variances of the mean 1.6667/4 and 6.6667/4: se sqrt(2.0833) = 1.4434
    found = welch([1, 2, 3, 4], [2, 4, 6, 8], 0.95)
    assert approx(found.value, -2.5) and approx(found.low, -2.5 - 1.959964 * 1.443376) and approx(found.high, -2.5 + 1.959964 * 1.443376)
    # a ratio with no spread around it has no width: 2 contacts per cure, every time
    exact = ratio_interval([2, 4, 0], [1, 2, 0], 0.95)
    assert approx(exact.value, 2.0) and approx(exact.low, 2.0) and approx(exact.high, 2.0)
    assert ratio_interval([1, 2], [0, 0], 0.95).value is None  # nothing to divide by: not a number


# --- the join ------------------------------------------------------------------------------------


def decided(case_id: str, on: date, arm: str = "control", segment: str | None = "retail", days: int | None = 10) -> DecidedCase:
    return DecidedCase(1, case_id, on, {"tone": arm}, segment, days, "SEND_REMINDER")


def outcome(case_id: str, on: date, paid: str = "0", **flags: Any) -> Outcome:
    return Outcome(case_id=case_id, date=on, paid_amount=Decimal(paid), currency="EUR", **flags)


def test_an_outcome_counts_for_the_latest_decision_on_or_before_it_within_the_window() -> None:
    first, second = date(2026, 11, 1), date(2026, 11, 20)
    accounts, summary = join(
        [decided("a", first), decided("a", second), decided("b", first), decided("b", first, arm="kinder")],
        [
            outcome("a", first, "5"),  # the decision's own day counts
            outcome("a", date(2026, 11, 19), "7", cured=True),  # still the first decision's
            outcome("a", second, "11", complaint=True),  # the second's from its day
            outcome("a", date(2026, 10, 31), "100"),  # before any decision of the case
            outcome("a", date(2026, 12, 20), "100"),  # the second's window (30 days) has closed
            outcome("b", date(2026, 11, 30), "3"),
            outcome("zz", first, "100"),  # no decision for the case
        ],
        window_days=30,
    )
    by_key = {(account.decision.case_id, account.decision.decided_on): account for account in accounts}
    assert (by_key["a", first].paid, by_key["a", first].cured, by_key["a", first].outcome_rows) == (Decimal(12), True, 2)
    assert (by_key["a", second].paid, by_key["a", second].complaint, by_key["a", second].cured) == (Decimal(11), True, False)
    assert by_key["b", first].decision.arms == {"tone": "kinder"}  # the later decision of a day stands
    assert (summary.decisions, summary.replaced_decisions, summary.outcome_rows_counted) == (3, 1, 4)
    assert (summary.outcome_rows_before_decision, summary.outcome_rows_after_window, summary.outcome_rows_without_decision) == (1, 1, 1)


def test_the_decide_row_carries_segment_and_days_past_due_for_evaluate() -> None:
    engine = build_engine(REPO / "rules")
    case = {"case_id": "c-1", "country": "DE", "amount_due": "120.00", "currency": "EUR", "days_past_due": 45, "segment": "student"}
    snapshot = parse_snapshot(case, AS_OF)
    row = decision_row(engine.decide(snapshot, AS_OF), snapshot)
    assert {"segment", "days_past_due"} <= set(DECISION_COLUMNS) and (row["segment"], row["days_past_due"]) == ("student", 45)


def test_decision_log_records_are_told_from_decide_rows_and_read_from_their_snapshot(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    engine = build_engine(tmp_path)
    lines = []
    for number, (segment, days) in enumerate([("retail", 5), ("business", 75)]):
        snapshot = parse_snapshot({"case_id": f"c-{number}", "country": "DE", "amount_due": "50.00", "currency": "EUR", "days_past_due": days, "segment": segment}, AS_OF)
        lines.append(record(f"id-{number}", "Decide", snapshot, engine.decide(snapshot, AS_OF), None if number else keep_paths(DEFAULT_KEEP)))
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n{broken\n", encoding="utf-8")
    kind, rows = read_decisions(path)
    assert kind == DECISION_LOG
    cases = [row for row in rows if isinstance(row, DecidedCase)]
    # masked: the days past due are kept, the segment is not (unless the flat decision carries it)
    assert [(c.case_id, c.days_past_due, c.decided_on) for c in cases] == [("c-0", 5, DAY), ("c-1", 75, DAY)]
    assert cases[1].segment == "business" and set(cases[0].arms) == {"tone"}
    assert [(r.line, r.field) for r in rows if isinstance(r, RefusedDecision)] == [(3, "line")]


def test_stages_are_days_past_due_buckets() -> None:
    assert [stage_of(days) for days in (-3, 0, 1, 30, 31, 60, 61, 90, 91, None)] == [
        "pre-due", "pre-due", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "91+", "(unknown)"]


# --- verdicts ------------------------------------------------------------------------------------


def arms_with(cured: tuple[int, int], complained: tuple[int, int], size: int = 400) -> tuple[list[DecidedCase], list[Outcome]]:
    decisions, outcomes = [], []
    for arm, cures, complaints in (("control", cured[0], complained[0]), ("kinder", cured[1], complained[1])):
        for n in range(size):
            case_id = f"{arm}-{n}"
            decisions.append(decided(case_id, DAY, arm, "retail" if n % 40 else "student", 10 if n % 2 else 70))
            outcomes.append(outcome(case_id, DAY, "100" if n < cures else "0", cured=n < cures, complaint=n < complaints))
    return decisions, outcomes


def test_the_verdict_says_which_way_is_better_and_what_is_not_significant() -> None:
    decisions, outcomes = arms_with(cured=(120, 160), complained=(2, 5))
    report = evaluate(*join(decisions, outcomes, 30), 0.95)
    experiment = report["experiments"][0]
    assert (experiment["champion"], experiment["champion_chosen_as"]) == ("control", "the arm named control")
    found = experiment["groups"][0]["comparisons"][0]["metrics"]
    assert found["cure_rate"]["significant"] and found["cure_rate"]["judgement"] == "better"
    assert found["cure_rate"]["text"].startswith("cures more (+10.0 points, 95% CI +3.")
    assert found["amount_collected_per_account[EUR]"]["text"].startswith("collects more (+10.00 EUR per account, 95% CI")
    assert found["complaints"] == found["complaints"] | {"significant": False, "judgement": "not significant"}
    assert found["complaints"]["text"] == "with more complaints (+7.5 per 1,000, not significant at 95%)"
    assert experiment["verdicts"][0].startswith("kinder vs control: cures more")


def test_too_few_accounts_get_no_verdict() -> None:
    decisions, outcomes = arms_with(cured=(120, 160), complained=(2, 5))
    report = evaluate(*join(decisions, outcomes, 30), 0.95)
    student = next(g for g in report["experiments"][0]["groups"] if (g["by"], g["value"]) == ("segment", "student"))
    assert [(c["judged"], c["summary"], c["metrics"]) for c in student["comparisons"]] == [(False, "kinder vs control: too few accounts to judge (n=10)", {})]
    stages = [g["value"] for g in report["experiments"][0]["groups"] if g["by"] == "stage"]
    assert stages == ["1-30", "61-90"]


def test_a_champion_is_never_guessed() -> None:
    decisions = [DecidedCase(1, f"c{n}", DAY, {"tone": "a" if n % 2 else "b"}, None, None, None) for n in range(10)]
    accounts, summary = join(decisions, [], 30)
    with pytest.raises(ValueError, match="which arm is the champion.*--champion tone=ARM"):
        evaluate(accounts, summary, 0.95)
    assert evaluate(accounts, summary, 0.95, champions={"tone": "b"})["experiments"][0]["arms"] == ["b", "a"]
    assert evaluate(accounts, summary, 0.95, declared={"tone": ["a", "b"]})["experiments"][0]["champion_chosen_as"] == "the first arm the policy declares"


# --- calibration ---------------------------------------------------------------------------------

SEEDS = range(20)
ACCOUNTS = 4000  # 2,000 an arm: a 5-point difference in cure rate is about 3 standard errors


def calibration_decisions() -> list[DecidedCase]:
    # both arms get exactly the same stages: any difference is the effect's or chance's
    return [DecidedCase(n, f"case-{n:06d}", DAY, {"tone": "kinder" if n % 2 else "control"}, "retail", 10 + (n // 2) % 80, "SEND_REMINDER") for n in range(ACCOUNTS)]


def cure_verdicts(effect: float) -> list[tuple[bool, float]]:
    decisions, verdicts = calibration_decisions(), []
    for seed in SEEDS:
        outcomes = generate(decisions, {}, seed, 30, "kinder", {"cure_rate": effect} if effect else {})
        found = evaluate(*join(decisions, outcomes, 30), 0.95)["experiments"][0]["groups"][0]["comparisons"][0]["metrics"]["cure_rate"]
        verdicts.append((found["significant"], found["difference"]))
    return verdicts


def test_calibration_a_true_effect_is_found_and_none_is_rarely_claimed() -> None:
    """Fixed seeds make this deterministic, so it cannot flake: the counts below are the ones
    observed (19 of 20 found; 2 of 20 false alarms), checked against the bounds the design
    promises (power about 90% at these sizes, a false alarm rate of 5%): at least 16 of 20
    found in the right direction, at most 2 of 20 (10%) false alarms."""
    found = cure_verdicts(0.05)
    assert sum(1 for significant, difference in found if significant and difference > 0) >= 16
    assert not any(significant and difference < 0 for significant, difference in found)
    assert sum(1 for significant, _ in cure_verdicts(0.0) if significant) <= 2


# --- through the command line ----------------------------------------------------------------------


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.authoring.cli", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """portfolio -> decide -> outcomes (kinder cures 8 points more) on a policy with an experiment."""
    folder = tmp_path_factory.mktemp("loop")
    write_policy(folder / "rules", POLICY)
    steps = [
        ("portfolio", "--count", "3000", "--seed", "5", "--as-of", AS_OF.isoformat(), "--out", folder / "cases.jsonl"),
        ("decide", folder / "cases.jsonl", "--out", folder / "decisions.csv", "--rules", folder / "rules", "--as-of", AS_OF.isoformat(), "--workers", "1"),
        ("outcomes", folder / "decisions.csv", "--out", folder / "outcomes.parquet", "--seed", "5", "--cases", folder / "cases.jsonl",
         "--arm", "kinder", "--effect", "cure_rate=0.08"),
    ]
    for step in steps:
        result = cli(*step)
        assert result.returncode == 0, (step[0], result.stderr)
    return folder


def test_the_loop_finds_the_effect_through_the_command_line(loop: Path) -> None:
    result = cli("evaluate", loop / "decisions.csv", loop / "outcomes.parquet", "--format", "json", "--rules", loop / "rules")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inputs"]["decisions"] == {"path": str(loop / "decisions.csv"), "kind": "bulk", "rows": 3000, "refused": 0}
    assert report["join"]["outcome_rows_counted"] == 3000
    experiment = report["experiments"][0]
    assert (experiment["id"], experiment["champion"], experiment["arms"]) == ("tone", "control", ["control", "kinder"])
    cure = experiment["groups"][0]["comparisons"][0]["metrics"]["cure_rate"]
    assert cure["significant"] and cure["judgement"] == "better" and 3 < cure["difference"] < 13
    text = cli("evaluate", loop / "decisions.csv", loop / "outcomes.parquet")
    assert text.returncode == 0 and "kinder vs control: cures more" in text.stdout


def test_refused_outcome_rows_are_listed_and_exit_1(loop: Path, tmp_path: Path) -> None:
    bad = tmp_path / "outcomes.jsonl"
    bad.write_text(json.dumps({"case_id": "case-00000001", "date": "2026-11-25", "currency": "EUR", "paid_amount": 1.5}) + "\n"
                   + json.dumps({"case_id": "case-00000002", "date": "soon", "currency": "EUR"}) + "\n", encoding="utf-8")
    result = cli("evaluate", loop / "decisions.csv", bad, "--format", "json")
    assert result.returncode == 1, result.stderr
    assert f"{bad}:1: paid_amount" in result.stderr and f"{bad}:2: date" in result.stderr
    assert [(row["line"], row["field"]) for row in json.loads(result.stdout)["refused"]["outcomes"]] == [(1, "paid_amount"), (2, "date")]


def test_usage_errors_exit_2_naming_the_problem(loop: Path, tmp_path: Path) -> None:
    no_champion = tmp_path / "decisions.jsonl"
    no_champion.write_text(json.dumps({"case_id": "c", "as_of": "2026-11-24T10:00:00Z", "experiment_arm": "tone:a"}) + "\n", encoding="utf-8")
    result = cli("evaluate", no_champion, loop / "outcomes.parquet")
    assert result.returncode == 2 and "--champion tone=ARM" in result.stderr
    result = cli("evaluate", loop / "decisions.csv", loop / "outcomes.parquet", "--confidence", "95")
    assert result.returncode == 2 and "not a confidence level" in result.stderr


def test_the_page_opens_in_a_browser_without_errors(loop: Path) -> None:
    from tests.browser import open_report

    page = loop / "evaluate.html"
    result = cli("evaluate", loop / "decisions.csv", loop / "outcomes.parquet", "--format", "html", "--out", page)
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.index("Verdicts") < html.index("cure rate (%): higher is better")
    seen = open_report(page, 1280, pdf=False)
    assert (seen.console_errors, seen.page_errors, seen.requests) == ([], [], [])
    assert seen.overflows == []


def test_a_debtors_record_gives_one_decision_per_account(tmp_path: Path) -> None:
    from engine.authoring.portfolio_debtors import synthetic_debtors
    from engine.debtor import decide_debtor
    from engine.debtor_snapshot import parse_debtor

    write_policy(tmp_path, POLICY)
    engine = build_engine(tmp_path)
    debtor = parse_debtor(next(iter(synthetic_debtors(1, AS_OF))), AS_OF)
    path = tmp_path / "log.jsonl"
    path.write_text(record("id-1", "DecideDebtor", debtor, decide_debtor(engine, debtor, AS_OF), keep_paths(DEFAULT_KEEP)) + "\n", encoding="utf-8")
    kind, rows = read_decisions(path)
    assert kind == DECISION_LOG and all(isinstance(row, DecidedCase) for row in rows)
    assert [(row.case_id, row.days_past_due) for row in rows if isinstance(row, DecidedCase)] == [
        (account.account_id, account.days_past_due) for account in debtor.accounts]


def test_money_in_a_currency_few_accounts_hold_gets_no_verdict() -> None:
    decisions, outcomes = arms_with(cured=(120, 160), complained=(2, 5))
    for arm in ("control", "kinder"):
        for n in range(10):
            decisions.append(decided(f"{arm}-gbp-{n}", DAY, arm))
            outcomes.append(Outcome(case_id=f"{arm}-gbp-{n}", date=DAY, paid_amount=Decimal(n), currency="GBP"))
    found = evaluate(*join(decisions, outcomes, 30), 0.95)["experiments"][0]["groups"][0]["comparisons"][0]["metrics"]
    assert found["amount_collected_per_account[GBP]"]["text"] == "amount collected per account (GBP): too few accounts to judge (n=10)"
    assert found["amount_collected_per_account[EUR]"]["significant"]

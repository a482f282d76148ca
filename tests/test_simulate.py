"""simulate: a portfolio decided with a rules directory, counted, and compared with another."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.authoring import portfolio_cli, simulate as simulate_module
from engine.errors import InvalidSnapshot
from engine.facts import derive
from engine.authoring.portfolio import synthetic_portfolio
from engine.registry import build_engine
from engine.authoring.simulate import SimulationReport, current_arrangement_state, render_html, simulate
from engine.authoring.simulate_report import ARRANGEMENT_STATES
from engine.snapshot import parse_snapshot
from engine.vocabulary import PaymentMethod
from tests.conftest import REPO, final_notice_as_reminder, write_policy

AS_OF = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
COUNT = 300


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return list(synthetic_portfolio(COUNT, AS_OF, seed=11))


@pytest.fixture(scope="module")
def cases_file(tmp_path_factory: pytest.TempPathFactory, cases: list[dict[str, Any]]) -> Path:
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    lines = [json.dumps(case) for case in cases]
    lines.insert(7, "{not json")  # line 8
    lines.insert(20, json.dumps({**cases[0], "case_id": "bad-country", "country": "XX"}))  # line 21
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def changed_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped rules with one change, the baseline: the final notice becomes a plain reminder."""
    return final_notice_as_reminder(tmp_path_factory.mktemp("changed"))


@pytest.fixture(scope="module")
def report(cases_file: Path, changed_rules: Path) -> SimulationReport:
    return simulate(REPO / "rules", cases_file, compare_dir=changed_rules, workers=2, as_of=AS_OF)


def test_counts_add_up_and_shares_sum_to_one(report: SimulationReport) -> None:
    assert (report.total, report.invalid, report.decided) == (COUNT + 2, 2, COUNT)
    for counts in (report.by_action, report.by_channel):
        assert sum(counts.values()) == COUNT
        assert sum(report.share(count) for count in counts.values()) == pytest.approx(1)
    assert sum(report.by_rule.values()) == COUNT
    assert sum(sum(row.values()) for row in report.by_segment.values()) == COUNT
    assert sum(sum(row.values()) for row in report.by_dpd_bucket.values()) == COUNT
    assert set(report.by_dpd_bucket) <= {"<0", "0-14", "15-30", "31-60", "61-90", "91-180", ">180"}
    assert report.vetoes_by_guardrail["consent"]["cases"] <= report.vetoes_by_guardrail["consent"]["vetoes"]


def test_an_invalid_line_is_counted_with_its_first_bad_field(report: SimulationReport) -> None:
    assert report.invalid_by_field == {"line": 1, "country": 1}
    bad = {item["line"]: item for item in report.invalid_examples}
    assert bad[8]["problem"].startswith("not valid JSON")
    assert (bad[21]["case_id"], bad[21]["field"]) == ("bad-country", "country")


def test_the_comparison_shows_exactly_the_cases_the_change_moves(report: SimulationReport, cases: list[dict[str, Any]], changed_rules: Path) -> None:
    before, after = build_engine(REPO / "rules"), build_engine(changed_rules)
    moved: dict[tuple[str, str], list[str]] = {}
    channels: dict[tuple[str, str], int] = {}
    for case in cases:
        snapshot = parse_snapshot(case, AS_OF)
        old, new = before.decide(snapshot, AS_OF), after.decide(snapshot, AS_OF)
        # The changed copy is the baseline (--compare): changes read from it to the shipped rules.
        if old.action != new.action:
            moved.setdefault((new.action, old.action), []).append(case["case_id"])
        pair = (new.channel.value if new.channel else "none", old.channel.value if old.channel else "none")
        channels[pair] = channels.get(pair, 0) + 1
    assert list(moved) == [("SEND_REMINDER", "FINAL_NOTICE")] and moved[("SEND_REMINDER", "FINAL_NOTICE")]
    comparison = report.comparison
    assert comparison is not None
    assert comparison.changed_action == len(moved[("SEND_REMINDER", "FINAL_NOTICE")])
    assert [(change.before, change.after, change.count, change.examples) for change in comparison.action_changes] == [
        ("SEND_REMINDER", "FINAL_NOTICE", len(ids), ids[:20]) for ids in moved.values()
    ]
    assert comparison.action_matrix["SEND_REMINDER"]["FINAL_NOTICE"] == comparison.changed_action
    # The baseline's own final notices come only from compliance (first-steps: a final notice before a legal step).
    kept = comparison.action_matrix.get("FINAL_NOTICE", {})
    assert set(kept) <= {"FINAL_NOTICE"}
    assert {(row, column): count for row, counts in comparison.channel_matrix.items() for column, count in counts.items()} == channels
    assert report.by_action["FINAL_NOTICE"] == comparison.changed_action + kept.get("FINAL_NOTICE", 0)  # every other final notice moved


def test_the_command_writes_json_and_a_self_contained_html_page(cases_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    simulate_module.register(parser.add_subparsers())
    html, data = tmp_path / "report.html", tmp_path / "report.json"
    args = parser.parse_args(["simulate", str(cases_file), "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat(), "--workers", "1", "--html", str(html), "--json", str(data)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"Simulated {COUNT + 2} cases" in out and "invalid 2" in out
    page = html.read_text(encoding="utf-8")
    assert 'class="chart bars"' in page and "<table>" in page and "SEND_REMINDER" in page
    assert "<script" not in page and "http" not in page  # no JavaScript, nothing fetched
    saved = json.loads(data.read_text(encoding="utf-8"))
    # Each share is rounded to six places, so their sum is 1 within half a millionth per action.
    assert saved["total"] == COUNT + 2 and sum(item["share"] for item in saved["by_action"].values()) == pytest.approx(1, abs=1e-5)


def test_the_html_page_shows_the_comparison(report: SimulationReport) -> None:
    page = render_html(report)
    assert "What the change moves" in page and "SEND_REMINDER → FINAL_NOTICE" in page
    assert 'class="moved"' in page


def test_the_html_page_escapes_what_comes_from_the_cases_but_not_its_own_style(report: SimulationReport) -> None:
    hostile = {"line": 3, "case_id": "<script>alert(1)</script>", "field": "case_id", "problem": 'a "quoted" <b>problem</b>'}
    page = render_html(dataclasses.replace(report, invalid_examples=[hostile]))
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;problem&lt;/b&gt;" in page
    assert 'system-ui,-apple-system,"Segoe UI",sans-serif' in page  # the style sheet is the page's own: not escaped


def test_csv_input_works(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        "case_id,country,time_zone,amount_due,currency,days_past_due,segment,consent_letter,consent_sms,legal_deceased,broken_promises,attr_branch\n"
        "c-1,PL,Europe/Warsaw,450.00,PLN,100,retail,true,,,,north\n"
        "c-2,PL,Europe/Warsaw,450.00,PLN,100,retail,TRUE,maybe,,,\n"
        "c-3,PL,Europe/Warsaw,450.00,PLN,10,retail,,,yes,2,\n",
        encoding="utf-8",
    )
    report = simulate(REPO / "rules", path, workers=1, as_of=AS_OF)
    assert (report.total, report.invalid) == (3, 1)
    assert report.invalid_examples[0]["field"] == "consents.sms" and report.invalid_examples[0]["line"] == 3
    assert report.by_action == {"SEND_REMINDER": 1, "HUMAN_REVIEW": 1}  # c-1 was never reached: a first notice, not a final one
    # No arrangement in a CSV: no arrangement section either.
    assert report.by_arrangement_state == {"none": 2} and "current arrangement" not in simulate_module.format_summary(report)
    assert "Current arrangement" not in render_html(report)


def test_a_csv_with_an_unknown_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("case_id,country,consent_sns\nc-1,PL,true\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown column.*consent_sns"):
        simulate(REPO / "rules", path, workers=1, as_of=AS_OF)


def test_the_portfolio_command_writes_cases_and_spoils_some_only_when_asked(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    portfolio_cli.register(parser.add_subparsers())
    for share, name in (("0", "clean.jsonl"), ("0.2", "spoilt.jsonl"), ("0", "clean.csv")):
        args = parser.parse_args(["portfolio", "--count", "100", "--seed", "5", "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / name), "--invalid-share", share])
        assert args.func(args) == 0
    clean = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text(encoding="utf-8").splitlines()]
    spoilt = [json.loads(line) for line in (tmp_path / "spoilt.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(clean) == len(spoilt) == 100
    assert all(parse_snapshot(case, AS_OF) for case in clean)
    refused = 0
    for case in spoilt:
        try:
            parse_snapshot(case, AS_OF)
        except InvalidSnapshot:
            refused += 1
    assert 5 <= refused <= 40
    csv_report = simulate(REPO / "rules", tmp_path / "clean.csv", workers=1, as_of=AS_OF)
    # Lists (contacts, arrangements) are not columns: the cases that had them are still valid rows.
    assert any(case.get("arrangements") for case in clean) and not {"arrangements", "prior_contacts"} & set(simulate_module.csv_columns())
    assert (csv_report.total, csv_report.invalid) == (100, 0)


def test_the_experiment_split_is_reported(tmp_path: Path, cases_file: Path) -> None:
    write_policy(tmp_path, """
        policy: tiny
        version: "1"
        experiments:
          - {id: plan-offer, arms: {champion: 80, challenger: 20}}
        rules:
          - {id: challenger-call, priority: 20, arm: {plan-offer: challenger}, when: {days_past_due: {gte: 0}}, then: {action: CALL, channel: phone}, reason: x}
          - {id: wait, priority: 10, when: {}, then: {action: NO_CONTACT}, reason: x}
        """)
    report = simulate(tmp_path, cases_file, workers=1, as_of=AS_OF)
    arms = report.by_experiment_arm["plan-offer"]
    assert set(arms) == {"champion", "challenger"}
    assert sum(sum(actions.values()) for actions in arms.values()) == COUNT
    assert "CALL" not in arms["champion"] and arms["challenger"].get("CALL")
    assert "experiment plan-offer by arm" in simulate_module.format_summary(report)


def test_the_report_names_the_holiday_and_time_zone_data(cases_file: Path) -> None:
    """A new holidays or tzdata release can move windows: the header and the JSON say which ran."""
    from importlib import metadata

    report = simulate(REPO / "rules", cases_file, workers=1, as_of=AS_OF)
    versions = {"holidays": metadata.version("holidays"), "tzdata": metadata.version("tzdata")}
    assert report.to_dict()["data_versions"] == versions
    assert f"holiday and time-zone data: holidays {versions['holidays']}, tzdata {versions['tzdata']}" in simulate_module.format_summary(report)


# --- arrangements: the state of each case's current arrangement ---------------------------------

GRACE_LINE = "posting_grace: {bank_transfer: 2, direct_debit: 2, card: 0, cash: 0, other: 2}\n"


def _state(case: dict[str, Any], posting_grace: dict[PaymentMethod, int]) -> str:
    """The engine's own verdict, the fact a decision sees."""
    return str(derive(parse_snapshot(case, AS_OF), AS_OF, posting_grace).facts.get("arrangement.state", "none"))


def _states(cases: list[dict[str, Any]], posting_grace: dict[PaymentMethod, int]) -> Counter[str]:
    return Counter(_state(case, posting_grace) for case in cases)


def test_the_state_of_each_current_arrangement_is_counted(report: SimulationReport, cases: list[dict[str, Any]]) -> None:
    expected = _states(cases, dict(build_engine(REPO / "rules").policy.posting_grace))
    assert report.by_arrangement_state == {state: expected[state] for state in ARRANGEMENT_STATES if expected[state]}
    assert list(report.by_arrangement_state)[-1] == "none" and report.with_arrangement == COUNT - expected["none"] > 0
    assert {"performing", "broken", "missed", "completed"} <= set(report.by_arrangement_state)
    for state, actions in report.by_arrangement_state_action.items():
        assert sum(actions.values()) == report.by_arrangement_state[state]
    assert set(report.by_arrangement_state_action["performing"]) <= {"NO_CONTACT", "SEND_REMINDER", "CONFIRM_ARRANGEMENT", "HUMAN_REVIEW"}  # held, reminded, confirmed or routed
    data = report.to_dict()
    performing = data["by_arrangement_state"]["performing"]
    assert performing["count"] == expected["performing"]
    assert performing["share"] == round(expected["performing"] / COUNT, 6)
    assert performing["share_of_arrangements"] == round(expected["performing"] / report.with_arrangement, 6)
    assert data["by_arrangement_state"]["none"]["share_of_arrangements"] is None
    kept = expected["performing"] + expected["completed"]
    assert data["arrangements"] == {
        "cases": report.with_arrangement, "share": round(report.with_arrangement / COUNT, 6), "kept": kept, "kept_share": round(kept / report.with_arrangement, 6),
    }
    summary = simulate_module.format_summary(report)
    assert "current arrangement" in summary and f"kept (performing or completed): {kept:,} of the {report.with_arrangement:,} cases" in summary
    assert "by current arrangement (cases, top actions)" in summary
    page = render_html(report)
    assert "<h2>Current arrangement</h2>" in page and "cases with an arrangement, by its state" in page


def test_the_comparison_counts_the_moved_cases_by_arrangement_state(report: SimulationReport, cases: list[dict[str, Any]], changed_rules: Path) -> None:
    comparison = report.comparison
    assert comparison is not None
    assert sum(comparison.changed_action_by_arrangement_state.values()) == comparison.changed_action
    # The change turns final notices (91-120 days) into reminders: only where the ladder runs.
    assert comparison.changed_action_by_arrangement_state.get("performing", 0) == 0
    # Both policies declare the same posting grace: every verdict is the same.
    assert comparison.changed_arrangement_state == 0
    assert all(set(row) == {state} for state, row in comparison.arrangement_matrix.items())
    assert "cases that change action, by current arrangement: " in simulate_module.format_summary(report)
    assert "Action changes by current arrangement" in render_html(report)


def test_a_baseline_with_another_posting_grace_shows_whose_verdict_changes(tmp_path: Path) -> None:
    baseline = tmp_path / "rules"
    shutil.copytree(REPO / "rules", baseline)
    policy = baseline / "strategies" / "default.yaml"
    text = policy.read_text(encoding="utf-8")
    assert text.count(GRACE_LINE) == 1
    policy.write_text(text.replace(GRACE_LINE, "posting_grace: {bank_transfer: 0, direct_debit: 0, card: 0, cash: 0, other: 0}\n"), encoding="utf-8")
    grace, no_grace = dict(build_engine(REPO / "rules").policy.posting_grace), {method: 0 for method in PaymentMethod}
    # The cases of a larger portfolio whose verdict depends on the grace, and as many that do not.
    moved: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for case in synthetic_portfolio(2000, AS_OF, seed=11):
        if case.get("arrangements"):
            (moved if _state(case, grace) != _state(case, no_grace) else kept).append(case)
    assert moved
    cases = moved + kept[: len(moved)]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    report = simulate(REPO / "rules", path, compare_dir=baseline, workers=1, as_of=AS_OF)
    comparison = report.comparison
    assert comparison is not None
    pairs = Counter((_state(case, no_grace), _state(case, grace)) for case in cases)
    assert comparison.arrangement_matrix == {before: {after: n for (b, after), n in sorted(pairs.items()) if b == before} for before, _ in sorted(pairs)}
    assert comparison.changed_arrangement_state == len(moved)
    # Without a grace, a payment still posting is a miss: missed under the baseline, performing under --rules.
    assert comparison.arrangement_matrix["missed"].get("performing")
    assert "judged differently (the policies declare a different posting grace)" in simulate_module.format_summary(report)
    assert "Current arrangement: from → to" in render_html(report)


@pytest.mark.parametrize("as_of", ["2026-11-24T10:00:00+01:00", "2026-12-27T23:30:00Z", "2027-03-28T01:30:00Z"])
def test_the_state_read_for_the_report_is_the_one_the_engine_derives(as_of: str) -> None:
    instant = datetime.fromisoformat(as_of)
    for grace in ({}, {PaymentMethod.BANK_TRANSFER: 5, PaymentMethod.CARD: 1}):
        for case in synthetic_portfolio(1500, instant, seed=3):
            snapshot = parse_snapshot(case, instant)
            assert current_arrangement_state(snapshot, instant, grace) == derive(snapshot, instant, grace).facts.get("arrangement.state", "none"), case["case_id"]

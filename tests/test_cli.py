"""The analyst's command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.authoring.cli import main
from tests.conftest import REPO, write_policy


def test_check_accepts_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--rules", str(REPO / "rules")]) == 0
    assert "ok: policy default-strategy" in capsys.readouterr().out


def test_check_reports_every_problem_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_policy(tmp_path, """
        policy: broken
        version: "1"
        rules:
          - {id: a, priority: 1, when: {segmnt: retail}, then: {action: NO_CONTACT}, reason: x}
          - {id: b, priority: 1, then: {action: CALL}, reason: x}
        """)
    assert main(["check", "--rules", str(tmp_path)]) == 1
    errors = capsys.readouterr().err
    assert "policy.yaml:4:" in errors and "did you mean `segment`?" in errors
    assert "policy.yaml:5:" in errors and "name a channel" in errors and "2 problem(s)" in errors


def test_explain_prints_the_decision_with_its_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"case_id": "c-7", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "420.00", "currency": "PLN", "days_past_due": 45, "segment": "retail", "consents": {"phone": True}}))
    assert main(["explain", str(case), "--rules", str(REPO / "rules"), "--as-of", "2026-11-24T22:00:00+01:00"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["action"] == "OFFER_PAYMENT_PLAN" and decision["channel"] == "phone"
    assert decision["window"]["local_start"] == "2026-11-25T08:00:00+01:00"
    assert decision["trace"]["facts"]["days_past_due"] == 45
    assert any(rule["matched"] is False and rule["failed"] for rule in decision["trace"]["rules"])


def test_schema_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert "days_past_due" in json.loads(capsys.readouterr().out)["$defs"]["When"]["properties"]

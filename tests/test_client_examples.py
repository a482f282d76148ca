"""The runnable clients in client_examples/ against a real server on a loopback port.

Each client runs as a subprocess, the way a reader of client_examples/README.md
would run it, and the test reads what it prints.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from transport.grpc_server import RunningServer, ServerConfig, start_server

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "client_examples"
SAMPLE_CASE = EXAMPLES / "cases" / "sample_case.json"
SAMPLE_CASES = EXAMPLES / "cases" / "sample_cases.jsonl"
DECIDE_REQUEST = EXAMPLES / "cases" / "decide_request.json"
SAMPLE_DEBTOR = EXAMPLES / "cases" / "sample_debtor.json"
AS_OF = "2026-11-24T09:00:00Z"  # a Tuesday, 10:00 in Warsaw, 09:00 in London, 04:00 in New York

SMOKE_POLICY = """
policy: smoke
version: "1"
debtor:
  bundle: [[SEND_REMINDER, OFFER_PAYMENT_PLAN]]
  consolidate_offers: true
rules:
  - id: early-soft-reminder
    priority: 100
    when:
      days_past_due: {between: [1, 14]}
      segment: {in: [retail, premium]}
    then:
      action: SEND_REMINDER
      channel: [preferred, sms, email]
      template: friendly-reminder
    reason: Early and soft; most late payers simply forgot.
  - id: plan
    priority: 80
    when: {days_past_due: {between: [31, 90]}, amount_due: {gte: 200}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      offer: {instalments: [2, 12], min_instalment: 50, discount_pct: [0, 10]}
    reason: A plan helps.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    (rules / "strategies").mkdir()
    (rules / "strategies" / "smoke.yaml").write_text(textwrap.dedent(SMOKE_POLICY).lstrip(), encoding="utf-8")
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False))
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def target(server: RunningServer) -> str:
    return f"localhost:{server.port}"


def run(script: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # Run from another directory: the scripts must find the stubs by themselves.
    # A generous deadline unless the test sets one: a loaded CI machine is slow, not wrong.
    deadline = () if "--timeout" in args else ("--timeout", "30")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args, *deadline], input=stdin, capture_output=True, text=True, timeout=90, cwd=Path("/")
    )


def input_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def results(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


# --- the sample data ---------------------------------------------------------


def test_the_sample_cases_cover_what_the_readme_promises() -> None:
    cases = input_cases()
    assert 15 <= len(cases) <= 30
    assert {case["country"] for case in cases} >= {"PL", "GB", "DE", "US", "XX"}
    assert {case["segment"] for case in cases} >= {"retail", "premium", "business", "student"}
    assert min(case["days_past_due"] for case in cases) == -3
    assert max(case["days_past_due"] for case in cases) == 200
    assert all(isinstance(case["amount_due"], str) for case in cases)
    assert all(case.get("time_zone") for case in cases)
    assert any(case.get("payment", {}).get("promise_to_pay_date") for case in cases)
    for flag in (("legal", "vulnerable"), ("legal", "deceased"), ("gdpr", "objection")):
        assert sum(case.get(flag[0], {}).get(flag[1], False) for case in cases) == 1, flag
    assert len({case["case_id"] for case in cases}) == len(cases)

    sample = json.loads(SAMPLE_CASE.read_text(encoding="utf-8"))
    assert (sample["country"], sample["segment"], sample["days_past_due"]) == ("PL", "retail", 12)
    assert sample["consents"] == {"sms": True, "email": True}
    assert [contact["channel"] for contact in sample["prior_contacts"]] == ["CHANNEL_SMS"]
    assert json.loads(DECIDE_REQUEST.read_text(encoding="utf-8"))["case"] == sample


# --- crm_decide.py -----------------------------------------------------------


def test_crm_client_decides_the_sample_case(target: str) -> None:
    done = run("crm_decide.py", "--case", str(SAMPLE_CASE), "--target", target, "--as-of", AS_OF)

    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["case_id"] == "PL-2026-000123"
    assert decision["action"] == "SEND_REMINDER"
    assert decision["channel"] == "CHANNEL_SMS"
    assert decision["template"] == "friendly-reminder"
    assert decision["window"]["time_zone"] == "Europe/Warsaw"
    assert decision["window"]["start"] == AS_OF
    assert decision["window"]["local_start"] == "2026-11-24T10:00:00+01:00"
    assert decision["fired_rules"] == ["early-soft-reminder"]
    assert decision["policy"]["name"] == "smoke"
    assert decision["as_of"] == AS_OF
    assert "trace" not in decision


def test_crm_client_builds_a_case_from_flags_and_explains(target: str) -> None:
    done = run(
        "crm_decide.py", "--target", target, "--as-of", AS_OF, "--explain",
        "--case-id", "GB-42", "--country", "GB", "--time-zone", "Europe/London", "--amount", "300.00", "--currency", "GBP",
        "--days-past-due", "45", "--segment", "retail", "--consent", "phone,sms",
        "--contact", "phone,2026-11-20T10:00:00Z,no_answer", "--attribute", "portfolio=bank_b",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert (decision["case_id"], decision["action"], decision["channel"]) == ("GB-42", "OFFER_PAYMENT_PLAN", "CHANNEL_PHONE")
    assert decision["offer"]["currency"] == "GBP"
    assert decision["trace"]  # --explain asked for the trace


def test_crm_client_flags_override_the_case_file(target: str) -> None:
    done = run("crm_decide.py", "--case", str(SAMPLE_CASE), "--target", target, "--as-of", AS_OF, "--gdpr", "objection")

    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["action"] == "NO_CONTACT"
    assert "window" not in decision
    assert [veto["guardrail"] for veto in decision["vetoes"]] == ["gdpr-objection"]


def test_crm_client_takes_a_whole_decide_request_too(target: str) -> None:
    done = run("crm_decide.py", "--case", str(DECIDE_REQUEST), "--target", target)

    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["case_id"] == "PL-2026-000123"
    assert decision["as_of"] == json.loads(DECIDE_REQUEST.read_text(encoding="utf-8"))["as_of"]


def test_crm_client_prints_each_field_violation_and_exits_2(target: str) -> None:
    done = run("crm_decide.py", "--case", str(SAMPLE_CASE), "--target", target, "--as-of", AS_OF, "--country", "XX", "--currency", "ZZZ")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "INVALID_ARGUMENT" in done.stderr
    violations = [line.strip() for line in done.stderr.splitlines() if line.startswith("  ")]
    assert any(line.startswith("case.country: ") and "'XX'" in line for line in violations), done.stderr
    assert any(line.startswith("case.currency: ") and "'ZZZ'" in line for line in violations), done.stderr


def test_crm_client_refuses_a_file_that_is_not_a_case_snapshot(tmp_path: Path, target: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"case_id": "C-1", "colour": "red"}), encoding="utf-8")

    done = run("crm_decide.py", "--case", str(bad), "--target", target)

    assert done.returncode == 2
    assert "colour" in done.stderr


def test_crm_client_reports_an_unreachable_server_within_its_deadline() -> None:
    done = run("crm_decide.py", "--case", str(SAMPLE_CASE), "--target", "localhost:1", "--timeout", "1")

    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr or "DEADLINE_EXCEEDED" in done.stderr


# --- crm_debtor.py -----------------------------------------------------------


def test_crm_debtor_client_decides_the_two_account_sample(target: str) -> None:
    done = run("crm_debtor.py", "--debtor", str(SAMPLE_DEBTOR), "--target", target, "--as-of", AS_OF)

    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    sample = json.loads(SAMPLE_DEBTOR.read_text(encoding="utf-8"))
    assert (sample["country"], len(sample["accounts"])) == ("PL", 2)
    # One call about both accounts, the older arrears first, and one plan for what both owe.
    assert (decision["debtor_id"], decision["action"], decision["channel"]) == ("PL-P-000042", "OFFER_PAYMENT_PLAN", "CHANNEL_PHONE")
    assert decision["account_ids"] == ["PL-LOAN-1203", "PL-CARD-7781"]
    assert [account["case_id"] for account in decision["accounts"]] == decision["account_ids"]
    assert all(account["window"] == decision["window"] for account in decision["accounts"])
    assert decision["window"]["time_zone"] == "Europe/Warsaw" and decision["window"]["start"] == AS_OF
    [offer] = decision["offers"]
    assert (offer["currency"], offer["total_due"], offer["allocation"]) == ("PLN", "4200.00", ["PL-LOAN-1203", "PL-CARD-7781"])
    assert decision["policy"]["name"] == "smoke" and "trace" not in decision


def test_crm_debtor_client_briefs_an_agent(target: str) -> None:
    done = run("crm_debtor.py", "--debtor", str(SAMPLE_DEBTOR), "--target", target, "--as-of", AS_OF, "--brief")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PL-P-000042: OFFER_PAYMENT_PLAN by phone, 2026-11-24T10:00:00+01:00") and lines[0].endswith("about PL-LOAN-1203, PL-CARD-7781")
    assert lines[1].startswith("  PL-LOAN-1203: OFFER_PAYMENT_PLAN, in this contact")
    assert lines[3].startswith("  offer: 4200.00 PLN on PL-LOAN-1203, PL-CARD-7781 (oldest_first): 2-12 instalments")


def test_crm_debtor_client_prints_each_field_violation_and_exits_2(tmp_path: Path, target: str) -> None:
    sample = json.loads(SAMPLE_DEBTOR.read_text(encoding="utf-8"))
    sample["accounts"][0]["country"] = "DE"  # a person lives in one country
    bad = tmp_path / "two_countries.json"
    bad.write_text(json.dumps({"debtor": sample, "as_of": AS_OF}), encoding="utf-8")

    done = run("crm_debtor.py", "--debtor", str(bad), "--target", target)

    assert done.returncode == 2 and done.stdout == ""
    assert "INVALID_ARGUMENT" in done.stderr
    violations = [line.strip() for line in done.stderr.splitlines() if line.startswith("  ")]
    assert any(line.startswith("debtor.accounts[0].country: ") for line in violations), done.stderr


def test_crm_debtor_client_refuses_a_file_that_is_not_a_debtor(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"debtor_id": "P-1", "accounts": [{"account_id": "A-1", "colour": "red"}]}), encoding="utf-8")

    done = run("crm_debtor.py", "--debtor", str(bad), "--target", "localhost:1")

    assert done.returncode == 2
    assert "colour" in done.stderr


# --- dialer_stream.py --------------------------------------------------------


def check_dialer_results(lines: list[dict[str, Any]], bad_field: str) -> None:
    cases = input_cases()
    assert [line["case_id"] for line in lines] == [case["case_id"] for case in cases]
    assert [line["line"] for line in lines] == list(range(1, len(cases) + 1))
    by_id = {line["case_id"]: line for line in lines}

    invalid = by_id.pop("XX-0001")
    assert "action" not in invalid
    assert "'XX'" in invalid["error"]
    assert [violation["field"] for violation in invalid["field_violations"]] == [bad_field]

    assert all(line.get("action") and "error" not in line for line in by_id.values())
    for case_id in ("DE-0001", "DE-0004"):  # gdpr objection, deceased: compliance wins
        assert by_id[case_id]["action"] == "NO_CONTACT"
        assert by_id[case_id]["channel"] is None and by_id[case_id]["window_start"] is None
    first = by_id["PL-0001"]
    assert (first["action"], first["channel"], first["time_zone"]) == ("SEND_REMINDER", "CHANNEL_SMS", "Europe/Warsaw")
    assert first["window_start"] == AS_OF and first["window_end"]
    us = by_id["US-0001"]  # 04:00 in New York: the window opens later that morning, local time
    assert us["window_local_start"].startswith("2026-11-24T") and us["window_local_start"].endswith("-05:00")
    assert us["window_start"] > AS_OF


def summary_counts() -> str:
    cases = input_cases()
    return f"{len(cases)} cases, {len(cases) - 1} decided, 1 errors"


def test_dialer_streams_the_sample_cases(target: str) -> None:
    done = run("dialer_stream.py", str(SAMPLE_CASES), "--target", target, "--as-of", AS_OF)

    assert done.returncode == 0, done.stderr
    check_dialer_results(results(done.stdout), bad_field="case.country")
    assert "DecideStream: " + summary_counts() in done.stderr
    assert "decisions/s" in done.stderr


def test_dialer_batch_mode_gives_the_same_decisions(tmp_path: Path, target: str) -> None:
    out = tmp_path / "results.jsonl"
    streamed = results(run("dialer_stream.py", str(SAMPLE_CASES), "--target", target, "--as-of", AS_OF).stdout)

    # Chunks of 7 cases: three DecideBatch calls for the sample's 20 cases.
    done = run("dialer_stream.py", str(SAMPLE_CASES), "--batch", "--batch-size", "7", "--target", target, "--as-of", AS_OF, "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    batched = results(out.read_text(encoding="utf-8"))
    invalid_index = next(index for index, case in enumerate(input_cases()) if case["case_id"] == "XX-0001")
    check_dialer_results(batched, bad_field=f"cases[{invalid_index % 7}].country")
    assert "DecideBatch: " + summary_counts() in done.stderr
    without_errors = [(a, b) for a, b in zip(streamed, batched, strict=True) if "error" not in a]
    assert all(a == b for a, b in without_errors)


def test_dialer_reports_unreadable_lines_in_place_and_goes_on(target: str) -> None:
    lines = SAMPLE_CASES.read_text(encoding="utf-8").splitlines()[:2]
    text = "\n".join([lines[0], "not json", "", "# a comment", '{"case_id": "C-9", "colour": "red"}', lines[1]]) + "\n"

    for mode in ([], ["--batch"]):
        done = run("dialer_stream.py", "-", *mode, "--target", target, "--as-of", AS_OF, stdin=text)

        assert done.returncode == 0, done.stderr
        out = results(done.stdout)
        assert [(line["line"], "error" in line) for line in out] == [(1, False), (2, True), (5, True), (6, False)], mode
        assert out[2]["case_id"] == "C-9" and "colour" in out[2]["error"]


def test_dialer_fails_with_1_when_the_server_is_unreachable() -> None:
    done = run("dialer_stream.py", str(SAMPLE_CASES), "--target", "localhost:1", "--timeout", "2")

    assert done.returncode == 1
    assert "DecideStream failed" in done.stderr


# --- the buf curl commands of the README -------------------------------------


def buf_path() -> str | None:
    candidates = [os.environ.get("BUF"), shutil.which("buf"), str(REPO / ".tools/node_modules/.bin/buf")]
    return next((path for path in candidates if path and Path(path).exists()), None)


@pytest.mark.parametrize(
    ("method", "data", "expected"),
    [
        ("collection_strategy.v1.CollectionStrategyService/Decide", f"@{DECIDE_REQUEST}", '"action": "SEND_REMINDER"'),
        ("collection_strategy.v1.CollectionStrategyService/GetPolicy", None, '"kind": "strategy"'),
        ("grpc.health.v1.Health/Check", '{"service": "collection_strategy.v1.CollectionStrategyService"}', '"status": "SERVING"'),
    ],
)
def test_the_readme_buf_curl_calls_work(server: RunningServer, method: str, data: str | None, expected: str) -> None:
    buf = buf_path()
    if buf is None:
        pytest.skip("buf is not installed; `make test` installs it")
    command = [buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge"]
    if data is not None:
        command += ["-d", data]
    done = subprocess.run([*command, f"http://localhost:{server.port}/{method}"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert expected in done.stdout

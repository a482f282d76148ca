"""`simulate` and `decide` report the load a run puts on each work queue: items,
share, by priority, due within 24 hours, and against the queue's capacity per day
the load and an over-capacity flag; reviews no queue takes are counted apart.
Run through the command line, each in a subprocess with a timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO, write_policy
from tests.test_work_queues import POLICY

AS_OF = "2026-11-24T10:00:00+01:00"
# Three disputes for a queue that takes two a day; a late case for the default queue, due in 24 hours.
WORK_POLICY = POLICY.replace("due_in_hours: 48", "due_in_hours: 24")


def case(number: int, **fields: Any) -> dict[str, Any]:
    data = {"case_id": f"case-{number}", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "500.00", "currency": "PLN", "days_past_due": 10, "segment": "retail", "consents": {"sms": True}}
    return {**data, **fields}


CASES = [
    case(1, legal={"dispute": True}),
    case(2, legal={"dispute": True}),
    case(3, legal={"dispute": True}),
    case(4, days_past_due=90),
    case(5),
    case(6),
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.authoring.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def setup(tmp_path: Path, policy: str = WORK_POLICY) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    write_policy(rules, policy)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(item) + "\n" for item in CASES), encoding="utf-8")
    return rules, cases


def by_queue(loads: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {load["queue"]: load for load in loads}


def test_simulate_reports_the_load_per_queue_against_its_capacity(tmp_path: Path) -> None:
    rules, cases = setup(tmp_path)
    report = tmp_path / "report.json"
    done = run("simulate", str(cases), "--rules", str(rules), "--as-of", AS_OF, "--workers", "1", "--json", str(report))
    assert done.returncode == 0, done.stderr

    loads = json.loads(report.read_text(encoding="utf-8"))["work_queues"]
    assert [load["queue"] for load in loads] == ["disputes", "review"]  # as the policy declares them
    disputes, review = loads
    assert disputes == {
        "queue": "disputes", "description": "Disputes, answered in writing.", "items": 3, "share": 0.5,
        "by_priority": {"high": 3, "normal": 0, "low": 0}, "due_within_24h": 0,
        "capacity_per_day": 2, "load_pct": 150.0, "over_capacity": True,
    }
    assert (review["items"], review["by_priority"], review["due_within_24h"], review["load_pct"], review["over_capacity"]) == (1, {"high": 0, "normal": 0, "low": 1}, 1, 1.0, False)
    text = done.stdout
    assert "work for people: review decisions by queue" in text
    [line] = [line for line in text.splitlines() if line.strip().startswith("disputes")]
    assert line.split()[:3] == ["disputes", "3", "50.0%"] and line.endswith("150.0%  OVER CAPACITY")


def test_the_simulate_page_and_its_exports_show_the_queue_load(tmp_path: Path) -> None:
    rules, cases = setup(tmp_path)
    page = tmp_path / "report.html"
    done = run("simulate", str(cases), "--rules", str(rules), "--as-of", AS_OF, "--workers", "1", "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert "Review work by queue" in page.read_text(encoding="utf-8")
    exported = (tmp_path / "report_files" / "work-queues.csv").read_text(encoding="utf-8").splitlines()
    assert exported[0].split(",")[:2] == ["queue", "items"]
    assert any(row.startswith("disputes,3,") and row.endswith(",yes") for row in exported[1:])


def test_decide_prints_the_load_per_queue_and_writes_it_in_its_summary(tmp_path: Path) -> None:
    rules, cases = setup(tmp_path)
    out, summary = tmp_path / "decisions.csv", tmp_path / "summary.json"
    done = run("decide", str(cases), "--out", str(out), "--rules", str(rules), "--as-of", AS_OF, "--workers", "1", "--summary-json", str(summary))
    assert done.returncode == 0, done.stderr

    written = json.loads(summary.read_text(encoding="utf-8"))
    assert (written["decided"], written["refused"]) == (6, 0)
    loads = by_queue(written["work_queues"])
    assert (loads["disputes"]["items"], loads["disputes"]["over_capacity"], loads["review"]["items"]) == (3, True, 1)
    assert "OVER CAPACITY" in done.stdout and "work for people" in done.stdout
    header, *rows = out.read_text(encoding="utf-8").splitlines()
    assert "work_queue,work_priority,work_due_utc" in header
    assert sum(",disputes,high,2026-11-26T23:00:00Z," in row for row in rows) == 3


def test_reviews_no_queue_takes_are_counted_apart_and_an_idle_queue_is_listed(tmp_path: Path) -> None:
    rules, cases = setup(tmp_path, WORK_POLICY.replace("    default_for: [HUMAN_REVIEW]\n", ""))
    report = tmp_path / "report.json"
    done = run("simulate", str(cases), "--rules", str(rules), "--as-of", AS_OF, "--workers", "1", "--json", str(report))
    assert done.returncode == 0, done.stderr

    loads = by_queue(json.loads(report.read_text(encoding="utf-8"))["work_queues"])
    assert loads["review"]["items"] == 0 and loads["review"]["load_pct"] == 0.0  # declared, idle
    assert loads[None]["items"] == 1 and loads[None]["capacity_per_day"] is None and not loads[None]["over_capacity"]
    assert "(no queue)" in done.stdout


def test_a_run_without_reviews_or_queues_prints_no_queue_table(tmp_path: Path) -> None:
    policy = """
        policy: plain
        version: "1"
        rules:
          - id: remind
            priority: 1
            when: {}
            then: {action: SEND_REMINDER, channel: sms}
            reason: A reminder.
        """
    rules, cases = setup(tmp_path, policy)
    report = tmp_path / "report.json"
    done = run("simulate", str(cases), "--rules", str(rules), "--as-of", AS_OF, "--workers", "1", "--json", str(report))
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["work_queues"] == []
    assert "work for people" not in done.stdout

"""`simulate` on more than one core: each worker tallies the cases it decides, the reader
merges the tallies in file order (engine/authoring/simulate_report.py, `Tally.merge`), and
the report is the same, byte for byte in JSON, HTML and CSV, with 1 and with 2 workers as
with one tally of every case in file order (no chunks, no merge).

The file has more invalid lines and more moved cases than the report keeps examples of
(EXAMPLES), spread over many chunks, so a merge that kept the wrong examples, or put a
name first seen in a later chunk before an earlier one, changes the bytes.

Anything that starts worker processes runs in a subprocess with a timeout, so a pool
that hangs fails the test instead of CI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.authoring.portfolio import synthetic_portfolio
from engine.authoring.simulate_report import EXAMPLES
from tests.conftest import REPO, final_notice_as_reminder

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
COUNT = 1500  # fifteen chunks of 100: the helper and the caller each tally several
BAD_EVERY = 50  # an invalid line every 50: 30 of them, more than EXAMPLES, in every chunk
TIMEOUT = 600

REPORT = """
import dataclasses, sys
from datetime import datetime
from pathlib import Path
from engine.authoring import simulate
from engine.authoring.simulate_input import read_raw_cases
from engine.authoring.simulate_report import Tally, build_report
from engine.registry import build_engine

rules, compare, cases, folder, as_of, workers = sys.argv[1:]
rules, compare, cases, as_of = Path(rules), Path(compare), Path(cases), datetime.fromisoformat(as_of)
if workers == "one tally":  # the reference: every case decided here and added to one tally, in file order
    engines = (build_engine(rules), build_engine(compare))
    decider = simulate._Decider(rules, compare, as_of, engines)
    tally = Tally()
    tally.add([decider.one(line, payload) for line, payload in read_raw_cases(cases)])
    report = build_report(tally, rules, cases, compare, engines, as_of, 0, 0.0)
else:
    report = simulate.simulate(rules, cases, compare_dir=compare, workers=int(workers), as_of=as_of)
report = dataclasses.replace(report, workers=0, seconds=0.0)  # the run's own figures; everything else must match
simulate.write_outputs(report, Path(folder) / "report.json", Path(folder) / "report.html")
"""

CALLER_TALLIES = """
import json, os, sys
from datetime import datetime
from pathlib import Path
from engine.authoring import simulate, simulate_report

caller = os.getpid()
counts = {"decided": 0, "tallied": 0}
decide, tally = simulate._Decider.chunk, simulate_report.Tally.add

def decided(self, items):
    if os.getpid() == caller:  # a forked helper runs this too, and is not counted
        counts["decided"] += len(items)
    return decide(self, items)

def tallied(self, results):
    if os.getpid() == caller:
        counts["tallied"] += len(results)
    return tally(self, results)

simulate._Decider.chunk = decided
simulate_report.Tally.add = tallied
rules, cases, as_of = sys.argv[1:]
report = simulate.simulate(Path(rules), Path(cases), workers=2, as_of=datetime.fromisoformat(as_of))
print(json.dumps({**counts, "total": report.total}))
"""


@pytest.fixture(scope="module")
def cases_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [json.dumps(case) for case in synthetic_portfolio(COUNT, AS_OF, seed=17)]
    for index in range(0, COUNT, BAD_EVERY):  # not JSON first, then a case with a bad country, by turns
        bad = json.dumps({**json.loads(lines[index]), "case_id": f"bad-{index}", "country": "XX"}) if index % (2 * BAD_EVERY) else "{not json"
        lines.insert(index, bad)
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped rules with the final notice a plain reminder: many cases move."""
    return final_notice_as_reminder(tmp_path_factory.mktemp("baseline"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, cases_file: Path, baseline: Path) -> dict[str, dict[str, bytes]]:
    """Every file the report writes (JSON, HTML, each table as CSV): of one tally, with 1 and with 2 workers."""
    outputs = {}
    for workers in ("one tally", "1", "2"):
        folder = tmp_path_factory.mktemp("report")
        command = [sys.executable, "-c", REPORT, str(REPO / "rules"), str(baseline), str(cases_file), str(folder), AS_OF.isoformat(), workers]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        # XLSX is left out: a workbook records when it was written.
        outputs[workers] = {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.suffix in (".json", ".html", ".csv")}
    return outputs


def test_the_file_tests_what_a_merge_can_get_wrong(written: dict[str, dict[str, bytes]]) -> None:
    report = json.loads(written["one tally"]["report.json"])
    assert report["invalid"] > EXAMPLES and len(report["invalid_examples"]) == EXAMPLES
    # A tie, listed in the order first seen (not by name): "line" (not JSON) comes first in the file.
    assert report["invalid_by_field"] == {"line": 15, "country": 15} and list(report["invalid_by_field"]) == ["line", "country"]
    assert max(change["count"] for change in report["comparison"]["action_changes"]) > EXAMPLES
    assert report["by_experiment_arm"], "no experiment: the arms' tally goes untested"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_report_of_merged_tallies_is_the_report_of_one_tally(written: dict[str, dict[str, bytes]], workers: str) -> None:
    reference = written["one tally"]
    assert {"report.json", "report.html"} < set(reference) and any(name.endswith(".csv") for name in reference)
    assert sorted(written[workers]) == sorted(reference)
    for name, expected in reference.items():
        assert written[workers][name] == expected, f"{name} differs with {workers} worker(s) from one tally"


def test_the_caller_tallies_only_the_cases_it_decided(cases_file: Path) -> None:
    """A helper sends back the tally of its chunk, not its cases: the reader adds up
    counters per chunk, the serial part of a run over many processes."""
    command = [sys.executable, "-c", CALLER_TALLIES, str(REPO / "rules"), str(cases_file), AS_OF.isoformat()]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.splitlines()[-1])
    assert 0 < counts["decided"] < counts["total"], counts  # the caller decided some cases, the helper the others
    assert counts["tallied"] == counts["decided"], counts

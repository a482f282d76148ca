"""What a run of the analyst tools pays for before its first row, and in its one serial process.

- The registry imports the bundle module, and with it the signing library
  (`cryptography`), only for a rules folder that has a bundle (engine/registry.py):
  building an engine from rules without one, as `simulate`, `decide` and every
  server worker do, does not load it; a bundled folder is still fingerprinted and verified.
- jinja2, the templates and the page's modules load only when `--html` or
  `--export` asks for a page or its tables (engine/authoring/simulate.py, report/).
- `simulate` over debtors: each worker tallies the persons it ran and the reader
  merges the tallies in file order (simulate_debtor_report.DebtorTally.merge); the
  report is the same, byte for byte, with 1 and 2 workers as with one tally.

What is loaded is read from sys.modules in a fresh interpreter; anything that starts
worker processes runs in a subprocess with a timeout, so a pool that hangs fails."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine import bundle, registry
from engine.authoring.cli import main
from engine.authoring.portfolio import synthetic_portfolio
from engine.authoring.portfolio_debtors import synthetic_debtors
from engine.authoring.simulate_debtor_report import Distribution, distribution_of
from engine.authoring.simulate_report import EXAMPLES
from engine.last_good import fingerprint
from engine.registry import PolicyRegistry
from tests.conftest import REPO, call_every_day_rules

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
TIMEOUT = 600
SIGNING = ("cryptography", "engine.bundle")
PAGE = ("jinja2", "markupsafe", "xlsxwriter", "engine.authoring.simulate_html", "engine.authoring.report")

LOADED = """
import json, sys
from engine.authoring.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded_by(*argv: str) -> set[str]:
    """The modules loaded once the command line ran `argv` in a fresh interpreter (it must succeed)."""
    result = subprocess.run([sys.executable, "-c", LOADED, *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    ran = json.loads(result.stderr.splitlines()[-1])
    assert ran["code"] == 0, result.stderr
    return set(ran["modules"])


def among(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules that are one of `names` or inside one of them."""
    return sorted(module for module in modules if any(module == name or module.startswith(name + ".") for name in names))


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case in synthetic_portfolio(30, AS_OF, seed=3)), encoding="utf-8")
    return path


# --- the signing library: only for a folder with a bundle ----------------------------------------


def test_the_registry_names_the_bundles_folder_as_the_bundle_module_does() -> None:
    assert registry.BUNDLE_DIR == bundle.BUNDLE_DIR


def test_building_and_serving_rules_without_a_bundle_does_not_load_the_signing_library() -> None:
    script = """
import json, sys
from pathlib import Path
from engine.registry import PolicyRegistry, build_engine, rules_fingerprint
rules = Path(sys.argv[1])
build_engine(rules)
rules_fingerprint(rules)
PolicyRegistry(rules, isolate=False).reload_if_changed()
print(json.dumps(sorted(sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", script, str(REPO / "rules")], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert not among(set(json.loads(result.stdout.splitlines()[-1])), SIGNING)


@pytest.mark.parametrize("command", ["simulate", "decide"])
def test_a_bulk_command_does_not_load_the_signing_library(command: str, cases: Path, tmp_path: Path) -> None:
    out = ["--json", str(tmp_path / "report.json")] if command == "simulate" else ["--out", str(tmp_path / "decisions.jsonl")]
    modules = loaded_by(command, str(cases), "--rules", str(REPO / "rules"), "--as-of", AS_OF.isoformat(), "--workers", "1", *out)
    assert not among(modules, SIGNING)


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The shipped rules, bundled by Ana and approved by Ben and Cy (two compliance officers):
    the rules folder and the trusted-keys file."""
    # require_approved() leaves the keys' path in the environment for the isolated build: restored after.
    monkeypatch.setenv(bundle.TRUSTED_KEYS_ENV, "")
    people = {"ana": ["strategy"], "ben": ["strategy", "compliance"], "cy": ["compliance"]}
    entries = []
    for name, roles in people.items():
        key = Ed25519PrivateKey.generate()
        (tmp_path / f"{name}.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        entries.append({"owner": name.title(), "roles": roles, "public_key": bundle.raw_public_key(key.public_key())})
    trusted = tmp_path / "trusted-keys.yaml"
    trusted.write_text(json.dumps({"keys": entries}), encoding="utf-8")
    rules = tmp_path / "rules"
    for part in ("strategies", "compliance"):
        shutil.copytree(REPO / "rules" / part, rules / part)
    assert main(["bundle", "build", "--rules", str(rules), "--key", str(tmp_path / "ana.pem")]) == 0
    for approver in ("ben", "cy"):
        assert main(["bundle", "approve", "--rules", str(rules), "--key", str(tmp_path / f"{approver}.pem")]) == 0
    return rules, trusted


def test_a_bundled_folder_is_fingerprinted_with_its_bundle_in_a_fresh_interpreter(bundled: tuple[Path, Path]) -> None:
    """Where engine.bundle is not loaded yet, the registry loads it for a bundled folder:
    an approval still changes the fingerprint, so the rules are looked at again."""
    rules, _ = bundled
    script = "import sys; from pathlib import Path; from engine.registry import rules_fingerprint; print(rules_fingerprint(Path(sys.argv[1])))"
    result = subprocess.run([sys.executable, "-c", script, str(rules)], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{fingerprint(rules)}+{bundle.bundle_digest(rules)}"


def test_a_bundled_folder_is_still_verified_on_start_and_reload(bundled: tuple[Path, Path]) -> None:
    rules, trusted = bundled
    serving = PolicyRegistry(rules, checks=[bundle.require_approved(trusted)], isolate=False)
    assert serving.reload_if_changed() is None  # nothing changed
    approvals = rules / bundle.BUNDLE_DIR / bundle.APPROVALS
    sorted(approvals.iterdir())[0].unlink()  # no rules file changes: only the bundle's fingerprint tells the registry to look again
    assert serving.reload_if_changed() is False  # refused: one compliance officer's approval is not enough
    assert serving.last_refusal is not None and "compliance" in serving.last_refusal.reason


# --- the page: only for --html or --export -------------------------------------------------------


def test_simulate_without_a_page_loads_no_template_engine(cases: Path, tmp_path: Path) -> None:
    modules = loaded_by("simulate", str(cases), "--as-of", AS_OF.isoformat(), "--workers", "1", "--json", str(tmp_path / "report.json"))
    assert not among(modules, PAGE)


@pytest.mark.parametrize("asks", [("--html", "page.html"), ("--export", "tables")])
def test_simulate_with_a_page_or_its_tables_loads_them(asks: tuple[str, str], cases: Path, tmp_path: Path) -> None:
    option, name = asks
    modules = loaded_by("simulate", str(cases), "--as-of", AS_OF.isoformat(), "--workers", "1", option, str(tmp_path / name))
    assert "engine.authoring.simulate_html" in modules and "xlsxwriter" in modules
    assert ("jinja2" in modules) == (option == "--html")  # the tables alone need no template
    assert any(path.suffix == ".csv" for path in tmp_path.rglob("*"))


# --- debtors: each worker tallies its own --------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_a_distribution_of_counts_is_the_distribution_of_the_values(seed: int) -> None:
    """distribution_of reads the nearest ranks from counts; the same figures as from the sorted values."""
    rng = random.Random(seed)
    values = [rng.choice([0, 0, 1, 2, 3, 5, 9]) for _ in range(rng.randint(0, 120))]
    ordered = sorted(values)

    def rank(share: float) -> int:  # the nearest rank, as distribution() found it from the sorted values
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0

    top = ordered[-1] if ordered else 0
    expected = Distribution(
        len(ordered), rank(0.5), rank(0.9), rank(0.99), top, round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
        {str(count): ordered.count(count) for count in range(top + 1)},
    )
    assert distribution_of(Counter(values)) == expected


UNCAPPED = """
import dataclasses, json, os, sys
from datetime import datetime
from pathlib import Path
from engine import compliance
from engine.authoring import simulate, simulate_debtor_report, simulate_debtor_run, workers as processes
from engine.authoring.simulate_input import read_cases
from engine.registry import build_engine

# The caps not enforced, so that many persons go over one: the examples of a merge are tested too.
# A forked helper inherits this; a spawned one would not, and the report would differ.
compliance.cap_release = lambda cap, context: None
rules, debtors, folder, as_of, workers = sys.argv[1:]
rules, debtors, as_of = Path(rules), Path(debtors), datetime.fromisoformat(as_of)
if workers == "2" and processes.start_method() != "fork":
    sys.exit(3)
caller, counts = os.getpid(), {"ran": 0, "tallied": 0}
chunk, add = simulate_debtor_run.DebtorRunner.chunk, simulate_debtor_report.DebtorTally.add

def ran(self, items):
    if os.getpid() == caller:  # a forked helper runs this too, and is not counted
        counts["ran"] += len(items)
    return chunk(self, items)

def tallied(self, results):
    if os.getpid() == caller:
        counts["tallied"] += len(results)
    return add(self, results)

simulate_debtor_run.DebtorRunner.chunk = ran
simulate_debtor_report.DebtorTally.add = tallied
if workers == "one tally":  # the reference: every person run here and added to one tally, in file order
    engine = build_engine(rules)
    runner = simulate_debtor_run.DebtorRunner(rules, as_of, 14, engine=engine)
    tally = simulate_debtor_report.DebtorTally()
    tally.add([runner.one(line, payload) for line, payload in read_cases(debtors)])
    report = simulate_debtor_report.build_debtor_report(tally, rules, debtors, engine, as_of, 14, 0, 0.0)
else:
    report = simulate.simulate_debtors(rules, debtors, days=14, workers=int(workers), as_of=as_of)
report = dataclasses.replace(report, workers=0, seconds=0.0)  # the run's own figures; everything else must match
simulate.write_outputs(report, Path(folder) / "report.json", Path(folder) / "report.html")
print(json.dumps({**counts, "total": report.total}))
"""
COUNT = 160  # sixteen chunks of 10 (DEBTOR_CHUNK): the helper and the caller each tally several
BAD_EVERY = 6  # an invalid line every 6: more than EXAMPLES, in every chunk


@pytest.fixture(scope="module")
def call_every_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped packs under a strategy that calls every person every day."""
    return call_every_day_rules(tmp_path_factory.mktemp("call-every-day"))


@pytest.fixture(scope="module")
def debtors_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [json.dumps(debtor) for debtor in synthetic_debtors(COUNT, AS_OF, seed=11)]
    for index in range(0, len(lines), BAD_EVERY):  # not JSON first, then a debtor with a bad country, by turns
        bad = json.dumps({**json.loads(lines[index]), "debtor_id": f"bad-{index}", "country": "XX"}) if index % (2 * BAD_EVERY) else "{not json"
        lines.insert(index, bad)
    path = tmp_path_factory.mktemp("debtors") / "debtors.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def debtor_runs(tmp_path_factory: pytest.TempPathFactory, call_every_day: Path, debtors_file: Path) -> dict[str, tuple[dict[str, int], dict[str, bytes]]]:
    """Per run (one tally, 1 and 2 workers): the caller's counts, and every file the report writes (JSON, HTML, CSV)."""
    runs = {}
    for workers in ("one tally", "1", "2"):
        folder = tmp_path_factory.mktemp("report")
        command = [sys.executable, "-c", UNCAPPED, str(call_every_day), str(debtors_file), str(folder), AS_OF.isoformat(), workers]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        if result.returncode == 3:
            pytest.skip("helpers are spawned here: they would enforce the caps the caller switched off")
        assert result.returncode == 0, result.stderr
        # XLSX is left out: a workbook records when it was written.
        files = {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.suffix in (".json", ".html", ".csv")}
        runs[workers] = (json.loads(result.stdout.splitlines()[-1]), files)
    return runs


def test_the_debtors_file_tests_what_a_merge_can_get_wrong(debtor_runs: dict[str, tuple[dict[str, int], dict[str, bytes]]]) -> None:
    report = json.loads(debtor_runs["one tally"][1]["report.json"])
    assert report["invalid"] > EXAMPLES and len(report["invalid_examples"]) == EXAMPLES
    assert list(report["invalid_by_field"]) == ["line", "country"]  # first seen first
    assert report["persons_over_a_cap"] > EXAMPLES and len({item["debtor_id"] for item in report["over_examples"]}) == EXAMPLES
    assert any(len(cap["examples"]) == EXAMPLES for cap in report["caps"])
    assert len(report["week_by_accounts"]) > 1 and len(report["persons_by_accounts"]) > 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_debtor_report_of_merged_tallies_is_the_report_of_one_tally(debtor_runs: dict[str, tuple[dict[str, int], dict[str, bytes]]], workers: str) -> None:
    reference, written = debtor_runs["one tally"][1], debtor_runs[workers][1]
    assert {"report.json", "report.html"} < set(reference) and any(name.endswith(".csv") for name in reference)
    assert sorted(written) == sorted(reference)
    for name, expected in reference.items():
        assert written[name] == expected, f"{name} differs with {workers} worker(s) from one tally"


def test_the_caller_tallies_only_the_debtors_it_ran(debtor_runs: dict[str, tuple[dict[str, int], dict[str, bytes]]]) -> None:
    """A helper sends back the tally of its chunk, not its persons' runs: the reader adds
    up counters per chunk, the serial part of a run over many processes."""
    counts = debtor_runs["2"][0]
    assert 0 < counts["ran"] < counts["total"], counts  # the caller ran some persons, the helper the others
    assert counts["tallied"] == counts["ran"], counts

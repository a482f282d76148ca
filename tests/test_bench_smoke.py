"""bench/run.py still runs: tiny figures, in a subprocess with a timeout; no assertion on speed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO

NUMBER = r"[0-9][0-9,.]*"


def bench(*args: str, timeout: float = 300) -> str:
    """The benchmark's output; on a timeout the whole process group goes, servers it started included."""
    process = subprocess.Popen([sys.executable, str(REPO / "bench" / "run.py"), *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, err[-2000:]
    return out


@pytest.fixture(scope="module")
def out() -> str:
    return bench("--cases", "40", "--rounds", "3", "--repeat", "5", "--debtor-cases", "30", "--skip-grpc")


def test_the_in_process_benchmarks_run_and_print_the_arrangement_ratios(out: str) -> None:
    assert "one case with an active instalment plan and 20 prior contacts, beside the same case with neither; 3 interleaved rounds" in out
    assert re.search(r"plan +decided NO_CONTACT by arrangement-performing-hold", out)  # the plan is judged active and kept
    ratios = re.findall(r"^(whole engine, us per decision|facts only \(derive\), us) +[0-9.]+ +[0-9.]+ +([0-9.]+) / ([0-9.]+) / ([0-9.]+)$", out, re.MULTILINE)
    assert [name for name, *_ in ratios] == ["whole engine, us per decision", "facts only (derive), us"]
    for _, low, middle, high in ratios:
        assert float(low) <= float(middle) <= float(high)


def assert_debtor_figures(section: str, rounds: int, decide_label: str) -> None:
    """Every round alternates the order; every size has persons/s, accounts/s and the ratio to Decide."""
    rows = re.findall(rf"^ +(\d) +(Decide|10 acct) +{NUMBER}(?: +{NUMBER} +{NUMBER} +{NUMBER}){{3}}$", section, re.MULTILINE)
    assert rows == [(f"{index + 1}", "Decide" if index % 2 == 0 else "10 acct") for index in range(rounds)]
    summary = dict(re.findall(rf"^({re.escape(decide_label)}|debtors of \d+, [A-Za-z /-]+?) +({NUMBER} / {NUMBER} / {NUMBER})$", section, re.MULTILINE))
    figures = ("persons/s", "accounts/s", "per-account cost / Decide")
    assert list(summary) == [decide_label] + [f"debtors of {size}, {figure}" for size in (1, 3, 10) for figure in figures]
    spreads = {name: [float(value.replace(",", "")) for value in shown.split(" / ")] for name, shown in summary.items()}
    for low, middle, high in spreads.values():
        assert 0 < low <= middle <= high
    for size in (3, 10):  # a person of several accounts decides more accounts than persons per second
        assert spreads[f"debtors of {size}, accounts/s"][1] > spreads[f"debtors of {size}, persons/s"][1]
    assert "1.0: an account costs what a lone case does" in section


def test_the_debtor_benchmark_prints_persons_and_accounts_per_second_beside_decide(out: str) -> None:
    section = out[out.index("== Debtors:"):]
    assert "for debtors of 1, 3, 10 accounts, built from the same 30 synthetic cases" in section
    assert "beside single-account Decide (parse_snapshot + decide) of those cases" in section
    assert "3 interleaved rounds, the order reversed every other round" in section
    contacted = re.findall(r"^   debtors of +(\d+): (\d+) of (\d+) contacted now; accounts those contacts cover: (\d+)$", section, re.MULTILINE)
    assert [(size, persons) for size, _, persons, _ in contacted] == [("1", "30"), ("3", "10"), ("10", "3")]
    for size, reached, _, covered in contacted:
        assert int(reached) <= int(covered) <= int(reached) * int(size)
    assert_debtor_figures(section, 3, "Decide, decisions/s")


def test_the_debtor_benchmark_over_grpc_calls_decide_debtor_beside_decide() -> None:
    out = bench("--only", "grpc-debtors", "--workers", "1", "--rounds", "2", "--debtor-seconds", "0.3", "--debtor-cases", "30", "--in-flight", "4")
    section = out[out.index("== Debtors over gRPC:"):]
    assert "DecideDebtor for debtors of 1, 3, 10 accounts beside unary Decide of the same 30 cases" in section
    assert "== In process" not in out and "== gRPC on loopback" not in out  # --only runs that section alone
    assert_debtor_figures(section, 2, "Decide, requests/s")


def test_the_http_benchmark_prints_server_cpu_per_decide_over_http_beside_grpc() -> None:
    out = bench("--only", "grpc-http", "--rounds", "2", "--http-calls", "20")
    section = out[out.index("== HTTP/JSON beside gRPC:"):]
    assert "server CPU per unary Decide, 1 worker, 20 calls of each per round, 2 interleaved rounds" in section
    rounds = re.findall(r"^ +(\d) +(gRPC|HTTP) +(\d+) +(\d+) +([0-9.]+)$", section, re.MULTILINE)
    assert [(index, first) for index, first, *_ in rounds] == [("1", "gRPC"), ("2", "HTTP")]  # the order alternates
    spreads = dict(re.findall(rf"^((?:gRPC|HTTP)[^\n]*?) +({NUMBER} / {NUMBER} / {NUMBER})$", section, re.MULTILINE))
    assert list(spreads) == ["gRPC, server CPU us per Decide", "HTTP, server CPU us per Decide", "HTTP / gRPC, within each round"]
    assert "== In process" not in out and "== gRPC on loopback" not in out

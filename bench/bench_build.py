"""Build time of large policies (issue 15, P5): load, lint, policy tests, compile.

    python bench/bench_build.py [--rules 500 1000] [--rounds R] [--before]
    python bench/bench_build.py --handover [--rules 500] [--rounds R] [--gap S]

A policy of N rules is the shipped strategy (rules/strategies/default.yaml, 50
rules) with copies of its rules for product lines `line-1`, `line-2`, ...: copy k
of a rule has the same priority and `then`, and also requires `product: line-k`.
The shipped policy tests and compliance packs stay beside it, so every stage
does the work a real reload does: the same tests pass, lint compares every rule
with the rules above it.

Each round builds the shipped policy (the baseline, measured in the same run)
and then each large one, the order alternating between rounds; a build is
    load     load_strategy + load_packs (YAML -> models -> intermediate form)
    compile  StrategyEngine (the durable_rules network and the guardrails)
    lint     lint_policy with the packs, as the acceptance check runs it
    tests    run_policy_tests with the engine built
Timed in CPU seconds of the benchmark process (one thread does the work), so
other load on the machine counts less. Printed: each round's total and stages, then min / median / max of the totals,
the ratio of each to the shipped policy's build in the same round, and the P5
targets (500 rules under 1 s, 1,000 under 2 s).

--before also times, once per round, the two stages as they were before the
indexed shadowing analysis and libyaml composing: lint with the pairwise
reference (engine.authoring.lint_shadowing.shadowed_pairwise) and the YAML composed by
PyYAML's pure-Python composer (engine.policy.yaml_source.load_yaml_reference).

--handover times instead what a server's reload costs before its workers hear of
it: from a new version of the strategy file written to the supervisor's word
(engine/handover.py RulesChecker.reload_if_changed: the isolated check at nice
10, with lint and the policy tests), for the shipped policy and each of
`--rules`, in interleaved rounds `--gap` seconds apart (the time the spare check
child has to start between reloads). Printed: wall seconds, the check child's CPU
seconds after the write, and its CPU spent ahead (the interpreter and imports of
the spare child, engine/isolation.py SpareChild; 0 when none waited).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from engine.authoring import lint, lint_money, lint_shadowing  # noqa: E402
from engine.authoring.policy_tests import run_policy_tests  # noqa: E402
from engine.engine import StrategyEngine  # noqa: E402
from engine.policy import loader, yaml_source  # noqa: E402
from engine.policy.loader import load_strategy  # noqa: E402
from engine.policy.packs import load_packs  # noqa: E402

SHIPPED = ROOT / "rules"
TARGETS = {500: 1.0, 1000: 2.0}  # seconds (P5)
STAGES = ("load", "compile", "lint", "tests")
SHADOWED = lint_shadowing.shadowed


def product_line_rule(rule: dict[str, Any], line: int) -> dict[str, Any]:
    """A copy of a shipped rule for product line `line-<line>`: same priority and `then`."""
    copy = dict(rule, id=f"{rule['id']}--line-{line}")
    when = rule.get("when") or {}
    copy["when"] = {**when, "product": f"line-{line}"} if "product" not in when else {"all": [when, {"product": f"line-{line}"}]}
    return copy


def write_policy(directory: Path, count: int) -> Path:
    """A rules directory (strategies/, compliance/) whose strategy has `count` rules (at least the shipped ones)."""
    text = (SHIPPED / "strategies" / "default.yaml").read_text(encoding="utf-8")
    shipped = yaml.safe_load(text)["rules"]
    copies = [product_line_rule(rule, line) for line in range(1, math.ceil(count / len(shipped))) for rule in shipped][: max(count - len(shipped), 0)]
    strategies = directory / "strategies"
    strategies.mkdir(parents=True)
    # `rules:` is the last block of the shipped file: the copies continue its list.
    added = yaml.safe_dump(copies, allow_unicode=True, sort_keys=False, width=200)
    (strategies / "default.yaml").write_text(text.rstrip("\n") + "\n\n" + "".join(f"  {line}\n" for line in added.splitlines()), encoding="utf-8")
    shutil.copytree(SHIPPED / "strategies" / "tests", strategies / "tests")
    shutil.copytree(SHIPPED / "compliance", directory / "compliance")
    return directory


def build(rules_dir: Path) -> dict[str, float]:
    """The stages of one build, in seconds; refuses (AssertionError) a build the acceptance checks would refuse."""
    times: dict[str, float] = {}
    started = time.process_time()
    policy = load_strategy(rules_dir / "strategies")
    packs = load_packs(rules_dir / "compliance")
    times["load"] = time.process_time() - started
    started = time.process_time()
    engine = StrategyEngine(policy, packs, "durable")
    times["compile"] = time.process_time() - started
    started = time.process_time()
    findings = lint.lint_policy(policy, packs)
    times["lint"] = time.process_time() - started
    assert not [finding for finding in findings if finding.severity == "error"], lint.format_findings(findings)
    started = time.process_time()
    report = run_policy_tests(rules_dir, engine=engine)
    times["tests"] = time.process_time() - started
    assert report.ok, "policy tests failed"
    times["total"] = sum(times[stage] for stage in STAGES)
    return times


def before(rules_dir: Path) -> dict[str, float]:
    """The load and lint stages as they were: YAML composed in Python, shadowing compared pairwise."""
    times: dict[str, float] = {}
    readers = (loader, lint_money)  # the modules that read YAML in these stages
    try:
        for module in readers:
            module.load_yaml = yaml_source.load_yaml_reference  # type: ignore[attr-defined]
        lint_shadowing.shadowed = lint_shadowing.shadowed_pairwise
        started = time.process_time()
        policy = load_strategy(rules_dir / "strategies")
        packs = load_packs(rules_dir / "compliance")
        times["load"] = time.process_time() - started
        started = time.process_time()
        findings = lint.lint_policy(policy, packs)
        times["lint"] = time.process_time() - started
        # 1: the pairwise comparison ran out of its work budget, so it checked only some rules
        times["lint stopped"] = float(any(finding.code == "too-complex" and "`shadowed`" in finding.message for finding in findings))
    finally:
        for module in readers:
            module.load_yaml = yaml_source.load_yaml  # type: ignore[attr-defined]
        lint_shadowing.shadowed = SHADOWED
    return times


def handover(counts: list[int], rounds: int, gap: float) -> None:
    """Time each reload from the file written to the supervisor's word; print min / median / max."""
    from engine.authoring.acceptance import acceptance_checks
    from engine.handover import RulesChecker
    from engine.last_good import LastGoodRules

    version = re.compile(r'^version: ".*"$', re.MULTILINE)
    with tempfile.TemporaryDirectory(prefix="bench-handover-") as scratch:
        policies = {"shipped": Path(scratch) / "shipped"}
        shutil.copytree(SHIPPED, policies["shipped"])
        for count in counts:
            policies[str(count)] = write_policy(Path(scratch) / str(count), count)
        checkers = {name: RulesChecker(path, LastGoodRules(Path(scratch) / f"kept-{name}"), acceptance_checks()) for name, path in policies.items()}
        times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in policies}
        print(f"\n== Reload check (P5): rule file written -> the supervisor's word, {rounds} interleaved rounds {gap:g} s apart")
        try:
            for index in range(rounds):
                for name in list(policies) if index % 2 == 0 else list(policies)[::-1]:
                    time.sleep(gap)
                    ahead = _cpu_of(getattr(checkers[name], "spare", None))
                    strategy = policies[name] / "strategies" / "default.yaml"
                    strategy.write_text(version.sub(f'version: "bench-{index}"', strategy.read_text(encoding="utf-8")), encoding="utf-8")
                    started = time.monotonic()
                    assert checkers[name].reload_if_changed(), f"the {name} policy was refused"
                    times[name].append((time.monotonic() - started, checkers[name].took[1] - ahead, ahead))
        finally:
            for checker in checkers.values():
                checker.close()
        print(f"{'policy':12}{'wall':>24}{'child CPU after':>24}{'child CPU ahead':>24}   (min / median / max, seconds)")
        for name, rows in times.items():
            print(f"{name:12}" + "".join(f"{spread([row[column] for row in rows]):>24}" for column in range(3)))


def _cpu_of(spare: Any) -> float:
    """CPU seconds the waiting spare check child has used so far (its start); 0 without one."""
    pid = spare.pid if spare is not None else None
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def spread(values: list[float], form: str = "{:.3f}") -> str:
    return " / ".join(form.format(value) for value in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, nargs="+", default=[500, 1000], help="rule counts of the generated policies")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="also time load and lint as they were (pure-Python composing, pairwise shadowing)")
    parser.add_argument("--handover", action="store_true", help="time a reload from the file written to the supervisor's word instead")
    parser.add_argument("--gap", type=float, default=5.0, help="with --handover: seconds between reloads")
    args = parser.parse_args()
    if args.handover:
        handover(args.rules, args.rounds, args.gap)
    else:
        run(args.rules, args.rounds, args.before)


def run(counts: list[int], rounds: int, earlier_too: bool = False) -> None:
    """Build the shipped policy and one of each of `counts` rules in `rounds` interleaved rounds; print the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        policies: dict[str, Path] = {"shipped": SHIPPED}
        for count in counts:
            policies[str(count)] = write_policy(Path(scratch) / str(count), count)
        names = list(policies)
        build(SHIPPED)  # warm up: imports, pattern caches, durable_rules
        results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        earlier: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        print(f"\n== Policy build (P5): load, compile, lint, policy tests, in CPU seconds; {rounds} interleaved rounds, the order reversed every other round")
        print(f"{'round':>5}  {'policy':>8}  {'rules':>5}  " + "  ".join(f"{stage:>8}" for stage in (*STAGES, "total")) + "  ratio to shipped")
        for index in range(rounds):
            order = names if index % 2 == 0 else names[::-1]
            for name in order:
                results[name].append(build(policies[name]))
                if earlier_too and name != "shipped":
                    earlier[name].append(before(policies[name]))
            for name in names:
                times = results[name][-1]
                rules = len(load_strategy(policies[name] / "strategies").rules) if index == 0 else ""
                ratio = times["total"] / results["shipped"][-1]["total"]
                print(f"{index + 1:>5}  {name:>8}  {rules!s:>5}  " + "  ".join(f"{times[stage]:>8.3f}" for stage in (*STAGES, "total")) + f"  {ratio:>8.1f}")
        print(f"\n{'':28}min / median / max over {rounds} rounds (seconds)")
        for name in names:
            totals = [times["total"] for times in results[name]]
            ratios = [times["total"] / shipped["total"] for times, shipped in zip(results[name], results["shipped"])]
            print(f"{name + ' build':28}{spread(totals)}   ratio to shipped {spread(ratios, '{:.1f}')}")
            for stage in STAGES:
                print(f"{'  ' + stage:28}{spread([times[stage] for times in results[name]])}")
            if earlier[name]:
                for stage in ("load", "lint"):
                    print(f"{'  ' + stage + ' before':28}{spread([times[stage] for times in earlier[name]])}")
                if any(times["lint stopped"] for times in earlier[name]):
                    print(f"{'':28}(lint before stopped at its work budget: `shadowed` was checked for some rules only)")
        for name in names[1:]:
            target = TARGETS.get(int(name))
            if target is not None:
                median = statistics.median(times["total"] for times in results[name])
                verdict = "met" if median < target else "NOT met"
                print(f"P5: a {name}-rule policy builds in under {target:g} s: median {median:.3f} s, {verdict}")


if __name__ == "__main__":
    main()

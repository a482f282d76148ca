"""What a new version of the rules must pass before it serves: no lint errors
(rules that can never fire) and every policy test beside the rules."""

from __future__ import annotations

from pathlib import Path

from engine.engine import StrategyEngine
from engine.authoring.lint import format_findings, lint_policy
from engine.authoring.policy_tests import format_report, run_policy_tests
from engine.registry import Check


def lint_errors(rules_dir: Path, engine: StrategyEngine) -> list[str]:
    errors = [finding for finding in lint_policy(engine.policy, engine.compliance.packs) if finding.severity == "error"]
    return [f"lint: {format_findings(errors)}"] if errors else []


def policy_test_failures(rules_dir: Path, engine: StrategyEngine) -> list[str]:
    report = run_policy_tests(rules_dir, engine=engine)
    return [] if report.ok else [f"policy tests failed:\n{format_report(report, failures_only=True)}"]


def acceptance_checks() -> list[Check]:
    return [lint_errors, policy_test_failures]

"""`collection-strategy test --format json|junit|sarif|github`: a policy test run as
annotations (engine/authoring/formats.py), so a pipeline shows each failure on
the test's line and each rule no test reaches on the rule's line.

A failing test is an error at its `- name:` line, a test file that cannot be read
an error at the problem, a rule no test reaches a warning at the rule (with
--coverage), coverage under --fail-under an error on the rules directory. Passing
tests are notes in json and junit (so CI lists them as passed test cases); sarif
and github carry only what needs a reader's eye.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.authoring.formats import Annotation, Format

if TYPE_CHECKING:  # policy_tests imports this module to print its report
    from engine.authoring.policy_tests import TestReport

WITH_PASSES: tuple[Format, ...] = ("json", "junit")


def run_annotations(report: TestReport, rules_dir: Path, output_format: Format, fail_under: float | None = None) -> list[Annotation]:
    """What a run found, as annotations for `output_format` (passing tests only where CI lists them)."""
    found = [Annotation(problem.file, problem.line, problem.column, "error", "test-file", "test file", problem.message, problem.rule_id) for problem in report.problems]
    for result in report.results:
        if not result.passed:
            found.append(Annotation(result.file, result.line, None, "error", "test-failed", result.name, "\n".join((*result.diff, *result.decided))))
        elif output_format in WITH_PASSES:
            found.append(Annotation(result.file, result.line, None, "info", "test-passed", result.name, "passed"))
    coverage = report.coverage
    if coverage is not None:
        found += [
            Annotation(rule.file, rule.line, None, "warning", "uncovered", rule.id, f"{rule.id} ({rule.kind}) is reached by no policy test", rule.id)
            for rule in coverage.missed
        ]
        if fail_under is not None and coverage.percent < fail_under:
            message = f"{coverage.percent:.1f}% of the rules are reached by a policy test, below --fail-under {fail_under:g}%"
            found.append(Annotation(str(rules_dir), None, None, "error", "coverage", "coverage", message))
    return found

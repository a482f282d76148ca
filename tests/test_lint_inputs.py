"""`lint` on typed inputs: a score ladder's gaps and overlaps over the declared range,
comparisons outside it, inputs no rule reads (engine/authoring/lint_inputs.py)."""

from __future__ import annotations

from pathlib import Path

from engine.authoring.lint import Finding, lint_files, lint_policy
from engine.facts import fact_spec
from tests.conftest import REPO, load_policy

LADDER = """
policy: ladder
version: "1"
inputs:
  - {name: score, type: integer, min: 0, max: 100, description: self-cure score}
  - {name: pay_chance, type: number, min: 0, max: 1, description: propensity to pay}
  - {name: salary_day, type: date, min: 2026-01-01, max: 2026-12-31, description: next salary}
rules:
  - id: low
    priority: 30
    when: {inputs.score: {lt: 40}, days_past_due: {gte: 1}}
    then: {action: CALL, channel: phone}
    reason: A call.
  - id: mid
    priority: 20
    when: {inputs.score: {between: [40, 79]}, days_past_due: {gte: 1}}
    then: {action: SEND_REMINDER, channel: email}
    reason: An email.
  - id: high
    priority: 10
    when: {inputs.score: {gte: 80}, days_past_due: {gte: 1}}
    then: {action: SEND_REMINDER, channel: push}
    reason: A nudge.
  - id: chance-low
    priority: 9
    when: {inputs.pay_chance: {lt: 0.5}, days_past_due: {lt: 1}}
    then: {action: SEND_REMINDER, channel: email}
    reason: An email.
  - id: chance-high
    priority: 8
    when: {inputs.pay_chance: {gte: 0.5}, days_past_due: {lt: 1}}
    then: {action: NO_CONTACT}
    reason: Nothing.
  - id: before-salary
    priority: 7
    when: {inputs.salary_day: {lt: 2026-07-01}, segment: a}
    then: {action: NO_CONTACT}
    reason: Nothing.
  - id: after-salary
    priority: 6
    when: {inputs.salary_day: {gte: 2026-07-01}, segment: a}
    then: {action: NO_CONTACT}
    reason: Nothing.
  - id: rest
    priority: 1
    when: {}
    then: {action: NO_CONTACT}
    reason: Nothing.
"""


def findings(tmp_path: Path, text: str) -> list[Finding]:
    return [finding for finding in lint_policy(load_policy(tmp_path, text)) if finding.code.startswith("input-")]


def test_a_ladder_that_covers_the_declared_range_exactly_has_no_finding(tmp_path: Path) -> None:
    assert findings(tmp_path, LADDER) == []


def test_a_band_no_rule_of_the_ladder_covers_is_a_gap(tmp_path: Path) -> None:
    [finding] = findings(tmp_path, LADDER.replace("between: [40, 79]", "between: [45, 79]"))
    assert (finding.severity, finding.code, finding.rule_id) == ("warning", "input-gap", "low")
    assert finding.message.startswith("`inputs.score` 40 to 44: none of the rules low, mid, high")


def test_gaps_are_found_for_numbers_and_dates_at_their_own_step(tmp_path: Path) -> None:
    text = LADDER.replace("{inputs.pay_chance: {gte: 0.5}", "{inputs.pay_chance: {gt: 0.5}").replace("{inputs.salary_day: {gte: 2026-07-01}", "{inputs.salary_day: {gt: 2026-07-01}")
    assert sorted(finding.message.split(":")[0] for finding in findings(tmp_path, text)) == ["`inputs.pay_chance` 0.5", "`inputs.salary_day` 2026-07-01"]


def test_a_band_two_rules_of_the_ladder_claim_is_an_overlap(tmp_path: Path) -> None:
    [finding] = findings(tmp_path, LADDER.replace("inputs.score: {gte: 80}", "inputs.score: {gte: 75}"))
    assert (finding.code, finding.rule_id) == ("input-overlap", "high")
    assert finding.message.startswith("`inputs.score` 75 to 79 is claimed by both mid")


def test_a_lone_rule_on_a_score_is_no_ladder_and_no_gap(tmp_path: Path) -> None:
    text = LADDER.replace("{inputs.score: {lt: 40}, days_past_due: {gte: 1}}", "{days_past_due: {gte: 1}, segment: b}").replace(
        "{inputs.score: {between: [40, 79]}, days_past_due: {gte: 1}}", "{days_past_due: {gte: 1}, segment: c}"
    )
    assert findings(tmp_path, text) == []


def test_a_comparison_outside_the_declared_range_is_an_error(tmp_path: Path) -> None:
    [finding] = findings(tmp_path, LADDER.replace("inputs.score: {gte: 80}", "inputs.score: {gte: 80, lte: 150}"))
    assert (finding.severity, finding.code, finding.rule_id) == ("error", "input-out-of-range", "high")
    assert "`inputs.score <= 150` compares with a value outside the declared range of `inputs.score` (integer 0..100)" in finding.message


def test_an_input_no_rule_reads_is_noted(tmp_path: Path) -> None:
    text = LADDER.replace("  - {name: score,", "  - {name: app_user, type: boolean, description: uses the app}\n  - {name: score,")
    [finding] = findings(tmp_path, text)
    assert (finding.severity, finding.code) == ("info", "input-unused") and "`inputs.app_user`" in finding.message


def test_lint_reads_an_integer_input_with_its_type_and_then_forgets_it(tmp_path: Path) -> None:
    # An integer score is analysed as one: no `too-complex` note for the ladder, and
    # after lint the declared inputs are no longer known outside a policy.
    report = lint_policy(load_policy(tmp_path, LADDER))
    assert not [finding for finding in report if finding.code == "too-complex" and finding.rule_id in ("low", "mid", "high")]
    assert fact_spec("inputs.score") is None


def test_the_shipped_rules_lint_clean_of_input_findings() -> None:
    assert [finding for finding in lint_files(REPO / "rules") if finding.code.startswith("input-") or finding.severity == "error"] == []

"""Findings an analyst silenced on purpose, next to the rule (`lint_ignore`).

A rule (strategy or pack) may say which of its findings are deliberate, each with
the reason, as ruff's `# noqa: CODE` does with a line:

    lint_ignore:
      shadowed: the fallback for cases the campaign rules leave

A finding of that rule with that code leaves lint's findings and is kept, with
the reason, as ignored (`lint --show-ignored` prints them). Only warnings and
notes that name a rule can be silenced (engine.policy.model.IGNORABLE_FINDINGS):
the loader refuses an error code, since lint refuses a policy with an error, and
an error that still came with an ignorable code stays a finding.

An ignore no finding used is itself a warning (`unused-ignore`, as ruff's
RUF100), so a silence outlives neither its cause nor a typo in the rule it sits
on; unless lint did not run the check that could have used it (the ladder without
the packs, a check or a condition past its work budget): then it claims nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.authoring.lint import Finding
from engine.policy.ir import GuardRule, Pack, Policy, Rule

UNUSED = "unused-ignore"
_LADDER = "final-notice-without-contact"  # found only with the packs beside the strategy


@dataclass(frozen=True)
class Ignored:
    """A finding a rule silences, with the analyst's reason."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class LintReport:
    """What lint found, and what it found but the rules silence."""

    findings: list[Finding]
    ignored: list[Ignored]


def apply_ignores(findings: Sequence[Finding], policy: Policy, packs: Sequence[Pack] | None) -> LintReport:
    """The findings the rules do not silence (with an `unused-ignore` for each silence
    nothing used), and the silenced ones with their reasons."""
    rules: list[Rule | GuardRule] = [*policy.rules, *(rule for pack in packs or () for rule in pack.rules)]
    reasons = {rule.id: dict(rule.lint_ignore) for rule in rules if rule.lint_ignore}
    kept: list[Finding] = []
    ignored: list[Ignored] = []
    used: set[tuple[str, str]] = set()
    for finding in findings:
        reason = reasons.get(finding.rule_id or "", {}).get(finding.code)
        if reason is None or finding.severity == "error":
            kept.append(finding)
            continue
        ignored.append(Ignored(finding, reason))
        used.add((finding.rule_id or "", finding.code))
    kept += _unused(rules, used, findings, ladder_checked=packs is not None)
    return LintReport(kept, ignored)


def _unused(rules: Sequence[Rule | GuardRule], used: set[tuple[str, str]], findings: Sequence[Finding], ladder_checked: bool) -> list[Finding]:
    if any(finding.code == "too-complex" and finding.rule_id is None for finding in findings):
        return []  # a check stopped at its budget: its findings may be missing, so may the ignores' use
    unchecked = {finding.rule_id for finding in findings if finding.code == "too-complex" and finding.rule_id}
    found: list[Finding] = []
    for rule in rules:
        for code, _ in rule.lint_ignore:
            if (rule.id, code) in used or (rule.id in unchecked and code != "too-complex") or (code == _LADDER and not ladder_checked):
                continue
            found.append(Finding("warning", rule.source.file, rule.source.line, rule.id, UNUSED, (
                f"ignores `{code}`, but lint finds no `{code}` for this rule: remove the line from its `lint_ignore` "
                "(or, if it moved, put it on the rule the finding names)."
            )))
    return found


def format_ignored(ignored: Sequence[Ignored]) -> str:
    """One line per silenced finding, as findings print, with the reason it is silenced."""
    lines = []
    for item in ignored:
        finding = item.finding
        rule = f" {finding.rule_id}:" if finding.rule_id else ""
        lines.append(f"{finding.file}:{finding.line}: ignored {finding.severity} [{finding.code}]{rule} {finding.message} (ignored because: {item.reason})")
    return "\n".join(lines)

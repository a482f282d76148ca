"""Lint of effective dates: the periods in which a strategy's rules are in force.

A rule that replaces another from a date is usually written as two rules with
the same `when` and the same action, the old one `effective_until` the day the
new one is `effective_from`. The findings:
  effective-empty   (error)   the rule's period is empty for every debtor: a date
                              bound against an instant bound (the loader refuses
                              an empty period whose bounds are of one kind)
  effective-overlap (warning) two rules of one group (same `when`, same action)
                              are both in force for a while: the priority and id
                              decide, which is rarely what a replacement meant
  effective-gap     (warning) between two periods of one group no rule of it is
                              in force
  effective-mixed   (warning) one group switches between a date (each debtor's
                              local midnight) and an instant (one moment for all):
                              for some debtors both or neither rule is in force
                              for up to a day
Rules without dates are in force always; a group with no dated rule is not looked at.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterator, Sequence

from engine.authoring.lint import Finding, Severity
from engine.policy.ir import Condition, Effective, Moment, Policy, Rule
from engine.vocabulary import Action

# The offsets local midnight can take: a date bound falls within these instants.
_EAST, _WEST = timedelta(hours=14), timedelta(hours=12)


def effective_findings(policy: Policy) -> list[Finding]:
    """Every effective-date finding of a policy's rules."""
    findings = [finding for rule in policy.rules if rule.effective for finding in _empty(rule, rule.effective)]
    groups: dict[tuple[Condition, Action], list[Rule]] = {}
    for rule in policy.rules:
        groups.setdefault((rule.condition, rule.action), []).append(rule)
    for group in groups.values():
        if len(group) > 1 and any(rule.effective for rule in group):
            findings += _group_findings(group)
    return findings


def _empty(rule: Rule, period: Effective) -> Iterator[Finding]:
    start, end = period.start, period.end
    if start is None or end is None or isinstance(start, datetime) == isinstance(end, datetime):
        return
    if _earliest(end) <= _earliest(start) and _latest(end) <= _latest(start):
        yield _finding(rule, "error", "effective-empty", f"is never in force: effective_until ({end.isoformat()}) is not after effective_from ({start.isoformat()}) for any debtor. Correct the dates, or delete the rule.")


def _earliest(bound: Moment) -> datetime:
    """The first instant the bound can be, over every debtor's zone."""
    return bound if isinstance(bound, datetime) else _midnight(bound) - _EAST


def _latest(bound: Moment) -> datetime:
    return bound if isinstance(bound, datetime) else _midnight(bound) + _WEST


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _group_findings(group: Sequence[Rule]) -> Iterator[Finding]:
    bounds = [bound for rule in group if rule.effective for bound in (rule.effective.start, rule.effective.end) if bound is not None]
    if len({isinstance(bound, datetime) for bound in bounds}) > 1:
        first = min(group, key=lambda rule: (rule.source.file, rule.source.line))
        others = ", ".join(f"`{rule.id}`" for rule in group if rule is not first)
        yield _finding(first, "warning", "effective-mixed", f"and {others} have the same `when` and action, and their periods mix dates (each debtor's local midnight) with instants (one moment everywhere): for some debtors both or neither is in force for up to a day. Write every bound of the group the same way.")
        return
    ordered = sorted(group, key=lambda rule: _start_key(rule.effective))
    covered: Rule = ordered[0]  # the rule whose period reaches furthest so far
    for rule in ordered[1:]:
        reach, start = covered.effective.end if covered.effective else None, rule.effective.start if rule.effective else None
        if reach is None or (start is not None and start < reach):  # one kind of bound, checked above
            fix = f" If it replaces `{covered.id}`, give that rule effective_until: {start.isoformat()}." if start is not None else ""
            yield _finding(rule, "warning", "effective-overlap", f"and `{covered.id}` ({_where(covered)}) have the same `when` and action and are both in force {_overlap(covered, rule)}: the priority and id decide between them.{fix}")
        elif start is not None and reach < start:
            yield _finding(rule, "warning", "effective-gap", f"from {reach.isoformat()} to {start.isoformat()} no rule of this group is in force (`{covered.id}`, {_where(covered)}, ends at {reach.isoformat()}; `{rule.id}` starts at {start.isoformat()}). Close the gap, or say in the rules why none applies then.")
        if _reaches_further(rule, covered):
            covered = rule


def _start_key(period: Effective | None) -> tuple[int] | tuple[int, Moment]:
    # An unbounded start sorts first; bounds of a group are of one kind, so they compare.
    return (0,) if period is None or period.start is None else (1, period.start)


def _reaches_further(rule: Rule, than: Rule) -> bool:
    mine, theirs = (rule.effective.end if rule.effective else None), (than.effective.end if than.effective else None)
    return theirs is not None and (mine is None or mine > theirs)


def _overlap(a: Rule, b: Rule) -> str:
    starts = [rule.effective.start for rule in (a, b) if rule.effective and rule.effective.start is not None]
    ends = [rule.effective.end for rule in (a, b) if rule.effective and rule.effective.end is not None]
    start = f"from {max(starts).isoformat()}" if starts else "from the start"
    return start + (f" until {min(ends).isoformat()}" if ends else " on")


def _where(rule: Rule) -> str:
    return f"{rule.source.file}:{rule.source.line}"


def _finding(rule: Rule, severity: Severity, code: str, message: str) -> Finding:
    return Finding(severity, rule.source.file, rule.source.line, rule.id, code, message)


def in_force_together(a: Rule, b: Rule) -> bool:
    """Whether two rules can be in force at one instant for some debtor (the safe
    side: True unless their periods are apart for every debtor). The checks that
    compare two rules (equal priority, shadowing) need not compare rules that are
    never in force together."""
    first, second = a.effective or Effective(), b.effective or Effective()
    return not (_ends_by(first.end, second.start) or _ends_by(second.end, first.start))


def covers_in_time(higher: Rule, rule: Rule) -> bool:
    """Whether `higher` is in force whenever `rule` is, for every debtor (the safe
    side for `shadowed`: only such a rule can hide another all of the time)."""
    outer, inner = higher.effective or Effective(), rule.effective or Effective()
    starts_first = outer.start is None or (inner.start is not None and _ends_by(outer.start, inner.start))
    ends_last = outer.end is None or (inner.end is not None and _ends_by(inner.end, outer.end))
    return starts_first and ends_last


def _ends_by(end: Moment | None, start: Moment | None) -> bool:
    """`end` is at or before `start` for every debtor."""
    if end is None or start is None:
        return False
    if isinstance(end, datetime) == isinstance(start, datetime):
        return end <= start  # two dates or two instants
    return _latest(end) <= _earliest(start)

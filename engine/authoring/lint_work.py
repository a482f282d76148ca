"""Lint: review decisions that reach no team's queue (engine/policy/work.py).

  review-without-queue        (warning) a HUMAN_REVIEW or LEGAL_REVIEW rule names no queue
                                        (`then: work:`) and no queue is `default_for` its action:
                                        its decisions carry no work item
  compliance-review-without-queue (warning) a compliance pack routes or turns a decision into a
                                        review that no queue is `default_for`
  load                        (error)   the queues do not load: a rule names a queue nobody
                                        declared, a queue is declared twice, two queues are
                                        the default for one action

The warnings are for a strategy that declares `queues:`: one that declares none
has not taken up work queues, and its review rules are not each an oversight
(nor does `lint --strict` start failing on policies written before queues).
The engine never guesses a queue: such a review still happens, without a work
item, and `simulate` and `decide` count it under "(no queue)".
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.authoring.lint import Finding
from engine.policy.ir import Pack, Policy
from engine.policy.work import REVIEW_ACTIONS

_HOW = "name one in the rule (`work: {queue: ...}`) or declare a queue `default_for` it under `queues:` (docs/work-queues.md)"


def work_findings(policy: Policy, packs: Sequence[Pack]) -> list[Finding]:
    plan = policy.work  # its problems were refused when the policy loaded
    if not plan.queues:
        return []
    findings = [
        Finding("warning", rule.source.file, rule.source.line, rule.id, "review-without-queue", (
            f"its {rule.action.value} decisions go to no team's queue and carry no work item: {_HOW}"
        ))
        for rule in policy.rules
        if rule.action in REVIEW_ACTIONS and rule.id not in plan.by_rule and plan.default_for(rule.action) is None
    ]
    for pack in packs:
        for guard in pack.rules:
            action = guard.route or (guard.replace.with_action if guard.replace else None)
            if action is not None and action in REVIEW_ACTIONS and plan.default_for(action) is None:
                findings.append(Finding("warning", guard.source.file, guard.source.line, guard.id, "compliance-review-without-queue", (
                    f"it makes decisions {action.value}, and no queue of the strategy is `default_for: [{action.value}]`: "
                    "those the strategy's own rule does not route carry no work item; declare the queue that takes them (docs/work-queues.md)"
                )))
    return findings

"""The work item of a review decision: which team's queue, how urgent, due when.

The rule that made a HUMAN_REVIEW or LEGAL_REVIEW decision names its queue
(`then: work:`); a review no rule routes (a rule without `work:`, a compliance
route or replacement, e.g. LEGAL_REVIEW replaced by HUMAN_REVIEW under GDPR
art. 22) goes to the queue declared `default_for` its action; with neither, the
decision carries no work item (lint warns). A rule's `work` applies only to its
own action: a LEGAL_REVIEW rule's queue never receives the HUMAN_REVIEW a pack
puts in its place.

The due time is counted from the decision's as_of: hours and days exactly (a
day is 24 hours); business days on the debtor's calendar, the clock the legal
deadlines a review answers (a dispute, a data-protection request) run on: the
end of the n-th local day after as_of's local date that is neither a Saturday,
a Sunday nor a public holiday of the debtor's country (and region), in the
debtor's most likely time zone. It is given in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone

from engine.arrangements import business_days_after
from engine.decision import Decision, WorkItem
from engine.facts import CaseContext, is_public_holiday
from engine.policy.ir import Rule
from engine.policy.work import Due, WorkOrder, WorkPlan
from engine.vocabulary import Action

REVIEWS = frozenset({Action.HUMAN_REVIEW.value, Action.LEGAL_REVIEW.value})  # decision.action is text


def work_item(plan: WorkPlan, decision: Decision, rules: Mapping[str, Rule], context: CaseContext) -> WorkItem | None:
    """The work item of a review decision (None: no queue takes it)."""
    order = _order(plan, decision, rules)
    if order is None:
        return None
    return WorkItem(order.queue, order.priority, due_at(order.due, context), order.declared_by)


def _order(plan: WorkPlan, decision: Decision, rules: Mapping[str, Rule]) -> WorkOrder | None:
    action = Action(decision.action)
    # The strategy rule that made the decision comes first among its reasons, after a
    # compliance rule's when a pack routed the case the way the rule did.
    for reason in decision.reasons:
        rule = rules.get(reason.code)
        if rule is not None and rule.action is action:
            return plan.by_rule.get(rule.id) or plan.default_for(action)
    return plan.default_for(action)


def due_at(due: Due, context: CaseContext) -> datetime:
    as_of = context.as_of.astimezone(timezone.utc)
    if due.unit == "hours":
        return as_of + timedelta(hours=due.amount)
    if due.unit == "days":
        return as_of + timedelta(days=due.amount)
    zone = context.zones[0] if context.zones else timezone.utc
    snapshot = context.snapshot

    def is_business_day(day: date) -> bool:
        return day.weekday() < 5 and not is_public_holiday(snapshot.country, snapshot.region, day)

    last = business_days_after(as_of.astimezone(zone).date(), due.amount, is_business_day)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(timezone.utc)

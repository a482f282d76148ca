"""What was done: a case's prior contacts read as the steps taken.

A contact counts as a step taken only when it was ours (outbound) and reached
the debtor: its delivery status says delivered or, when the caller gave none,
its outcome shows the debtor was reached (delivered, a conversation). Days
between a step and the decision are whole local days in the debtor's zone; when
the zone is uncertain, the fewest over every zone the debtor may be in, so a
waiting period is never cut short by doubt about where the debtor is.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, Collection, Iterable, Sequence
from zoneinfo import ZoneInfo

from engine.policy.ir import Step
from engine.vocabulary import FAILED_DELIVERIES, REACHED_OUTCOMES, Action, Channel, Delivery, Direction

EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
# Members as module constants: an Enum member read off its class costs a descriptor call, and these run per contact.
_INBOUND, _DELIVERED = Direction.INBOUND, Delivery.DELIVERED
THIRTY_DAYS = timedelta(days=30)
_AT = attrgetter("at")


def is_outbound(contact: Any) -> bool:
    return contact.direction is not _INBOUND


def was_delivered(contact: Any) -> bool:
    return is_outbound(contact) and _reached(contact)


def _reached(attempt: Any) -> bool:
    """An attempt of ours reached the debtor: its delivery says so or, without one, its outcome."""
    if attempt.delivery is not None:
        return attempt.delivery is _DELIVERED
    return attempt.outcome in REACHED_OUTCOMES


def is_step(contact: Any, step: Step) -> bool:
    """The contact was the step: one of its actions or templates (or any, when it names neither)."""
    if not (step.actions or step.templates):
        return True
    return contact.action in step.actions or contact.template in step.templates


def last_delivered(contacts: Iterable[Any], step: Step) -> datetime | None:
    return max((contact.at for contact in contacts if was_delivered(contact) and is_step(contact, step)), default=None)


def local_days_between(earlier: datetime, later: datetime, zones: Sequence[ZoneInfo]) -> int:
    """Whole local days from `earlier` to `later`, the fewest over the possible zones."""
    return min((later.astimezone(zone).date() - earlier.astimezone(zone).date()).days for zone in zones or (timezone.utc,))


FAILED_IN_A_ROW = 3  # failed deliveries on a channel, none delivered since: the channel is not used again


def history_facts(contacts: Sequence[Any], as_of: datetime, zones: Sequence[ZoneInfo]) -> dict[str, Any]:
    """What rules see of the steps taken on a case with its own contacts."""
    return step_facts(contacts, as_of, zones) | reach_facts(contacts, as_of)


def step_facts(contacts: Sequence[Any], as_of: datetime, zones: Sequence[ZoneInfo], actions: Collection[Action] | None = None) -> dict[str, Any]:
    """When each action last reached the debtor, in whole local days (a case's own
    contacts: a debtor's account counts the steps taken about it); with `actions`,
    only those actions'."""
    last_by_action: dict[Action, datetime] = {}
    for contact in contacts:
        action = contact.action
        if action is None or (actions is not None and action not in actions) or contact.direction is _INBOUND:
            continue
        # was_delivered, its outbound test done above: this runs per contact
        if contact.at > last_by_action.get(action, EARLIEST) and _reached(contact):
            last_by_action[action] = contact.at
    if not last_by_action:
        return {}
    if len(zones) < 2:  # one clock (most cases): no fewest to find
        clock = zones[0] if zones else timezone.utc
        today = as_of.astimezone(clock).date()
        return {_STEP_KEYS[action]: (today - at.astimezone(clock).date()).days for action, at in last_by_action.items()}
    # local_days_between for each action, with as_of's local dates worked out once.
    todays = [(zone, as_of.astimezone(zone).date()) for zone in zones]
    return {_STEP_KEYS[action]: min((day - at.astimezone(zone).date()).days for zone, day in todays) for action, at in last_by_action.items()}


_STEP_KEYS = {action: f"history.{action.value.lower()}.days_since_delivered" for action in Action}
# Each channel's fact names, written once: Enum.value is a slow lookup on a path run per case.
_FAILED_KEYS = {channel: (f"failed.{channel.value}.last_30d", f"failed.{channel.value}.in_a_row") for channel in Channel}
_NO_FAILURES = {key: 0 for keys in _FAILED_KEYS.values() for key in keys}


def reach_facts(contacts: Sequence[Any], as_of: datetime, reach: bool = True, failed: bool = True) -> dict[str, Any]:
    """Whether we ever reached out, failed deliveries per channel, the debtor's own
    last contact: over every contact with the person (one debtor, one count).
    `reach`: the first and last of these; `failed`: the failed deliveries."""
    facts: dict[str, Any] = {}
    last_inbound: Any = None
    if reach:
        outbound_ever = delivered_ever = False
        for contact in contacts:
            if not is_outbound(contact):
                if last_inbound is None or contact.at > last_inbound.at:
                    last_inbound = contact
                continue
            outbound_ever = True
            if not delivered_ever and _reached(contact):
                delivered_ever = True
        facts["history.outbound_ever"] = outbound_ever
        facts["history.delivered_ever"] = delivered_ever
    if failed:
        # A channel without a failed delivery has none in the last 30 days and none in a row:
        # only a failing channel's attempts are gathered and put in order.
        failing = {contact.channel for contact in contacts if contact.delivery in FAILED_DELIVERIES and is_outbound(contact)}
        facts.update(_NO_FAILURES)  # every channel's, in order: a failing channel's counts replace its zeros
        for channel in failing:
            last_30d, in_a_row = _FAILED_KEYS[channel]
            # sorted is stable: contacts at the same instant keep the caller's order
            attempts = sorted((contact for contact in contacts if contact.channel == channel and is_outbound(contact)), key=_AT)
            facts[last_30d] = sum(1 for contact in attempts if contact.delivery in FAILED_DELIVERIES and as_of - contact.at < THIRTY_DAYS)
            facts[in_a_row] = failures_in_a_row(attempts)
    if last_inbound is not None:
        facts["hours_since_last_inbound"] = int((as_of - last_inbound.at).total_seconds() // 3600)
        facts["last_inbound_channel"] = last_inbound.channel.value
    return facts


def failures_in_a_row(attempts: Sequence[Any]) -> int:
    """Failed deliveries since the last one delivered (attempts oldest first)."""
    count = 0
    for contact in attempts:
        if contact.delivery in FAILED_DELIVERIES:
            count += 1
        elif was_delivered(contact):
            count = 0
    return count

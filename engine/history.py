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
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from engine.policy.ir import Step
from engine.vocabulary import FAILED_DELIVERIES, REACHED_OUTCOMES, Action, Channel, Delivery, Direction

EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
THIRTY_DAYS = timedelta(days=30)


def is_outbound(contact: Any) -> bool:
    return contact.direction is not Direction.INBOUND


def was_delivered(contact: Any) -> bool:
    if not is_outbound(contact):
        return False
    if contact.delivery is not None:
        return contact.delivery is Delivery.DELIVERED
    return contact.outcome in REACHED_OUTCOMES


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


def step_facts(contacts: Sequence[Any], as_of: datetime, zones: Sequence[ZoneInfo]) -> dict[str, Any]:
    """When each action last reached the debtor, in whole local days (a case's own
    contacts: a debtor's account counts the steps taken about it)."""
    last_by_action: dict[Action, datetime] = {}
    for contact in contacts:
        if contact.action is not None and contact.at > last_by_action.get(contact.action, EARLIEST) and was_delivered(contact):
            last_by_action[contact.action] = contact.at
    return {f"history.{action.value.lower()}.days_since_delivered": local_days_between(at, as_of, zones) for action, at in last_by_action.items()}


def reach_facts(contacts: Sequence[Any], as_of: datetime) -> dict[str, Any]:
    """Whether we ever reached out, failed deliveries per channel, the debtor's own
    last contact: over every contact with the person (one debtor, one count)."""
    facts: dict[str, Any] = {"history.outbound_ever": False, "history.delivered_ever": False}
    last_inbound: Any = None
    by_channel: dict[Channel, list[Any]] = {}
    for contact in contacts:
        if not is_outbound(contact):
            if last_inbound is None or contact.at > last_inbound.at:
                last_inbound = contact
            continue
        facts["history.outbound_ever"] = True
        by_channel.setdefault(contact.channel, []).append(contact)
        if not facts["history.delivered_ever"] and was_delivered(contact):
            facts["history.delivered_ever"] = True
    for channel in Channel:
        attempts = sorted(by_channel.get(channel, ()), key=lambda contact: contact.at)
        facts[f"failed.{channel.value}.last_30d"] = sum(1 for contact in attempts if contact.delivery in FAILED_DELIVERIES and as_of - contact.at < THIRTY_DAYS)
        facts[f"failed.{channel.value}.in_a_row"] = failures_in_a_row(attempts)
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

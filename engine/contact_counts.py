"""Counting the contacts with a person: attempts per channel and period, outcomes, the last contact.

The counters are facts (`contacts.<channel>.<period>`, `outcomes.<outcome>.last_30d`,
`outcomes.<outcome>.<channel>.last_30d`) over our own (outbound) contacts in the
period before as_of; the debtor's own contacts are not attempts of ours. A policy
reads few of the 54 counters, so a Counting, worked out once per policy
(engine.facts.fact_need), says which to keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from engine.vocabulary import CONVERSATION_OUTCOMES, Channel, Direction, Outcome

CONTACT_PERIODS = {"last_24h": timedelta(hours=24), "last_7d": timedelta(days=7), "last_30d": timedelta(days=30)}
CHANNELS = tuple(channel.value for channel in Channel)
OUTCOMES = tuple(outcome.value for outcome in Outcome)
# Members as fact text, looked up: Enum.value is a slow property, and these run per case.
CHANNEL_TEXT = {channel: channel.value for channel in Channel}
OUTCOME_TEXT = {outcome: outcome.value for outcome in Outcome}

PERIOD_KEYS = {channel: [(length, f"contacts.{channel}.{period}") for period, length in CONTACT_PERIODS.items()] for channel in (*CHANNELS, "all")}
OUTCOME_KEYS = {
    (outcome, channel): (f"outcomes.{outcome}.last_30d", f"outcomes.{outcome}.{channel}.last_30d") for outcome in OUTCOMES for channel in CHANNELS
}
ZERO_COUNTS = {key: 0 for keys in PERIOD_KEYS.values() for _, key in keys} | {key: 0 for keys in OUTCOME_KEYS.values() for key in keys}
THIRTY_DAYS = CONTACT_PERIODS["last_30d"]
_INBOUND = Direction.INBOUND  # a module constant: an Enum member read off its class costs a descriptor call


@dataclass(frozen=True)
class Counting:
    """The contact and outcome counters to keep, by the channel (and outcome) of a
    contact of the last 30 days: written once per policy, read for every contact."""

    zero: dict[str, int]  # every counter kept, in the catalogue's order, at 0
    periods: dict[Channel, tuple[tuple[timedelta, str], ...]]  # (period, counter): the channel's own and all channels'
    outcomes: dict[tuple[Outcome, Channel], tuple[str, ...]]


def counting_of(kept: Callable[[str], bool]) -> Counting:
    zero = {key: 0 for key in ZERO_COUNTS if kept(key)}
    periods = {
        channel: tuple(
            (length, key) for (length, own), (_, every) in zip(PERIOD_KEYS[channel.value], PERIOD_KEYS["all"]) for key in (own, every) if key in zero
        )
        for channel in Channel
    }
    outcomes = {
        (outcome, channel): tuple(key for key in OUTCOME_KEYS[(outcome.value, channel.value)] if key in zero) for outcome in Outcome for channel in Channel
    }
    return Counting(zero, periods, outcomes)


def count_contacts(contacts: Sequence[Any], as_of: datetime, facts: dict[str, Any], counting: Counting, last: bool) -> None:
    """The counters `counting` keeps and, with `last`, the last contact and conversation."""
    facts.update(counting.zero)
    periods, outcomes = counting.periods, counting.outcomes
    last_contact: datetime | None = None
    last_conversation: datetime | None = None
    last_outcome: Outcome | None = None
    last_channel = Channel.SMS
    for contact in contacts:
        if contact.direction is _INBOUND:  # the debtor's own contact: not an attempt of ours
            continue
        at, channel, outcome = contact.at, contact.channel, contact.outcome  # each read once: this loop runs per contact
        age = as_of - at
        if age < THIRTY_DAYS:
            for length, key in periods[channel]:
                if age < length:
                    facts[key] += 1
            for key in outcomes[(outcome, channel)]:
                facts[key] += 1
        if not last:
            continue
        if last_contact is None or at >= last_contact:
            last_contact, last_outcome, last_channel = at, outcome, channel
        if outcome in CONVERSATION_OUTCOMES and (last_conversation is None or at > last_conversation):
            last_conversation = at
    if last_contact is not None and last_outcome is not None:
        facts["hours_since_last_contact"] = int((as_of - last_contact).total_seconds() // 3600)
        facts["last_outcome"] = OUTCOME_TEXT[last_outcome]
        facts["last_contact_channel"] = CHANNEL_TEXT[last_channel]
    if last_conversation is not None:
        facts["hours_since_last_conversation"] = int((as_of - last_conversation).total_seconds() // 3600)

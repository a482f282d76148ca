"""The baseline guardrails: compliance that no strategy rule can switch off.

They run after the strategy, on every candidate, whatever the policy says.
Stops remove a whole candidate (every contacting action, and legal escalation);
channel guardrails remove one channel of a candidate. Contact hours, Sundays and
public holidays are enforced by the window (engine.window), not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.decision import Reason, Veto
from engine.facts import CaseContext
from engine.history import FAILED_IN_A_ROW
from engine.vocabulary import ELECTRONIC_CHANNELS, Action, Channel

PACK_NAME = "baseline-guardrails"
PACK_VERSION = "1"


@dataclass(frozen=True)
class Stop:
    id: str
    fact: str
    reason: str


STOPS = (
    Stop("gdpr-objection", "gdpr.objection", "The debtor objected to processing (GDPR art. 21): no automated contact."),
    Stop("gdpr-restriction", "gdpr.restriction", "Processing is restricted (GDPR art. 18): no automated contact."),
    Stop("gdpr-erasure", "gdpr.erasure_requested", "The debtor asked for erasure (GDPR art. 17): no automated contact."),
    Stop("cease-and-desist", "legal.cease_and_desist", "The debtor asked us to stop contacting them."),
    Stop("attorney-represented", "legal.attorney_represented", "The debtor is represented by an attorney: we do not contact them directly."),
    Stop("bankruptcy", "legal.bankruptcy", "The debtor is in bankruptcy: collection is stayed."),
    Stop("deceased", "legal.deceased", "The debtor has died: we do not contact or pursue them."),
    Stop("dispute", "legal.dispute", "The debt is disputed: collection is on hold until the dispute is resolved."),
)

# Actions a stop removes: everything that reaches the debtor, and legal escalation.
STOPPED_ACTIONS = frozenset(action for action in Action if action.contacts) | {Action.LEGAL_REVIEW}


def action_vetoes(context: CaseContext, rule_id: str, action: Action) -> list[Veto]:
    if action not in STOPPED_ACTIONS:
        return []
    facts = context.facts
    return [Veto(rule_id, stop.id, stop.reason) for stop in STOPS if facts.get(stop.fact)]


def channel_veto(context: CaseContext, rule_id: str, channel: Channel) -> Veto | None:
    facts = context.facts
    if not facts.get(f"consent.{channel.value}"):
        return Veto(rule_id, "consent", f"The debtor has not consented to contact by {channel.value}.", channel)
    if channel in ELECTRONIC_CHANNELS and facts.get("consent.electronic_opt_out"):
        return Veto(rule_id, "electronic-opt-out", "The debtor opted out of electronic communications.", channel)
    failures = facts.get(f"failed.{channel.value}.in_a_row", 0)
    if failures >= FAILED_IN_A_ROW:
        return Veto(rule_id, "contact-data", f"The last {failures} contacts by {channel.value} did not reach the debtor: the contact data needs checking.", channel)
    return None


def data_warnings(context: CaseContext) -> tuple[Reason, ...]:
    """What the caller should check in its own data: channels that keep failing."""
    return tuple(
        Reason(f"CONTACT_DATA_{channel.value.upper()}", f"{count} contacts by {channel.value} in a row did not reach the debtor; check the {channel.value} contact data.")
        for channel in Channel
        if (count := context.facts.get(f"failed.{channel.value}.in_a_row", 0)) >= FAILED_IN_A_ROW
    )

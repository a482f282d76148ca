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
from engine.texts import text
from engine.vocabulary import ELECTRONIC_CHANNELS, Action, Channel

PACK_NAME = "baseline-guardrails"
PACK_VERSION = "1"


@dataclass(frozen=True)
class Stop:
    id: str  # also the key of its reason in engine.texts ("guardrail.<id>")
    fact: str


STOPS = (
    Stop("gdpr-objection", "gdpr.objection"),
    Stop("gdpr-restriction", "gdpr.restriction"),
    Stop("gdpr-erasure", "gdpr.erasure_requested"),
    Stop("cease-and-desist", "legal.cease_and_desist"),
    Stop("attorney-represented", "legal.attorney_represented"),
    Stop("bankruptcy", "legal.bankruptcy"),
    Stop("deceased", "legal.deceased"),
    Stop("dispute", "legal.dispute"),
)

# Actions a stop removes: everything that reaches the debtor, and legal escalation.
STOPPED_ACTIONS = frozenset(action for action in Action if action.contacts) | {Action.LEGAL_REVIEW}


def action_vetoes(context: CaseContext, rule_id: str, action: Action) -> list[Veto]:
    if action not in STOPPED_ACTIONS:
        return []
    facts = context.facts
    language = context.language
    return [Veto(rule_id, stop.id, text(f"guardrail.{stop.id}", language)) for stop in STOPS if facts.get(stop.fact)]


# Each channel's fact names, written once: these run for every candidate channel of every case.
_CONSENT = {channel: f"consent.{channel.value}" for channel in Channel}
_FAILED = {channel: f"failed.{channel.value}.in_a_row" for channel in Channel}
# Every fact the guardrails read, whatever the policy: derive must give them all (engine.facts.fact_need).
FACTS_READ = frozenset({stop.fact for stop in STOPS} | set(_CONSENT.values()) | set(_FAILED.values()) | {"consent.electronic_opt_out"})


def channel_veto(context: CaseContext, rule_id: str, channel: Channel) -> Veto | None:
    facts = context.facts
    if not facts.get(_CONSENT[channel]):
        return Veto(rule_id, "consent", text("guardrail.consent", context.language, channel=channel.value), channel)
    if channel in ELECTRONIC_CHANNELS and facts.get("consent.electronic_opt_out"):
        return Veto(rule_id, "electronic-opt-out", text("guardrail.electronic-opt-out", context.language), channel)
    failures = facts.get(_FAILED[channel], 0)
    if failures >= FAILED_IN_A_ROW:
        return Veto(rule_id, "contact-data", text("guardrail.contact-data", context.language, count=failures, channel=channel.value), channel)
    return None


def data_warnings(context: CaseContext) -> tuple[Reason, ...]:
    """What the caller should check in its own data: channels that keep failing, and
    a language the engine has no texts in (the reasons are then in English)."""
    language = context.language
    facts = context.facts
    warnings = [
        Reason(f"CONTACT_DATA_{channel.value.upper()}", text("warning.contact-data", language, count=count, channel=channel.value))
        for channel, key in _FAILED.items()
        if (count := facts.get(key, 0)) >= FAILED_IN_A_ROW
    ]
    requested = context.snapshot.language
    if requested.split("-", 1)[0].lower() != language:
        warnings.append(Reason("LANGUAGE_FALLBACK", text("warning.language-fallback", language, requested=requested)))
    return tuple(warnings)

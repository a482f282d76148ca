"""The decision pipeline: facts -> strategy -> guardrails -> arbitration -> window -> offer."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from engine import guardrails
from engine.decision import Decision, PolicyRef, Reason, Veto, Window
from engine.explain import plain, rule_trace
from engine.facts import CaseContext, derive
from engine.matching import MatcherFault, make_matcher
from engine.offers import offer_bounds
from engine.policy.ir import PREFERRED, Policy, Rule
from engine.snapshot import CaseSnapshot
from engine.vocabulary import Action, Channel
from engine.window import BASELINE_HOURS, next_window

log = logging.getLogger(__name__)
DEFAULT_REVIEW = timedelta(days=1)


class StrategyEngine:
    """Decides cases with one compiled policy; safe to share between threads."""

    def __init__(self, policy: Policy, backend: str = "durable"):
        self.policy = policy
        self.backend = backend
        self.ref = PolicyRef(policy.name, policy.version, policy.content_hash)
        self._matcher = make_matcher(policy, backend)
        self._rank = {rule.id: index for index, rule in enumerate(policy.rules)}  # best first
        self._rules = {rule.id: rule for rule in policy.rules}

    def decide(self, snapshot: CaseSnapshot, as_of: datetime, explain: bool = False) -> Decision:
        try:
            return self._decide(snapshot, as_of, explain)
        except MatcherFault as fault:
            log.error("rule engine fault deciding case %s: %s", snapshot.case_id, fault)
        except Exception:
            log.exception("unexpected fault deciding case %s", snapshot.case_id)
        reason = Reason("ENGINE_FAULT", "The engine could not decide this case safely, so nobody is contacted.")
        return self._no_contact(snapshot, as_of, reason, fired=(), vetoes=())

    def _decide(self, snapshot: CaseSnapshot, as_of: datetime, explain: bool) -> Decision:
        context = derive(snapshot, as_of)
        fired = sorted(self._matcher.matching(context.facts), key=self._rank.__getitem__)
        vetoes: list[Veto] = []
        decision: Decision | None = None
        for rule_id in fired:
            decision = self._try(self._rules[rule_id], context, fired, vetoes)
            if decision:
                break
        if decision is None:
            if fired:
                reason = Reason("ALL_CANDIDATES_VETOED", "Every action the strategy proposed is not allowed for this case now, so nobody is contacted.")
            else:
                reason = Reason("NO_RULE_MATCHED", "No strategy rule covers this case, so nobody is contacted.")
            decision = self._no_contact(snapshot, as_of, reason, tuple(fired), tuple(vetoes))
        if explain:
            decision = _with_trace(decision, self._trace(context, fired, vetoes, decision))
        return decision

    def _try(self, rule: Rule, context: CaseContext, fired: list[str], vetoes: list[Veto]) -> Decision | None:
        """The decision this rule's candidate makes, or None when guardrails remove it."""
        removed = guardrails.action_vetoes(context, rule.id, rule.action)
        if removed:
            vetoes += removed
            return None
        if not rule.action.contacts:
            return self._decision(rule, context, fired, vetoes, channel=None, window=None)
        channels = self._channels(rule, context)
        if not channels:
            vetoes.append(Veto(rule.id, "no-channel", "The rule names only the debtor's preferred channel, and the debtor has stated none."))
        for channel in channels:
            veto = guardrails.channel_veto(context, rule.id, channel)
            if veto:
                vetoes.append(veto)
                continue
            window = next_window(context.as_of, context.zones, context.snapshot.country, context.snapshot.region)
            if window is None:
                vetoes.append(Veto(rule.id, "contact-hours", "There is no lawful time to contact the debtor in the next 14 days.", channel))
                continue
            return self._decision(rule, context, fired, vetoes, channel, window)
        return None

    def _channels(self, rule: Rule, context: CaseContext) -> list[Channel]:
        preferred = context.snapshot.preferred_channel
        channels: list[Channel] = []
        for channel in rule.channels:
            resolved = preferred if channel == PREFERRED else channel
            if isinstance(resolved, Channel) and resolved not in channels:
                channels.append(resolved)
        return channels

    def _decision(
        self, rule: Rule, context: CaseContext, fired: list[str], vetoes: list[Veto], channel: Channel | None, window: Window | None
    ) -> Decision:
        snapshot = context.snapshot
        reasons = [Reason(rule.id, rule.reason.get(snapshot.language, rule.reason["en"]))]
        offer, note = offer_bounds(rule.offer, snapshot)
        if note:
            reasons.append(Reason("OFFER_ADJUSTED", note))
        review = timedelta(days=rule.review_in_days) if rule.review_in_days is not None else DEFAULT_REVIEW
        return Decision(
            case_id=snapshot.case_id,
            action=rule.action.value,
            channel=channel,
            window=window,
            offer=offer,
            template=rule.template,
            reasons=tuple(reasons),
            fired_rules=tuple(fired),
            vetoes=tuple(vetoes),
            policy=self.ref,
            as_of=context.as_of,
            next_review_at=(window.start if window else context.as_of) + review,
        )

    def _no_contact(self, snapshot: CaseSnapshot, as_of: datetime, reason: Reason, fired: tuple[str, ...], vetoes: tuple[Veto, ...]) -> Decision:
        return Decision(
            case_id=snapshot.case_id,
            action=Action.NO_CONTACT.value,
            channel=None,
            window=None,
            offer=None,
            template=None,
            reasons=(reason,),
            fired_rules=fired,
            vetoes=vetoes,
            policy=self.ref,
            as_of=as_of,
            next_review_at=as_of + DEFAULT_REVIEW,
        )

    def _trace(self, context: CaseContext, fired: list[str], vetoes: list[Veto], decision: Decision) -> dict[str, Any]:
        hours = BASELINE_HOURS
        return {
            "facts": plain(context.facts),
            "rules": rule_trace(self.policy, context.facts, set(fired)),
            "candidates_best_first": fired,
            "vetoes": [plain(vars(veto)) for veto in vetoes],
            "chosen": decision.reasons[0].code,
            "window": {
                "zones": [str(zone) for zone in context.zones],
                "contact_hours": f"{hours.opens:%H:%M}-{hours.closes:%H:%M}",
                "closed_weekdays": sorted(hours.closed_weekdays),
                "closed_on_public_holidays": hours.closed_on_holidays,
                "result": plain(vars(decision.window)) if decision.window else None,
            },
            "policy": plain(vars(self.ref)),
            "guardrails": f"{guardrails.PACK_NAME} {guardrails.PACK_VERSION}",
        }


def _with_trace(decision: Decision, trace: dict[str, Any]) -> Decision:
    return replace(decision, trace=trace)

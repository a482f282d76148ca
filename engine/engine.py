"""The decision pipeline: facts -> strategy -> compliance -> arbitration -> window -> offer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Sequence

from engine import guardrails
from engine.compliance import Compliance, ScopedRule, When, when_of
from engine.decision import Decision, PolicyRef, Reason, Veto, Window
from engine.explain import plain, rule_trace
from engine.experiments import assign
from engine.errors import PolicyError, PolicyProblem
from engine.facts import EXPERIMENT_PREFIX, CaseContext, FactNeed, Person, derive, fact_need
from engine.history import last_delivered, local_days_between
from engine.matching import MatcherFault, make_matcher
from engine.matching.durable_form import RuleSetTooLarge
from engine.offers import offer_bounds
from engine.policy.ir import ALWAYS, PREFERRED, Effective, GuardRule, Pack, Policy, Rule, paths_of
from engine.snapshot import CaseSnapshot
from engine.texts import system_reason, text
from engine.vocabulary import Action, Channel
from engine.window import next_window
from engine.work_items import REVIEWS, work_item

log = logging.getLogger(__name__)
DEFAULT_REVIEW = timedelta(days=1)
NO_TIME = timedelta(0)
# A decision's action as text, looked up: Enum.value is a slow property and runs for every decision.
_ACTION_TEXT = {action: action.value for action in Action}


def _text(texts: dict[str, str], language: str) -> str:
    return texts.get(language, texts["en"])


class StrategyEngine:
    """Decides cases with one strategy and the compliance packs; safe to share between threads."""

    def __init__(self, policy: Policy, packs: Sequence[Pack] = (), backend: str = "durable", facts: str = "needed"):
        """`facts`: "needed" derives only the facts this policy and the engine read
        (explain always derives them all); "all" derives every fact for every decision
        (the benchmarks' and tests' baseline)."""
        if facts not in ("needed", "all"):
            raise ValueError(f"facts must be 'needed' or 'all', not {facts!r}")
        self.policy = policy
        self.backend = backend
        self.ref = PolicyRef(policy.name, policy.version, policy.content_hash)
        self.compliance = Compliance(packs)
        # One durable_rules ruleset for the strategy and the packs: one assert per decision.
        self.matched_rules = _Combined(policy.name, policy.version, (*policy.rules, *self.compliance.scoped_rules))
        try:
            self._matcher = make_matcher(self.matched_rules, backend)
        except RuleSetTooLarge as error:  # say where the rules are, as for any other policy problem
            sources = {rule.id: rule.source for rule in policy.rules} | {rule.id: rule.source for pack in packs for rule in pack.rules}
            found = [(rule_id, sources[rule_id]) for rule_id in error.rule_ids if rule_id in sources]
            if not found:
                raise PolicyError.plain(str(error)) from None
            raise PolicyError([PolicyProblem(source.file, source.line, 1, error.reason, rule_id) for rule_id, source in found]) from None
        self._rank = {rule.id: index for index, rule in enumerate(policy.rules)}  # best first
        self._rules = {rule.id: rule for rule in policy.rules}
        self._posting_grace = dict(policy.posting_grace)
        self._shortest = {channel: timedelta(minutes=minutes) for channel, minutes in policy.shortest_window}
        self._review_after = {rule.review_in_days: timedelta(days=rule.review_in_days) for rule in policy.rules if rule.review_in_days is not None}
        # The periods of dated rules (a pack rule's include its pack's); none dated: no filter runs.
        self._periods: dict[str, tuple[Effective, ...]] = {rule.id: (rule.effective,) for rule in policy.rules if rule.effective} | self.compliance.periods
        self.work_plan = policy.work  # the queues review decisions go to (engine/policy/work.py)
        self.facts_read = self._facts_read()
        # What derive works out for a decision, decided here once (None: every fact).
        self.fact_need: FactNeed | None = fact_need(self.facts_read) if facts == "needed" else None

    def _facts_read(self) -> frozenset[str]:
        """Every fact a decision of this engine reads: the matched rules' conditions (the
        strategy's and the packs'), the built-in guardrails', a route's review_after_days.
        The engine's other stages read the snapshot and the contacts, not the facts."""
        paths = set(guardrails.FACTS_READ)
        for rule in self.matched_rules.rules:
            paths |= paths_of(rule.condition)
        paths |= {guard.review_after_days for pack in self.compliance.packs for guard in pack.rules if guard.review_after_days}
        return frozenset(paths)

    def need(self, explain: bool) -> FactNeed | None:
        """The facts to derive for one decision: the trace prints them all."""
        return None if explain else self.fact_need

    def decide(self, snapshot: CaseSnapshot, as_of: datetime, explain: bool = False) -> Decision:
        return self.judge(snapshot, as_of, explain).decision

    def judge(self, snapshot: CaseSnapshot, as_of: datetime, explain: bool = False, person: Person | None = None) -> Judged:
        """The decision for one case (one account of a debtor, with `person`), with
        what a debtor's decision needs to bundle it; a fault is a NO_CONTACT."""
        try:
            return self._decide(snapshot, as_of, explain, person)
        except MatcherFault as fault:
            log.error("rule engine fault deciding a case: %s", fault)  # no case data in logs: the decision says ENGINE_FAULT
        except Exception:
            log.exception("unexpected fault deciding a case")
        reason = system_reason("ENGINE_FAULT", snapshot.reason_language)
        return Judged(self._no_contact(snapshot, as_of, reason, fired=(), vetoes=()), None, None, fault=True)

    def on_channel(self, judged: Judged, channel: Channel) -> Decision | None:
        """The same candidate on one channel, as the guardrails and packs allow it
        (None: not on that channel): how a debtor's contact covers another account."""
        if judged.context is None or judged.rule is None or judged.decision.channel is None:
            return None
        if judged.decision.channel == channel:
            return judged.decision
        context, rule = judged.context, judged.rule
        if channel not in self._channels(rule, context):
            return None
        found = self._try(replace(rule, channels=(channel,), otherwise=None), context, list(judged.decision.fired_rules), [], list(judged.blocks), [])
        if found is None:
            return None
        # Only the channel and its window change: the rest is the candidate's decision as made.
        return replace(judged.decision, channel=found[0].channel, window=found[0].window, window_constraints=found[0].window_constraints)

    def _decide(self, snapshot: CaseSnapshot, as_of: datetime, explain: bool, person: Person | None = None) -> Judged:
        context = derive(snapshot, as_of, self._posting_grace, person, self.need(explain))
        arms = {experiment.id: assign(experiment, snapshot.case_id) for experiment in self.policy.experiments}
        context.facts.update({EXPERIMENT_PREFIX + experiment: arm for experiment, arm in arms.items()})
        matched = self._matcher.matching(context.facts)
        if self._periods:  # exact after matching: each rule matches on its own
            matched = _in_force(matched, self._periods, when_of(context.as_of, context.zones))
        fired = sorted(filter(self._rank.__contains__, matched), key=self._rank.__getitem__)
        guards = self.compliance.guards(matched)
        held = _Held(guards)
        vetoes: list[Veto] = []
        decision: Decision | None = None
        chosen: Rule | None = None
        if held.route:
            decision = self._routed(held.route, context, fired, vetoes)
        else:
            for rule_id in fired:
                found = self._try(self._rules[rule_id], context, fired, vetoes, held.blocks, held.requirements)
                if found:
                    decision, chosen = found
                    break
            if decision and chosen:
                replacing = next((guard for guard in held.replacements if chosen.action in guard.replace.actions), None)  # type: ignore[union-attr]
                if replacing:
                    decision = self._replaced(decision, replacing, context)
        if decision is None:
            if fired:
                reason = system_reason("ALL_CANDIDATES_VETOED", context.language)
            else:
                reason = system_reason("NO_RULE_MATCHED", context.language)
            decision = self._no_contact(snapshot, as_of, reason, tuple(fired), tuple(vetoes))
        # What is added to the decision made, gathered and set at once: each replace() copies every field.
        changes: dict[str, Any] = {}
        if decision.channel is not None:
            language = context.language
            disclosures = [Reason(code, _text(guard.reason, language)) for guard in held.disclosing for code in guard.disclose]
            if disclosures or decision.required_disclosures:
                changes["required_disclosures"] = tuple(dict.fromkeys(disclosures))
        warnings = guardrails.data_warnings(context)
        if warnings:
            changes["data_warnings"] = warnings
        if decision.action in REVIEWS:  # work for a person: its queue, priority and due time
            changes["work"] = work_item(self.work_plan, decision, self._rules, context)
        if arms:
            changes["experiment_arm"] = ",".join(f"{experiment}:{arm}" for experiment, arm in arms.items())
        if explain:  # the trace reads none of the changes
            changes["trace"] = self._trace(context, fired, guards, decision)
        if changes:
            decision = decision.amended(**changes)
        return Judged(decision, context, chosen, tuple(held.blocks))

    def _try(
        self, rule: Rule, context: CaseContext, fired: list[str], vetoes: list[Veto], blocks: list[GuardRule], requirements: list[GuardRule],
        replacing: frozenset[str] = frozenset(),
    ) -> tuple[Decision, Rule] | None:
        """The decision this rule's candidate makes (and the rule that made it: the
        candidate's, or the step taken instead), or None when guardrails remove it.
        `replacing`: the requirements whose `instead` step this candidate already is."""
        removed = guardrails.action_vetoes(context, rule.id, rule.action)
        if blocks:
            removed += _pack_action_vetoes(rule, blocks, context.language)
        if removed:
            vetoes += removed
            return None
        unmet = _unmet(rule, context, [guard for guard in requirements if guard.id not in replacing] if replacing else requirements)
        if unmet:
            guard, last = unmet
            need = guard.requires
            assert need is not None
            why = _text(guard.reason, context.language)
            if last is not None:  # delivered, but too recently: the candidate waits
                why += " " + text("requirement.waiting", context.language, passed=local_days_between(last, context.as_of, context.zones), days=need.days)
            vetoes.append(Veto(rule.id, guard.id, why))
            if last is None and need.instead:
                return self._try(_instead(guard, rule), context, fired, vetoes, blocks, requirements, replacing | {guard.id})
            return None
        if not rule.action.contacts:
            return self._decision(rule, context, fired, vetoes, channel=None, window=None), rule
        channels = self._channels(rule, context)
        if not channels:
            vetoes.append(Veto(rule.id, "no-channel", text("guardrail.no-channel", context.language)))
        best: tuple[Channel, Window, Any] | None = None
        for channel in channels:
            veto = guardrails.channel_veto(context, rule.id, channel)
            if veto is None and blocks:
                veto = _pack_channel_veto(rule.id, channel, blocks, context.language)
            if veto:
                vetoes.append(veto)
                continue
            shaping = self.compliance.shaping(context, channel)
            window = next_window(
                context.as_of, context.zones, context.snapshot.country, context.snapshot.region, shaping.hours, shaping.not_before, shaping.not_after,
                self._shortest.get(channel, NO_TIME),
            )
            if window is None:
                shapers = ", ".join(rule_id for rule_id, _ in shaping.constraints) or "contact-hours"
                vetoes.append(Veto(rule.id, shapers, text("guardrail.no-lawful-time", context.language), channel))
                continue
            # Absolute order: the first channel with a window. Same-day order: the first
            # channel among those open on the earliest local day any of them is.
            if best is None or window.local_start[:10] < best[1].local_start[:10]:
                best = (channel, window, shaping)
            if not rule.same_day_order or best[1].start == context.as_of or best[1].local_start[:10] == _local_day(context):
                break  # (a window open now is open today)
        if best is not None:
            channel, window, shaping = best
            constraints = tuple(Reason(rule_id, _text(texts, context.language)) for rule_id, texts in shaping.constraints)
            return self._decision(rule, context, fired, vetoes, channel, window, constraints), rule
        if rule.otherwise:  # the rule's intent, in writing
            action, written, template = rule.otherwise
            return self._try(replace(rule, action=action, channels=written, template=template, otherwise=None), context, fired, vetoes, blocks, requirements, replacing)
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
        self, rule: Rule, context: CaseContext, fired: list[str], vetoes: list[Veto], channel: Channel | None, window: Window | None,
        window_constraints: tuple[Reason, ...] = (),
    ) -> Decision:
        snapshot = context.snapshot
        language = context.language
        reasons = [Reason(rule.id, _text(rule.reason, language))]
        if rule.offer is not None:  # the limits in force matter only to an offer
            limits = (*self.policy.offer_limits, *(limit for pack in self.compliance.for_case(context) for limit in pack.offer_limits))
            offer, notes = offer_bounds(rule.offer, rule.id, snapshot, limits, language)
            reasons += [Reason("OFFER_ADJUSTED", note) for note in notes]
        else:
            offer = None
        review = DEFAULT_REVIEW if rule.review_in_days is None else self._review_after.get(rule.review_in_days) or timedelta(days=rule.review_in_days)
        return Decision.made(
            case_id=snapshot.case_id,
            action=_ACTION_TEXT[rule.action],
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
            window_constraints=window_constraints,
        )

    def _routed(self, route: GuardRule, context: CaseContext, fired: list[str], vetoes: list[Veto]) -> Decision:
        """A compliance rule takes the case out of automated collection. When the
        strategy's best rule already routes it the same way, that rule's decision
        stands (with its forbearance offer), the compliance reason first."""
        reason = Reason(route.id, _text(route.reason, context.language))
        best = self._rules[fired[0]] if fired else None
        if best is not None and best.action == route.route:
            decision = self._decision(best, context, fired, vetoes, channel=None, window=None)
            return replace(decision, reasons=(reason, *decision.reasons))
        vetoes += [Veto(rule_id, route.id, reason.text) for rule_id in fired]
        decision = self._no_contact(context.snapshot, context.as_of, reason, tuple(fired), tuple(vetoes))
        decision = replace(decision, action=route.route.value)  # type: ignore[union-attr]
        days = context.facts.get(route.review_after_days) if route.review_after_days else None
        if isinstance(days, int):  # e.g. the day a moratorium ends: nothing can change before it
            decision = replace(decision, next_review_at=_local_midnight_after(days, context))
        return decision

    def _replaced(self, decision: Decision, guard: GuardRule, context: CaseContext) -> Decision:
        """The act is not automated: a review step takes its place (e.g. GDPR art. 22)."""
        why = _text(guard.reason, context.language)
        strategy_rule = decision.reasons[0].code
        return replace(
            decision,
            action=guard.replace.with_action.value,  # type: ignore[union-attr]
            channel=None,
            window=None,
            window_constraints=(),
            reasons=(Reason(guard.id, why), *decision.reasons),
            vetoes=(*decision.vetoes, Veto(strategy_rule, guard.id, why)),
        )

    def _no_contact(self, snapshot: CaseSnapshot, as_of: datetime, reason: Reason, fired: tuple[str, ...], vetoes: tuple[Veto, ...]) -> Decision:
        return Decision.made(
            case_id=snapshot.case_id,
            action=_ACTION_TEXT[Action.NO_CONTACT],
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

    def _trace(self, context: CaseContext, fired: list[str], guards: list[GuardRule], decision: Decision) -> dict[str, Any]:
        snapshot = context.snapshot
        shaping = self.compliance.shaping(context, decision.channel) if decision.channel else None
        return {
            "facts": plain(context.facts),
            "rules": rule_trace(self.policy, context.facts, set(fired)),
            "candidates_best_first": fired,
            "compliance": {
                "packs_in_force": [f"{pack.name} {pack.version}" for pack in self.compliance.for_case(context)],
                "rules_holding": [guard.id for guard in guards],
                "built_in_guardrails": f"{guardrails.PACK_NAME} {guardrails.PACK_VERSION}",
            },
            "arrangements": list(context.arrangements),
            "broken_promises": "the engine's count of broken arrangements" if snapshot.arrangements else "the caller's payment.broken_promises",
            "vetoes": [plain(vars(veto)) for veto in decision.vetoes],
            "chosen": decision.reasons[0].code,
            "window": {
                "zones": [str(zone) for zone in context.zones],  # the most likely clock first, as the window's time_zone
                "contact_hours": f"{shaping.hours.opens:%H:%M}-{shaping.hours.closes:%H:%M}" if shaping else None,
                "closed_weekdays": sorted(shaping.hours.closed_weekdays) if shaping else None,
                "closed_on_public_holidays": shaping.hours.closed_on_holidays if shaping else None,
                "not_before": plain(shaping.not_before) if shaping else None,
                "shaped_by": [rule_id for rule_id, _ in shaping.constraints] if shaping else [],
                "result": plain(vars(decision.window)) if decision.window else None,
            },
            "policy": plain(vars(self.ref)),
        }


class Judged(NamedTuple):
    """A case's decision with the facts and the rule that made it (None: no rule's
    candidate survived); `fault`: the engine failed and the decision is NO_CONTACT.
    A NamedTuple, as immutable as a frozen dataclass and cheaper to build, once per decision."""

    decision: Decision
    context: CaseContext | None
    rule: Rule | None
    blocks: tuple[GuardRule, ...] = ()  # the pack blocks that held for the case
    fault: bool = False


class _Held:
    """The pack rules that hold for a case, sorted by what they do (in pack order)."""

    def __init__(self, guards: list[GuardRule]):
        self.route: GuardRule | None = None  # the first that takes the case out of automated collection
        self.blocks: list[GuardRule] = []
        self.requirements: list[GuardRule] = []
        self.replacements: list[GuardRule] = []
        self.disclosing: list[GuardRule] = []
        for guard in guards:
            if guard.route and self.route is None:
                self.route = guard
            if guard.block:
                self.blocks.append(guard)
            if guard.requires:
                self.requirements.append(guard)
            if guard.replace:
                self.replacements.append(guard)
            if guard.disclose:
                self.disclosing.append(guard)


@dataclass(frozen=True)
class _Combined:
    """The strategy's rules and the packs' scoped rules, matched as one rule set."""

    name: str
    version: str
    rules: tuple[Rule | ScopedRule, ...]


def _in_force(matched: Sequence[str], periods: dict[str, tuple[Effective, ...]], when: When) -> list[str]:
    """The matched rules in force at `when`: a dated rule only within its periods."""
    return [rule_id for rule_id in matched if rule_id not in periods or all(period.holds(*when) for period in periods[rule_id])]


def _unmet(rule: Rule, context: CaseContext, requirements: list[GuardRule]) -> tuple[GuardRule, datetime | None] | None:
    """The first requirement the candidate does not meet, with when its step was last
    delivered (None: never). The step itself is never held back by its own requirement."""
    for guard in requirements:
        need = guard.requires
        assert need is not None
        if not need.applies_to(rule.action) or rule.action in need.delivered.actions or (rule.template and rule.template in need.delivered.templates):
            continue
        last = last_delivered(context.snapshot.prior_contacts, need.delivered)
        if last is None or local_days_between(last, context.as_of, context.zones) < need.days:
            return guard, last
    return None


def _local_day(context: CaseContext) -> str:
    """Today in the debtor's local clock, as windows write their local start (YYYY-MM-DD)."""
    zone = context.zones[0] if context.zones else timezone.utc
    return context.as_of.astimezone(zone).date().isoformat()


def _local_midnight_after(days: int, context: CaseContext) -> datetime:
    """The start of the local day `days` after today (today: the earliest local date
    among the debtor's possible zones), at the latest of those zones' midnights."""
    zones = context.zones or (timezone.utc,)
    day = min(context.as_of.astimezone(zone).date() for zone in zones) + timedelta(days=days)
    return max(datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(timezone.utc) for zone in zones)


def _instead(guard: GuardRule, rule: Rule) -> Rule:
    """The step a requirement takes in place of a candidate whose prerequisite never happened."""
    step = guard.requires.instead  # type: ignore[union-attr]
    assert step is not None
    return Rule(guard.id, rule.priority, ALWAYS, step.action, step.channels, guard.reason, guard.source, template=step.template)


def _pack_action_vetoes(rule: Rule, blocks: list[GuardRule], language: str) -> list[Veto]:
    return [
        Veto(rule.id, guard.id, _text(guard.reason, language))
        for guard in blocks
        if guard.block and ((guard.block.contacting and rule.action.contacts) or rule.action in guard.block.actions)
    ]


def _pack_channel_veto(rule_id: str, channel: Channel, blocks: list[GuardRule], language: str) -> Veto | None:
    guard = next((guard for guard in blocks if guard.block and channel in guard.block.channels), None)
    return Veto(rule_id, guard.id, _text(guard.reason, language), channel) if guard else None

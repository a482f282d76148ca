"""One contact decision for a person with several accounts.

Each account is decided as a case (engine.engine) with the person's facts: its
caps, quiet periods and cool-offs count every contact with the person, and the
packs say which flags on one account hold the whole person. Then one contact is
chosen for the person: the policy ranks the accounts (`debtor.rank`), the
best-ranked account whose decision contacts leads, and another account's step
joins that contact when the policy bundles the two actions and the step is
lawful on the lead's channel in the same window. Any other contacting step
waits for a later decision, so a person gets one contact per decision however
many accounts they have. A fault on any account stops the whole person.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Callable, Sequence

from engine.compliance import when_of
from engine.debtor_snapshot import DebtorSnapshot, account_cases
from engine.decision import Decision, OfferBounds, PolicyRef, Reason, Veto, Window
from engine.engine import DEFAULT_REVIEW, Judged, StrategyEngine
from engine.facts import Person, contact_counts
from engine.policy.ir import DebtorRules
from engine.snapshot import currency_exponent, reason_language
from engine.texts import system_reason, text
from engine.vocabulary import Action, Channel
from engine.zones import possible_zones


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsolidatedOffer:
    """One offer for several accounts in one currency."""

    currency: str
    allocation: tuple[str, ...]  # account ids, in the order a payment is allocated to them
    allocation_rule: str
    total_due: Decimal
    bounds: OfferBounds


@dataclass(frozen=True)
class DebtorDecision:
    debtor_id: str
    action: str  # of the one contact; NO_CONTACT when the person is not contacted now
    channel: Channel | None
    window: Window | None
    template: str | None
    account_ids: tuple[str, ...]  # the accounts the contact is about, the lead first
    reasons: tuple[Reason, ...]
    required_disclosures: tuple[Reason, ...]
    window_constraints: tuple[Reason, ...]
    accounts: tuple[Decision, ...]  # what to do on each account, in rank order
    offers: tuple[ConsolidatedOffer, ...]
    policy: PolicyRef
    as_of: datetime
    next_review_at: datetime
    data_warnings: tuple[Reason, ...] = ()
    trace: dict[str, Any] | None = field(default=None, compare=False)


def decide_debtor(engine: StrategyEngine, debtor: DebtorSnapshot, as_of: datetime, explain: bool = False) -> DebtorDecision:
    try:
        return _decide(engine, debtor, as_of, explain)
    except Exception:  # whatever fails in combining the accounts, nobody is contacted
        log.exception("fault combining a debtor's accounts")  # no debtor data in logs
    reason = system_reason("DEBTOR_FAULT", reason_language(debtor.language))
    accounts = tuple(
        Decision.made(
            case_id=account.account_id, action=Action.NO_CONTACT.value, channel=None, window=None, offer=None, template=None, reasons=(reason,),
            fired_rules=(), vetoes=(), policy=engine.ref, as_of=as_of, next_review_at=as_of + DEFAULT_REVIEW,
        )
        for account in debtor.accounts
    )
    return _nobody(debtor, engine.ref, as_of, reason, accounts, None)


def _decide(engine: StrategyEngine, debtor: DebtorSnapshot, as_of: datetime, explain: bool) -> DebtorDecision:
    # The packs in force on the person's own day: a staged pack's flag scope counts from its first day.
    person_flags = engine.compliance.person_flags(debtor.country, debtor.region, when_of(as_of, possible_zones(debtor, as_of)))
    cases = account_cases(debtor, person_flags)
    counts = contact_counts(cases[0].person_contacts, as_of, engine.need(explain))  # the same person for every account; the counts its policy reads
    people = {currency: Person(cases[0].person_contacts, counts | facts) for currency, facts in person_facts(debtor).items()}
    judged = [engine.judge(case.snapshot, as_of, explain, people[case.snapshot.currency]) for case in cases]
    rules = engine.policy.debtor
    ranked = rank(judged, rules, debtor)
    language = reason_language(debtor.language)
    trace: dict[str, Any] = {
        "rank": {"by": rules.rank, "accounts": [j.decision.case_id for j in ranked]},
        "person_flags": sorted(person_flags),
        "contacts_with_person": len(cases[0].person_contacts),
    }
    if any(j.fault for j in judged):
        held = system_reason("DEBTOR_FAULT", language)
        accounts = tuple(j.decision if j.fault else _no_contact(j.decision, held) for j in ranked)
        return _nobody(debtor, engine.ref, as_of, held, accounts, trace if explain else None)
    contacting = [j for j in ranked if j.decision.channel is not None]
    if not contacting:
        accounts = tuple(j.decision for j in ranked)
        return _nobody(debtor, engine.ref, as_of, system_reason("NO_ACCOUNT_CONTACT", language), accounts, trace if explain else None)

    lead = contacting[0].decision
    assert lead.channel is not None and lead.window is not None
    treatments = {j.decision.case_id: j.decision for j in ranked}
    covered = [lead]
    for other in contacting[1:]:
        joined = engine.on_channel(other, lead.channel) if rules.bundles(Action(lead.action), Action(other.decision.action)) else None
        if joined is not None and joined.window == lead.window:
            covered.append(joined)
            treatments[joined.case_id] = joined
        else:
            treatments[other.decision.case_id] = _waits(other.decision, lead, language)
    owed = {account.account_id: (account.amount_due, account.days_past_due) for account in debtor.accounts}
    offers, notes = consolidate(covered, rules, owed, language) if rules.consolidate_offers else ((), [])
    reasons = list(lead.reasons)
    if len(covered) > 1:
        reasons.append(Reason("DEBTOR_BUNDLED", text("DEBTOR_BUNDLED", language, accounts=", ".join(d.case_id for d in covered))))
    accounts = tuple(treatments[j.decision.case_id] for j in ranked)
    trace.update(lead=lead.case_id, bundled=[d.case_id for d in covered[1:]], waiting=[d.case_id for d in accounts if _waiting(d)])
    return DebtorDecision(
        debtor_id=debtor.debtor_id,
        action=lead.action,
        channel=lead.channel,
        window=lead.window,
        template=lead.template,
        account_ids=tuple(decision.case_id for decision in covered),
        reasons=(*reasons, *notes),
        required_disclosures=tuple(dict.fromkeys(reason for decision in covered for reason in decision.required_disclosures)),
        window_constraints=lead.window_constraints,
        accounts=accounts,
        offers=offers,
        policy=engine.ref,
        as_of=as_of,
        next_review_at=min(decision.next_review_at for decision in accounts),
        data_warnings=tuple(dict.fromkeys(reason for decision in accounts for reason in decision.data_warnings)),
        trace=trace if explain else None,
    )


def person_facts(debtor: DebtorSnapshot) -> dict[str, dict[str, Any]]:
    """The debtor.* facts, by the currency of the account that reads them."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for account in debtor.accounts:
        totals[account.currency] += account.amount_due
    common = {"debtor.accounts": len(debtor.accounts), "debtor.currencies": len(totals), "debtor.worst_days_past_due": max(a.days_past_due for a in debtor.accounts)}
    return {currency: {**common, "debtor.total_due": total} for currency, total in totals.items()}


def rank(judged: Sequence[Judged], rules: DebtorRules, debtor: DebtorSnapshot) -> list[Judged]:
    """The accounts in the policy's order; ties keep the request's order. Amounts in
    different currencies are never compared: largest_first then ranks by days past due."""
    accounts = {account.account_id: account for account in debtor.accounts}
    currencies = {account.currency for account in debtor.accounts}
    key: Callable[[Judged], Any]
    if rules.rank == "largest_first" and len(currencies) == 1:
        key = lambda j: (-accounts[j.decision.case_id].amount_due, -accounts[j.decision.case_id].days_past_due)  # noqa: E731
    elif rules.rank == "score" and rules.rank_attribute:
        key = lambda j: (-_score(accounts[j.decision.case_id].attributes.get(rules.rank_attribute or "") or debtor.attributes.get(rules.rank_attribute or "")), -accounts[j.decision.case_id].days_past_due)  # noqa: E731
    else:
        key = lambda j: -accounts[j.decision.case_id].days_past_due  # noqa: E731
    return sorted(judged, key=key)


def _score(value: str | None) -> Decimal:
    """An attribute read as a number; a missing or unreadable score ranks last."""
    try:
        number = Decimal(value) if value is not None else None
    except InvalidOperation:
        number = None
    return number if number is not None and number.is_finite() else Decimal("-Infinity")


def _no_contact(decision: Decision, reason: Reason) -> Decision:
    return decision.amended(
        action=Action.NO_CONTACT.value, channel=None, window=None, offer=None, template=None,
        window_constraints=(), required_disclosures=(), reasons=(reason, *decision.reasons),
    )


def _waits(decision: Decision, lead: Decision, language: str) -> Decision:
    """A contacting step that cannot share the lead's contact waits for a later decision."""
    assert lead.window is not None
    reason = Reason("DEBTOR_ONE_CONTACT", text("DEBTOR_ONE_CONTACT", language, lead=lead.case_id))
    waiting = _no_contact(decision, reason)
    return waiting.amended(vetoes=(*decision.vetoes, Veto(decision.reasons[0].code, "debtor/one-contact", reason.text)), next_review_at=lead.window.end)


def _waiting(decision: Decision) -> bool:
    return bool(decision.reasons) and decision.reasons[0].code == "DEBTOR_ONE_CONTACT"


def _nobody(debtor: DebtorSnapshot, policy: PolicyRef, as_of: datetime, reason: Reason, accounts: tuple[Decision, ...], trace: dict[str, Any] | None) -> DebtorDecision:
    return DebtorDecision(
        debtor_id=debtor.debtor_id, action=Action.NO_CONTACT.value, channel=None, window=None, template=None, account_ids=(),
        reasons=(reason,), required_disclosures=(), window_constraints=(), accounts=accounts, offers=(), policy=policy, as_of=as_of,
        next_review_at=min(decision.next_review_at for decision in accounts),
        data_warnings=tuple(dict.fromkeys(reason for decision in accounts for reason in decision.data_warnings)), trace=trace,
    )


# --- consolidated offers -------------------------------------------------------------

_RULE_WORDS = {
    "oldest_first": "the oldest arrears first",
    "largest_first": "the largest balance first",
    "smallest_first": "the smallest balance first",
    "listed": "in the order the accounts are ranked",
}
_ALLOCATION: dict[str, Callable[[tuple[Decimal, int]], Any]] = {
    "oldest_first": lambda account: -account[1],
    "largest_first": lambda account: -account[0],
    "smallest_first": lambda account: account[0],
    "listed": lambda account: 0,  # the rank order stands
}


def consolidate(
    covered: Sequence[Decision], rules: DebtorRules, accounts: dict[str, tuple[Decimal, int]], language: str
) -> tuple[tuple[ConsolidatedOffer, ...], list[Reason]]:
    """One offer per currency over the covered accounts with offers (two or more):
    bounds that every account's own bounds allow. Currencies are never summed."""
    by_currency: dict[str, list[Decision]] = defaultdict(list)
    for decision in covered:
        if decision.offer is not None:
            by_currency[decision.offer.currency].append(decision)
    offers: list[ConsolidatedOffer] = []
    notes: list[Reason] = []
    if len(by_currency) > 1:
        notes.append(Reason("OFFERS_BY_CURRENCY", text("OFFERS_BY_CURRENCY", language, currencies=", ".join(sorted(by_currency)))))
    for currency, decisions in by_currency.items():
        if len(decisions) < 2:
            continue
        ids = [decision.case_id for decision in decisions]
        total = sum((accounts[account_id][0] for account_id in ids), Decimal(0))
        bounds = common_bounds([decision.offer for decision in decisions if decision.offer is not None], total)
        if bounds is None:
            notes.append(Reason("OFFER_NOT_CONSOLIDATED", text("OFFER_NOT_CONSOLIDATED", language, accounts=", ".join(ids))))
            continue
        order = tuple(sorted(ids, key=lambda account_id: _ALLOCATION[rules.allocation](accounts[account_id])))
        offers.append(ConsolidatedOffer(currency, order, rules.allocation, total, bounds))
        notes.append(Reason("OFFER_CONSOLIDATED", text("OFFER_CONSOLIDATED", language, total=total, currency=currency, order=", ".join(order), rule=_RULE_WORDS[rules.allocation])))
    return tuple(offers), notes


def common_bounds(offers: Sequence[OfferBounds], total: Decimal) -> OfferBounds | None:
    """Bounds within every offer's: the common instalment and discount ranges, the
    largest minimum instalment (with instalments), the shortest deferral, and a
    settlement floor no lower than the common discount allows. None when the
    offers have nothing in common to offer."""
    discount = _common_range([offer.discount_pct for offer in offers])
    instalments = _common_range([offer.instalments for offer in offers])
    if instalments == () or discount == ():
        return None
    minimums = [offer.min_instalment for offer in offers if offer.min_instalment is not None]
    deferrals = [offer.max_deferral_days for offer in offers]
    floors = [offer.settlement_floor for offer in offers]
    reviews = [offer.review_above_discount_pct for offer in offers if offer.review_above_discount_pct is not None]
    floor = None
    if discount and None not in floors:  # a settlement for all of them, at no more than the common discount
        exponent = Decimal(1).scaleb(-currency_exponent(offers[0].currency))
        at_most_off = (total * (100 - discount[1]) / 100).quantize(exponent, rounding=ROUND_CEILING)
        floor = max(sum((floor for floor in floors if floor is not None), Decimal(0)), at_most_off)
    bounds = OfferBounds(
        currency=offers[0].currency,
        set_by="+".join(dict.fromkeys(offer.set_by for offer in offers)),
        discount_pct=discount,
        instalments=instalments,
        min_instalment=max(minimums) if minimums and instalments else None,
        max_deferral_days=None if None in deferrals else min(day for day in deferrals if day is not None),
        settlement_floor=floor,
        payment_holiday=all(offer.payment_holiday for offer in offers),
        review_above_discount_pct=min(reviews) if reviews else None,
    )
    offers_something = bounds.discount_pct or bounds.instalments or bounds.max_deferral_days or bounds.settlement_floor is not None or bounds.payment_holiday
    return bounds if offers_something else None


def _common_range(ranges: Sequence[Any]) -> Any:
    """The range inside all of them; None when one of them offers none, () when they do not meet."""
    if any(item is None for item in ranges):
        return None
    low, high = max(item[0] for item in ranges), min(item[1] for item in ranges)
    return (low, high) if low <= high else ()

"""Offer bounds: the rule's terms, clamped by every limit in force, made
consistent with the amount and the currency's minor units.

Each bound says which rule set it; each clamp says which limit narrowed it and why.
An amount the rule writes per currency applies only in that currency: a case in
a currency the rule does not name gets no such bound, and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Mapping, Sequence

from engine.decision import OfferBounds, OfferClamp
from engine.policy.ir import OfferLimit, OfferTerms
from engine.snapshot import CaseSnapshot, currency_exponent
from engine.texts import text

HUNDRED = Decimal(100)
# The note for a plan whose rule names no minimum instalment in the case's currency.


@dataclass
class _Draft:
    discount: tuple[Decimal, Decimal] | None
    instalments: tuple[int, int] | None
    deferral: int | None
    review_above: Decimal | None = None
    clamps: list[OfferClamp] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def offer_bounds(
    terms: OfferTerms | None, rule_id: str, snapshot: CaseSnapshot, limits: Sequence[OfferLimit] = (), language: str = "en"
) -> tuple[OfferBounds | None, list[str]]:
    """The bounds to return, and notes on what had to be dropped (for the reasons)."""
    if terms is None or snapshot.amount_due <= 0:
        return None, []
    draft = _Draft(terms.discount_pct, terms.instalments, terms.max_deferral_days)
    for limit in limits:
        if limit.applies_to(snapshot.segment, snapshot.product):
            _clamp(draft, limit, limit.reason.get(language, limit.reason["en"]), language)
    quantum = Decimal(1).scaleb(-currency_exponent(snapshot.currency))
    minimum = terms.min_instalment.get(snapshot.currency) if isinstance(terms.min_instalment, Mapping) else terms.min_instalment
    min_instalment = minimum.quantize(quantum, rounding=ROUND_CEILING) if minimum is not None else None
    instalments = draft.instalments
    if instalments and minimum is None and terms.min_instalment is not None:
        draft.notes.append(_no_minimum(snapshot.currency, language))
    if instalments and min_instalment:
        # No instalment may fall under the minimum: cap the count at amount / minimum.
        most = int(snapshot.amount_due // min_instalment)
        if most < instalments[0]:
            draft.notes.append(text("offer.too_small_for_plan", language, count=instalments[0], minimum=min_instalment, currency=snapshot.currency))
            instalments = None
        else:
            instalments = (instalments[0], min(instalments[1], most))
    floor = _settlement_floor(terms, draft.discount, snapshot.amount_due, quantum)
    if not (draft.discount or instalments or draft.deferral or terms.payment_holiday):
        return None, draft.notes
    return (
        OfferBounds(
            currency=snapshot.currency,
            set_by=rule_id,
            discount_pct=draft.discount,
            instalments=instalments,
            min_instalment=min_instalment if instalments else None,
            max_deferral_days=draft.deferral,
            settlement_floor=floor,
            payment_holiday=terms.payment_holiday,
            review_above_discount_pct=draft.review_above,
            clamps=tuple(draft.clamps),
        ),
        draft.notes,
    )


def _no_minimum(currency: str, language: str) -> str:
    return text("offer.no_minimum_in_currency", language, currency=currency)


def _clamp(draft: _Draft, limit: OfferLimit, reason: str, language: str) -> None:
    def record(bound: str, before: object, after: object) -> None:
        draft.clamps.append(OfferClamp(limit.id, bound, str(before), str(after), reason))

    if draft.discount:
        low, high = draft.discount
        for cap, bound in ((limit.discount_pct_max, "discount_pct_max"), (limit.review_above_discount_pct, "discount_pct_max")):
            if cap is not None and high > cap:
                record(bound, high, cap)
                high = cap
        if limit.review_above_discount_pct is not None:
            draft.review_above = min(draft.review_above or HUNDRED, limit.review_above_discount_pct)
        if low > high:  # min <= max always, or the discount goes, with a reason
            draft.notes.append(text("offer.no_discount", language, reason=reason))
            draft.discount = None
        else:
            draft.discount = (low, high)
    if draft.instalments and limit.instalments_max is not None and draft.instalments[1] > limit.instalments_max:
        record("instalments_max", draft.instalments[1], limit.instalments_max)
        fewest, most = draft.instalments[0], limit.instalments_max
        if fewest > most:
            draft.notes.append(text("offer.no_plan", language, reason=reason))
            draft.instalments = None
        else:
            draft.instalments = (fewest, most)
    if draft.deferral is not None and limit.max_deferral_days is not None and draft.deferral > limit.max_deferral_days:
        record("max_deferral_days", draft.deferral, limit.max_deferral_days)
        draft.deferral = limit.max_deferral_days


def _settlement_floor(terms: OfferTerms, discount: tuple[Decimal, Decimal] | None, amount: Decimal, quantum: Decimal) -> Decimal | None:
    """The least amount that closes the debt: the rule's floor, and never less than
    the largest discount allows; rounded up to the currency's minor unit, at most the amount due."""
    shares = []
    if terms.settlement_floor_pct is not None:
        shares.append(terms.settlement_floor_pct)
    if discount:
        shares.append(HUNDRED - discount[1])
    if not shares:
        return None
    return min(amount, (amount * max(shares) / HUNDRED).quantize(quantum, rounding=ROUND_CEILING))

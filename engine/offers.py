"""Offer bounds: the rule's terms made consistent with the amount and currency."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from engine.decision import OfferBounds
from engine.policy.ir import OfferTerms
from engine.snapshot import CaseSnapshot, currency_exponent


def offer_bounds(terms: OfferTerms | None, snapshot: CaseSnapshot) -> tuple[OfferBounds | None, str | None]:
    """The bounds to return, and a note when part of the offer had to be dropped."""
    if terms is None or snapshot.amount_due <= 0:
        return None, None
    quantum = Decimal(1).scaleb(-currency_exponent(snapshot.currency))
    min_instalment = terms.min_instalment.quantize(quantum, rounding=ROUND_CEILING) if terms.min_instalment is not None else None
    instalments = terms.instalments
    note = None
    if instalments and min_instalment:
        # No instalment may fall under the minimum: cap the count at amount / minimum.
        most = int(snapshot.amount_due // min_instalment)
        if most < instalments[0]:
            instalments, note = None, f"The amount is too small for {instalments[0]} instalments of at least {min_instalment} {snapshot.currency}."
        else:
            instalments = (instalments[0], min(instalments[1], most))
    bounds = OfferBounds(
        currency=snapshot.currency,
        discount_pct=terms.discount_pct,
        instalments=instalments,
        min_instalment=min_instalment if instalments else None,
        max_deferral_days=terms.max_deferral_days,
    )
    if not (bounds.discount_pct or bounds.instalments or bounds.max_deferral_days):
        return None, note
    return bounds, note

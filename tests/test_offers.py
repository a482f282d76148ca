"""Offer bounds: consistent, in the currency's minor units, clamped by every limit in force, explained."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.engine import StrategyEngine
from engine.offers import offer_bounds
from engine.policy.ir import OfferLimit, OfferTerms
from engine.policy.packs import load_pack
from tests.conftest import AS_OF, load_policy, snapshot

POLICY = """
policy: offers
version: "1"
offer_limits:
  - id: authority
    review_above_discount_pct: 20
    reason: A larger discount needs a team leader.
  - id: bnpl
    products: [bnpl]
    instalments_max: 6
    reason: Short plans for buy-now-pay-later.
rules:
  - id: settle
    priority: 10
    when: {days_past_due: {gte: 90}}
    then:
      action: OFFER_SETTLEMENT
      channel: letter
      offer: {discount_pct: [10, 30], settlement_floor_pct: 60}
    reason: Settle now for less.
  - id: plan
    priority: 5
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      offer: {instalments: [2, 12], min_instalment: 50, max_deferral_days: 30, payment_holiday: true}
    reason: A plan.
"""
PACK = """
policy: test-pack
version: "1"
kind: compliance
applies_to: {countries: [PL]}
offer_limits:
  - id: short-deferral
    max_deferral_days: 14
    reason: At most two weeks of deferral here.
"""


def engine(tmp_path: Path) -> StrategyEngine:
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text(PACK, encoding="utf-8")
    return StrategyEngine(load_policy(tmp_path, POLICY), [load_pack(pack_file)])


def test_limits_clamp_bounds_and_the_decision_names_rule_and_limit(tmp_path: Path) -> None:
    decision = engine(tmp_path).decide(snapshot(days_past_due=120, amount_due="1000.00"), AS_OF)
    offer = decision.offer
    assert offer is not None and decision.action == "OFFER_SETTLEMENT"
    assert (offer.set_by, offer.discount_pct, offer.review_above_discount_pct) == ("settle", (Decimal(10), Decimal(20)), Decimal(20))
    assert [(c.limit_id, c.bound, c.before, c.after) for c in offer.clamps] == [("offers/authority", "discount_pct_max", "30", "20")]
    # The floor is the rule's 60%, raised to what the largest allowed discount leaves: 80% of 1000.
    assert offer.settlement_floor == Decimal("800.00")


def test_product_and_jurisdiction_limits(tmp_path: Path) -> None:
    decision = engine(tmp_path).decide(snapshot(days_past_due=10, amount_due="1000.00", product="bnpl"), AS_OF)
    offer = decision.offer
    assert offer is not None and (offer.instalments, offer.max_deferral_days, offer.payment_holiday) == ((2, 6), 14, True)
    assert {c.limit_id for c in offer.clamps} == {"offers/bnpl", "test-pack/short-deferral"}


def test_a_discount_range_emptied_by_a_limit_is_dropped_with_a_reason() -> None:
    limit = OfferLimit("p/cap", None, None, {"en": "No discounts on this product."}, discount_pct_max=Decimal(5))
    bounds, notes = offer_bounds(OfferTerms(discount_pct=(Decimal(10), Decimal(30))), "r", snapshot(), [limit])
    assert bounds is None and notes == ["No discount can be offered: No discounts on this product."]


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)


@settings(max_examples=300, deadline=None)
@given(
    amount=amounts,
    low=st.integers(1, 24),
    span=st.integers(0, 48),
    minimum=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("500"), places=3),
    discount=st.tuples(st.integers(0, 100), st.integers(0, 100)).map(sorted),
    currency=st.sampled_from(["PLN", "JPY", "KWD", "EUR"]),
)
def test_bounds_are_always_consistent(amount: Decimal, low: int, span: int, minimum: Decimal, discount: list[int], currency: str) -> None:
    places = {"PLN": 2, "JPY": 0, "KWD": 3, "EUR": 2}[currency]
    amount = amount.quantize(Decimal(1).scaleb(-places)) if places else Decimal(int(amount) + 1)
    terms = OfferTerms(discount_pct=(Decimal(discount[0]), Decimal(discount[1])), instalments=(low, low + span), min_instalment=minimum)
    bounds, _ = offer_bounds(terms, "r", snapshot(amount_due=str(amount), currency=currency))
    assert bounds is not None
    if bounds.instalments:
        few, many = bounds.instalments
        assert few <= many
        assert bounds.min_instalment is not None and -bounds.min_instalment.as_tuple().exponent <= places  # type: ignore[operator]
        assert bounds.min_instalment * many <= amount  # no instalment falls under the minimum
    if bounds.discount_pct:
        assert bounds.discount_pct[0] <= bounds.discount_pct[1]
    assert bounds.settlement_floor is not None and bounds.settlement_floor <= amount
    assert -bounds.settlement_floor.as_tuple().exponent <= places  # type: ignore[operator]

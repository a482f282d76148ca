"""decision_to_proto writes every part of a decision into the message (a response's
own, when given): the same bytes as building each part apart and copying it in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.authoring.portfolio import synthetic_portfolio
from engine.decision import Decision, OfferBounds
from engine.engine import StrategyEngine
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from transport import mapping
from transport.mapping import decision_to_proto

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parent.parent


def built_apart(decision: Decision) -> pb.Decision:
    """The oracle: each part built as its own message and passed to the constructor."""
    message = pb.Decision(
        case_id=decision.case_id,
        action=decision.action,
        channel=mapping.channel_to_proto(decision.channel),
        template=decision.template or "",
        reasons=mapping.reasons_to_proto(decision.reasons),
        window_constraints=mapping.reasons_to_proto(decision.window_constraints),
        fired_rules=decision.fired_rules,
        vetoes=[
            pb.Veto(rule_id=veto.rule_id, guardrail=veto.guardrail, reason=veto.reason, channel=mapping.channel_to_proto(veto.channel))
            for veto in decision.vetoes
        ],
        policy=mapping.policy_to_proto(decision.policy),
        experiment_arm=decision.experiment_arm,
        next_review_at=mapping.timestamp(decision.next_review_at),
        as_of=mapping.timestamp(decision.as_of),
        required_disclosures=mapping.reasons_to_proto(decision.required_disclosures),
        data_warnings=mapping.reasons_to_proto(decision.data_warnings),
    )
    if decision.window:
        message.window.CopyFrom(mapping.window_to_proto(decision.window))
    if decision.offer:
        message.offer.CopyFrom(offer_built_apart(decision.offer))
    if decision.trace is not None:
        message.trace.CopyFrom(mapping.trace_to_proto(decision.trace))
    work = getattr(decision, "work", None)
    if work:
        message.work.CopyFrom(mapping.decision_to_proto(decision).work)  # the work item's own mapping, not under test here
    return message


def offer_built_apart(offer: OfferBounds) -> pb.OfferBounds:
    """The oracle of an offer's bounds: the constructor form, its clamps built apart."""
    bounds = pb.OfferBounds(
        currency=offer.currency,
        max_deferral_days=offer.max_deferral_days or 0,
        payment_holiday=offer.payment_holiday,
        set_by=offer.set_by,
        settlement_floor=str(offer.settlement_floor) if offer.settlement_floor is not None else "",
        review_above_discount_pct=str(offer.review_above_discount_pct) if offer.review_above_discount_pct is not None else "",
        clamps=[pb.OfferClamp(limit_id=c.limit_id, bound=c.bound, before=c.before, after=c.after, reason=c.reason) for c in offer.clamps],
    )
    if offer.discount_pct:
        bounds.discount_pct_min, bounds.discount_pct_max = (str(value) for value in offer.discount_pct)
    if offer.instalments:
        bounds.instalments_min, bounds.instalments_max = offer.instalments
    if offer.min_instalment is not None:
        bounds.min_instalment = str(offer.min_instalment)
    return bounds


@pytest.fixture(scope="module")
def engine() -> StrategyEngine:
    return build_engine(REPO / "rules", "python")


def test_written_in_place_the_same_as_built_apart(engine: StrategyEngine) -> None:
    """1,500 shipped-portfolio decisions (vetoes, windows, offers, disclosures, warnings) and some explained."""
    kinds: set[str] = set()
    for index, data in enumerate(synthetic_portfolio(1500, AS_OF, seed=3)):
        as_of = AS_OF + timedelta(seconds=index)
        decision = engine.decide(parse_snapshot(data, as_of), as_of, explain=index % 50 == 0)
        expected = built_apart(decision).SerializeToString(deterministic=True)
        assert decision_to_proto(decision).SerializeToString(deterministic=True) == expected
        response = pb.DecideResponse()
        assert decision_to_proto(decision, response.decision) is response.decision
        assert response.decision.SerializeToString(deterministic=True) == expected
        if decision.offer:  # the debtor path maps its offers' bounds on their own
            assert mapping.offer_bounds_to_proto(decision.offer).SerializeToString(deterministic=True) == (
                offer_built_apart(decision.offer).SerializeToString(deterministic=True)
            )
            kinds |= {"clamps"} if decision.offer.clamps else set()
        kinds |= {name for name in ("window", "offer", "trace") if getattr(decision, name)}
        kinds |= {"vetoes"} if decision.vetoes else set()
        kinds |= {"disclosures"} if decision.required_disclosures else set()
        kinds |= {"warnings"} if decision.data_warnings else set()
    assert kinds >= {"window", "offer", "clamps", "trace", "vetoes"}, kinds


def test_an_instant_at_the_epoch_is_still_present() -> None:
    """A timestamp of 0 seconds is written as present, as the constructor form had it."""
    from engine.decision import PolicyRef

    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    decision = Decision("c", "NO_CONTACT", None, None, None, None, (), (), (), PolicyRef("p", "1", "h"), epoch, epoch)
    message = decision_to_proto(decision, pb.Decision())
    assert message.HasField("as_of") and message.HasField("next_review_at") and message.HasField("policy")
    assert message.SerializeToString(deterministic=True) == built_apart(decision).SerializeToString(deterministic=True)

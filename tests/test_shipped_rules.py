"""What every shipped policy and pack must carry."""

from __future__ import annotations

from engine.registry import build_engine
from tests.conftest import REPO


def test_every_shipped_reason_is_in_english_and_polish() -> None:
    engine = build_engine(REPO / "rules")
    texts = {rule.id: rule.reason for rule in engine.policy.rules}
    texts |= {limit.id: limit.reason for limit in engine.policy.offer_limits}
    for pack in engine.compliance.packs:
        for group in (pack.rules, pack.hours, pack.caps, pack.quiet, pack.offer_limits):
            texts |= {item.id: item.reason for item in group}
    missing = sorted(item for item, reason in texts.items() if set(reason) != {"en", "pl"})
    assert not missing, f"reasons without both en and pl: {missing}"
    assert len(texts) > 60


def test_the_shipped_packs_cover_the_promised_jurisdictions() -> None:
    packs = {pack.name: pack for pack in build_engine(REPO / "rules").compliance.packs}
    assert set(packs) == {"default", "first-steps", "eu-baseline", "pl", "us", "us-ma", "gb", "ie"}
    assert packs["first-steps"].countries is None and not packs["first-steps"].fallback  # everywhere, always
    assert packs["default"].fallback and packs["us-ma"].regions == frozenset({"MA"})
    assert {"PL", "DE", "IE", "NO"} <= packs["eu-baseline"].countries  # type: ignore[operator]

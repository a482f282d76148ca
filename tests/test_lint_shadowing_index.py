"""The indexed shadowing analysis finds what comparing every pair of rules finds.

lint compares each rule only with the higher rules that may share a case with it
(engine/authoring/lint_shadowing.py); `shadowed_pairwise` is the comparison of
every pair it replaces. On the shipped rules and on generated policies of 200
rules that overlap a lot (few priorities, few segments, ranges that nest), both
give the same findings, word for word.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.authoring import lint, lint_shadowing
from engine.policy.ir import Policy
from engine.policy.loader import load_strategy
from tests.conftest import REPO

SEGMENTS = ["retail", "business", "premium", "student"]
PRODUCTS = ["card", "loan", "bnpl"]
ACTIONS = [("SEND_REMINDER", "sms"), ("SEND_REMINDER", "email"), ("CALL", "phone"), ("OFFER_PAYMENT_PLAN", "email"), ("HUMAN_REVIEW", None), ("NO_CONTACT", None)]


def _both(policy: Policy) -> tuple[list[lint.Finding], list[lint.Finding]]:
    rules = sorted(policy.rules, key=lambda rule: (-rule.priority, rule.id))
    analysed: lint.Analysed = [(rule, lint.condition_boxes(rule.condition)) for rule in rules]
    what = "whether a rule is never chosen (`shadowed`)"
    return (
        lint._bounded(lint_shadowing.shadowed, policy, analysed, what),
        lint._bounded(lint_shadowing.shadowed_pairwise, policy, analysed, what),
    )


def _condition(pick: random.Random) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if pick.random() < 0.6:
        when["segment"] = pick.choice(SEGMENTS) if pick.random() < 0.6 else {"in": pick.sample(SEGMENTS, 2)}
    if pick.random() < 0.3:
        when["product"] = pick.choice(PRODUCTS) if pick.random() < 0.7 else {"not_in": [pick.choice(PRODUCTS)]}
    if pick.random() < 0.8:
        low = pick.choice([0, 15, 31, 61, 91])
        when["days_past_due"] = {"gte": low} if pick.random() < 0.4 else {"between": [low, low + pick.choice([14, 30, 90])]}
    if pick.random() < 0.4:
        when["amount_due"] = {"gte": {"PLN": pick.choice([20, 200, 1000]), "EUR": pick.choice([8, 80, 400])}}
    if pick.random() < 0.15:
        when["legal.dispute"] = pick.random() < 0.5
    if pick.random() < 0.1:
        when["attributes.campaign"] = {"matches": pick.choice(["spring-.*", "[a-z]+-2026", "spring-2026"])}
    if pick.random() < 0.1:
        when["hours_since_last_contact"] = {"exists": pick.random() < 0.5}
    if pick.random() < 0.15:
        when = {"any": [when, {"segment": pick.choice(SEGMENTS), "days_past_due": {"gte": pick.choice([31, 91])}}]}
    return when


def _policy(tmp_path: Path, seed: int, count: int = 200) -> Policy:
    pick = random.Random(seed)
    # Two high rules that together (not alone) match every retail or student card case.
    rules: list[dict[str, Any]] = [
        {"id": f"tile-{segment}-{half}", "priority": 700, "when": {"segment": segment, "product": "card", "days_past_due": {op: 31}}, "then": {"action": "CALL", "channel": "phone"}, "reason": "x"}
        for segment in ("retail", "student")
        for half, op in (("early", "lt"), ("late", "gte"))
    ]
    for index in range(count):
        action, channel = pick.choice(ACTIONS)
        then: dict[str, Any] = {"action": action}
        if channel:
            then["channel"] = channel
        rules.append({"id": f"r{index:03}", "priority": pick.choice([100, 200, 300, 400, 500, 600]), "when": _condition(pick), "then": then, "reason": "x"})
    folder = tmp_path / f"strategies-{seed}"
    folder.mkdir()
    (folder / "policy.yaml").write_text(yaml.safe_dump({"policy": "overlaps", "version": "1", "rules": rules}, sort_keys=False), encoding="utf-8")
    return load_strategy(folder)


def test_the_shipped_rules_are_shadowed_alike() -> None:
    indexed, pairwise = _both(load_strategy(REPO / "rules" / "strategies"))
    assert indexed == pairwise


@pytest.mark.parametrize("seed", [1, 2, 5, 7])
def test_generated_overlapping_policies_are_shadowed_alike(tmp_path: Path, seed: int) -> None:
    policy = _policy(tmp_path, seed)
    indexed, pairwise = _both(policy)
    # The reference finished within its work budget: its findings are complete.
    assert not [finding for finding in pairwise if finding.code == "too-complex"]
    assert len([finding for finding in pairwise if finding.code == "shadowed"]) >= 10, "a policy with few shadowed rules proves little"
    assert any(" together, which rank" in finding.message for finding in pairwise), "and some shadowed by several rules together"
    assert indexed == pairwise


def test_a_rule_with_only_other_values_of_a_fact_is_never_compared(tmp_path: Path) -> None:
    # Rule r001 (product loan) cannot share a case with r000 (product card): the index leaves it out.
    folder = tmp_path / "strategies"
    folder.mkdir()
    rules = [
        {"id": "r000", "priority": 20, "when": {"product": "card"}, "then": {"action": "HUMAN_REVIEW"}, "reason": "x"},
        {"id": "r001", "priority": 10, "when": {"product": "loan", "days_past_due": {"gte": 5}}, "then": {"action": "HUMAN_REVIEW"}, "reason": "x"},
    ]
    (folder / "policy.yaml").write_text(yaml.safe_dump({"policy": "p", "version": "1", "rules": rules}), encoding="utf-8")
    policy = load_strategy(folder)
    index = lint_shadowing.FactIndex()
    card, loan = (lint.condition_boxes(rule.condition) for rule in sorted(policy.rules, key=lambda rule: -rule.priority))
    assert card is not None and loan is not None
    index.add(0, card)
    assert index.meeting(loan, 1) == []
    assert index.meeting(card, 1) == [0]

"""Every shipped compliance pack, against a strategy that tries every step.

The shipped strategy keeps most decisions lawful before the packs are asked (a
forbearance review for hardship, a letter for a time-barred debt), so it hides
the packs' gaps: a pack that forgot a rule still passes every test run through
it. Here the strategy is hostile (tests/data/every-step/: every step on every
case, the harshest first) and the packs alone must keep each obligation below,
in every place it binds:

- the forbidden steps are never decided, neither by the whole ladder nor by any
  step tried alone (a milder step allowed first would hide a gap);
- a forbidden step tried alone is stopped by the rule that states the
  obligation (so it is the law, not a side effect, that stops it);
- without the obligation's facts the same strategy reaches a forbidden step
  there, so the check is not vacuous;
- where the obligation names what the first contact is, or what a message must
  carry, every contacting decision is that step and carries that disclosure.

Hardship in the US is not here on purpose: no US rule requires forbearance
before collecting a consumer debt (rules/compliance/us/us.yaml says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import json

import pycountry
import pytest
import yaml

from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.policy.ir import Pack
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.snapshot import parse_snapshot
from engine.vocabulary import Action

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "data" / "every-step"
AS_OF = datetime(2026, 11, 24, 11, 0, tzinfo=timezone.utc)  # a Tuesday
ALL_CONSENTS = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}
CONTACTING = frozenset(action for action in Action if action.contacts)
EVERY_STEP = frozenset(Action)
ESCALATION = frozenset({Action.FINAL_NOTICE, Action.LEGAL_REVIEW})
DEMANDS = frozenset({Action.SEND_REMINDER, Action.CALL, Action.OFFER_PAYMENT_PLAN, Action.OFFER_SETTLEMENT}) | ESCALATION
EU_EEA = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
NO_TIME_BARRED_PACK = ["IE", "DE", "FR", "NO", "CA", "JP", "AU", "BR", "ZA", "CH"]  # no pack of their own rules on it
US_PLACES = ["US", "US-CA", "US-NY", "US-MA", "US-TX", "PR", "GU"]


def contact(days_ago: int, action: str, template: str | None = None, channel: str = "letter") -> dict[str, Any]:
    return {"channel": channel, "at": (AS_OF - timedelta(days=days_ago)).isoformat(), "outcome": "delivered", "action": action, **({"template": template} if template else {})}


FINAL_NOTICE_DELIVERED = [contact(40, "FINAL_NOTICE", "final-notice")]  # what a legal step needs first (first-steps, pl)
TIME_BARRED_INFORMATION_DELIVERED = [contact(30, "SEND_NOTICE", "time-barred-information"), *FINAL_NOTICE_DELIVERED]


@dataclass(frozen=True)
class Obligation:
    name: str
    places: tuple[str, ...]  # "PL", or "US-CA" for a region
    case: dict[str, Any]  # what makes the obligation bind, laid over the base case
    forbidden: frozenset[Action]
    by: tuple[str, ...]  # ids (or id prefixes) of the rules that state it
    control: bool = True  # without `case`, the hostile strategy reaches a forbidden step
    first_contact: str | None = None  # every contacting decision is this template
    discloses: frozenset[str] = field(default_factory=frozenset)  # every contacting decision carries these


OBLIGATIONS = (
    # Time-barred debt.
    Obligation(
        "time-barred consumer debt is not demanded in Poland (Civil Code art. 117 § 2¹)",
        ("PL",), {"legal": {"time_barred": True}}, DEMANDS, ("pl/kc-117-time-barred-consumer-debt-not-demanded",),
        first_contact="time-barred-information",
    ),
    Obligation(
        "once told, a Polish consumer still gets no demand",
        ("PL",), {"legal": {"time_barred": True}, "prior_contacts": TIME_BARRED_INFORMATION_DELIVERED}, DEMANDS,
        ("pl/kc-117-time-barred-consumer-debt-not-demanded",),
    ),
    Obligation(
        "where no country pack rules on time-barred debt: no escalation or settlement pressure, information first",
        tuple(NO_TIME_BARRED_PACK), {"legal": {"time_barred": True}}, ESCALATION | {Action.OFFER_SETTLEMENT}, ("first-steps/time-barred-no-escalation",),
        first_contact="time-barred-information",
    ),
    Obligation(
        "once told, still no escalation where no country pack rules on time-barred debt",
        tuple(NO_TIME_BARRED_PACK), {"legal": {"time_barred": True}, "prior_contacts": TIME_BARRED_INFORMATION_DELIVERED},
        ESCALATION | {Action.OFFER_SETTLEMENT}, ("first-steps/time-barred-no-escalation",),
    ),
    Obligation(
        "a statute-barred debt is never taken to court or threatened with it in the UK (CONC 7.15.4R)",
        ("GB",), {"legal": {"time_barred": True}}, ESCALATION, ("gb/conc-7-15-statute-barred",),
    ),
    Obligation(
        "a time-barred debt is never sued on or threatened with suit in the US (Regulation F 1006.26(b))",
        tuple(US_PLACES), {"legal": {"time_barred": True}}, ESCALATION, ("us/reg-f-time-barred-no-suit",),
    ),
    Obligation(
        "a time-barred debt in California carries the Civil Code 1788.14(d) notice",
        ("US-CA",), {"legal": {"time_barred": True}}, ESCALATION, ("us/reg-f-time-barred-no-suit",),
        discloses=frozenset({"us-ca-time-barred"}),
    ),
    Obligation(
        "a time-barred debt in New York carries the 23 NYCRR 1.3 disclosure",
        ("US-NY",), {"legal": {"time_barred": True}}, ESCALATION, ("us/reg-f-time-barred-no-suit",),
        discloses=frozenset({"us-ny-time-barred"}),
    ),
    Obligation(
        "a time-barred US debt with no known state carries both state disclosures",
        ("US",), {"legal": {"time_barred": True}}, ESCALATION, ("us/reg-f-time-barred-no-suit",),
        discloses=frozenset({"us-ca-time-barred", "us-ny-time-barred"}),
    ),
    # The product's stance, everywhere.
    Obligation(
        "no phone call on or before the due date: a reminder is written",
        ("PL", "DE", "GB", "US", "JP"), {"days_past_due": 0}, frozenset({Action.CALL}), ("first-steps/no-call-before-it-is-late",),
    ),
    # Forbearance before escalation.
    Obligation(
        "hardship means forbearance before escalation in the EU/EEA (Directive 2023/2225 art. 35)",
        tuple(EU_EEA), {"legal": {"hardship": True}}, ESCALATION, ("eu-baseline/ccd-art35-forbearance-before-escalation",),
    ),
    Obligation(
        "hardship means forbearance before escalation in the UK (CONC 7.3.4R)",
        ("GB",), {"legal": {"hardship": True}}, ESCALATION, ("gb/conc-7-3-4-forbearance-before-escalation",),
    ),
    # Other stops and orders of the packs.
    Obligation(
        "a Breathing Space stops every demand and enforcement (Debt Respite Scheme Regulations 2020, reg. 7)",
        ("GB",), {"legal": {"breathing_space_start": "2026-11-14"}}, CONTACTING | {Action.LEGAL_REVIEW}, ("gb/breathing-space",),
    ),
    Obligation(
        "a vulnerable UK customer is handled by a person (FCA FG21/1)",
        ("GB",), {"legal": {"vulnerable": True}}, EVERY_STEP - {Action.HUMAN_REVIEW}, ("gb/fca-vulnerable-customer",),
    ),
    *(
        Obligation(
            f"a GDPR {flag} goes to a person in the EU/EEA and the UK",
            ("PL", "DE", "IE", "NO", "GB"), {"gdpr": {flag: True}}, EVERY_STEP - {Action.HUMAN_REVIEW}, ("eu-baseline/gdpr-art", "gb/uk-gdpr-art"),
        )
        for flag in ("objection", "restriction", "erasure_requested")
    ),
    Obligation(
        "no automated legal step in the EU/EEA (GDPR art. 22)",
        tuple(EU_EEA), {}, frozenset({Action.LEGAL_REVIEW}), ("eu-baseline/gdpr-art22-no-automated-escalation",), control=False,
    ),
    Obligation(
        "a debtor never reached gets a first notice, never a demand or a legal step",
        ("PL", "GB", "US", "JP", "CA"), {"prior_contacts": []}, ESCALATION, ("first-steps/reached-before-a-demand",),
    ),
    Obligation(
        "a legal step only after a final notice reached the debtor",
        ("GB", "US", "JP"), {"prior_contacts": [contact(20, "SEND_REMINDER", "reminder-soft")]}, frozenset({Action.LEGAL_REVIEW}),
        ("first-steps/final-notice-before-legal-review",),
    ),
    Obligation(
        "in Poland a legal step only 14 days after a delivered pre-suit demand (KPC art. 187)",
        ("PL",), {"prior_contacts": [contact(5, "FINAL_NOTICE", "pl-pre-suit-demand")]}, frozenset({Action.LEGAL_REVIEW}),
        ("pl/pre-suit-demand-before-legal-action",), control=False,
    ),
    Obligation(
        "a debt collector's first contact is the validation notice, with the debt-collector disclosure (1006.34, 1692e(11))",
        ("US", "US-MA"), {"third_party_collector": True}, frozenset(), ("us/reg-f-validation-notice-first",), control=False,
        first_contact="us-validation-notice", discloses=frozenset({"us-debt-collector-disclosure"}),
    ),
)


def base_case(place: str, **overrides: Any) -> dict[str, Any]:
    country, _, region = place.partition("-")
    data: dict[str, Any] = {
        "case_id": "hostile-1",
        "country": country,
        "amount_due": "5000",  # whole units: valid in every currency
        "currency": "EUR" if country in EU_EEA else "USD",
        "days_past_due": 400,
        "segment": "retail",
        "consents": dict(ALL_CONSENTS),
        "payment": {"broken_promises": 3},
        "prior_contacts": FINAL_NOTICE_DELIVERED,
    }
    if region:
        data["region"] = region
    return {**data, **overrides}


@pytest.fixture(scope="module")
def packs() -> tuple[Pack, ...]:
    return load_packs(REPO / "rules" / "compliance")


@pytest.fixture(scope="module")
def engines(packs: tuple[Pack, ...], tmp_path_factory: pytest.TempPathFactory) -> dict[str, StrategyEngine]:
    """The whole hostile ladder ("ladder"), and each of its steps alone (by rule id)."""
    built = {"ladder": StrategyEngine(load_strategy(HOSTILE), packs)}
    document = yaml.safe_load((HOSTILE / "every-step.yaml").read_text(encoding="utf-8"))
    for rule in document["rules"]:
        folder = tmp_path_factory.mktemp(rule["id"])
        alone = {key: value for key, value in document.items() if key != "rules"} | {"policy": f"only-{rule['id']}", "rules": [rule]}
        (folder / "only.yaml").write_text(yaml.safe_dump(alone, allow_unicode=True), encoding="utf-8")
        built[rule["id"]] = StrategyEngine(load_strategy(folder), packs)
    return built


STEPS = {rule["id"]: Action(rule["then"]["action"]) for rule in yaml.safe_load((HOSTILE / "every-step.yaml").read_text(encoding="utf-8"))["rules"]}


_DECIDED: dict[tuple[int, str], Decision] = {}


def decide(engine: StrategyEngine, data: dict[str, Any]) -> Decision:
    """The engine's decision, once per engine and case: the tests below share the matrix."""
    key = (id(engine), json.dumps(data, sort_keys=True))
    if key not in _DECIDED:
        _DECIDED[key] = engine.decide(parse_snapshot(data, AS_OF), AS_OF)
    return _DECIDED[key]


def stopped_by(decision: Decision, rule_id: str) -> set[str]:
    """What kept the step of `rule_id` from being decided: the guardrails that vetoed
    it (or the step a requirement took instead), and the reasons of a route or a replacement."""
    instead = {veto.rule_id for veto in decision.vetoes if "/" in veto.rule_id}
    return {veto.guardrail for veto in decision.vetoes if veto.rule_id == rule_id or veto.rule_id in instead} | {reason.code for reason in decision.reasons}


def named(decision: Decision) -> set[str]:
    return {veto.guardrail for veto in decision.vetoes} | {reason.code for reason in decision.reasons} | {item.code for item in decision.required_disclosures}


CASES = [pytest.param(obligation, place, id=f"{place}: {obligation.name}") for obligation in OBLIGATIONS for place in obligation.places]


@pytest.mark.parametrize("obligation, place", CASES)
def test_the_packs_keep_the_obligation_against_every_step(engines: dict[str, StrategyEngine], obligation: Obligation, place: str) -> None:
    data = base_case(place, **obligation.case)
    for rule_id, engine in engines.items():
        decision = decide(engine, data)
        action = Action(decision.action)
        where = f"{place}, strategy {rule_id}: {action.value} {decision.template or ''} (reasons {[r.code for r in decision.reasons]}, vetoes {[(v.rule_id, v.guardrail) for v in decision.vetoes]})"
        assert action not in obligation.forbidden, where
        if rule_id != "ladder" and STEPS[rule_id] in obligation.forbidden:
            assert any(code.startswith(obligation.by) for code in stopped_by(decision, rule_id)), f"not stopped by {obligation.by}: {where}"
        if action.contacts and obligation.first_contact:
            assert decision.template == obligation.first_contact, where
        if action.contacts:
            assert obligation.discloses <= {item.code for item in decision.required_disclosures}, where


CONTROLS = [pytest.param(obligation, place, id=f"{place}: {obligation.name}") for obligation in OBLIGATIONS if obligation.control for place in obligation.places]


@pytest.mark.parametrize("obligation, place", CONTROLS)
def test_without_the_obligation_the_hostile_strategy_reaches_a_forbidden_step(engines: dict[str, StrategyEngine], obligation: Obligation, place: str) -> None:
    data = base_case(place)
    reached = {Action(decide(engine, data).action) for engine in engines.values()}
    assert reached & obligation.forbidden, f"{place}: the control reaches only {sorted(action.value for action in reached)}"


def test_every_shipped_pack_is_in_force_somewhere_in_the_matrix(packs: tuple[Pack, ...]) -> None:
    places = {place for obligation in OBLIGATIONS for place in obligation.places}
    in_force = {pack.name for place in places for pack in packs if pack.applies_to(place.partition("-")[0], place.partition("-")[2] or None)}
    assert {pack.name for pack in packs} <= in_force


def test_every_shipped_pack_rule_is_exercised_by_the_matrix(packs: tuple[Pack, ...], engines: dict[str, StrategyEngine]) -> None:
    """A pack rule that no obligation above reaches is a rule nobody tested against a
    hostile strategy: add the obligation it states to OBLIGATIONS."""
    seen: set[str] = set()
    for obligation in OBLIGATIONS:
        for place in obligation.places:
            data = base_case(place, **obligation.case)
            for engine in engines.values():
                seen |= named(decide(engine, data))
    # A disclosure rule is seen by its codes in the decisions' required_disclosures.
    missing = sorted(rule.id for pack in packs for rule in pack.rules if rule.id not in seen and not (rule.disclose and set(rule.disclose) <= seen))
    assert not missing, f"pack rules no obligation exercises: {missing}"


@pytest.mark.parametrize("rule_id", ["legal-review", "final-notice", "settlement"])
def test_no_country_lets_a_time_barred_debt_be_escalated(engines: dict[str, StrategyEngine], rule_id: str) -> None:
    # Every ISO 3166-1 country: those with a pack and those without one.
    allowed_pressure = {"GB", "US", "PR", "GU", "VI", "AS", "MP"}  # settlement offers stay lawful there (no "last chance" threat is implied by the packs)
    escalated = []
    for country in sorted(item.alpha_2 for item in pycountry.countries):
        decision = decide(engines[rule_id], base_case(country, legal={"time_barred": True}))
        forbidden = ESCALATION if country in allowed_pressure else ESCALATION | {Action.OFFER_SETTLEMENT}
        if Action(decision.action) in forbidden:
            escalated.append(f"{country}: {decision.action}")
    assert not escalated

"""Typed inputs: declared by the policy, carried typed by the snapshot, checked
against the policy in force, compared by the rules (docs/inputs.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.debtor_snapshot import parse_debtor
from engine.engine import StrategyEngine
from engine.errors import InvalidSnapshot, PolicyError
from engine.experiments import assign
from engine.facts import derive
from engine.policy.inputs import check_debtor_inputs, check_inputs
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.vocabulary import Action, Channel
from tests.conftest import AS_OF, REPO, load_policy, snapshot

DECLARED = """
policy: scored
version: "1"
inputs:
  - {name: risk_score, type: integer, min: 0, max: 999, required: true, description: bureau score}
  - {name: pay_chance, type: number, min: 0, max: 1, description: propensity to pay}
  - {name: salary_day, type: date, min: 2026-01-01, max: 2027-12-31, description: next salary}
  - {name: tier, type: text, values: [gold, silver], description: loyalty tier}
  - {name: app_user, type: boolean, description: uses the app}
rules:
  - id: low-risk
    priority: 30
    when:
      inputs.risk_score: {lt: 300}
      inputs.pay_chance: {gte: 0.8}
      inputs.salary_day: {between: [2026-11-01, 2026-12-31]}
      inputs.tier: {in: [gold]}
      inputs.app_user: true
    then: {action: SEND_REMINDER, channel: push}
    reason: A nudge in the app.
  - id: anyone
    priority: 1
    when: {days_past_due: {gte: 0}}
    then: {action: NO_CONTACT}
    reason: Nothing else.
"""
LOW_RISK = {"risk_score": 120, "pay_chance": 0.85, "salary_day": "2026-12-01", "tier": "gold", "app_user": True}


def problems(error: pytest.ExceptionInfo[InvalidSnapshot]) -> list[tuple[str, str]]:
    return [(problem.field, problem.description) for problem in error.value.problems]


# --- declaring and reading --------------------------------------------------------------------


def test_a_rule_compares_each_typed_input_with_the_comparisons_of_its_type(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED)
    engine = StrategyEngine(policy, backend="durable")
    case = check_inputs(snapshot(inputs=LOW_RISK), policy.inputs)
    assert engine.decide(case, AS_OF).fired_rules[0] == "low-risk"
    for name, other in (("risk_score", 300), ("pay_chance", 0.7999), ("salary_day", "2027-01-01"), ("tier", "silver"), ("app_user", False)):
        changed = check_inputs(snapshot(inputs=LOW_RISK | {name: other}), policy.inputs)
        assert engine.decide(changed, AS_OF).fired_rules[0] == "anyone", name


def test_a_rule_reading_an_input_the_policy_does_not_declare_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as error:
        load_policy(tmp_path, DECLARED.replace("inputs.tier: {in: [gold]}", "inputs.teir: {in: [gold]}"))
    [problem] = error.value.problems
    assert problem.line == 16 and problem.rule_id == "low-risk"
    assert "`inputs.teir`: is not an input this policy declares; did you mean `tier`?" in problem.message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("inputs.risk_score: {lt: \"low\"}", "`inputs.risk_score` is a whole number, not 'low'"),
        ("inputs.pay_chance: {matches: \"0.*\"}", "`matches` takes a regular expression and applies to text facts"),
        ("inputs.tier: {gte: gold}", "`gte` compares numbers and dates, but `inputs.tier` is text"),
        ("inputs.tier: bronze", "`inputs.tier` is one of gold, silver, not 'bronze'"),
        ("inputs.salary_day: {lt: next-week}", "`inputs.salary_day` is a date, written YYYY-MM-DD (e.g. 2026-12-01), not 'next-week'"),
        ("inputs.pay_chance: {gte: 0.123456}", "`inputs.pay_chance` is compared to 4 decimal places"),
    ],
)
def test_a_comparison_that_does_not_fit_the_declared_type_is_refused(tmp_path: Path, written: str, expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        load_policy(tmp_path, DECLARED.replace("inputs.app_user: true", f"inputs.app_user: true\n      any: [{{{written}}}]"))
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ("{name: s, type: number, values: [a], description: x}", "`values` lists the text an input may be; `s` is number"),
        ("{name: s, type: text, min: 1, description: x}", "`min`/`max` bound a number, an integer or a date; `s` is text"),
        ("{name: s, type: integer, min: 10, max: 1, description: x}", "`min` 10 is above `max` 1"),
        ("{name: s, type: integer, min: 0.5, description: x}", "`min` of an integer input is a whole number"),
        ("{name: s, type: score, description: x}", "type"),
        ("{name: s, type: integer}", "`description` is missing"),
    ],
)
def test_a_declaration_that_does_not_hold_together_is_refused(tmp_path: Path, declaration: str, expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        load_policy(tmp_path, DECLARED.replace("  - {name: app_user, type: boolean, description: uses the app}", f"  - {declaration}\n  - {{name: app_user, type: boolean, description: uses the app}}"))
    assert expected in str(error.value)


def test_an_input_declared_in_two_files_of_one_policy_is_refused(tmp_path: Path) -> None:
    load_policy(tmp_path, DECLARED)
    (tmp_path / "strategies" / "more.yaml").write_text(DECLARED.replace("low-risk", "other").replace("id: anyone", "id: anyone-else"), encoding="utf-8")
    with pytest.raises(PolicyError, match="input `risk_score` is already declared at"):
        load_strategy(tmp_path / "strategies")


# --- checking a case against the policy in force -------------------------------------------------


def test_each_bad_input_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED)
    given = {"risk_score": 1200, "pay_chance": "high", "salary_day": "2026-02-30", "tier": "bronze", "app_usr": True}
    with pytest.raises(InvalidSnapshot) as error:
        check_inputs(snapshot(inputs=given), policy.inputs)
    assert problems(error) == [
        ("inputs.risk_score", "1200 is above the declared maximum 999"),
        ("inputs.pay_chance", "'high' is not a number: the policy declares `pay_chance` as number"),
        ("inputs.salary_day", "'2026-02-30' is not a date (YYYY-MM-DD): the policy declares `salary_day` as date"),
        ("inputs.tier", "'bronze' is not one of the declared values gold, silver"),
    ]


def test_a_missing_required_input_and_a_wrong_type_are_refused(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED)
    with pytest.raises(InvalidSnapshot) as error:
        check_inputs(snapshot(inputs={"app_user": "yes"}), policy.inputs)
    assert problems(error) == [
        ("inputs.risk_score", "is required by this policy: integer 0..999"),
        ("inputs.app_user", "'yes' is not true or false: the policy declares `app_user` as boolean"),
    ]
    with pytest.raises(InvalidSnapshot) as error:
        check_inputs(snapshot(inputs={"risk_score": 12.0}), policy.inputs)
    assert problems(error) == [("inputs.risk_score", "12.0 is not a whole number: the policy declares `risk_score` as integer")]


def test_an_input_the_policy_does_not_declare_is_carried_and_read_by_no_rule(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED.split("inputs:")[0] + "rules:" + DECLARED.split("rules:")[1].replace("inputs.", "attributes.").replace("{lt: 300}", "x").replace("{gte: 0.8}", "y").replace("{between: [2026-11-01, 2026-12-31]}", "z").replace("true", "t"))
    case = check_inputs(snapshot(inputs={"risk_score": 1}), policy.inputs)  # sent before a policy that reads it
    assert case.inputs == {"risk_score": 1}
    assert StrategyEngine(policy).decide(case, AS_OF).fired_rules[0] == "anyone"


def test_inputs_take_their_declared_types_and_the_rules_see_them_exactly(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED)
    case = check_inputs(snapshot(inputs=LOW_RISK | {"pay_chance": 1}), policy.inputs)
    assert case.inputs["pay_chance"] == 1.0 and isinstance(case.inputs["pay_chance"], float)  # an integer given for a number
    assert case.inputs["salary_day"] == date(2026, 12, 1)
    facts = derive(check_inputs(snapshot(inputs=LOW_RISK | {"pay_chance": 0.123456}), policy.inputs), AS_OF).facts
    assert facts["inputs.pay_chance"] == Decimal("0.1235")  # compared to 4 places, in both matchers alike
    assert facts["inputs.salary_day"] == "2026-12-01" and facts["inputs.risk_score"] == 120 and facts["inputs.app_user"] is True


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e13, [1], None, {"number": 1}])
def test_the_snapshot_refuses_an_input_no_type_can_hold(value: object) -> None:
    with pytest.raises(InvalidSnapshot) as error:
        snapshot(inputs={"score": value})
    assert [problem.field for problem in error.value.problems] == ["inputs.score"]


# --- a debtor's accounts -------------------------------------------------------------------


def debtor(**person: object) -> dict[str, object]:
    account = {"amount_due": "100.00", "currency": "PLN", "days_past_due": 10, "segment": "retail"}
    return {"debtor_id": "d-1", "country": "PL", "accounts": [account | {"account_id": "a-1", "inputs": {"risk_score": 5}}, account | {"account_id": "a-2"}], **person}


def test_a_debtor_gives_inputs_for_the_person_or_per_account(tmp_path: Path) -> None:
    policy = load_policy(tmp_path, DECLARED)
    with pytest.raises(InvalidSnapshot) as error:
        check_debtor_inputs(parse_debtor(debtor(), AS_OF), policy.inputs)
    assert problems(error) == [("accounts[1].inputs.risk_score", "is required by this policy: integer 0..999")]
    checked = check_debtor_inputs(parse_debtor(debtor(inputs={"pay_chance": 1, "risk_score": 5}), AS_OF), policy.inputs)
    assert checked.inputs == {"pay_chance": 1.0, "risk_score": 5} and isinstance(checked.inputs["pay_chance"], float)
    with pytest.raises(InvalidSnapshot) as error:
        parse_debtor(debtor(inputs={"risk_score": 6}), AS_OF)
    assert problems(error)[0][0] == "accounts[0].inputs.risk_score"


# --- the shipped strategy's self-cure path and experiment -----------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> StrategyEngine:
    return StrategyEngine(load_strategy(REPO / "rules" / "strategies"), load_packs(REPO / "rules" / "compliance"))


def case_in(arm: str, engine: StrategyEngine) -> str:
    [experiment] = [item for item in engine.policy.experiments if item.id == "self-cure-threshold"]
    return next(case_id for case_id in (f"case-{index}" for index in range(1000)) if assign(experiment, case_id) == arm)


@pytest.mark.parametrize("days", [1, 8, 14])
def test_a_likely_self_cure_gets_a_digital_nudge_never_a_call(shipped: StrategyEngine, days: int) -> None:
    case = check_inputs(snapshot(days_past_due=days, inputs={"self_cure_score": 90}, payment={"broken_promises": 1}), shipped.policy.inputs)
    decision = shipped.decide(case, AS_OF)
    assert (decision.action, decision.template) == ("SEND_REMINDER", "self-cure-nudge")
    assert decision.channel in (Channel.PUSH, Channel.EMAIL, Channel.SMS)


def test_without_a_digital_channel_the_self_cure_path_writes_rather_than_calls(shipped: StrategyEngine) -> None:
    consents = {"sms": False, "email": False, "push": False, "phone": True, "letter": True}
    case = check_inputs(snapshot(days_past_due=10, consents=consents, inputs={"self_cure_score": 95}), shipped.policy.inputs)
    decision = shipped.decide(case, AS_OF)
    assert decision.action != Action.CALL.value and decision.channel == Channel.LETTER


def test_a_low_score_or_late_arrears_keep_the_usual_ladder(shipped: StrategyEngine) -> None:
    for days, score in ((10, 40), (20, 95)):
        case = check_inputs(snapshot(days_past_due=days, inputs={"self_cure_score": score}), shipped.policy.inputs)
        assert shipped.decide(case, AS_OF).template != "self-cure-nudge"


def test_the_challenger_arm_takes_the_self_cure_path_from_70(shipped: StrategyEngine) -> None:
    for arm, expected in (("challenger", "self-cure-nudge"), ("champion", "reminder-soft")):
        case = check_inputs(snapshot(case_id=case_in(arm, shipped), days_past_due=10, inputs={"self_cure_score": 75}), shipped.policy.inputs)
        decision = shipped.decide(case, AS_OF)
        assert decision.template == expected and f"self-cure-threshold:{arm}" in (decision.experiment_arm or "")

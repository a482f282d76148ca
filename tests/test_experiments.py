"""Champion/challenger: deterministic, stateless, independent assignment."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.experiments import assign
from engine.policy.ir import Experiment
from tests.conftest import AS_OF, REPO, load_policy, snapshot

IDS = [str(uuid.UUID(int=index * 7919 + 12345)) for index in range(100_000)]


def test_observed_shares_are_within_half_a_point_of_the_declared_ones() -> None:
    experiment = Experiment("plan-offer", (("champion", 80), ("challenger", 20)))
    shares = Counter(assign(experiment, case_id) for case_id in IDS)
    assert abs(shares["champion"] / len(IDS) - 0.80) < 0.005
    assert abs(shares["challenger"] / len(IDS) - 0.20) < 0.005


def test_changing_shares_moves_only_the_cases_that_must_move() -> None:
    before = Experiment("plan-offer", (("champion", 80), ("challenger", 20)))
    after = Experiment("plan-offer", (("champion", 70), ("challenger", 30)))
    moved = [case_id for case_id in IDS if assign(before, case_id) != assign(after, case_id)]
    assert all(assign(before, case_id) == "champion" and assign(after, case_id) == "challenger" for case_id in moved)
    assert abs(len(moved) / len(IDS) - 0.10) < 0.005


def test_assignment_is_identical_in_another_process() -> None:
    sample = IDS[:2000]
    code = (
        "import sys; from engine.experiments import assign; from engine.policy.ir import Experiment;"
        "e = Experiment('plan-offer', (('champion', 80), ('challenger', 20)));"
        "print(','.join(assign(e, line.strip()) for line in sys.stdin))"
    )
    other = subprocess.run([sys.executable, "-c", code], input="\n".join(sample), capture_output=True, text=True, cwd=REPO, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    experiment = Experiment("plan-offer", (("champion", 80), ("challenger", 20)))
    assert other.stdout.strip().split(",") == [assign(experiment, case_id) for case_id in sample]


POLICY = """
policy: with-experiments
version: "1"
experiments:
{experiments}
rules:
  - id: challenger-call
    priority: 20
    arm: {{plan-offer: challenger}}
    when: {{days_past_due: {{gte: 1}}}}
    then: {{action: CALL, channel: phone}}
    reason: The challenger calls.
  - id: champion-reminder
    priority: 10
    when: {{days_past_due: {{gte: 1}}}}
    then: {{action: SEND_REMINDER, channel: sms}}
    reason: Everyone else gets a reminder.
"""
PLAN_OFFER = "  - {id: plan-offer, arms: {champion: 80, challenger: 20}}"


def decide_all(engine: StrategyEngine, count: int = 400) -> dict[str, tuple[str, str]]:
    return {case_id: (decision.action, decision.experiment_arm) for case_id in IDS[:count] for decision in [engine.decide(snapshot(case_id=case_id), AS_OF)]}


def test_rules_of_an_arm_apply_only_to_its_cases_and_the_decision_names_the_arm(tmp_path: Path) -> None:
    engine = StrategyEngine(load_policy(tmp_path, POLICY.format(experiments=PLAN_OFFER)))
    decisions = decide_all(engine)
    for action, arm in decisions.values():
        assert (action, arm) in {("CALL", "plan-offer:challenger"), ("SEND_REMINDER", "plan-offer:champion")}
    assert 0.1 < sum(action == "CALL" for action, _ in decisions.values()) / len(decisions) < 0.3


def test_a_case_keeps_its_arm_when_an_unrelated_experiment_is_added(tmp_path: Path) -> None:
    one = decide_all(StrategyEngine(load_policy(tmp_path / "a", POLICY.format(experiments=PLAN_OFFER))))
    two = decide_all(StrategyEngine(load_policy(tmp_path / "b", POLICY.format(experiments=PLAN_OFFER + "\n  - {id: tone, arms: {warm: 50, plain: 50}}"))))
    for case_id, (action, arms) in one.items():
        assert two[case_id][0] == action
        assert two[case_id][1].startswith(arms + ",tone:")


def test_an_arm_that_is_not_declared_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:8:\d+ \(rule challenger-call\): experiment `plan-offer` has no arm `challengr`"):
        load_policy(tmp_path, POLICY.format(experiments=PLAN_OFFER).replace("plan-offer: challenger}", "plan-offer: challengr}"))
    with pytest.raises(PolicyError, match="add up to 100"):
        load_policy(tmp_path, POLICY.format(experiments="  - {id: plan-offer, arms: {champion: 80, challenger: 30}}"))

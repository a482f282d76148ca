"""GetPolicy tells a caller what the strategy in force expects and where its reviews go:
its declared inputs (what to send in CaseSnapshot.inputs) and its work queues."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.registry import PolicyRegistry
from tests.conftest import REPO
from transport.servicer import CollectionStrategyServicer
from transport.streams import StreamLimits


def strategy() -> pb.PolicyInfo:
    servicer = CollectionStrategyServicer(PolicyRegistry(REPO / "rules"), StreamLimits(max_streams=1, idle_seconds=5))
    answer: Any = servicer.GetPolicy(pb.GetPolicyRequest().SerializeToString(), None)
    return next(info for info in answer.policies if info.kind == "strategy")


def test_the_strategy_lists_the_inputs_it_declares_with_their_bounds() -> None:
    inputs = {item.name: item for item in strategy().inputs}
    assert list(inputs) == ["self_cure_score"]
    score = inputs["self_cure_score"]
    assert (score.type, score.required, score.min, score.max, list(score.values)) == ("integer", False, "0", "100", [])
    assert score.description.startswith("The caller's estimate")


def test_the_strategy_lists_its_queues_with_capacity_due_time_and_the_reviews_they_take() -> None:
    queues = {queue.name: queue for queue in strategy().queues}
    assert {"specialist-care", "disputes-team", "data-protection", "legal-team", "collections-review"} <= set(queues)
    care = queues["specialist-care"]
    assert (care.capacity_per_day, care.due_in, care.due_unit, care.priority) == (1500, 2, "business_days", pb.WORK_PRIORITY_NORMAL)
    defaults = {action for queue in queues.values() for action in queue.default_for}
    assert defaults == {"HUMAN_REVIEW", "LEGAL_REVIEW"}  # every review a pack routes has a queue
    assert json_format.MessageToDict(care)["dueUnit"] == "business_days"  # as Connect JSON shows it

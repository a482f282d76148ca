"""Human work (issue 16): a HUMAN_REVIEW or LEGAL_REVIEW decision carries a work
item (queue, priority, due time) declared by its rule or by the queue that is the
default for its action; through the engine, the flat row, gRPC and HTTP JSON;
bad declarations refused with file and line; lint warns of reviews no queue takes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine.authoring.lint import lint_files
from engine.bulk import DECISION_COLUMNS, decision_row
from engine.decision import WorkItem
from engine.errors import PolicyError
from engine.registry import build_engine
from engine.vocabulary import Action
from tests.conftest import AS_OF, REPO, snapshot, write_policy
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.mapping import decision_to_proto

POLICY = """
policy: work-test
version: "1"
queues:
  disputes:
    description: Disputes, answered in writing.
    capacity_per_day: 2
    due_in_business_days: 2
  review:
    capacity_per_day: 100
    priority: low
    due_in_hours: 48
    default_for: [HUMAN_REVIEW]
rules:
  - id: dispute-review
    priority: 900
    when: {legal.dispute: true}
    then: {action: HUMAN_REVIEW, work: {queue: disputes, priority: high}}
    reason: A person looks into the dispute.
  - id: legal-last-resort
    priority: 800
    when: {days_past_due: {gte: 121}}
    then: {action: LEGAL_REVIEW, work: {queue: disputes, due_in_hours: 4}}
    reason: Legal looks at it.
  - id: late-review
    priority: 700
    when: {days_past_due: {gte: 61}}
    then: {action: HUMAN_REVIEW}
    reason: A person decides.
  - id: remind
    priority: 100
    when: {}
    then: {action: SEND_REMINDER, channel: sms}
    reason: A reminder.
"""

# GDPR art. 22 and 21 as the EU baseline pack has them: a pack never names a team.
PACK = """
policy: work-pack
version: "1"
kind: compliance
applies_to: {countries: "*"}
rules:
  - id: objection
    when: {gdpr.objection: true}
    route: HUMAN_REVIEW
    reason: A person reviews an objection.
  - id: no-automated-escalation
    replace: {actions: [LEGAL_REVIEW], with: HUMAN_REVIEW}
    reason: A person reviews the case first.
"""


def rules(tmp_path: Path, policy: str = POLICY, pack: str | None = None) -> Path:
    write_policy(tmp_path, policy)
    if pack is not None:
        (tmp_path / "compliance").mkdir(exist_ok=True)
        (tmp_path / "compliance" / "pack.yaml").write_text(textwrap.dedent(pack).lstrip(), encoding="utf-8")
    return tmp_path


def refusal(tmp_path: Path, policy: str) -> str:
    with pytest.raises(PolicyError) as refused:
        build_engine(rules(tmp_path, policy))
    return str(refused.value)


# --- the decision's work item -------------------------------------------------------


def test_a_review_rule_names_its_queue_and_priority_and_the_queue_its_due_time(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path)).decide(snapshot(legal={"dispute": True}), AS_OF)

    # Tuesday 24 November, 10:00 in Warsaw: the end of the second business day is Thursday's local midnight.
    assert decision.action == "HUMAN_REVIEW"
    assert decision.work == WorkItem("disputes", "high", datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc), "dispute-review")


def test_business_days_skip_the_debtors_public_holidays(tmp_path: Path) -> None:
    engine = build_engine(rules(tmp_path))
    as_of = datetime(2026, 11, 10, 9, 0, tzinfo=timezone.utc)  # Tuesday; 11 November is a public holiday in Poland, not in Germany

    polish = engine.decide(snapshot(as_of, legal={"dispute": True}), as_of)
    german = engine.decide(snapshot(as_of, legal={"dispute": True}, country="DE", time_zone="Europe/Berlin"), as_of)

    assert polish.work is not None and polish.work.due == datetime(2026, 11, 13, 23, 0, tzinfo=timezone.utc)  # Thursday 12th, Friday 13th
    assert german.work is not None and german.work.due == datetime(2026, 11, 12, 23, 0, tzinfo=timezone.utc)  # Wednesday 11th, Thursday 12th


def test_business_days_skip_the_weekend(tmp_path: Path) -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
    decision = build_engine(rules(tmp_path)).decide(snapshot(friday, legal={"dispute": True}), friday)
    assert decision.work is not None and decision.work.due == datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)  # Monday, Tuesday


def test_a_rules_own_due_time_replaces_the_queues_and_the_queue_gives_the_priority(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path)).decide(snapshot(days_past_due=150), AS_OF)
    assert decision.action == "LEGAL_REVIEW"
    assert decision.work == WorkItem("disputes", "normal", datetime(2026, 11, 24, 13, 0, tzinfo=timezone.utc), "legal-last-resort")


def test_a_review_rule_without_work_goes_to_the_default_queue_of_its_action(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path)).decide(snapshot(days_past_due=90), AS_OF)
    assert decision.work == WorkItem("review", "low", datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc), "queues.review.default_for")


def test_a_decision_that_is_no_review_carries_no_work_item(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path)).decide(snapshot(), AS_OF)
    assert decision.action == "SEND_REMINDER" and decision.work is None


def test_a_compliance_route_goes_to_the_default_queue(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path, pack=PACK)).decide(snapshot(gdpr={"objection": True}), AS_OF)
    assert decision.action == "HUMAN_REVIEW" and decision.reasons[0].code == "work-pack/objection"
    assert decision.work is not None and (decision.work.queue, decision.work.declared_by) == ("review", "queues.review.default_for")


def test_a_review_a_pack_puts_in_place_of_a_legal_step_is_not_the_legal_rules_work(tmp_path: Path) -> None:
    decision = build_engine(rules(tmp_path, pack=PACK)).decide(snapshot(days_past_due=150), AS_OF)
    assert decision.action == "HUMAN_REVIEW"  # GDPR art. 22: LEGAL_REVIEW replaced
    assert decision.work is not None and (decision.work.queue, decision.work.priority) == ("review", "low")


def test_a_pack_routing_the_way_the_strategys_rule_does_keeps_the_rules_work(tmp_path: Path) -> None:
    policy = POLICY.replace("when: {legal.dispute: true}", "when: {any: [{legal.dispute: true}, {gdpr.objection: true}]}")
    decision = build_engine(rules(tmp_path, policy, PACK)).decide(snapshot(gdpr={"objection": True}), AS_OF)
    assert decision.reasons[0].code == "work-pack/objection"
    assert decision.work is not None and (decision.work.queue, decision.work.declared_by) == ("disputes", "dispute-review")


def test_without_a_default_queue_a_review_carries_no_work_item_and_lint_warns(tmp_path: Path) -> None:
    policy = POLICY.replace("    default_for: [HUMAN_REVIEW]\n", "")
    engine = build_engine(rules(tmp_path, policy, PACK))
    assert engine.decide(snapshot(days_past_due=90), AS_OF).work is None

    found = {(finding.code, finding.rule_id, finding.severity) for finding in lint_files(tmp_path)}
    assert ("review-without-queue", "late-review", "warning") in found
    assert ("compliance-review-without-queue", "work-pack/objection", "warning") in found
    assert ("compliance-review-without-queue", "work-pack/no-automated-escalation", "warning") in found
    assert not any(code == "review-without-queue" and rule in ("dispute-review", "legal-last-resort") for code, rule, _ in found)


def test_a_policy_without_queues_gets_no_work_items_and_no_lint_warnings(tmp_path: Path) -> None:
    policy = POLICY.replace("work: {queue: disputes, priority: high}", "").replace(", work: {queue: disputes, due_in_hours: 4}", "")
    policy = policy[: policy.index("queues:")] + policy[policy.index("rules:") :]
    engine = build_engine(rules(tmp_path, policy, PACK))
    assert engine.decide(snapshot(legal={"dispute": True}), AS_OF).work is None
    assert not [finding for finding in lint_files(tmp_path) if "queue" in finding.code]  # not taken up: no warning per review rule


def test_a_debtors_account_decisions_carry_their_work_items(tmp_path: Path) -> None:
    from engine.debtor import decide_debtor
    from engine.debtor_snapshot import parse_debtor

    engine = build_engine(rules(tmp_path))
    account = {"amount_due": "100.00", "currency": "PLN", "days_past_due": 10, "segment": "retail"}
    debtor = {
        "debtor_id": "d-1", "country": "PL", "time_zone": "Europe/Warsaw",
        "consents": {"sms": True},
        "accounts": [{**account, "account_id": "a-1", "legal": {"dispute": True}}, {**account, "account_id": "a-2"}],
    }
    decision = decide_debtor(engine, parse_debtor(debtor, AS_OF), AS_OF)
    works = {item.case_id: item.work for item in decision.accounts}
    assert works["a-1"] is not None and works["a-1"].queue == "disputes"


def test_a_loaded_policy_keeps_its_own_queues_after_its_files_change(tmp_path: Path) -> None:
    from engine.engine import StrategyEngine
    from engine.policy.loader import load_strategy

    policy = load_strategy(rules(tmp_path) / "strategies")
    (tmp_path / "strategies" / "policy.yaml").write_text(POLICY.replace("work: {queue: disputes, priority: high}", "work: {queue: nowhere}"), encoding="utf-8")
    engine = StrategyEngine(policy)  # e.g. a worker building a version kept apart from its files
    work = engine.decide(snapshot(legal={"dispute": True}), AS_OF).work
    assert work is not None and work.queue == "disputes"  # the queues of the version loaded, not of the files now


# --- refused declarations, with file and line ---------------------------------------


def test_work_on_a_contacting_action_is_refused_at_its_line(tmp_path: Path) -> None:
    message = refusal(tmp_path, POLICY.replace("then: {action: SEND_REMINDER, channel: sms}", "then: {action: SEND_REMINDER, channel: sms, work: {queue: review}}"))
    assert "policy.yaml:32:" in message and "remind" in message
    assert "SEND_REMINDER is not work for a person: only HUMAN_REVIEW and LEGAL_REVIEW carry a work item" in message


def test_a_queue_nobody_declared_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    message = refusal(tmp_path, POLICY.replace("work: {queue: disputes, priority: high}", "work: {queue: dispute, priority: high}"))
    assert "policy.yaml:17:" in message and "dispute-review" in message
    assert "work: queue `dispute` is not declared under `queues`; did you mean `disputes`?" in message
    # lint says so too, as a load error, at the same line
    assert any(f.code == "load" and f.line == 17 and f.severity == "error" for f in lint_files(tmp_path))


def test_check_refuses_a_queue_nobody_declared_at_its_line(tmp_path: Path) -> None:
    rules(tmp_path, POLICY.replace("work: {queue: disputes, priority: high}", "work: {queue: dispute, priority: high}"))
    done = subprocess.run([sys.executable, "-m", "engine.authoring.cli", "check", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "policy.yaml:17:41 (rule dispute-review): work: queue `dispute` is not declared under `queues`; did you mean `disputes`?" in done.stderr


def test_a_queue_declared_in_two_files_is_refused(tmp_path: Path) -> None:
    rules(tmp_path)
    write_policy(tmp_path, """
        policy: work-test
        version: "1"
        queues:
          review: {due_in_hours: 8}
        rules:
          - id: other
            priority: 1
            when: {}
            then: {action: NO_CONTACT}
            reason: Nothing.
        """, name="more.yaml")
    with pytest.raises(PolicyError) as refused:
        build_engine(tmp_path)
    assert "queue `review` is already declared in" in str(refused.value) and "policy.yaml:" in str(refused.value)


def test_two_default_queues_for_one_action_are_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, POLICY.replace("    due_in_business_days: 2\n", "    due_in_business_days: 2\n    default_for: [HUMAN_REVIEW]\n"))
    assert "is already the default queue for HUMAN_REVIEW" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    due_in_hours: 48\n", ""), "a queue names its service level, one of due_in_hours, due_in_days or due_in_business_days"),
        (("    due_in_hours: 48\n", "    due_in_hours: 48\n    due_in_days: 2\n"), "not due_in_hours and due_in_days"),
        (("work: {queue: disputes, due_in_hours: 4}", "work: {queue: disputes, due_in_hours: 4, due_in_business_days: 1}"), "name one due time, not due_in_hours and due_in_business_days"),
        (("priority: high}", "priority: urgent}"), "priority"),
        (("capacity_per_day: 2", "capacity_per_day: 0"), "capacity_per_day"),
        (("    default_for: [HUMAN_REVIEW]\n", "    default_for: [CALL]\n"), "default_for"),
    ],
)
def test_bad_queue_and_work_fields_are_refused_naming_the_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert POLICY.count(change[0]) == 1
    message = refusal(tmp_path, POLICY.replace(*change))
    assert expected in message and "policy.yaml:" in message


def test_the_shipped_review_rules_all_name_their_queue(tmp_path: Path) -> None:
    engine = build_engine(REPO / "rules")
    reviews = [rule.id for rule in engine.policy.rules if rule.action in (Action.HUMAN_REVIEW, Action.LEGAL_REVIEW)]
    assert reviews and all(rule_id in engine.work_plan.by_rule for rule_id in reviews)
    assert {action for queue in engine.work_plan.queues for action in queue.default_for} == {Action.HUMAN_REVIEW, Action.LEGAL_REVIEW}
    assert not [finding for finding in lint_files(REPO / "rules") if "queue" in finding.code]


# --- the flat row, gRPC and HTTP JSON -----------------------------------------------


def test_the_flat_row_carries_the_work_item(tmp_path: Path) -> None:
    engine = build_engine(rules(tmp_path))
    row = decision_row(engine.decide(snapshot(legal={"dispute": True}), AS_OF))
    assert DECISION_COLUMNS[DECISION_COLUMNS.index("work_queue"):][:3] == ("work_queue", "work_priority", "work_due_utc")
    assert (row["work_queue"], row["work_priority"], row["work_due_utc"]) == ("disputes", "high", "2026-11-26T23:00:00Z")
    other = decision_row(engine.decide(snapshot(), AS_OF))
    assert (other["work_queue"], other["work_priority"], other["work_due_utc"]) == (None, None, None)


def test_the_decision_message_carries_the_work_item(tmp_path: Path) -> None:
    engine = build_engine(rules(tmp_path))
    message = decision_to_proto(engine.decide(snapshot(legal={"dispute": True}), AS_OF))
    assert message.HasField("work")
    assert (message.work.queue, message.work.priority, message.work.declared_by) == ("disputes", pb.WORK_PRIORITY_HIGH, "dispute-review")
    assert message.work.due.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc)
    assert not decision_to_proto(engine.decide(snapshot(), AS_OF)).HasField("work")


# The server lints before it serves: without a final notice first, no legal step.
LEGAL_RULE = """  - id: legal-last-resort
    priority: 800
    when: {days_past_due: {gte: 121}}
    then: {action: LEGAL_REVIEW, work: {queue: disputes, due_in_hours: 4}}
    reason: Legal looks at it.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(ServerConfig(port=0, rules_dir=rules(tmp_path_factory.mktemp("rules"), POLICY.replace(LEGAL_RULE, "")), reuse_port=False, http_port=0, reload_seconds=0))
    yield running
    running.stop(0)


def test_grpc_and_http_answer_the_work_item(server: RunningServer) -> None:
    assert POLICY.count(LEGAL_RULE) == 1
    request = {"case": {"caseId": "case-1", "country": "PL", "timeZone": "Europe/Warsaw", "amountDue": "500.00", "currency": "PLN", "daysPastDue": 10, "segment": "retail", "legal": {"dispute": True}}, "asOf": "2026-11-24T09:00:00Z"}
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        answer = pb_grpc.CollectionStrategyServiceStub(channel).Decide(json_format.ParseDict(request, pb.DecideRequest()), timeout=30)
    assert (answer.decision.work.queue, answer.decision.work.priority) == ("disputes", pb.WORK_PRIORITY_HIGH)

    assert server.http is not None
    posted = urllib.request.Request(
        f"http://127.0.0.1:{server.http.port}/collection_strategy.v1.CollectionStrategyService/Decide",
        data=json.dumps(request).encode(), method="POST", headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(posted, timeout=30) as response:
        body = json.loads(response.read())
    assert body["decision"]["work"] == {"queue": "disputes", "priority": "WORK_PRIORITY_HIGH", "due": "2026-11-26T23:00:00Z", "declaredBy": "dispute-review"}

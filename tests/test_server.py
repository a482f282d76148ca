"""The gRPC service through a real server on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.servicer import MAX_BATCH_CASES

POLICY = """
policy: server-test
version: "7"
rules:
  - id: early-reminder
    priority: 100
    when: {days_past_due: {between: [-5, 30]}}
    then: {action: SEND_REMINDER, channel: [preferred, sms, email], template: friendly}
    reason: {en: "A friendly reminder.", pl: "Przyjazne przypomnienie."}
  - id: plan
    priority: 50
    when: {days_past_due: {gt: 30}}
    then:
      action: OFFER_PAYMENT_PLAN
      channel: phone
      offer: {instalments: [2, 12], min_instalment: 50, discount_pct: [0, 10], max_deferral_days: 30}
    reason: A plan.
"""
AS_OF = timestamp_pb2.Timestamp(seconds=1795510800)  # 2026-11-24T09:00:00Z, a Tuesday


def case(case_id: str = "case-1", **changes: object) -> pb.CaseSnapshot:
    message = pb.CaseSnapshot(
        case_id=case_id, country="PL", time_zone="Europe/Warsaw", amount_due="500.00", currency="PLN", days_past_due=10, segment="retail",
        consents=pb.Consents(sms=True, email=True, phone=True), attributes={"employer": "Secret Employer Ltd"},
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, POLICY)
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False))
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.CollectionStrategyServiceStub:
    return pb_grpc.CollectionStrategyServiceStub(channel)


def bad_request(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)
    assert status is not None, "no rich error details"
    violations: dict[str, str] = {}
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        assert detail.Unpack(request)
        violations.update({item.field: item.description for item in request.field_violations})
    return violations


def test_decide_returns_an_explained_decision(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    decision = stub.Decide(pb.DecideRequest(case=case(), as_of=AS_OF), timeout=5).decision
    assert (decision.case_id, decision.action, decision.channel, decision.template) == ("case-1", "SEND_REMINDER", pb.CHANNEL_SMS, "friendly")
    assert decision.window.time_zone == "Europe/Warsaw"
    assert decision.window.local_start == "2026-11-24T10:00:00+01:00" and decision.window.local_end == "2026-11-24T20:00:00+01:00"
    assert decision.window.start.seconds == AS_OF.seconds
    assert [(reason.code, reason.text) for reason in decision.reasons] == [("early-reminder", "A friendly reminder.")]
    assert (decision.policy.name, decision.policy.version) == ("server-test", "7") and len(decision.policy.hash) == 16
    assert list(decision.fired_rules) == ["early-reminder"]
    assert not decision.HasField("trace")


def test_explain_returns_the_trace_and_language_picks_the_reason(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    decision = stub.Decide(pb.DecideRequest(case=case(language="pl"), as_of=AS_OF, explain=True), timeout=5).decision
    assert decision.reasons[0].text == "Przyjazne przypomnienie."
    trace = json_format.MessageToDict(decision.trace)  # a plain JSON object for any client
    assert trace["facts"]["days_past_due"] == 10
    assert [rule["rule"] for rule in trace["rules"]] == ["early-reminder", "plan"]
    assert trace["rules"][1]["failed"] == ["days_past_due > 30 (is 10)"]


def test_offer_bounds_are_decimal_strings(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    decision = stub.Decide(pb.DecideRequest(case=case(days_past_due=45, amount_due="300.00"), as_of=AS_OF), timeout=5).decision
    offer = decision.offer
    assert (decision.action, offer.instalments_min, offer.instalments_max, offer.min_instalment) == ("OFFER_PAYMENT_PLAN", 2, 6, "50.00")
    assert (offer.discount_pct_min, offer.discount_pct_max, offer.max_deferral_days, offer.currency) == ("0", "10", 30, "PLN")


def test_invalid_case_is_invalid_argument_naming_each_field(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    bad = case(country="XX", amount_due="12,50")
    bad.prior_contacts.add(channel=pb.CHANNEL_SMS, outcome=pb.CONTACT_OUTCOME_DELIVERED)  # no timestamp
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=bad, as_of=AS_OF), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(bad_request(caught.value)) == {"case.country", "case.amount_due", "case.prior_contacts[0].at"}


def test_an_enum_number_this_server_does_not_know_is_refused_not_ignored(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    # A newer client may send a channel this version has no name for; reading it
    # as "no preference" would be a silent guess.
    bad = case(preferred_channel=9)
    contact = bad.prior_contacts.add(channel=pb.CHANNEL_SMS, outcome=42)
    contact.at.FromSeconds(AS_OF.seconds - 3600)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=bad, as_of=AS_OF), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    problems = bad_request(caught.value)
    assert set(problems) == {"case.preferred_channel", "case.prior_contacts[0].outcome"}
    assert problems["case.preferred_channel"].endswith("got 9")


def test_missing_case_is_invalid_argument(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "case" in bad_request(caught.value)


def test_contacts_in_the_future_of_as_of_are_refused(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    later = case()
    later.prior_contacts.add(channel=pb.CHANNEL_SMS, at=timestamp_pb2.Timestamp(seconds=AS_OF.seconds + 60), outcome=pb.CONTACT_OUTCOME_DELIVERED)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=later, as_of=AS_OF), timeout=5)
    assert bad_request(caught.value) == {"case.prior_contacts[0].at": "is later than as_of"}


def test_batch_decides_in_order_and_reports_bad_cases_individually(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    cases = [case(f"c{index}", days_past_due=index * 10) for index in range(5)]
    cases[2].currency = "XYZ"
    results = stub.DecideBatch(pb.DecideBatchRequest(cases=cases, as_of=AS_OF), timeout=10).results
    assert [result.case_id for result in results] == [f"c{index}" for index in range(5)]
    assert [result.WhichOneof("outcome") for result in results] == ["decision", "decision", "error", "decision", "decision"]
    assert [violation.field for violation in results[2].error.field_violations] == ["cases[2].currency"]
    assert results[4].decision.action == "OFFER_PAYMENT_PLAN"


def test_batch_over_the_limit_is_refused_with_a_clear_error(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecideBatch(pb.DecideBatchRequest(cases=[case(f"c{index}") for index in range(MAX_BATCH_CASES + 1)]), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1000" in caught.value.details() and "cases" in bad_request(caught.value)


def test_stream_answers_every_case_tagged_with_its_id(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    requests = [pb.DecideStreamRequest(case=case(f"s{index}", days_past_due=index), as_of=AS_OF) for index in range(200)]
    requests[7].case.country = "XX"
    responses = list(stub.DecideStream(iter(requests), timeout=20))
    assert [response.result.case_id for response in responses] == [f"s{index}" for index in range(200)]
    assert responses[7].result.error.field_violations[0].field == "case.country"
    assert sum(response.result.HasField("decision") for response in responses) == 199


def test_get_policy_lists_strategy_and_guardrails(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    policies = {policy.kind: policy for policy in stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).policies}
    assert (policies["strategy"].name, policies["strategy"].version, policies["strategy"].rule_count) == ("server-test", "7", 2)
    assert policies["strategy"].loaded_at.seconds > 0 and "guardrails" in policies


def test_health_and_reflection_are_served(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "collection_strategy.v1.CollectionStrategyService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    [answer] = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {service.name for service in answer.list_services_response.service}
    assert {"collection_strategy.v1.CollectionStrategyService", "grpc.health.v1.Health"} <= names


def test_metrics_count_requests_and_decisions_without_personal_data(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    def requests_ok() -> float:
        labels = {"grpc_type": "unary", "grpc_service": "collection_strategy.v1.CollectionStrategyService", "grpc_method": "Decide", "grpc_code": "OK"}
        return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0

    before = requests_ok()
    stub.Decide(pb.DecideRequest(case=case("metrics-case-42"), as_of=AS_OF), timeout=5)
    assert requests_ok() == before + 1
    assert (REGISTRY.get_sample_value("collection_decisions_total", {"action": "SEND_REMINDER", "channel": "sms"}) or 0) >= 1
    assert REGISTRY.get_sample_value("collection_policy_info", {"kind": "strategy", "name": "server-test", "version": "7", "hash": REGISTRY_HASH(stub)}) == 1
    labels = " ".join(str(sample.labels) for family in REGISTRY.collect() for sample in family.samples)
    for personal in ("metrics-case-42", "Secret Employer", "500.00", "Europe/Warsaw"):
        assert personal not in labels


def REGISTRY_HASH(stub: pb_grpc.CollectionStrategyServiceStub) -> str:  # noqa: N802
    return next(p.hash for p in stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).policies if p.kind == "strategy")


# --- the real process: workers sharing a port, start-up refusal, graceful drain -------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_serving(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"localhost:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


def test_server_refuses_to_start_on_broken_rules(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY.replace("days_past_due: {gt: 30}", "days_past_du: {gt: 30}"))
    result = subprocess.run([sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(free_port()), "--workers", "1", "--metrics-port", "0"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "policy.yaml:11:12 (rule plan)" in result.stderr and "did you mean `days_past_due`" in result.stderr


def test_workers_share_the_port_and_sigterm_drains_calls_in_flight(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", str(metrics_port), "--grace", "10"],
        cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_serving(port)
        with grpc.insecure_channel(f"localhost:{port}") as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            # A stream stays open across SIGTERM: the worker must let it finish.
            first_sent = threading.Event()

            def requests() -> Iterator[pb.DecideStreamRequest]:
                yield pb.DecideStreamRequest(case=case("before"), as_of=AS_OF)
                first_sent.set()
                time.sleep(1.5)  # SIGTERM arrives now
                yield pb.DecideStreamRequest(case=case("after"), as_of=AS_OF)

            responses = stub.DecideStream(requests(), timeout=30)
            first = next(responses)
            first_sent.wait(5)
            process.send_signal(signal.SIGTERM)
            rest = list(responses)
        assert [first.result.case_id, *(r.result.case_id for r in rest)] == ["before", "after"]
        assert all(r.result.decision.action == "SEND_REMINDER" for r in [first, *rest])
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0]
    assert output.count("serving collection_strategy.v1.CollectionStrategyService") == 2, output


def worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    # Not multiprocessing's resource tracker, nor the rules check child waiting for the next version (engine/isolation.py).
    return [int(pid) for pid in children if not any(name in Path(f"/proc/{pid}/cmdline").read_text() for name in ("resource_tracker", "engine.isolation"))]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the worker processes in /proc")
def test_a_worker_restarted_after_a_crash_serves_the_rules_its_siblings_serve(tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "server.py", "--rules", str(tmp_path), "--port", str(port), "--workers", "2", "--metrics-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()  # type: ignore[arg-type]
    try:
        wait_serving(port)
        write_policy(tmp_path, POLICY.replace("days_past_due: {gt: 30}", "days_past_du: {gt: 30}"))  # refused from now on
        crashed = worker_pids(process.pid)[0]
        os.kill(crashed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while sum("serving collection_strategy.v1.CollectionStrategyService" in line for line in output) < 3:
            assert time.monotonic() < deadline and process.poll() is None, "".join(output)
            time.sleep(0.2)
        assert any("starting on the last good version" in line for line in output)
        for index in range(8):  # new connections, spread over both workers
            with grpc.insecure_channel(f"localhost:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                decision = pb_grpc.CollectionStrategyServiceStub(channel).Decide(pb.DecideRequest(case=case(f"c{index}"), as_of=AS_OF), timeout=10).decision
                assert decision.action == "SEND_REMINDER" and decision.policy.version == "7"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()


def test_a_batch_past_its_deadline_stops_with_deadline_exceeded(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    cases = [case(f"d{index}", days_past_due=index % 60) for index in range(MAX_BATCH_CASES)]
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecideBatch(pb.DecideBatchRequest(cases=cases, as_of=AS_OF), timeout=0.05)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    # and the server is still there for the next caller
    assert stub.Decide(pb.DecideRequest(case=case(), as_of=AS_OF), timeout=5).decision.action == "SEND_REMINDER"


def test_an_oversized_message_is_refused(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    huge = case()
    huge.attributes["note"] = "x" * (17 * 1024 * 1024)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=huge, as_of=AS_OF), timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_instants_out_of_range_are_invalid_fields_not_crashes(stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    far = case("far")
    far.prior_contacts.add(channel=pb.CHANNEL_SMS, at=timestamp_pb2.Timestamp(seconds=2**40), outcome=pb.CONTACT_OUTCOME_DELIVERED)
    results = stub.DecideBatch(pb.DecideBatchRequest(cases=[far, case("fine")], as_of=AS_OF), timeout=10).results
    assert [violation.field for violation in results[0].error.field_violations] == ["cases[0].prior_contacts[0].at"]
    assert results[1].decision.action == "SEND_REMINDER"
    with pytest.raises(grpc.RpcError) as caught:
        stub.Decide(pb.DecideRequest(case=case(), as_of=timestamp_pb2.Timestamp(seconds=2**40)), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "as_of" in bad_request(caught.value)

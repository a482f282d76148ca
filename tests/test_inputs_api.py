"""Typed inputs through the API: gRPC and Connect JSON over HTTP carry them typed,
and a case that does not carry them as the policy declares is INVALID_ARGUMENT
(HTTP 400) naming `case.inputs.<name>`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import write_policy
from transport.grpc_server import RunningServer, ServerConfig, start_server

SERVICE = "collection_strategy.v1.CollectionStrategyService"
AS_OF = "2026-11-24T09:00:00Z"
POLICY = """
policy: scored-api
version: "1"
inputs:
  - {name: risk_score, type: integer, min: 0, max: 999, required: true, description: bureau score}
  - {name: pay_chance, type: number, min: 0, max: 1, description: propensity to pay}
  - {name: salary_day, type: date, description: next salary}
rules:
  - id: likely-to-pay
    priority: 20
    when:
      inputs.pay_chance: {gte: 0.8}
      inputs.salary_day: {lte: 2026-11-30}
      inputs.risk_score: {lt: 500}
    then: {action: SEND_REMINDER, channel: email, template: nudge}
    reason: A light nudge.
  - id: anyone
    priority: 1
    when: {days_past_due: {gte: 0}}
    then: {action: NO_CONTACT}
    reason: Nothing else.
"""
CASE = {
    "caseId": "case-1", "country": "PL", "timeZone": "Europe/Warsaw", "amountDue": "100.00", "currency": "PLN", "daysPastDue": 10, "segment": "retail",
    "consents": {"email": True},
}
LIKELY = {"risk_score": {"integer": "120"}, "pay_chance": {"number": 0.85}, "salary_day": {"date": "2026-11-28"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, POLICY, "scored.yaml")
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, http_port=0, reload_seconds=0))
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[pb_grpc.CollectionStrategyServiceStub]:
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        yield pb_grpc.CollectionStrategyServiceStub(channel)


def post(server: RunningServer, method: str, body: Any) -> tuple[int, dict[str, Any]]:
    assert server.http is not None
    request = urllib.request.Request(f"http://127.0.0.1:{server.http.port}/{SERVICE}/{method}", data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def http_violations(body: dict[str, Any]) -> list[tuple[str, str]]:
    [detail] = [item for item in body.get("details", []) if item["type"] == "google.rpc.BadRequest"]
    return [(item["field"], item["description"]) for item in detail["debug"]["fieldViolations"]]


def grpc_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    return [(item.field, item.description) for item in bad.field_violations]


def request(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"case": CASE | {"inputs": inputs}, "asOf": AS_OF}


def test_typed_inputs_decide_alike_over_grpc_and_http(server: RunningServer, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    status, body = post(server, "Decide", request(LIKELY))
    assert status == 200 and body["decision"]["firedRules"][0] == "likely-to-pay"
    answer = stub.Decide(json_format.ParseDict(request(LIKELY), pb.DecideRequest()))
    assert answer.decision.fired_rules[0] == "likely-to-pay"
    status, body = post(server, "Decide", request(LIKELY | {"pay_chance": {"number": 0.5}}))
    assert status == 200 and body["decision"]["firedRules"][0] == "anyone"
    status, body = post(server, "Decide", request(LIKELY | {"churn_model_v2": {"number": 0.3}}))  # not declared: carried, unread
    assert status == 200 and body["decision"]["firedRules"][0] == "likely-to-pay"


BAD = [
    ({"pay_chance": {"number": 0.9}}, ("case.inputs.risk_score", "is required by this policy: integer 0..999")),
    (LIKELY | {"risk_score": {"integer": "1200"}}, ("case.inputs.risk_score", "1200 is above the declared maximum 999")),
    (LIKELY | {"risk_score": {"text": "low"}}, ("case.inputs.risk_score", "'low' is not a whole number: the policy declares `risk_score` as integer")),
    (LIKELY | {"salary_day": {"date": "2026-02-30"}}, ("case.inputs.salary_day", "'2026-02-30' is not a date (YYYY-MM-DD): the policy declares `salary_day` as date")),
    (LIKELY | {"pay_chance": {}}, ("case.inputs.pay_chance", "None is not an input value: expected a number, text, true or false, or a date")),
]


@pytest.mark.parametrize(("inputs", "violation"), BAD)
def test_an_input_not_as_declared_is_invalid_argument_naming_it(server: RunningServer, stub: pb_grpc.CollectionStrategyServiceStub, inputs: dict[str, Any], violation: tuple[str, str]) -> None:
    status, body = post(server, "Decide", request(inputs))
    assert status == 400 and body["code"] == "invalid_argument"
    assert http_violations(body) == [violation]
    with pytest.raises(grpc.RpcError) as error:
        stub.Decide(json_format.ParseDict(request(inputs), pb.DecideRequest()))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_violations(error.value) == [violation]


def test_a_debtor_carries_inputs_for_the_person_and_per_account(server: RunningServer, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    account = {"amountDue": "100.00", "currency": "PLN", "daysPastDue": 10, "segment": "retail"}
    debtor = {
        "debtorId": "d-1", "country": "PL", "timeZone": "Europe/Warsaw", "consents": {"email": True},
        "inputs": {"pay_chance": {"number": 0.9}, "salary_day": {"date": "2026-11-28"}},
        "accounts": [account | {"accountId": "a-1", "inputs": {"risk_score": {"integer": "100"}}}, account | {"accountId": "a-2"}],
    }
    status, body = post(server, "DecideDebtor", {"debtor": debtor, "asOf": AS_OF})
    assert status == 400 and http_violations(body) == [("debtor.accounts[1].inputs.risk_score", "is required by this policy: integer 0..999")]
    debtor["accounts"][1]["inputs"] = {"risk_score": {"integer": "900"}}
    answer = stub.DecideDebtor(json_format.ParseDict({"debtor": debtor, "asOf": AS_OF}, pb.DecideDebtorRequest()))
    assert [account.fired_rules[0] for account in answer.decision.accounts] == ["likely-to-pay", "anyone"]

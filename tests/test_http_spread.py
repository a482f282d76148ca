"""A large batch posted as JSON over HTTP (transport/http_api.py) is spread over the sibling workers
as one sent over gRPC is (transport/batch_spread.py): the same answer, both workers' decision logs
holding a part, errors named from the caller's batch, one instant for a batch without as_of."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from collection_strategy.v1 import collection_strategy_pb2 as pb
from tests.conftest import write_policy, without_ids
from tests.test_batch_spread import batch, cases, logged, two_workers
from tests.test_debtor_batch_spread import debtor_batch, debtors, invalid
from tests.test_http_api import post
from tests.test_server import AS_OF, POLICY, free_port
from transport.batch_spread import DEBTORS, SPREAD_ABOVE


@dataclass(frozen=True)
class Spread:
    """A server of two workers serving gRPC on `port` and HTTP at `base`, logging decisions in `logs`."""

    port: int
    base: str
    logs: Path
    supervisor: int


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    root = tmp_path_factory.mktemp("http-spread")
    write_policy(root / "rules", POLICY)
    port, http_port = free_port(), free_port()
    with two_workers(root / "rules", port, root, "--http-port", str(http_port)) as server:
        yield Spread(port, f"http://127.0.0.1:{http_port}", root, server.process.pid)


def records_of(spread: Spread, ids: list[str], timeout: float = 20) -> dict[int, list[dict[str, object]]]:
    """The decision log's records of the decisions `ids` by worker process id, once all are written
    (the module's other calls log beside them in the same files)."""
    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while True:
        found = {pid: [record for record in records if record["decision_id"] in wanted] for pid, records in logged(spread.logs, 0, spread.supervisor, timeout=0).items()}
        if sum(map(len, found.values())) >= len(ids) or time.monotonic() > deadline:
            return {pid: records for pid, records in found.items() if records}
        time.sleep(0.2)


def decision_ids(body: dict[str, Any]) -> list[str]:
    """The decision ids of a JSON batch answer, one a case or a person, as the decision log keys its records."""
    decisions = [result["decision"] for result in body["results"] if "decision" in result]
    return [decision["decisionId"] for decision in decisions]


def logged_once_by_both_workers(spread: Spread, ids: list[str]) -> list[dict[str, object]]:
    """The records of the decisions `ids`, checked to be one each, some in each worker's log."""
    files = records_of(spread, ids)
    assert Counter(str(record["decision_id"]) for records in files.values() for record in records) == Counter(ids)  # each once
    by_worker = [len(records) for records in files.values()]
    assert len(by_worker) == 2, f"one worker decided the whole batch: {by_worker} records"
    return [record for records in files.values() for record in records]


def test_a_decide_batch_posted_as_json_is_spread_and_answered_as_over_grpc(spread: Spread) -> None:
    request = pb.DecideBatchRequest(cases=cases(300), as_of=AS_OF)
    status, body, _ = post(spread.base, "DecideBatch", json_format.MessageToDict(request))
    assert status == 200
    answer = json_format.ParseDict(body, pb.DecideBatchResponse())
    assert [result.case_id for result in answer.results] == [f"c{index}" for index in range(300)]
    assert answer.results[207].error.field_violations[0].field.startswith("cases[207].")  # in the second part, named from the call
    assert without_ids(answer) == without_ids(batch(spread.port, request))
    ids = decision_ids(body)
    assert len(ids) == 300 - 3  # 13, 110 and 207 are invalid
    logged_once_by_both_workers(spread, ids)


def test_a_decide_debtor_batch_posted_as_json_is_spread_and_names_an_invalid_debtor_from_the_call(spread: Spread) -> None:
    request = pb.DecideDebtorBatchRequest(debtors=debtors(100), as_of=AS_OF)  # 300 accounts
    _, second = DEBTORS.cut(request, 2)
    assert 87 in second and invalid(87)
    status, body, _ = post(spread.base, "DecideDebtorBatch", json_format.MessageToDict(request))
    assert status == 200  # a debtor's error is in its result, not the call's
    assert [result["debtorId"] for result in body["results"]] == [f"d{index}" for index in range(100)]
    assert body["results"][87]["error"]["fieldViolations"][0]["field"] == "debtors[87].accounts[0].amount_due"
    answer = json_format.ParseDict(body, pb.DecideDebtorBatchResponse())
    assert without_ids(answer) == without_ids(debtor_batch(spread.port, request))
    ids = decision_ids(body)
    assert len(ids) == 100 - 3  # 13, 50 and 87 are invalid
    logged_once_by_both_workers(spread, ids)


def instant(text: object) -> datetime:
    """Proto3 JSON writes 0, 3, 6 or 9 fractional digits and the decision log 0 or 6: compared as instants, not text."""
    return datetime.fromisoformat(str(text))


def batch_instants(body: dict[str, Any]) -> set[datetime]:
    return {instant(result["decision"]["asOf"]) for result in body["results"] if "decision" in result}


def debtor_batch_instants(body: dict[str, Any]) -> set[datetime]:
    return {instant(account["asOf"]) for result in body["results"] if "decision" in result for account in result["decision"]["accounts"]}


@pytest.mark.parametrize(
    ("method", "request_body", "instants"),
    [
        ("DecideBatch", {"cases": [json_format.MessageToDict(one) for one in cases(300)]}, batch_instants),
        ("DecideDebtorBatch", {"debtors": [json_format.MessageToDict(one) for one in debtors(100)]}, debtor_batch_instants),
    ],
    ids=["DecideBatch", "DecideDebtorBatch"],
)
def test_a_batch_posted_without_as_of_is_decided_at_one_instant_on_both_workers(spread: Spread, method: str, request_body: dict[str, Any], instants: Callable[[dict[str, Any]], set[datetime]]) -> None:
    assert SPREAD_ABOVE < 300
    status, body, _ = post(spread.base, method, request_body)  # no as_of: the server's clock, read once
    assert status == 200
    answered = instants(body)
    assert len(answered) == 1
    records = logged_once_by_both_workers(spread, decision_ids(body))
    assert {instant(record["as_of"]) for record in records} == answered  # the sibling's too

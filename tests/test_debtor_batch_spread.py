"""A large DecideDebtorBatch spread over the sibling workers (transport/batch_spread.py), as a
DecideBatch is: parts balanced by accounts, the same answer as one worker gives, the siblings'
parts decided (and logged) by the siblings, one instant and one policy version per batch, errors
named from the caller's batch, and a sibling's refusal or absence never seen by the caller."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import write_policy
from tests.test_batch_spread import CALL_SECONDS, logged, sample, scrape, two_workers, workers
from tests.test_server import AS_OF, POLICY, free_port
from tests.test_supervisor import running
from transport.batch_spread import DEBTORS, OFFSET_KEY, POLICY_KEY, SPREAD_ABOVE, policy_fingerprint, weighed_parts



def invalid(index: int) -> bool:
    """The debtors with an amount that is not one: 13, 50, 87, 124..."""
    return index % 37 == 13


def debtors(count: int) -> list[pb.Debtor]:
    """Debtors of 1 to 5 accounts in turn (3 on average), a few invalid (in every worker's part)."""
    made = []
    for index in range(count):
        accounts = [
            pb.Account(
                account_id=f"d{index}-a{number}", amount_due=f"{100 + index + number}.00", currency="PLN",
                days_past_due=(index + 7 * number) % 60 - 10, segment="retail",
            )
            for number in range(1 + index % 5)
        ]
        if invalid(index):
            accounts[0].amount_due = "not-a-number"
        made.append(pb.Debtor(debtor_id=f"d{index}", country="PL", time_zone="Europe/Warsaw", consents=pb.Consents(sms=True, email=True, phone=True), accounts=accounts))
    return made


def debtor_batch(port: int | str, request: pb.DecideDebtorBatchRequest, metadata: tuple[tuple[str, str], ...] = ()) -> pb.DecideDebtorBatchResponse:
    target = port if isinstance(port, str) else f"127.0.0.1:{port}"
    with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)
        answer: pb.DecideDebtorBatchResponse = stub.DecideDebtorBatch(request, timeout=CALL_SECONDS, metadata=metadata)
        return answer


def without_ids(response: pb.DecideDebtorBatchResponse) -> pb.DecideDebtorBatchResponse:
    copy = pb.DecideDebtorBatchResponse()
    copy.CopyFrom(response)
    for result in copy.results:
        result.decision.ClearField("decision_id")
        for account in result.decision.accounts:
            account.ClearField("decision_id")
    return copy


def worker_logs(directory: Path) -> dict[str, list[str]]:
    """The in-process workers' decision logs by worker (worker<n>-<pid>.jsonl, a file opens at its first record)."""
    return {path.name.split("-")[0]: path.read_text().splitlines() for path in directory.glob("worker*.jsonl")}


def accounts(request: pb.DecideDebtorBatchRequest, part: range) -> int:
    return sum(max(1, len(request.debtors[index].accounts)) for index in part)


# --- parts balanced by accounts ----------------------------------------------------------------------------------------------------


def test_debtor_parts_are_balanced_by_accounts_not_by_debtors() -> None:
    # One debtor of 10 accounts, then 20 of one: by count the first part would hold 20 accounts, the second 10.
    weights = [10] + [1] * 20
    assert weighed_parts(weights, 2) == [range(6), range(6, 21)]  # 15 accounts each
    request = pb.DecideDebtorBatchRequest(debtors=debtors(300))
    total = accounts(request, range(300))
    for workers_count in (2, 3, 4):
        cut = DEBTORS.cut(request, workers_count)
        assert [index for part in cut for index in part] == list(range(300))  # contiguous, every debtor once, in order
        heaviest = max(len(debtor.accounts) for debtor in request.debtors)
        assert all(abs(accounts(request, part) - total / workers_count) <= heaviest for part in cut)


@pytest.mark.parametrize("weights", [[1] * 7, [50, 1, 1], [1, 1, 50], [3], [], [5, 5, 5, 5, 40], [2] * 9 + [30]])
def test_every_part_is_within_the_heaviest_debtor_of_its_share(weights: list[int]) -> None:
    for workers_count in (2, 3, 4):
        cut = weighed_parts(weights, workers_count)
        assert len(cut) == workers_count and [index for part in cut for index in part] == list(range(len(weights)))
        share = sum(weights) / workers_count
        assert all(abs(sum(weights[index] for index in part) - share) <= max(weights, default=0) for part in cut)
        assert cut[0] or not weights  # the worker the batch reached decides some of it


def test_the_worker_the_batch_reached_keeps_a_debtor_even_when_one_outweighs_every_share() -> None:
    # Cut by shares alone the first part was empty: this worker would only have sent the batch away.
    assert weighed_parts([50, 1, 1, 1], 4) == [range(1), range(1, 1), range(1, 1), range(1, 4)]


# --- a real server of two workers --------------------------------------------------------------------------------------------------


def test_a_debtor_batch_on_two_workers_is_answered_as_one_worker_answers_it_and_the_sibling_decides_its_part(tmp_path: Path) -> None:
    write_policy(tmp_path / "rules", POLICY)
    request = pb.DecideDebtorBatchRequest(debtors=debtors(300), as_of=AS_OF)  # 900 accounts
    assert accounts(request, range(300)) > SPREAD_ABOVE
    alone, spread = free_port(), free_port()
    with running("--rules", str(tmp_path / "rules"), "--port", str(alone), "--workers", "1", "--metrics-port", "0") as lone:
        lone.wait_for("serving collection_strategy.v1.CollectionStrategyService")
        expected = debtor_batch(alone, request)
    metrics_port = free_port()
    with two_workers(tmp_path / "rules", spread, tmp_path, "--metrics-port", str(metrics_port)) as server:
        answer = debtor_batch(spread, request)
        assert without_ids(answer) == without_ids(expected)
        assert [result.debtor_id for result in answer.results] == [f"d{index}" for index in range(300)]
        # An invalid debtor in the sibling's part (the second half) is named from the caller's batch.
        assert answer.results[235].error.field_violations[0].field == "debtors[235].accounts[0].amount_due"
        decided = [result.decision.decision_id for result in answer.results if result.HasField("decision")]
        assert len(decided) == 300 - 8
        files = logged(tmp_path, len(decided), server.process.pid)
        # Each person logged once, by the worker that decided it: one worker each contiguous part of about 450 accounts.
        parts = [[answer.results[index].decision.decision_id for index in part if not invalid(index)] for part in DEBTORS.cut(request, 2)]
        assert 440 <= accounts(request, DEBTORS.cut(request, 2)[1]) <= 460
        assert sorted(sorted(str(record["decision_id"]) for record in records) for records in files.values()) == sorted(map(sorted, parts))
        metrics = scrape(metrics_port, until=lambda text: sample(text, "collection_invalid_cases_total", 'method="DecideDebtorBatch"') >= 8
                         and sample(text, "collection_debtor_decisions_total", "") >= len(decided))
        assert sample(metrics, "grpc_server_started_total", 'grpc_method="DecideDebtorBatch"') == 1  # the caller's call, not the internal one
        assert sample(metrics, "collection_debtor_decisions_total", "") == len(decided)  # every person counted once
        assert sample(metrics, "collection_invalid_cases_total", 'method="DecideDebtorBatch"') == 8


# --- in process: two workers on one or two policy versions, the peer socket's own rules ------------------------------------------


def test_a_debtor_batch_without_as_of_is_decided_at_one_instant_on_both_workers(tmp_path: Path) -> None:
    with workers(tmp_path, ("7", "7")) as (first, _, _):
        answer = debtor_batch(first.port, pb.DecideDebtorBatchRequest(debtors=debtors(120)))  # 360 accounts, no as_of: the clock read once
    instants = {account.as_of.ToNanoseconds() for result in answer.results if result.HasField("decision") for account in result.decision.accounts}
    assert len(instants) == 1
    logs = worker_logs(tmp_path)
    assert logs.get("worker1"), "the sibling decided no part"


def test_a_sibling_on_the_same_version_decides_its_debtors_named_from_the_callers_batch(tmp_path: Path) -> None:
    request = pb.DecideDebtorBatchRequest(debtors=debtors(120), as_of=AS_OF)
    with workers(tmp_path, ("7", "7")) as (first, _, _):
        answer = debtor_batch(first.port, request)
    assert [result.debtor_id for result in answer.results] == [f"d{index}" for index in range(120)]
    _, sibling = DEBTORS.cut(request, 2)
    assert 87 in sibling and answer.results[87].error.field_violations[0].field == "debtors[87].accounts[0].amount_due"
    logs = worker_logs(tmp_path)
    assert len(logs["worker1"]) == len([index for index in sibling if not invalid(index)])
    assert len(logs["worker0"]) + len(logs["worker1"]) == 120 - 3  # once each (13, 50 and 87 are invalid)


def test_a_sibling_on_another_policy_version_refuses_and_the_debtor_batch_stays_on_one_version(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    request = pb.DecideDebtorBatchRequest(debtors=debtors(120), as_of=AS_OF)
    with workers(tmp_path, ("7", "8")) as (first, _, _), caplog.at_level(logging.INFO, logger="transport.batch_spread"):
        answer = debtor_batch(first.port, request)
    assert [result.debtor_id for result in answer.results] == [f"d{index}" for index in range(120)]
    assert {result.decision.policy.version for result in answer.results if result.HasField("decision")} == {"7"}
    _, sibling = DEBTORS.cut(request, 2)
    assert f"did not decide {len(sibling)} debtors (FAILED_PRECONDITION)" in caplog.text
    assert answer.results[87].error.field_violations[0].field == "debtors[87].accounts[0].amount_due"  # decided here, named alike
    assert "worker1" not in worker_logs(tmp_path)  # the sibling decided nothing (its log opens at its first record)


def test_a_dead_sibling_costs_the_debtor_batch_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    request = pb.DecideDebtorBatchRequest(debtors=debtors(120), as_of=AS_OF)
    with workers(tmp_path, ("7", "7")) as (first, second, _), caplog.at_level(logging.INFO, logger="transport.batch_spread"):
        assert second.peer is not None
        second.peer.stop(0).wait()  # nothing answers on its peer socket any more, as when its worker died
        answer = debtor_batch(first.port, request)
    assert [result.debtor_id for result in answer.results] == [f"d{index}" for index in range(120)]
    assert sum(result.HasField("decision") for result in answer.results) == 120 - 3
    _, sibling = DEBTORS.cut(request, 2)
    assert f"did not decide {len(sibling)} debtors (UNAVAILABLE)" in caplog.text
    assert len(worker_logs(tmp_path)["worker0"]) == 120 - 3


def test_the_internal_debtor_form_is_honoured_on_the_peer_socket_only(tmp_path: Path) -> None:
    with workers(tmp_path, ("7", "7")) as (_, second, sockets):
        bad = pb.DecideDebtorBatchRequest(debtors=debtors(14)[13:], as_of=AS_OF)  # one debtor, invalid
        internal = ((POLICY_KEY, "not the policy"), (OFFSET_KEY, "5"))
        # On the public port the metadata is nobody's business: an ordinary call, fields from index 0.
        public = debtor_batch(second.port, bad, internal)
        assert public.results[0].error.field_violations[0].field == "debtors[0].accounts[0].amount_due"
        # On the peer socket: another version is refused, the offset names fields from the caller's batch.
        with pytest.raises(grpc.RpcError) as refused:
            debtor_batch(f"unix:{sockets[1]}", bad, internal)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        honest = ((POLICY_KEY, policy_fingerprint(second.registry.current.engine)), (OFFSET_KEY, "5"))
        part = debtor_batch(f"unix:{sockets[1]}", bad, honest)
        assert part.results[0].error.field_violations[0].field == "debtors[5].accounts[0].amount_due"
        with pytest.raises(grpc.RpcError) as no_offset:
            debtor_batch(f"unix:{sockets[1]}", bad, honest[:1])
        assert no_offset.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_siblings_debtor_part_joins_the_callers_trace(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with workers(tmp_path, ("7", "7"), provider.get_tracer("test")) as (first, _, _):
        debtor_batch(first.port, pb.DecideDebtorBatchRequest(debtors=debtors(120), as_of=AS_OF), (("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),))
    provider.shutdown()
    calls = [span for span in exporter.get_finished_spans() if span.name.endswith("/DecideDebtorBatch")]
    assert len(calls) == 2  # the caller's call and the sibling's part, in one trace
    assert {format(span.context.trace_id, "032x") for span in calls} == {trace_id}
    caller, part = sorted(calls, key=lambda span: span.start_time or 0)
    assert part.parent is not None and part.parent.span_id == caller.context.span_id  # the part is the call's child

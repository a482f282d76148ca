"""What a unary call costs outside the engine, cut without losing anything it does: decision
ids still UUIDv7 (RFC 9562), on the clock and increasing; the call's log line read and
written only when its level is on; the grpc_server_* series each counted once a call."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.decision import Decision, PolicyRef, Veto
from engine.decision_record import new_decision_id
from engine.vocabulary import Channel
from tests.conftest import REPO
from transport import metrics
from transport.servicer import _count
from transport.tracing import DecisionObserver


def _millisecond(decision_id: str) -> int:
    return uuid.UUID(decision_id).int >> 80


def _sequence(decision_id: str) -> int:
    """The time and the 42-bit counter: what orders one process's ids."""
    value = uuid.UUID(decision_id).int
    return (value >> 80) << 42 | ((value >> 64) & 0xFFF) << 30 | ((value >> 32) & 0x3FFF_FFFF)


def test_decision_ids_are_uuidv7_and_carry_the_millisecond_they_were_made_in() -> None:
    """A burst of ids, many per millisecond: each has version 7, variant 10 and the time it
    was made. (uuid6's generator moved the time a millisecond ahead per id in the same
    millisecond: 20,000 ids in a burst ran seconds ahead of the clock.)"""
    before = time.time_ns() // 1_000_000
    ids = [new_decision_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    for decision_id in ids:
        parsed = uuid.UUID(decision_id)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122, decision_id
        assert str(parsed) == decision_id  # canonical: lower-case, 8-4-4-4-12
    assert before <= min(map(_millisecond, ids)) and max(map(_millisecond, ids)) <= after
    assert len(set(ids)) == len(ids) and ids == sorted(ids)


def test_decision_ids_increase_on_every_thread_and_never_repeat() -> None:
    """Guard (uuid6's generator passed it too): threads of one process share one sequence."""
    made: list[list[str]] = [[] for _ in range(6)]

    def make(into: list[str]) -> None:
        for _ in range(4000):
            into.append(new_decision_id())

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ids in made:
        assert ids == sorted(ids)
        assert all(earlier < later for earlier, later in zip(map(_sequence, ids), map(_sequence, ids[1:])))
    every = [decision_id for ids in made for decision_id in ids]
    assert len(set(every)) == len(every)


FORKED = textwrap.dedent(
    """
    import os
    from engine.decision_record import new_decision_id
    new_decision_id()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writer, new_decision_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    print(new_decision_id(), os.read(reader, 100).decode())
    """
)


def test_a_forked_worker_does_not_repeat_its_parents_ids() -> None:
    """Guard: a forked process (a Spark Python worker) and its parent never make the same id."""
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", FORKED], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        parent, child = done.stdout.split()
        assert parent != child and uuid.UUID(parent).version == uuid.UUID(child).version == 7


class _Untouchable:
    """An answer that fails the test when anything of it is read."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the observer read {name!r} of the answer")


class _Context:
    def __init__(self, code: grpc.StatusCode | None = None) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def is_active(self) -> bool:
        return True

    def invocation_metadata(self) -> tuple[()]:
        return ()


def _observed(observer: DecisionObserver, answer: Any, method: str = "Decide") -> Any:
    """The observed handler of a method that answers `answer`, or raises it (an exception, as an abort does)."""

    def behavior(request: bytes, context: _Context) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    handler = grpc.unary_unary_rpc_method_handler(behavior)
    details = type("Details", (), {"method": f"/{metrics.SERVICE_NAME}/{method}", "invocation_metadata": ()})()
    return observer.intercept_service(lambda _: handler, details)


def test_the_answer_is_not_read_when_no_log_line_or_span_needs_it(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG off and tracing off: the call's log line is neither formatted nor written, and
    nothing of the answer is read for it (before, the policy version was looked up first)."""
    caplog.set_level(logging.INFO, logger="transport.tracing")
    assert _observed(DecisionObserver(metrics.SERVICE_NAME), _Untouchable()).unary_unary(b"", _Context()) is not None
    assert not [record for record in caplog.records if getattr(record, "event", None) == "call"]


def test_with_debug_on_the_line_names_method_code_latency_and_policy_version(caplog: pytest.LogCaptureFixture) -> None:
    """Guard: the line is still written, with what it said before, when its level is on."""
    caplog.set_level(logging.DEBUG, logger="transport.tracing")
    answer = pb.DecideResponse(decision=pb.Decision(case_id="case-1", action="SEND_REMINDER", policy=pb.PolicyRef(version="7")))
    _observed(DecisionObserver(metrics.SERVICE_NAME), answer).unary_unary(b"", _Context())
    calls = [record for record in caplog.records if getattr(record, "event", None) == "call"]
    assert len(calls) == 1
    line = calls[0].__dict__
    assert (line["method"], line["code"], line["protocol"], line["policy_version"]) == ("Decide", "OK", "grpc", "7")
    assert line["latency_ms"] >= 0 and calls[0].getMessage() == "Decide answered OK" and "case-1" not in calls[0].getMessage()


def test_grpc_asks_for_a_handler_each_call_and_gets_the_one_built_for_the_method() -> None:
    """The observed handler (its labelled series, its closure) is built once per method,
    not once per call as before."""
    observer = DecisionObserver(metrics.SERVICE_NAME)
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: None)
    details = type("Details", (), {"method": f"/{metrics.SERVICE_NAME}/GetPolicy", "invocation_metadata": ()})()
    first = observer.intercept_service(lambda _: handler, details)
    assert observer.intercept_service(lambda _: handler, details) is first
    other = grpc.unary_unary_rpc_method_handler(lambda request, context: None)
    assert observer.intercept_service(lambda _: other, details) is not first  # a new handler is wrapped anew


def _series(method: str) -> dict[str, float]:
    labels = {"grpc_type": "unary", "grpc_service": metrics.SERVICE_NAME, "grpc_method": method}
    names = ("grpc_server_started_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count")
    found = {name: REGISTRY.get_sample_value(name, labels) or 0.0 for name in names}
    for code in ("OK", "INVALID_ARGUMENT"):
        found[code] = REGISTRY.get_sample_value("grpc_server_handled_total", {**labels, "grpc_code": code}) or 0.0
    return found


def test_each_call_counts_once_in_every_grpc_server_series() -> None:
    """Guard (as before): started, received, handled by code and the latency once a call;
    sent only for an answer. In-memory metrics here; tests/test_metrics_aggregation.py has
    the multiprocess form."""
    assert not metrics.MULTIPROCESS
    observer = DecisionObserver(metrics.SERVICE_NAME)
    before = _series("DecideDebtor")
    answered = _observed(observer, pb.DecideDebtorResponse(), "DecideDebtor").unary_unary
    for _ in range(3):
        answered(b"", _Context())
    refused = _observed(observer, RuntimeError("aborted"), "DecideDebtor").unary_unary
    with pytest.raises(RuntimeError):
        refused(b"", _Context(grpc.StatusCode.INVALID_ARGUMENT))
    after = _series("DecideDebtor")
    assert {name: after[name] - before[name] for name in after} == {
        "grpc_server_started_total": 4, "grpc_server_msg_received_total": 4, "grpc_server_msg_sent_total": 3,
        "grpc_server_handling_seconds_count": 4, "OK": 3, "INVALID_ARGUMENT": 1,
    }


def _decisions_counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    names = ("collection_decisions_total", "collection_experiment_decisions_total", "collection_vetoes_total")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in REGISTRY.collect() for sample in family.samples if sample.name in names
    }


def test_a_decision_counts_once_in_each_series_it_belongs_to() -> None:
    """Guard (as before): its action and channel, each experiment it was assigned in, each veto;
    with the series now resolved once per kind of decision."""
    epoch = datetime(2026, 11, 24, tzinfo=timezone.utc)
    plain = Decision("c", "OVERHEAD_TEST", Channel.SMS, None, None, None, (), (), (), PolicyRef("p", "1", "h"), epoch, epoch)
    vetoed = (Veto("r1", "overhead_quiet", "late"), Veto("r2", "overhead_quiet", "late", Channel.PHONE))
    before = _decisions_counted()
    for _ in range(3):
        _count(plain.amended(experiment_arm="overhead_tone:b,overhead_cadence:a", vetoes=vetoed))
    _count(plain.amended(channel=None))
    after = _decisions_counted()
    changed = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    assert changed == {
        ("collection_decisions_total", (("action", "OVERHEAD_TEST"), ("channel", "sms"))): 3,
        ("collection_decisions_total", (("action", "OVERHEAD_TEST"), ("channel", "none"))): 1,
        ("collection_experiment_decisions_total", (("action", "OVERHEAD_TEST"), ("arm", "b"), ("experiment", "overhead_tone"))): 3,
        ("collection_experiment_decisions_total", (("action", "OVERHEAD_TEST"), ("arm", "a"), ("experiment", "overhead_cadence"))): 3,
        ("collection_vetoes_total", (("guardrail", "overhead_quiet"),)): 6,
    }

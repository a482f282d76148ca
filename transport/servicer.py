"""The CollectionStrategyService servicer: proto in, engine, proto out; nothing more."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, Iterator, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.errors import FieldProblem, InvalidSnapshot
from engine.registry import PolicyRegistry
from engine.snapshot import parse_snapshot
from transport import metrics
from transport.mapping import as_of_from, case_error, decision_to_proto, snapshot_data

log = logging.getLogger(__name__)
MAX_BATCH_CASES = 1000


def _invalid_argument(context: grpc.ServicerContext, message: str, problems: list[FieldProblem]) -> NoReturn:
    """Abort with INVALID_ARGUMENT and a google.rpc.BadRequest naming each bad field."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=p.field, description=p.description) for p in problems]
        )
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[detail])
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status raises")  # for type checkers


def _observed(method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Count the call by its final status code and time it."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def observed(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = "OK"
            try:
                return handler(self, request, context)
            except Exception:
                code = context.code().name if context.code() else "UNKNOWN"
                raise
            finally:
                metrics.child(metrics.REQUESTS, method, code).inc()
                metrics.child(metrics.LATENCY, method).observe(time.perf_counter() - started)

        return observed

    return wrap


def _count(decision: Decision) -> None:
    metrics.child(metrics.DECISIONS, decision.action, decision.channel.value if decision.channel else "none").inc()
    for veto in decision.vetoes:
        metrics.child(metrics.VETOES, veto.guardrail).inc()
    for assignment in filter(None, decision.experiment_arm.split(",")):
        experiment, arm = assignment.split(":", 1)
        metrics.child(metrics.EXPERIMENT_DECISIONS, experiment, arm, decision.action).inc()


class CollectionStrategyServicer(pb_grpc.CollectionStrategyServiceServicer):
    def __init__(self, registry: PolicyRegistry):
        self._registry = registry

    def _decide(self, engine: StrategyEngine, case: pb.CaseSnapshot, request: Any, field_prefix: str = "case.") -> pb.Decision:
        """Decide one case; raises InvalidSnapshot with fields named from the request root."""
        as_of = as_of_from(request)
        try:
            snapshot = parse_snapshot(snapshot_data(case), as_of)
        except InvalidSnapshot as error:
            raise InvalidSnapshot([FieldProblem(field_prefix + p.field, p.description) for p in error.problems]) from None
        decision = engine.decide(snapshot, as_of, explain=request.explain)
        _count(decision)
        return decision_to_proto(decision)

    @_observed("Decide")
    def Decide(self, request: pb.DecideRequest, context: grpc.ServicerContext) -> pb.DecideResponse:
        if not request.HasField("case"):
            _invalid_argument(context, "case is required", [FieldProblem("case", "is required")])
        try:
            return pb.DecideResponse(decision=self._decide(self._registry.current.engine, request.case, request))
        except InvalidSnapshot as error:
            metrics.INVALID_CASES.labels("Decide").inc()
            _invalid_argument(context, f"invalid case: {error}", error.problems)

    @_observed("DecideBatch")
    def DecideBatch(self, request: pb.DecideBatchRequest, context: grpc.ServicerContext) -> pb.DecideBatchResponse:
        if len(request.cases) > MAX_BATCH_CASES:
            _invalid_argument(
                context,
                f"a batch holds at most {MAX_BATCH_CASES} cases; this one has {len(request.cases)}: split it or use DecideStream",
                [FieldProblem("cases", f"at most {MAX_BATCH_CASES} cases per call, got {len(request.cases)}")],
            )
        engine = self._registry.current.engine  # one policy version for the whole call, even across a reload
        results = []
        for index, case in enumerate(request.cases):
            if not context.is_active():  # deadline passed or client gone: stop working for nobody
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed after {index} of {len(request.cases)} cases")
            results.append(self._result(engine, case, request, f"cases[{index}]."))
        return pb.DecideBatchResponse(results=results)

    def _result(self, engine: StrategyEngine, case: pb.CaseSnapshot, request: Any, prefix: str) -> pb.CaseResult:
        try:
            return pb.CaseResult(case_id=case.case_id, decision=self._decide(engine, case, request, prefix))
        except InvalidSnapshot as error:
            metrics.INVALID_CASES.labels("batch").inc()
            return pb.CaseResult(case_id=case.case_id, error=case_error(error.problems))

    def DecideStream(self, request_iterator: Iterator[pb.DecideStreamRequest], context: grpc.ServicerContext) -> Iterator[pb.DecideStreamResponse]:
        started = time.perf_counter()
        code = "OK"
        try:
            engine = self._registry.current.engine  # one policy version for the whole stream
            for request in request_iterator:
                yield pb.DecideStreamResponse(result=self._result(engine, request.case, request, "case."))
        except Exception:
            code = context.code().name if context.code() else "CANCELLED"
            raise
        finally:
            metrics.REQUESTS.labels("DecideStream", code).inc()
            metrics.LATENCY.labels("DecideStream").observe(time.perf_counter() - started)

    @_observed("GetPolicy")
    def GetPolicy(self, request: pb.GetPolicyRequest, context: grpc.ServicerContext) -> pb.GetPolicyResponse:
        active = self._registry.current
        ref = active.engine.ref
        strategy = pb.PolicyInfo(name=ref.name, version=ref.version, hash=ref.hash, kind="strategy", rule_count=len(active.engine.policy.rules))
        strategy.loaded_at.FromDatetime(active.loaded_at)
        name, version = self._registry.guardrail_pack()
        built_in = pb.PolicyInfo(name=name, version=version, hash="", kind="guardrails", applies_to=["*"])
        packs = [
            pb.PolicyInfo(
                name=pack.name, version=pack.version, hash=pack.content_hash, kind="compliance", rule_count=len(pack.rules),
                applies_to=_places(pack.countries, pack.regions),
            )
            for pack in active.engine.compliance.packs
        ]
        for info in [built_in, *packs]:
            info.loaded_at.FromDatetime(active.loaded_at)
        response = pb.GetPolicyResponse(policies=[strategy, built_in, *packs])
        refusal = self._registry.last_refusal
        if refusal and refusal.at > active.loaded_at:
            response.last_refusal.reason = refusal.reason
            response.last_refusal.at.FromDatetime(refusal.at)
        return response


def _places(countries: frozenset[str] | None, regions: frozenset[str] | None) -> list[str]:
    if countries is None:
        return ["*"]
    if regions is None:
        return sorted(countries)
    return sorted(f"{country}-{region}" for country in countries for region in regions)

"""The CollectionStrategyService servicer: proto in, engine, proto out; nothing more.

Cases (Decide, DecideBatch, DecideStream) and debtors, a person with several
accounts (DecideDebtor, DecideDebtorBatch, DecideDebtorStream), are served
alike: the same limits, the same errors naming fields from the request root,
and a large batch, or a long enough run of a stream's waiting messages, of
either spread over the sibling workers (transport.batch_spread).

Requests reach the handlers as bytes and are parsed here (see transport.errors
for why), so the service is registered with `add_to_server`, not with the
generated add_..._to_server, whose handlers let grpc parse.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.bulk import decide_one, decide_snapshot
from engine.debtor import DebtorDecision, decide_debtor
from engine.debtor_snapshot import parse_debtor
from engine.decision import Decision
from engine.decision_record import new_decision_id
from engine.engine import StrategyEngine
from engine.errors import FieldProblem, InvalidSnapshot
from engine.policy.inputs import check_debtor_inputs
from engine.registry import PolicyRegistry
from engine.vocabulary import Channel
from transport import metrics
from transport.batch_spread import CASES, DEBTORS, Kind, Siblings
from transport.case_reader import read_case
from transport.decision_log import DecisionLog
from transport.debtor_mapping import debtor_data, debtor_decision_to_proto, debtor_weight, oversized
from transport.debtor_reader import read_debtor
from transport.errors import MAX_FIELD_BYTES, cut, invalid_argument, parse_request, summary
from transport.mapping import as_of_from, case_error, decision_to_proto, snapshot_data
from transport.policy_mapping import policy_to_proto
from transport.streams import READ_AHEAD, StreamLimits

RequestT = TypeVar("RequestT", bound=Message)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"].full_name
MAX_BATCH_CASES = 1000
# A trace (facts, every rule with why it matched or not) is about 15 KB with the
# shipped rules, more with larger policies: a whole batch explained did seconds
# of work and then failed the message limit (4 MiB in a default client, 16 MiB
# here). Refused up front, above this, rather than stopped part way: the caller
# learns before any work is done, and the answer does not depend on the policy.
MAX_EXPLAINED_CASES = 50
# DecideDebtorBatch: the accounts of all its debtors, as DecideBatch's cases (a
# debtor counts at least one: one with none is refused, but still answered).
MAX_BATCH_ACCOUNTS = MAX_BATCH_CASES


def _parsed(request_type: type[Message]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Parse the request's bytes before the handler. Calls are counted, timed and traced by
    the transport that received them (transport.tracing for gRPC, transport.http_api for HTTP)."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def parsed(self: Any, data: bytes, context: grpc.ServicerContext) -> Any:
            return handler(self, parse_request(request_type, data, context), context)

        return parsed

    return wrap


def _count(decision: Decision) -> None:
    """A decision in collection_decisions_total, in collection_experiment_decisions_total once
    per experiment it was assigned in, and a veto in collection_vetoes_total."""
    kind = (decision.action, decision.channel, decision.experiment_arm)
    series = _kinds.get(kind) or _kind_series(*kind)
    for child in series:
        child.inc()
    for veto in decision.vetoes:
        metrics.child(metrics.VETOES, veto.guardrail).inc()


# The series a kind of decision (action, channel, experiment arms) counts in, resolved once:
# a policy makes few kinds, and a decision then costs no label parsing or lookups. Bounded.
_kinds: dict[tuple[str, Channel | None, str], tuple[Any, ...]] = {}
_MAX_KINDS = 4096


def _kind_series(action: str, channel: Channel | None, arms: str) -> tuple[Any, ...]:
    series = [metrics.child(metrics.DECISIONS, action, channel.value if channel else "none")]
    for assignment in filter(None, arms.split(",")):  # "experiment:arm,experiment:arm"
        experiment, arm = assignment.split(":", 1)
        series.append(metrics.child(metrics.EXPERIMENT_DECISIONS, experiment, arm, action))
    if len(_kinds) >= _MAX_KINDS:
        _kinds.clear()
    _kinds[(action, channel, arms)] = found = tuple(series)
    return found


def _count_debtor(decision: DebtorDecision) -> None:
    """Each account's decision as a decision, and the person's one contact apart."""
    for account in decision.accounts:
        _count(account)
    metrics.child(metrics.DEBTOR_DECISIONS, decision.action, decision.channel.value if decision.channel else "none").inc()


@dataclass(frozen=True)
class _Stream:
    """A request stream as its waiting messages are taken together: its method, the message's
    field holding what is decided, the batch a run of them is spread as, and the stream's answer."""

    method: str
    item: str
    batch: Kind
    answer: type[Message]


_CASE_STREAM = _Stream("DecideStream", "case", CASES, pb.DecideStreamResponse)
_DEBTOR_STREAM = _Stream("DecideDebtorStream", "debtor", DEBTORS, pb.DecideDebtorStreamResponse)


def _rooted(prefix: str, problems: list[FieldProblem]) -> list[FieldProblem]:
    """Fields named from the request root: `prefix` before each, but as_of is the request's own."""
    return [problem if problem.field == "as_of" else FieldProblem(prefix + problem.field, problem.description) for problem in problems]


class CollectionStrategyServicer:
    """Decide, DecideBatch, DecideStream, their DecideDebtor forms and GetPolicy; every request arrives as bytes."""

    def __init__(self, registry: PolicyRegistry, streams: StreamLimits, decision_log: DecisionLog | None = None, siblings: Siblings | None = None):
        self._registry = registry
        self._streams = streams
        self._log = decision_log
        self._siblings = siblings  # the other workers a large batch is spread over (transport.batch_spread)

    @property
    def streams_busy(self) -> int:
        """The streams deciding on this worker now: a sibling asked to decide a stream's part compares its own."""
        return self._streams.busy

    def _decide(
        self, engine: StrategyEngine, case: pb.CaseSnapshot, request: Any, method: str, field_prefix: str = "case.", into: pb.Decision | None = None
    ) -> pb.Decision:
        """Decide one case (engine.bulk, as every bulk path), written `into` the answer's own
        decision when given; raises InvalidSnapshot with fields named from the request root
        (before anything is written)."""
        try:
            as_of = as_of_from(request)
            read = read_case(case, as_of)  # None: the validated path decides it, or names what is wrong
            if read is None:
                snapshot, decision = decide_one(engine, snapshot_data(case), as_of, explain=request.explain)
            else:
                snapshot, decision = decide_snapshot(engine, read, as_of, explain=request.explain)
        except InvalidSnapshot as error:
            raise InvalidSnapshot(_rooted(field_prefix, error.problems)) from None
        _count(decision)
        answer = decision_to_proto(decision, into)
        answer.decision_id = new_decision_id()
        if self._log is not None:
            self._log.add(answer.decision_id, method, snapshot, decision)
        return answer

    @_parsed(pb.DecideRequest)
    def Decide(self, request: pb.DecideRequest, context: grpc.ServicerContext) -> pb.DecideResponse:
        if not request.HasField("case"):
            metrics.child(metrics.INVALID_CASES, "Decide").inc()
            invalid_argument(context, "case is required", [FieldProblem("case", "is required")], "case")
        try:
            response = pb.DecideResponse()
            self._decide(self._registry.current.engine, request.case, request, "Decide", into=response.decision)
            return response
        except InvalidSnapshot as error:
            metrics.child(metrics.INVALID_CASES, "Decide").inc()
            invalid_argument(context, summary("invalid case: ", error.problems), error.problems, "case")

    @_parsed(pb.DecideBatchRequest)
    def DecideBatch(self, request: pb.DecideBatchRequest, context: grpc.ServicerContext) -> pb.DecideBatchResponse:
        if len(request.cases) > MAX_BATCH_CASES:
            invalid_argument(
                context,
                f"a batch holds at most {MAX_BATCH_CASES} cases; this one has {len(request.cases)}: split it or use DecideStream",
                [FieldProblem("cases", f"at most {MAX_BATCH_CASES} cases per call, got {len(request.cases)}")],
            )
        if request.explain and len(request.cases) > MAX_EXPLAINED_CASES:
            invalid_argument(
                context,
                f"explain is allowed for at most {MAX_EXPLAINED_CASES} cases per batch; this one has {len(request.cases)}: "
                "explain fewer cases per call, or ask without explain",
                [FieldProblem("explain", f"at most {MAX_EXPLAINED_CASES} cases per call when true, got {len(request.cases)}")],
            )
        engine = self._registry.current.engine  # one policy version for the whole call, even across a reload
        if not request.HasField("as_of"):
            request.as_of.GetCurrentTime()  # one instant for the whole batch, however it is spread
        response = pb.DecideBatchResponse()
        cases = functools.partial(self.decide_cases, engine, request, response, context)
        if self._siblings is not None and self._siblings.worth_spreading(request):
            self._siblings.spread(engine, request, response, context, cases)
        else:
            cases(range(len(request.cases)))
        return response

    def decide_cases(
        self, engine: StrategyEngine, request: pb.DecideBatchRequest, response: pb.DecideBatchResponse, context: grpc.ServicerContext, cases: range, offset: int = 0
    ) -> None:
        """Decide request.cases[cases] into response.results, in order; fields are named from the
        root of the caller's batch, in which these cases began at `offset` (a sibling's part)."""
        # Each result is written into the response as it is decided: building a thousand
        # decisions apart and then copying them into the response cost a copy of each.
        add = response.results.add
        for index in cases:
            if not context.is_active():  # deadline passed or client gone: stop working for nobody
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed after {index + offset} of {offset + len(request.cases)} cases")
            self._result(engine, request.cases[index], request, f"cases[{index + offset}].", "DecideBatch", add())

    def _result(self, engine: StrategyEngine, case: pb.CaseSnapshot, request: Any, prefix: str, method: str, result: pb.CaseResult) -> None:
        """The case's decision or error, written into `result`."""
        try:
            self._decide(engine, case, request, method, prefix, into=result.decision)
            result.case_id = case.case_id
        except InvalidSnapshot as error:
            metrics.child(metrics.INVALID_CASES, method).inc()
            # A valid case_id is at most 128 characters; an invalid one is not echoed in full.
            result.case_id = cut(case.case_id, MAX_FIELD_BYTES)
            result.error.CopyFrom(case_error(error.problems, prefix.rstrip(".")))

    def DecideStream(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.DecideStreamResponse]:
        """Answer each case as it comes, tagged with its case_id, in the order of the messages.
        The messages already waiting are taken together, and a run of them with one as_of and no
        explain, long enough, is decided as a batch spread over the sibling workers
        (transport.batch_spread): at one instant when the messages give none."""

        def answer(engine: StrategyEngine, request: pb.DecideStreamRequest) -> pb.DecideStreamResponse:
            response = pb.DecideStreamResponse()
            self._result(engine, request.case, request, "case.", "DecideStream", response.result)
            return response

        yield from self._stream(pb.DecideStreamRequest, self._runs(_CASE_STREAM, answer, context), requests, context, self._read_ahead)

    @property
    def _read_ahead(self) -> int:
        """How many of a stream's waiting messages are taken together at most."""
        return READ_AHEAD if self._siblings is not None else 1  # alone, nothing is gained by waiting for more

    def _runs(
        self, stream: _Stream, answer: Callable[[StrategyEngine, Any], Message], context: grpc.ServicerContext
    ) -> Callable[[StrategyEngine, list[Any]], Iterator[Message]]:
        """The answers to a stream's waiting messages, in order: grouped in runs with one as_of and
        explain, a run worth spreading decided as a batch over the siblings, the others one by one
        by `answer`."""

        def answers(engine: StrategyEngine, chunk: list[Any]) -> Iterator[Message]:
            for (explain, _), grouped in itertools.groupby(chunk, _stream_terms):
                run = list(grouped)
                if self._siblings is not None and not explain and self._siblings.worth_spreading_run(
                    stream.batch.weigh([getattr(request, stream.item) for request in run]), stream.method  # messages, or a debtor stream's accounts
                ):
                    yield from self._spread_run(self._siblings, engine, run, context, stream)
                else:
                    yield from (answer(engine, request) for request in run)

        return answers

    def _spread_run(self, siblings: Siblings, engine: StrategyEngine, run: list[Any], context: grpc.ServicerContext, stream: _Stream) -> Iterator[Message]:
        """The answers to `run`, consecutive messages of `stream` with one as_of and no explain,
        decided as a batch spread over the siblings; each message's answer as it would be alone."""
        kind = stream.batch
        batch: Any = kind.request(**{kind.items: [getattr(request, stream.item) for request in run]})
        if run[0].HasField("as_of"):
            batch.as_of.CopyFrom(run[0].as_of)
        else:
            batch.as_of.GetCurrentTime()  # one instant for the run, however it is spread
        decided: Any = kind.response()
        part = self.decide_stream_cases if kind is CASES else self.decide_stream_debtors
        decide = functools.partial(part, engine, batch, decided, context)
        siblings.spread(engine, batch, decided, context, decide, stream.method, self._streams.busy)
        for result in decided.results:
            yield stream.answer(result=result)

    def decide_stream_cases(
        self, engine: StrategyEngine, request: pb.DecideBatchRequest, response: pb.DecideBatchResponse, context: grpc.ServicerContext, cases: range
    ) -> None:
        """Decide request.cases[cases], messages of a stream, into response.results in order: each
        named and logged as DecideStream names and logs a message's case."""
        add = response.results.add
        for index in cases:
            if not context.is_active():  # deadline passed or client gone: stop working for nobody
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed after {index} of {len(request.cases)} messages taken together")
            self._result(engine, request.cases[index], request, "case.", "DecideStream", add())

    def _stream(
        self, request_type: type[RequestT], answers: Callable[[StrategyEngine, list[RequestT]], Iterator[Message]], requests: Iterator[bytes],
        context: grpc.ServicerContext, most: int = 1,
    ) -> Iterator[Message]:
        """A stream's answers, one per message in order, under the stream limits; `answers` gets the
        messages already waiting, at most `most` at a time. A message that does not decode ends the
        stream with INVALID_ARGUMENT once those before it are answered: with no id to tag an answer
        with, the caller could not tell which request it answered."""
        with self._streams.admitted(context):
            engine = self._registry.current.engine  # one policy version for the whole stream
            number = 0
            for chunk in self._streams.chunks(requests, context, most):
                with self._streams.deciding():
                    parsed: list[RequestT] = []
                    for data in chunk:
                        number += 1
                        try:
                            parsed.append(request_type.FromString(data))
                        except DecodeError:
                            yield from answers(engine, parsed)
                            parse_request(request_type, data, context, f"message {number} of the stream")  # raises INVALID_ARGUMENT
                    yield from answers(engine, parsed)

    # --- a person with several accounts ---------------------------------------------

    def _decide_debtor(self, engine: StrategyEngine, debtor: pb.Debtor, request: Any, method: str, field_prefix: str = "debtor.") -> pb.DebtorDecision:
        """Decide one person; raises InvalidSnapshot with fields named from the request root."""
        as_of = as_of_from(request)
        try:
            read = read_debtor(debtor, as_of)  # None: the validated path decides it, or names what is wrong
            if read is None:
                too_long = oversized(debtor)
                if too_long:
                    raise InvalidSnapshot(too_long)
                read = parse_debtor(debtor_data(debtor), as_of)
            snapshot = check_debtor_inputs(read, engine.policy.inputs)
        except InvalidSnapshot as error:
            raise InvalidSnapshot(_rooted(field_prefix, error.problems)) from None
        decision = decide_debtor(engine, snapshot, as_of, explain=request.explain)
        _count_debtor(decision)
        answer = debtor_decision_to_proto(decision)
        answer.decision_id = new_decision_id()
        for account in answer.accounts:
            account.decision_id = new_decision_id()
        if self._log is not None:  # one record for the person, its accounts' decisions inside
            self._log.add(answer.decision_id, method, snapshot, decision)
        return answer

    def _debtor_result(self, engine: StrategyEngine, debtor: pb.Debtor, request: Any, prefix: str, method: str) -> pb.DebtorResult:
        try:
            return pb.DebtorResult(debtor_id=debtor.debtor_id, decision=self._decide_debtor(engine, debtor, request, method, prefix))
        except InvalidSnapshot as error:
            metrics.child(metrics.INVALID_CASES, method).inc()
            return pb.DebtorResult(debtor_id=cut(debtor.debtor_id, MAX_FIELD_BYTES), error=case_error(error.problems, prefix.rstrip("."), "invalid debtor: "))

    @_parsed(pb.DecideDebtorRequest)
    def DecideDebtor(self, request: pb.DecideDebtorRequest, context: grpc.ServicerContext) -> pb.DecideDebtorResponse:
        if not request.HasField("debtor"):
            metrics.child(metrics.INVALID_CASES, "DecideDebtor").inc()
            invalid_argument(context, "debtor is required", [FieldProblem("debtor", "is required")], "debtor")
        try:
            return pb.DecideDebtorResponse(decision=self._decide_debtor(self._registry.current.engine, request.debtor, request, "DecideDebtor"))
        except InvalidSnapshot as error:
            metrics.child(metrics.INVALID_CASES, "DecideDebtor").inc()
            invalid_argument(context, summary("invalid debtor: ", error.problems), error.problems, "debtor")

    @_parsed(pb.DecideDebtorBatchRequest)
    def DecideDebtorBatch(self, request: pb.DecideDebtorBatchRequest, context: grpc.ServicerContext) -> pb.DecideDebtorBatchResponse:
        accounts = sum(map(debtor_weight, request.debtors))
        if accounts > MAX_BATCH_ACCOUNTS:
            invalid_argument(
                context,
                f"a batch holds at most {MAX_BATCH_ACCOUNTS} accounts in all; this one has {accounts} in {len(request.debtors)} debtors: "
                "split it or use DecideDebtorStream",
                [FieldProblem("debtors", f"at most {MAX_BATCH_ACCOUNTS} accounts in all per call, got {accounts}")],
            )
        if request.explain and accounts > MAX_EXPLAINED_CASES:
            invalid_argument(
                context,
                f"explain is allowed for at most {MAX_EXPLAINED_CASES} accounts per batch; this one has {accounts}: "
                "explain fewer debtors per call, or ask without explain",
                [FieldProblem("explain", f"at most {MAX_EXPLAINED_CASES} accounts per call when true, got {accounts}")],
            )
        engine = self._registry.current.engine  # one policy version for the whole call, even across a reload
        if not request.HasField("as_of"):
            request.as_of.GetCurrentTime()  # one instant for the whole batch, however it is spread
        response = pb.DecideDebtorBatchResponse()
        debtors = functools.partial(self.decide_debtors, engine, request, response, context)
        if self._siblings is not None and self._siblings.worth_spreading(request, "DecideDebtorBatch"):
            self._siblings.spread(engine, request, response, context, debtors, "DecideDebtorBatch")
        else:
            debtors(range(len(request.debtors)))
        return response

    def decide_debtors(
        self, engine: StrategyEngine, request: pb.DecideDebtorBatchRequest, response: pb.DecideDebtorBatchResponse,
        context: grpc.ServicerContext, debtors: range, offset: int = 0,
    ) -> None:
        """Decide request.debtors[debtors] into response.results, in order; fields are named from the
        root of the caller's batch, in which these debtors began at `offset` (a sibling's part)."""
        append = response.results.append
        for index in debtors:
            if not context.is_active():  # deadline passed or client gone: stop working for nobody
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed after {index + offset} of {offset + len(request.debtors)} debtors")
            append(self._debtor_result(engine, request.debtors[index], request, f"debtors[{index + offset}].", "DecideDebtorBatch"))

    def DecideDebtorStream(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.DecideDebtorStreamResponse]:
        """Answer each debtor as it comes, tagged with its debtor_id, under DecideStream's limits and
        as DecideStream spreads: a run of waiting messages with one as_of and no explain, of more
        accounts than a stream's run spreads above, decided over the siblings in parts of about equal
        accounts."""

        def answer(engine: StrategyEngine, request: pb.DecideDebtorStreamRequest) -> pb.DecideDebtorStreamResponse:
            return pb.DecideDebtorStreamResponse(result=self._debtor_result(engine, request.debtor, request, "debtor.", "DecideDebtorStream"))

        yield from self._stream(pb.DecideDebtorStreamRequest, self._runs(_DEBTOR_STREAM, answer, context), requests, context, self._read_ahead)

    def decide_stream_debtors(
        self, engine: StrategyEngine, request: pb.DecideDebtorBatchRequest, response: pb.DecideDebtorBatchResponse,
        context: grpc.ServicerContext, debtors: range,
    ) -> None:
        """Decide request.debtors[debtors], messages of a stream, into response.results in order: each
        named and logged as DecideDebtorStream names and logs a message's debtor."""
        append = response.results.append
        for index in debtors:
            if not context.is_active():  # deadline passed or client gone: stop working for nobody
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed after {index} of {len(request.debtors)} messages taken together")
            append(self._debtor_result(engine, request.debtors[index], request, "debtor.", "DecideDebtorStream"))

    @_parsed(pb.GetPolicyRequest)
    def GetPolicy(self, request: pb.GetPolicyRequest, context: grpc.ServicerContext) -> pb.GetPolicyResponse:
        return policy_to_proto(self._registry)


def _stream_terms(request: pb.DecideStreamRequest | pb.DecideDebtorStreamRequest) -> tuple[bool, bytes | None]:
    """What a run of stream messages decided together shares: explain, and as_of (None: unset)."""
    return request.explain, request.as_of.SerializeToString() if request.HasField("as_of") else None


def add_to_server(servicer: CollectionStrategyServicer, server: grpc.Server) -> None:
    """Register the service with handlers that pass the request bytes through unparsed."""
    handlers = {
        "Decide": grpc.unary_unary_rpc_method_handler(servicer.Decide, response_serializer=pb.DecideResponse.SerializeToString),
        "DecideBatch": grpc.unary_unary_rpc_method_handler(servicer.DecideBatch, response_serializer=pb.DecideBatchResponse.SerializeToString),
        "DecideStream": grpc.stream_stream_rpc_method_handler(servicer.DecideStream, response_serializer=pb.DecideStreamResponse.SerializeToString),
        "GetPolicy": grpc.unary_unary_rpc_method_handler(servicer.GetPolicy, response_serializer=pb.GetPolicyResponse.SerializeToString),
        "DecideDebtor": grpc.unary_unary_rpc_method_handler(servicer.DecideDebtor, response_serializer=pb.DecideDebtorResponse.SerializeToString),
        "DecideDebtorBatch": grpc.unary_unary_rpc_method_handler(
            servicer.DecideDebtorBatch, response_serializer=pb.DecideDebtorBatchResponse.SerializeToString
        ),
        "DecideDebtorStream": grpc.stream_stream_rpc_method_handler(
            servicer.DecideDebtorStream, response_serializer=pb.DecideDebtorStreamResponse.SerializeToString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)

"""A large DecideBatch (or DecideDebtorBatch) spread over the sibling workers, so that one caller's batch uses every core.

Workers are processes (durable_rules never releases the GIL), and a caller's
batch reaches one of them: alone it would use one core. The supervisor gives
every worker slot a peer socket, a unix socket in a directory only the
server's user can enter, and every worker the list of all slots' sockets
(server.py). The rule for a batch received from a caller:

- More than SPREAD_ABOVE cases and no explain: cut into contiguous parts, one
  per worker. The receiving worker decides the first part itself and sends
  each other part to one sibling as an internal DecideBatch on its peer socket;
  the answers are put back in the order of the request. A smaller batch, or an
  explained one (at most 50 cases), costs more to send than it saves.
- One instant and one policy version for the whole batch: the part carries the
  batch's as_of (the servicer reads the clock once when the caller gave none),
  and its metadata the receiving worker's policy fingerprint. A sibling serving
  another version (mid reload) refuses with FAILED_PRECONDITION without
  deciding, and the receiving worker decides that part itself.
- A sibling that fails, is gone (restarting) or is too slow (the caller's
  remaining deadline, at most PEER_SECONDS) costs the caller nothing but time:
  the part is decided locally. The caller sees a complete answer, or
  DEADLINE_EXCEEDED as before when its own deadline passes.
- A DecideStream spreads the same way a run of more than STREAM_SPREAD_ABOVE
  of the messages already waiting (transport.streams reads ahead), with one
  as_of and no explain: sent as internal DecideBatch parts marked with
  METHOD_KEY, so that a sibling names and logs each case as a stream message
  ("case.", DecideStream), and each answer is what the message alone would get.
- A stream's part goes only where it helps: the part carries how many of the
  sender's streams are deciding messages (STREAMS_KEY; a stream waiting for its
  caller does not count), and a sibling with as many of its own deciding
  refuses it with RESOURCE_EXHAUSTED without deciding (its core is as busy with
  streams as the sender's: a part there only adds the cost of sending it). The
  sender decides the part itself and sends that sibling no stream part for
  REST_SECONDS. So streams spread from a worker with more of them to one with
  fewer (one stream alone on two workers, three against one), and two workers
  with two streams each decide their own.
- A DecideDebtorBatch spreads the same way above SPREAD_ABOVE accounts (a debtor
  counts max(1, its accounts), as the servicer's limit counts them) and without
  explain: contiguous parts of about equal accounts (weighed_parts; a part is off
  its share by at most the batch's heaviest debtor; contacts are not weighed,
  though a debtor may carry up to 2,000), each sent as an internal
  DecideDebtorBatch, a second method on the peer socket, with the same metadata
  (fields named debtors[<index in the caller's batch>]).
- A DecideDebtorStream spreads as a DecideStream does, a run of waiting messages
  of more than STREAM_SPREAD_ABOVE accounts (the work a part carries, as a debtor
  batch counts it): internal DecideDebtorBatch parts cut by accounts, METHOD_KEY
  "DecideDebtorStream" (each debtor named "debtor.", logged and counted under
  DecideDebtorStream), the same STREAMS_KEY refusal and rest: a sibling resting
  from streams gets no stream part of either kind.
- An internal call is never spread again, and the public port never takes
  one: internal calls arrive on a second grpc.Server listening on the peer
  socket only, so no metadata from an outside caller can make a call internal.

Accounting: a case (a person) is counted (collection_decisions_total,
collection_debtor_decisions_total) and logged in the decision log by the worker
that decided it, once. The peer server has no metrics interceptor, so the
grpc_server_* metrics count the caller's call only (skipped rather than
labelled: a label would add a series to every per-method metric for a call no
operator makes). When a sibling dies or times out part way,
the cases it had decided are counted there and decided again locally: they are
counted twice, and the caller sees only the local decisions' ids.

Tracing: the internal call carries the W3C trace context, so the sibling's
span ("DecideBatch" or "DecideDebtorBatch", logged with protocol "peer") joins
the caller's trace as a child of the receiving worker's span (transport.tracing
makes the call's span current while it is handled); over HTTP, where none is
current, beside it under the caller's.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError, Message

from collection_strategy.v1 import collection_strategy_pb2 as pb
from transport.debtor_mapping import debtor_weight
from transport.errors import parse_request

if TYPE_CHECKING:
    from engine.engine import StrategyEngine
    from engine.registry import PolicyRegistry
    from transport.servicer import CollectionStrategyServicer
    from transport.tracing import DecisionObserver

log = logging.getLogger(__name__)
# Sending a part costs about 12 us of CPU per case (serialized and parsed both ways and merged,
# some 2 % of a decision) and about 0.7 ms of CPU per call, both ends together: above this many
# cases the fixed cost is under 1 % of the work, while a smaller batch is answered soon anyway
# and, on a server whose workers are all busy, spreading only adds CPU.
SPREAD_ABOVE = 150
# A DecideStream spreads the messages already waiting (at most transport.streams.READ_AHEAD):
# fewer cases per call than a batch, but a stream's answers would otherwise all come from one
# core. A run of this many or fewer (cases; a DecideDebtorStream's accounts) is decided where it arrived.
STREAM_SPREAD_ABOVE = 16
# After a sibling refused a stream part as busy: no stream part is sent to it for this long
# (a refusal costs a call for nothing; the streams on each worker change slowly).
REST_SECONDS = 1.0
PEER_SECONDS = 60.0  # a sibling's longest time for its part when the caller gave no deadline
POLICY_KEY = "cse-peer-policy"  # the receiving worker's policy fingerprint
OFFSET_KEY = "cse-peer-offset"  # where the part begins in the caller's batch, for field names
# "DecideStream" or "DecideDebtorStream": the part is messages of a stream, each named as a message's ("case.", "debtor.")
METHOD_KEY = "cse-peer-method"
STREAMS_KEY = "cse-peer-streams"  # a stream's part: how many of the sender's streams are deciding
_TRACE_KEYS = ("traceparent", "tracestate")
_SERVICE = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"].full_name
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def policy_fingerprint(engine: StrategyEngine) -> str:
    """The versions a decision depends on: the strategy's content hash and every compliance pack's."""
    return " ".join([engine.ref.hash, *sorted(pack.content_hash for pack in engine.compliance.packs)])


def parts(count: int, workers: int) -> list[range]:
    """`count` cases cut into `workers` contiguous parts, the larger ones first."""
    size, extra = divmod(count, workers)
    bounds, start = [], 0
    for index in range(workers):
        stop = start + size + (1 if index < extra else 0)
        bounds.append(range(start, stop))
        start = stop
    return bounds


def weighed_parts(weights: Sequence[int], workers: int) -> list[range]:
    """Items of these `weights` cut into `workers` contiguous parts of about equal weight: each cut
    where the weight before it is nearest its share, the later cut on a tie (the first part, decided
    where the batch arrived, costs no sending), so a part is off its share by at most the heaviest
    item. The first part holds at least one item: the worker the batch reached never only waits."""
    before = list(itertools.accumulate(weights, initial=0))
    cuts = [0]
    for index in range(1, workers):
        share = before[-1] * index / workers
        at = bisect.bisect_left(before, share, lo=cuts[-1])  # the first cut with at least the share before it
        if at > cuts[-1] and share - before[at - 1] < before[at] - share:
            at -= 1  # the cut before it is nearer the share
        if index == 1 and weights:
            at = max(at, 1)
        cuts.append(at)
    return [range(start, stop) for start, stop in zip(cuts, [*cuts[1:], len(weights)])]


@dataclass(frozen=True)
class Kind:
    """What a spread batch holds: the peer method its parts go to (the public method of the same
    name and request type), the request's repeated field, and what an item weighs (None: one each)."""

    rpc: str
    items: str
    request: type[Message]
    response: type[Message]
    weight: Callable[[Any], int] | None = None

    def size(self, request: Any) -> int:
        return self.weigh(getattr(request, self.items))

    def weigh(self, items: Sequence[Any]) -> int:
        """What these items weigh together: how many, or the sum of their weights."""
        return len(items) if self.weight is None else sum(map(self.weight, items))

    def cut(self, request: Any, workers: int) -> list[range]:
        items = getattr(request, self.items)
        return parts(len(items), workers) if self.weight is None else weighed_parts([self.weight(item) for item in items], workers)


CASES = Kind("DecideBatch", "cases", pb.DecideBatchRequest, pb.DecideBatchResponse)
# A person's accounts are decided one by one: a part of debtors is as long to decide as its accounts.
DEBTORS = Kind("DecideDebtorBatch", "debtors", pb.DecideDebtorBatchRequest, pb.DecideDebtorBatchResponse, debtor_weight)
_KINDS = {"DecideBatch": CASES, "DecideStream": CASES, "DecideDebtorBatch": DEBTORS, "DecideDebtorStream": DEBTORS}  # by the caller's method
# The streams: their parts carry STREAMS_KEY, may be refused as busy, and rest the sibling that refused.
_STREAMS = frozenset({"DecideStream", "DecideDebtorStream"})


class Siblings:
    """The other workers' peer sockets, and how a batch is spread over them."""

    def __init__(self, sockets: Sequence[Path], own: int, spread_above: int = SPREAD_ABOVE) -> None:
        self._others = [path for index, path in enumerate(sockets) if index != own]
        self._spread_above = spread_above
        self._channels: dict[Path, grpc.Channel] = {}
        self._methods: dict[tuple[Path, str], grpc.UnaryUnaryMultiCallable] = {}
        self._lock = threading.Lock()
        self._resting: dict[Path, float] = {}  # a sibling that refused a stream part as busy: until when (monotonic)

    def worth_spreading(self, request: pb.DecideBatchRequest | pb.DecideDebtorBatchRequest, method: str = "DecideBatch") -> bool:
        """Whether the batch `request` of `method` is spread: more than spread_above cases (or a
        debtor batch's accounts) and no explain."""
        return bool(self._others) and not request.explain and _KINDS[method].size(request) > self._spread_above

    def worth_spreading_run(self, count: int, method: str) -> bool:
        """Whether consecutive messages of the stream `method` without explain, at one as_of, are
        spread: `count` is their size as the kind counts it (messages of DecideStream, accounts
        of DecideDebtorStream, as its parts are cut). A sibling that lately refused a stream
        part as busy is not asked."""
        return count > STREAM_SPREAD_ABOVE and bool(self._helpers(method))

    def _helpers(self, method: str) -> list[Path]:
        """The siblings a part of `method` may go to: all of them for a batch; for a stream, those not resting."""
        if method not in _STREAMS or not self._resting:
            return self._others
        now = time.monotonic()
        return [path for path in self._others if self._resting.get(path, 0.0) <= now]

    def _method(self, path: Path, rpc: str) -> grpc.UnaryUnaryMultiCallable:
        """The method `rpc` of the sibling at `path`; one channel each, kept (it reconnects to a replacement)."""
        with self._lock:
            method = self._methods.get((path, rpc))
            if method is not None:
                return method
            channel = self._channels.get(path)
            if channel is None:
                options = [
                    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                    # A replacement takes some seconds to start: retried often enough to be used soon after,
                    # not after grpc's default backoff of up to two minutes (meanwhile parts are decided here).
                    ("grpc.initial_reconnect_backoff_ms", 500), ("grpc.max_reconnect_backoff_ms", 5000),
                ]
                channel = self._channels[path] = grpc.insecure_channel(f"unix:{path}", options=options)
            method = self._methods[(path, rpc)] = channel.unary_unary(f"/{_SERVICE}/{rpc}")
            return method

    def spread(
        self, engine: StrategyEngine, request: Any, response: Any, context: Any,
        decide_locally: Callable[[range], None], method: str = "DecideBatch", streams_busy: int | None = None,
    ) -> None:
        """Decide `request` into `response`: the first part here, the others by the siblings,
        each part a sibling does not answer in full decided here too, in the request's order.
        `method` "DecideStream" or "DecideDebtorStream": the items are messages of a stream (named
        and logged as such), sent with `streams_busy`, this worker's streams deciding now, for the
        sibling to judge; "DecideDebtor...": `request` and `response` are a debtor batch's, cut by accounts."""
        kind, helpers = _KINDS[method], self._helpers(method)
        if not request.HasField("as_of"):  # the callers read the clock first; else each part would say 1970
            request.as_of.GetCurrentTime()
        items = getattr(request, kind.items)
        own, *rest = kind.cut(request, 1 + len(helpers))
        remaining = context.time_remaining()
        timeout = PEER_SECONDS if remaining is None else min(remaining, PEER_SECONDS)
        trace = _trace_context(context)
        fingerprint = policy_fingerprint(engine)
        sent: list[tuple[range, Path, Any]] = []
        try:
            for part, path in zip(rest, helpers):
                if not part:  # more workers than items, or items heavier than a share: nothing for this sibling
                    continue
                piece = kind.request(**{kind.items: items[part.start:part.stop]}, as_of=request.as_of).SerializeToString()
                if len(piece) > _MAX_MESSAGE_BYTES:  # the sibling would refuse it as RESOURCE_EXHAUSTED, read as busy
                    sent.append((part, path, None))
                    continue
                metadata = [(POLICY_KEY, fingerprint), (OFFSET_KEY, str(part.start)), (METHOD_KEY, method), *trace]
                if streams_busy is not None:
                    metadata.append((STREAMS_KEY, str(streams_busy)))
                sent.append((part, path, self._method(path, kind.rpc).future(piece, timeout=timeout, metadata=metadata)))
            decide_locally(own)
            for part, path, call in sent:
                if _collect(part, call, response, decide_locally, method) == "RESOURCE_EXHAUSTED" and method in _STREAMS:
                    self._resting[path] = time.monotonic() + REST_SECONDS
        finally:
            for _, _, call in sent:
                if call is not None:
                    call.cancel()  # the caller went away or its deadline passed: the siblings stop too


def _trace_context(context: Any) -> list[tuple[str, str]]:
    """The W3C trace context for a sibling's part: the current span's when one is current
    (tracing on, and the call's span attached), else the caller's own, as it came."""
    trace_api = sys.modules.get("opentelemetry.trace")  # imported only when tracing is on
    if trace_api is not None and trace_api.get_current_span().get_span_context().is_valid:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        return list(carrier.items())
    invocation = getattr(context, "invocation_metadata", None)  # an HTTP call has none
    return [(key, value) for key, value in (invocation() if invocation else ()) if key in _TRACE_KEYS]


class _TooLarge(Exception):
    """A part larger than a peer message may be: decided where the batch arrived."""


def _collect(part: range, call: Any, response: Any, decide_locally: Callable[[range], None], method: str) -> str | None:
    """A sibling's answer for `part` appended to `response`; the part decided here when there is no
    complete one (`call` None: the part was too large to send). Returns why the sibling did not
    decide it (a status code's name), else None."""
    before = len(response.results)
    try:
        if call is None:
            raise _TooLarge
        response.MergeFromString(call.result())  # repeated fields append: the part's results after those before
        if len(response.results) - before == len(part):
            return None
        why = f"{len(response.results) - before} results for {len(part)} {_KINDS[method].items}"
    except grpc.RpcError as error:
        why = error.code().name if isinstance(error, grpc.Call) else type(error).__name__
    except _TooLarge:
        why = f"over {_MAX_MESSAGE_BYTES:,} bytes"
    except (grpc.FutureCancelledError, DecodeError) as error:
        why = type(error).__name__
    del response.results[before:]
    # A sibling busy with streams of its own refusing a stream's part is expected (then rested): not worth an info line.
    level = logging.DEBUG if why == "RESOURCE_EXHAUSTED" and method in _STREAMS else logging.INFO
    log.log(level, "a sibling did not decide %d %s (%s); deciding them here", len(part), _KINDS[method].items, why, extra={"event": "peer_part_local", "code": why})
    decide_locally(part)
    return why


class PeerService:
    """DecideBatch and DecideDebtorBatch as a sibling asks them: one part of a batch, on this
    worker's policy version or refused."""

    def __init__(self, servicer: CollectionStrategyServicer, registry: PolicyRegistry, observer: DecisionObserver) -> None:
        self._servicer, self._registry, self._observer = servicer, registry, observer

    def decide_part(self, data: bytes, context: grpc.ServicerContext) -> Message:
        """A part of a DecideBatch, or of a DecideStream's waiting messages (METHOD_KEY)."""
        return self._part(CASES, data, context)

    def decide_debtor_part(self, data: bytes, context: grpc.ServicerContext) -> Message:
        """A part of a DecideDebtorBatch, or of a DecideDebtorStream's waiting messages (METHOD_KEY)."""
        return self._part(DEBTORS, data, context)

    def _part(self, kind: Kind, data: bytes, context: grpc.ServicerContext) -> Message:
        metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        call, code = self._observer.begin(kind.rpc, {key: metadata[key] for key in _TRACE_KEYS if key in metadata}), "UNKNOWN"
        method = metadata.get(METHOD_KEY, "")
        stream = method in _STREAMS and _KINDS[method] is kind  # messages of a stream of this kind
        try:
            if stream:  # refused before any work when it would not help
                sender, own = metadata.get(STREAMS_KEY, ""), self._servicer.streams_busy
                if sender.isdecimal() and own >= int(sender[:9]):
                    code = "RESOURCE_EXHAUSTED"
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"this worker has {own} streams of its own deciding, the sender {sender[:9]}: decide the part there")
            request: Any = parse_request(kind.request, data, context)
            engine = self._registry.current.engine
            if metadata.get(POLICY_KEY) != policy_fingerprint(engine):
                code = "FAILED_PRECONDITION"
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "this worker serves another policy version than the batch's")
            offset = metadata.get(OFFSET_KEY, "")
            if not offset.isdigit():
                code = "INVALID_ARGUMENT"
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{OFFSET_KEY} must be an index in the caller's batch, got {offset[:20]!r}")
            response: Any = kind.response()
            everything = range(len(getattr(request, kind.items)))
            if kind is DEBTORS and stream:
                self._servicer.decide_stream_debtors(engine, request, response, context, everything)
            elif kind is DEBTORS:
                self._servicer.decide_debtors(engine, request, response, context, everything, int(offset))
            elif stream:
                self._servicer.decide_stream_cases(engine, request, response, context, everything)
            else:
                self._servicer.decide_cases(engine, request, response, context, everything, int(offset))
            code = "OK"
            return response
        finally:
            self._observer.end(call, code, None, protocol="peer")  # no child per decision: the caller's span has them


def start_peer_server(service: PeerService, socket_path: Path, threads: int) -> grpc.Server:
    """A server on the peer socket alone, without the public interceptors (no grpc_server_* metrics)."""
    from concurrent import futures

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="peer"),
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)],
    )
    handlers = {
        kind.rpc: grpc.unary_unary_rpc_method_handler(decide, response_serializer=kind.response.SerializeToString)
        for kind, decide in ((CASES, service.decide_part), (DEBTORS, service.decide_debtor_part))
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))
    socket_path.unlink(missing_ok=True)  # left by the worker this one replaces
    server.add_insecure_port(f"unix:{socket_path}")
    socket_path.chmod(0o600)
    server.start()
    return server

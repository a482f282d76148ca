"""Bounds on request streams, so that callers holding streams open cannot take every thread.

grpc's sync server runs each call on a thread of the worker's pool for the
call's whole life, and a stream waiting for its next message holds its thread
while it waits: a few idle streams with no credentials used to make every other
call, health checks included, time out. Two limits keep a thread free:

- at most `max_streams` request streams (DecideStream, reflection) are open per
  worker, fewer than its threads; the next is refused at once with
  RESOURCE_EXHAUSTED;
- a stream with no message for `idle_seconds` ends with DEADLINE_EXCEEDED
  saying so, freeing its place.

grpc's request iterator cannot be waited on with a timeout, so each stream's
messages are read on a helper thread of its own, one message at a time (it
never reads ahead of the handler, which keeps HTTP/2 flow control working).
The helper ends with its stream.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message

from transport import metrics
from transport.errors import parse_request

_END = object()  # the caller closed its side of the stream


class _Reader:
    """Reads a stream's messages on a helper thread, each one when the handler asks for it."""

    def __init__(self, messages: Iterator[Any]):
        self._messages = messages
        self._asks: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        self._asked = False
        threading.Thread(target=self._read, name="stream-reader", daemon=True).start()

    def _read(self) -> None:
        while self._asks.get():
            try:
                message = next(self._messages, _END)
                if message is _END:
                    # grpc reports a cancel in two steps, first as the end of the
                    # messages: asking once more raises if it was a cancel.
                    next(self._messages, _END)
                self._answers.put((message, None))
            except Exception as error:  # the caller cancelled or went away: the handler raises it
                self._answers.put((None, error))
                return

    def next(self, timeout: float) -> Any:
        """The next message or _END; raises queue.Empty when none came within `timeout`."""
        if not self._asked:
            self._asks.put(True)
            self._asked = True
        message, error = self._answers.get(timeout=timeout)
        self._asked = False
        if error is not None:
            raise error
        return message

    def close(self) -> None:
        self._asks.put(False)  # the helper ends once a read in progress returns (the call is over by then)


class StreamLimits:
    """The open streams of one worker: how many may be open, and how long one may stay silent."""

    def __init__(self, max_streams: int, idle_seconds: float):
        self.max_streams = max_streams
        self.idle_seconds = idle_seconds
        self._open = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def admitted(self, context: grpc.ServicerContext) -> Iterator[None]:
        """Hold a place for the stream while it runs; RESOURCE_EXHAUSTED at once when none is free."""
        with self._lock:
            open_now = self._open
            if open_now < self.max_streams:
                self._open += 1
        if open_now >= self.max_streams:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{open_now} streams are open on this server process, the most it takes ({self.max_streams}): "
                "retry later, or send the cases in DecideBatch (or DecideDebtorBatch) calls",
            )
        metrics.OPEN_STREAMS.inc()
        try:
            yield
        finally:
            metrics.OPEN_STREAMS.dec()
            with self._lock:
                self._open -= 1

    def messages(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        """The stream's messages as they come; DEADLINE_EXCEEDED when the caller stays silent too long."""
        reader = _Reader(requests)
        try:
            while True:
                try:
                    message = reader.next(self.idle_seconds)
                except queue.Empty:
                    context.abort(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        f"no message on this stream for {self.idle_seconds:g} s: closed to free its place; "
                        "open a new stream when there are more cases",
                    )
                if message is _END:
                    return
                yield message
        finally:
            reader.close()

    def guarded(self, behaviour: Callable[[Iterator[Any], grpc.ServicerContext], Iterator[Any]], request_type: type[Message]) -> Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[Any]]:
        """A stream handler of another service (reflection) under the same limits, its messages parsed here."""

        def guarded_behaviour(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[Any]:
            with self.admitted(context):
                parsed = (parse_request(request_type, data, context) for data in self.messages(requests, context))
                yield from behaviour(parsed, context)

        return guarded_behaviour

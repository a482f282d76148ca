"""Bounds on request streams, so that callers holding streams open cannot take every thread.

grpc's sync server runs each call on a thread of the worker's pool for the
call's whole life, and a stream waiting for its next message holds its thread
while it waits: a few idle streams with no credentials used to make every other
call, health checks included, time out. Two limits keep a thread free:

- at most `max_streams` request streams (DecideStream, DecideDebtorStream,
  reflection) are open per
  worker, fewer than its threads; the next is refused at once with
  RESOURCE_EXHAUSTED;
- a stream with no message for `idle_seconds` ends with DEADLINE_EXCEEDED
  saying so, freeing its place.

grpc's request iterator cannot be waited on with a timeout, so each stream's
messages are read on a helper thread of its own. It reads at most READ_AHEAD
messages ahead of the handler, and no more once those waiting weigh
READ_AHEAD_BYTES (one message is always let through, however large): a caller
that sends large messages (up to the server's 16 MiB each) cannot make a worker
hold 64 of them per stream, only about READ_AHEAD_BYTES and two of the largest
(one waiting or let through alone, one in the reader's hands). A caller that sends faster than it is answered
is still held back by HTTP/2 flow control, and the handler can take every
message already waiting at once (`StreamLimits.chunks`) instead of one thread
handoff each way per message. The helper ends with its stream.
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
# Messages read ahead of the handler, at most: enough for a chunk worth spreading over the
# sibling workers (transport.servicer), few enough that a fast caller waits for its answers.
READ_AHEAD = 64
# ...and no more than this many bytes of them (a valid debtor of 50 accounts and 2,000 contacts
# is about 200 kB; a case a few kB): 64 messages of the largest size allowed would be 1 GiB.
READ_AHEAD_BYTES = 4 * 1024 * 1024


class _Reader:
    """Reads a stream's messages on a helper thread, up to READ_AHEAD before the handler takes them."""

    def __init__(self, messages: Iterator[Any]):
        self._messages = messages
        # Each item: a message, _END, or the error that ended the reading (a cancel).
        self._waiting: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD)
        self._room = threading.Condition()  # for the bytes of the messages waiting
        self._bytes = 0
        self._closed = False
        self._error: BaseException | None = None  # met while taking what was waiting: raised at the next wait
        threading.Thread(target=self._read, name="stream-reader", daemon=True).start()

    def _read(self) -> None:
        while not self._closed:
            try:
                message = next(self._messages, _END)
                if message is _END:
                    # grpc reports a cancel in two steps, first as the end of the
                    # messages: asking once more raises if it was a cancel.
                    next(self._messages, _END)
            except Exception as error:  # the caller cancelled or went away: the handler raises it
                self._waiting.put(error)
                return
            size = len(message) if isinstance(message, bytes) else 0
            with self._room:  # held back while those waiting weigh enough; one always goes through
                self._room.wait_for(lambda: self._closed or not size or not self._bytes or self._bytes + size <= READ_AHEAD_BYTES)
                self._bytes += size
            self._waiting.put(message)  # blocks while READ_AHEAD wait: the caller is held back
            if message is _END:
                return

    def next(self, timeout: float) -> Any:
        """The next message or _END; raises queue.Empty when none came within `timeout`."""
        if self._error is not None:
            raise self._error
        item = self._taken(self._waiting.get(timeout=timeout))
        if isinstance(item, BaseException):
            raise item
        return item

    def waiting(self) -> Any:
        """The next message or _END if one is already read, else None (an error is kept for `next`)."""
        try:
            item = self._taken(self._waiting.get_nowait())
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self._error = item
            return None
        return item

    def _taken(self, item: Any) -> Any:
        """`item`, no longer waiting: its bytes make room for the next."""
        if isinstance(item, bytes):
            with self._room:
                self._bytes -= len(item)
                self._room.notify()
        return item

    def close(self) -> None:
        """The helper ends once a read in progress returns (the call is over by then)."""
        with self._room:
            self._closed = True
            self._room.notify()
        while self.waiting() is not None:  # a helper blocked on a full queue puts its message and sees the close
            pass


class StreamLimits:
    """The open streams of one worker: how many may be open, and how long one may stay silent."""

    def __init__(self, max_streams: int, idle_seconds: float):
        self.max_streams = max_streams
        self.idle_seconds = idle_seconds
        self._open = 0
        self._busy = 0  # streams deciding messages now (an open stream may be waiting for its caller)
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        """How many streams are open on this worker now."""
        return self._open

    @property
    def busy(self) -> int:
        """How many streams are deciding messages on this worker now (a sibling asked to help compares its own)."""
        return self._busy

    @contextlib.contextmanager
    def deciding(self) -> Iterator[None]:
        """Count the stream as busy while it decides (and answers) the messages it has read."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

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
        for chunk in self.chunks(requests, context, 1):
            yield from chunk

    def chunks(self, requests: Iterator[Any], context: grpc.ServicerContext, most: int) -> Iterator[list[Any]]:
        """The stream's messages in order, in lists of at most `most`: a first message waited for (the
        caller may stay silent idle_seconds, then DEADLINE_EXCEEDED), then those already read after it."""
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
                chunk = [message]
                while len(chunk) < most:
                    message = reader.waiting()
                    if message is None or message is _END:
                        break
                    chunk.append(message)
                yield chunk
                if message is _END:
                    return
        finally:
            reader.close()

    def guarded(self, behaviour: Callable[[Iterator[Any], grpc.ServicerContext], Iterator[Any]], request_type: type[Message]) -> Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[Any]]:
        """A stream handler of another service (reflection) under the same limits, its messages parsed here."""

        def guarded_behaviour(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[Any]:
            with self.admitted(context):
                parsed = (parse_request(request_type, data, context) for data in self.messages(requests, context))
                yield from behaviour(parsed, context)

        return guarded_behaviour

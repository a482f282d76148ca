"""The decision log: every decision written as one JSON object (engine.decision_record), off the request.

A request makes its record (about 60 µs, a tenth of a decision) and puts the
text on a bounded queue; one writer thread per worker wakes every second and
hands what came to the sink in batches. A sink that
cannot keep up never slows or fails a decision: when the queue is full the
record is dropped and counted (`collection_decision_log_records_total{outcome="dropped"}`),
so an alert can say the log has a hole, where spilling to disk would only move
the problem to a full disk. The decision still carries its id.

Sinks (`--decision-log`):
- `stdout`: one line per decision on standard output (the logs go to standard error).
- `file:PATH`: a rotating file per worker process (PATH with the process id
  before the extension), by size, keeping a number of old files.
- `http://...` or `https://...`: batches POSTed as a gzip'd JSON array, as OPA
  uploads its decision logs; a failed upload is retried with backoff, and a
  batch refused for good (a 4xx, or retries used up) is counted as failed.
"""

from __future__ import annotations

import gzip
import logging
import logging.handlers
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from engine.decision import Decision
from engine.debtor import DebtorDecision
from engine.debtor_snapshot import DebtorSnapshot
from engine.decision_record import DEFAULT_KEEP, keep_paths, record
from engine.snapshot import CaseSnapshot

log = logging.getLogger(__name__)
BATCH = 500  # records per write or upload
FLUSH_SECONDS = 1.0  # a record waits about this long for its batch
FILE_BYTES = 100 * 1024 * 1024
FILE_BACKUPS = 10
HTTP_TIMEOUT_SECONDS = 10.0
HTTP_RETRIES = 5


class Sink(Protocol):
    def write(self, lines: list[str]) -> None:
        """Write the records (JSON text, one per item) or raise."""


class StreamSink:
    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdout

    def write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()


class FileSink:
    """A rotating file per process: workers never write into each other's lines."""

    def __init__(self, path: Path, max_bytes: int = FILE_BYTES, backups: int = FILE_BACKUPS):
        own = path.with_name(f"{path.stem}-{os.getpid()}{path.suffix or '.jsonl'}")
        # Opened at the first record: the supervisor checks the spec too, and writes none.
        self.handler = logging.handlers.RotatingFileHandler(own, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self.path = own

    def write(self, lines: list[str]) -> None:
        # One emit per batch: the size check for rotation once, a file may pass its size by one batch.
        self.handler.emit(logging.LogRecord("decision_log", logging.INFO, "", 0, "\n".join(lines), None, None))
        self.handler.flush()


class HttpSink:
    def __init__(self, url: str, retries: int = HTTP_RETRIES, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def write(self, lines: list[str]) -> None:
        body = gzip.compress(("[" + ",".join(lines) + "]").encode("utf-8"))
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, method="POST")
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                    response.read()
                return
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429:
                    raise  # refused for good: sending it again changes nothing
                failure: Exception = error
            except (urllib.error.URLError, OSError) as error:
                failure = error
            if attempt < self.retries:
                self.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise failure


def sink_from(spec: str) -> Sink:
    """The sink a `--decision-log` value names; ValueError for one it does not."""
    if spec == "stdout":
        return StreamSink()
    if spec.startswith("file:") and len(spec) > len("file:"):
        return FileSink(Path(spec[len("file:"):]))
    if spec.startswith(("http://", "https://")):
        return HttpSink(spec)
    raise ValueError(f"--decision-log must be stdout, file:PATH or an http(s):// URL, not {spec!r}")


class DecisionLog:
    """A bounded queue and one writer thread in front of a sink."""

    def __init__(self, sink: Sink, keep: tuple[str, ...] | None = DEFAULT_KEEP, capacity: int = 20_000):
        # Here, not at import: server.py checks a sink's spec before prometheus_client may be imported.
        from transport import metrics

        self.written, self.dropped, self.failed = (metrics.DECISION_LOG_RECORDS.labels(outcome) for outcome in ("written", "dropped", "failed"))
        self.sink = sink
        self.keep = None if keep is None else keep_paths(keep)  # None: snapshots whole, for replay
        # A deque, not a queue.Queue: the writer polls, so the Queue's lock and wake-up per record
        # (about 3 µs) bought nothing. Appends from several threads may pass the check together:
        # the bound is then exceeded by at most one record per thread.
        self.capacity = capacity if capacity > 0 else sys.maxsize  # as queue.Queue: none given, no bound
        self.queue: deque[str] = deque()
        self.closing = threading.Event()
        self.writer = threading.Thread(target=self._write, name="decision-log", daemon=True)
        self.writer.start()

    def add(self, decision_id: str, method: str, snapshot: CaseSnapshot | DebtorSnapshot, decision: Decision | DebtorDecision) -> None:
        """Log a decision; never blocks: a full queue drops it, counted. The record is made
        here, as text: holding the snapshot and decision objects until the writer runs would
        keep thousands of objects alive for the garbage collector to walk, which costs more."""
        if len(self.queue) >= self.capacity:
            self.dropped.inc()
            return
        self.queue.append(record(decision_id, method, snapshot, decision, self.keep))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (within `timeout`) and stop the writer."""
        self.closing.set()
        self.writer.join(timeout)

    def _write(self) -> None:
        # Wakes every FLUSH_SECONDS and writes what came meanwhile, in batches: waking for
        # each record would cost a thread switch per decision, more than the record itself.
        while True:
            closing = self.closing.wait(FLUSH_SECONDS)
            while entries := self._take():
                self._flush(entries)
            if closing:
                return

    def _take(self) -> list[str]:
        entries: list[str] = []
        try:
            while len(entries) < BATCH:
                entries.append(self.queue.popleft())
        except IndexError:  # empty
            pass
        return entries

    def _flush(self, lines: list[str]) -> None:
        try:
            self.sink.write(lines)
        except Exception as error:  # the log must never take the worker down
            self.failed.inc(len(lines))
            log.warning("decision log: %d records not written (%s)", len(lines), type(error).__name__, extra={"event": "decision log write failed"})
            return
        self.written.inc(len(lines))

"""The supervisor's watchdog: is a worker still answering?

A worker frozen inside a C call that holds the GIL (a catastrophic regular
expression, durable_rules spinning) neither exits nor serves, so waiting for it
to exit is not enough. Each worker answers grpc.health.v1 Check on a private
unix socket (`ServerConfig.probe_socket`); the supervisor asks about once a
second with a short deadline, without ever blocking on the answer.

The rule: a worker that has answered once and then misses `misses` probes in a
row while `hung_seconds` pass without an answer is hung. A worker that has not
answered yet is still starting (imports, engine build, policy tests, warm-up)
and gets `start_seconds` before it counts as hung. Any answer counts, NOT_SERVING
or an error status included: the question is whether the process responds, not
whether it is ready. Only a probe that times out or finds no listener is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_MISSED = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE})
# The socket appears only once the worker listens: retry the connection often,
# not with gRPC's default backoff of up to two minutes.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class Limits:
    every: float = 1.0  # seconds between probes
    deadline: float = 1.0  # a probe not answered within this is missed
    misses: int = 3  # probes missed in a row ...
    hung_seconds: float = 5.0  # ... over at least this long since the last answer: hung
    start_seconds: float = 60.0  # a worker that has never answered gets this long


class Liveness:
    """What one worker's probes have shown so far, and whether it is hung."""

    def __init__(self, started: float, limits: Limits) -> None:
        self.started = started
        self.limits = limits
        self.first_answer: float | None = None
        self.last_answer: float | None = None
        self.missed_in_a_row = 0

    def answered(self, now: float) -> None:
        if self.first_answer is None:
            self.first_answer = now
        self.last_answer = now
        self.missed_in_a_row = 0

    def missed(self) -> None:
        self.missed_in_a_row += 1

    def hung(self, now: float) -> str | None:
        """Why the worker counts as hung (for the log), or None while it does not."""
        if self.last_answer is None:
            waited = now - self.started
            if waited > self.limits.start_seconds:
                return f"has not answered its probe in the {waited:.1f} s since it started"
            return None
        silent = now - self.last_answer
        if self.missed_in_a_row >= self.limits.misses and silent >= self.limits.hung_seconds:
            return f"has not answered its probe for {silent:.1f} s ({self.missed_in_a_row} probes missed)"
        return None


class Probe:
    """Asks one worker's probe socket; `poll` never waits for the answer."""

    def __init__(self, socket: Path, started: float, limits: Limits) -> None:
        self.liveness = Liveness(started, limits)
        self._limits = limits
        self._channel = grpc.insecure_channel(f"unix:{socket}", options=_CHANNEL_OPTIONS)
        self._check = health_pb2_grpc.HealthStub(self._channel).Check
        self._pending: grpc.Future | None = None
        self._next = started

    def poll(self, now: float) -> str | None:
        """Take in the answer to the probe in flight, send the next one when due,
        and say why the worker is hung, if it is."""
        if self._pending is not None and self._pending.done():
            if self._pending.exception() is None or self._pending.code() not in _MISSED:
                self.liveness.answered(now)
            else:
                self.liveness.missed()
            self._pending = None
        if self._pending is None and now >= self._next:
            self._pending = self._check.future(health_pb2.HealthCheckRequest(), timeout=self._limits.deadline)
            self._next = now + self._limits.every
        return self.liveness.hung(now)

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._channel.close()

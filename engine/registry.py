"""The policy in force: loaded from a rules directory, swapped atomically.

A request takes `registry.current` once and decides with it to the end, so a
swap never changes the policy under a request in flight. A load that fails
leaves the last good policy serving and is remembered for GetPolicy and logs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine import guardrails
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.portfolio import synthetic_portfolio
from engine.snapshot import parse_snapshot

log = logging.getLogger(__name__)
STRATEGY_DIR = "strategies"
COMPLIANCE_DIR = "compliance"


@dataclass(frozen=True)
class Active:
    engine: StrategyEngine
    loaded_at: datetime


@dataclass(frozen=True)
class Refusal:
    at: datetime
    reason: str


class PolicyRegistry:
    def __init__(self, rules_dir: Path, backend: str = "durable"):
        self.rules_dir = rules_dir
        self.backend = backend
        self._lock = threading.Lock()
        self.last_refusal: Refusal | None = None
        self._active = self._build()  # the first load must succeed: there is nothing to fall back to

    @property
    def current(self) -> Active:
        return self._active

    def _build(self) -> Active:
        engine = build_engine(self.rules_dir, self.backend)
        _warm_up(engine)
        return Active(engine, datetime.now(timezone.utc))

    def reload(self) -> bool:
        """Load the rules directory again; swap only if it loads. True when swapped."""
        with self._lock:
            try:
                active = self._build()
            except (PolicyError, ValueError, OSError) as error:
                self.last_refusal = Refusal(datetime.now(timezone.utc), str(error))
                log.error("refused new rules from %s; still serving %s %s:\n%s", self.rules_dir, self._active.engine.ref.name, self._active.engine.ref.version, error)
                return False
            self._active = active
            log.info("now serving policy %s %s (%s)", active.engine.ref.name, active.engine.ref.version, active.engine.ref.hash)
            return True

    def guardrail_pack(self) -> tuple[str, str]:
        return guardrails.PACK_NAME, guardrails.PACK_VERSION


def build_engine(rules_dir: Path, backend: str = "durable") -> StrategyEngine:
    """The engine for a rules directory: what the server, `explain`, policy tests and `simulate` decide with."""
    return StrategyEngine(load_strategy(rules_dir / STRATEGY_DIR), load_packs(rules_dir / COMPLIANCE_DIR), backend)


def _warm_up(engine: StrategyEngine) -> None:
    """Decide a few synthetic cases so that the first real caller does not pay for
    loading holiday calendars and time zones."""
    now = datetime.now(timezone.utc)
    for data in synthetic_portfolio(64, now, seed=1):
        engine.decide(parse_snapshot(data, now), now)

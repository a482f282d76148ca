"""The policy in force: loaded from a rules directory, checked, swapped atomically.

A request takes `registry.current` once and decides with it to the end, so a
swap never changes the policy under a request in flight. A new version is
loaded, then must pass every acceptance check (lint errors, the policy tests
that live beside the rules) before it is swapped in; one that fails is refused,
remembered for GetPolicy and the logs, and the last good version keeps serving.
With `keep`, every accepted version is also kept on disk, and a registry whose
rules directory is refused at start-up starts on the version kept last.

With `isolate` (the default), a version is first built and checked in a child
process with CPU-time and memory limits (engine/isolation.py): analyst input
that would hang or exhaust the builder is refused there, never in the server.
The files are fingerprinted before and after: a version edited while it was
being built is neither accepted nor refused, but loaded again at the next look.

This is the registry of a process that checks the rules for itself (one
worker, the tools); a supervisor's workers follow the version it checked
instead (engine/handover.py `FollowingRegistry`).
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from engine import guardrails
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.isolation import try_rules
from engine.last_good import LastGoodRules, fingerprint
from engine.policy.ir import Pack, Policy
from engine.policy.loader import load_strategy
from engine.policy.packs import load_packs
from engine.snapshot import parse_snapshot

log = logging.getLogger(__name__)
STRATEGY_DIR = "strategies"
SETTLE_ATTEMPTS = 5
COMPLIANCE_DIR = "compliance"
WARM_UP_COUNTRIES = 32
BUNDLE_DIR = ".bundle"  # engine.bundle.BUNDLE_DIR (tests/test_startup_imports.py holds them equal)

# An acceptance check reads the rules directory and the engine built from it and
# returns the reasons to refuse it (none: accept).
Check = Callable[[Path, StrategyEngine], list[str]]


@dataclass(frozen=True)
class Active:
    engine: StrategyEngine
    loaded_at: datetime
    fingerprint: str


@dataclass(frozen=True)
class Refusal:
    at: datetime
    fingerprint: str
    reason: str


class RulesChanged(Exception):
    """The files changed while a version was being built: nothing to accept or refuse yet."""


class PolicyRegistry:
    def __init__(
        self, rules_dir: Path, backend: str = "durable", checks: Sequence[Check] = (), keep: LastGoodRules | None = None, isolate: bool = True
    ):
        self.rules_dir = rules_dir
        self.backend = backend
        self.checks = tuple(checks)
        self.keep = keep
        self.isolate = isolate  # build and check each version in a child process with limits first
        self._lock = threading.Lock()
        self.last_refusal: Refusal | None = None
        files_digest = rules_fingerprint(rules_dir)
        try:
            self._active = self._build_settled(files_digest, _served_before(keep))
        except Exception as error:
            kept = keep.latest() if keep else None
            if kept is None:
                raise  # nothing to fall back to
            self.last_refusal = Refusal(datetime.now(timezone.utc), files_digest, str(error))
            # This worker's own start (after a crash): logged by each, unlike a refused reload.
            log.error(
                "refused the rules in %s; starting on the last good version, kept in %s:\n%s", rules_dir, kept, error,
                extra={"event": "started_on_last_good"},
            )
            self._active = self._build(rules_fingerprint(kept), kept)

    @property
    def current(self) -> Active:
        return self._active

    def _build_settled(self, files_digest: str, served: dict[str, tuple[str, str]]) -> Active:
        """Build the rules directory, waiting for files being edited to hold still."""
        for _ in range(SETTLE_ATTEMPTS):
            try:
                return self._build(files_digest, served=served)
            except RulesChanged:
                time.sleep(0.5)
                files_digest = rules_fingerprint(self.rules_dir)
        raise PolicyError.plain(f"the rules in {self.rules_dir} kept changing while they were loaded")

    def _build(self, files_digest: str, rules_dir: Path | None = None, served: dict[str, tuple[str, str]] | None = None) -> Active:
        rules_dir = rules_dir or self.rules_dir
        if self.isolate:  # what could hang or exhaust this process runs in a child first
            reasons = try_rules(rules_dir, self.checks).reasons
            engine = None if reasons else build_engine(rules_dir, self.backend)
        else:
            engine = build_engine(rules_dir, self.backend)
            reasons = [reason for check in self.checks for reason in check(rules_dir, engine)]
        if rules_fingerprint(rules_dir) != files_digest:
            raise RulesChanged()
        if reasons or engine is None:
            raise PolicyError.plain("\n".join(reasons))
        if served:
            refuse_same_version(served, _versions(engine))
        warm_up(engine)
        if self.keep and rules_dir == self.rules_dir:
            try:
                self.keep.keep(rules_dir, files_digest.partition("+")[0])  # the rules files' own fingerprint
            except OSError as error:  # serving matters more than keeping a copy
                log.warning("could not keep a copy of the accepted rules in %s: %s", self.keep.directory, error)
        return Active(engine, datetime.now(timezone.utc), files_digest)

    def reload_if_changed(self) -> bool | None:
        """Reload when the files changed since the version in force or the last
        refusal. True: swapped; False: refused; None: nothing changed."""
        current = rules_fingerprint(self.rules_dir)
        if current == self._active.fingerprint or (self.last_refusal and current == self.last_refusal.fingerprint):
            return None
        return self.reload(current)

    def reload(self, files_digest: str | None = None) -> bool | None:
        """Load the rules directory again; swap only if it loads and passes every check.
        True: swapped; False: refused; None: the files changed meanwhile (try again)."""
        files_digest = files_digest or rules_fingerprint(self.rules_dir)
        with self._lock:
            try:
                active = self._build(files_digest, served=_versions(self._active.engine))
            except RulesChanged:  # being edited: judge the files once they hold still
                log.info("the rules in %s changed while they were loaded; loading them again at the next look", self.rules_dir)
                return None
            except Exception as error:  # whatever fails while building, the last good version keeps serving
                self.last_refusal = Refusal(datetime.now(timezone.utc), files_digest, str(error))
                ref = self._active.engine.ref
                # One event however many workers find it: the log handler drops a sibling's copy of `once`.
                log.error(
                    "refused new rules from %s; still serving %s %s (%s):\n%s", self.rules_dir, ref.name, ref.version, ref.hash, error,
                    extra={"event": "policy_refused", "once": f"refused-{files_digest}-over-{ref.hash}", "policy_version": ref.version, "policy_hash": ref.hash},
                )
                return False
            self._active = active
            self.last_refusal = None  # what was refused before is no longer the newest word
            ref = active.engine.ref
            log.info("now serving policy %s %s (%s)", ref.name, ref.version, ref.hash, extra={"event": "policy_swapped", "policy_version": ref.version, "policy_hash": ref.hash})
            return True

    def guardrail_pack(self) -> tuple[str, str]:
        return guardrails.PACK_NAME, guardrails.PACK_VERSION


def rules_fingerprint(rules_dir: Path) -> str:
    """The rules files' fingerprint, and their approved bundle's if any (`<fingerprint>+<bundle>`):
    an approval changes no rules file, yet the rules must be looked at again (engine/bundle.py)."""
    approvals = _bundle_digest(rules_dir)
    return f"{fingerprint(rules_dir)}+{approvals}" if approvals else fingerprint(rules_dir)


def _bundle_digest(rules_dir: Path) -> str:
    """engine.bundle.bundle_digest, imported only for a folder with a bundle: that module loads
    the signing library (`cryptography`), which rules without a bundle never need, and every
    `simulate`, `decide` and worker start would otherwise pay for."""
    if not (rules_dir / BUNDLE_DIR).is_dir():
        return ""  # what bundle_digest says of a folder without one
    from engine.bundle import bundle_digest

    return bundle_digest(rules_dir)


def _versions(engine: StrategyEngine) -> dict[str, tuple[str, str]]:
    """The strategy's and every pack's name -> (version, content hash)."""
    policy = engine.policy
    return {policy.name: (policy.version, policy.content_hash)} | {pack.name: (pack.version, pack.content_hash) for pack in engine.compliance.packs}


def _served_before(keep: LastGoodRules | None) -> dict[str, tuple[str, str]]:
    """The versions of the rules kept last, served before this start (none: nothing kept, or unreadable)."""
    kept = keep.latest() if keep else None
    if kept is None:
        return {}
    try:
        packs = load_packs(kept / COMPLIANCE_DIR)
        policy = load_strategy(kept / STRATEGY_DIR)
    except Exception:  # a copy that no longer loads cannot vouch for anything
        log.warning("the rules kept in %s no longer load; not comparing versions with them", kept)
        return {}
    return {policy.name: (policy.version, policy.content_hash)} | {pack.name: (pack.version, pack.content_hash) for pack in packs}


def refuse_same_version(served: dict[str, tuple[str, str]], built: dict[str, tuple[str, str]]) -> None:
    """A policy's version names its content: what changed must say so. An auditor
    reading "default-strategy 2026.12.1" in a decision must find one text for it.
    `served` and `built`: each policy's name -> (version, content hash)."""
    changed = [
        f"{name} {version}: its content changed (hash {served[name][1]} → {content}) but its version did not; give the new content a new `version`"
        for name, (version, content) in built.items()
        if name in served and served[name][0] == version and served[name][1] != content
    ]
    if changed:
        raise PolicyError.plain("\n".join(changed))


def build_engine(rules_dir: Path, backend: str = "durable") -> StrategyEngine:
    """The engine for a rules directory: what the server, `explain`, policy tests and `simulate` decide with."""
    return StrategyEngine(*load_rules(rules_dir), backend)


def load_rules(rules_dir: Path) -> tuple[Policy, tuple[Pack, ...]]:
    """The strategy and the compliance packs of a rules directory, loaded (YAML -> models -> intermediate form)."""
    return load_strategy(rules_dir / STRATEGY_DIR), load_packs(rules_dir / COMPLIANCE_DIR)


def save_loaded(policy: Policy, packs: Sequence[Pack]) -> bytes | None:
    """The loaded form of a checked version, for workers to compile without loading the YAML again;
    None if it cannot be saved (then they load the files). Only ever written by this program's
    own check into the supervisor's private keep directory, and read back from there."""
    try:
        return pickle.dumps((policy, tuple(packs)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # something in the form that pickle cannot carry: loading the files still works
        return None


def read_loaded(path: Path, content_hash: str) -> tuple[Policy, tuple[Pack, ...]] | None:
    """The loaded form saved by `save_loaded`, if it is there, readable and of the strategy with `content_hash`."""
    try:
        policy, packs = pickle.loads(path.read_bytes())
    except Exception:  # absent, cut short, or from another version of this program: load the files instead
        return None
    return (policy, packs) if isinstance(policy, Policy) and policy.content_hash == content_hash else None


def warm_up(engine: StrategyEngine) -> None:
    """Decide a few cases in each country the packs name, so that the first real
    caller does not pay for loading holiday calendars, time zones and the matcher."""
    now = datetime.now(timezone.utc)
    countries = sorted({code for pack in engine.compliance.packs for code in pack.countries or ()} | {"DE"})
    consents = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}
    for country in countries[:WARM_UP_COUNTRIES]:
        for days_past_due in (-3, 10, 45, 120):
            data = {
                "case_id": f"warm-up-{country}-{days_past_due}", "country": country, "amount_due": "100.00", "currency": "EUR",
                "days_past_due": days_past_due, "segment": "retail", "consents": consents,
            }
            engine.decide(parse_snapshot(data, now), now)

"""One check per version of the rules, handed to every worker.

With several workers, the supervisor alone watches the rules directory. It
checks each new version once, in an isolated child at a lower CPU priority
(engine/isolation.py: lint, the policy tests, the same-version rule; the child
started ahead once the last check is over, its imports done: SpareChild), keeps an
accepted one (engine/last_good.py) and then writes the word its workers follow:
a small file, `handover.json` in the keep directory, naming the kept version to
serve and the last refusal. A worker reads the word every `FOLLOW_SECONDS`;
when it names a new version the worker builds that kept copy (load and compile,
no lint, no policy tests, no child of its own: already checked) in its watcher
thread and swaps it in as any reload. A worker started again after a crash
starts on the word, not on the rules directory, so it serves what its siblings
serve.

So a version is refused once (one `policy_refused` event, from the supervisor),
every worker's GetPolicy shows the refusal (it is in the word), and the CPU a
version costs on top of serving is one check at low priority plus one compile
per worker, instead of a check and two builds per worker at full priority.

The word is replaced whole (written aside, then renamed), so a worker reads
either the old word or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import resource
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Sequence

from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.gil import switch_interval
from engine.isolation import SpareChild, try_rules
from engine.last_good import LastGoodRules
from engine.registry import SETTLE_ATTEMPTS, Active, Check, PolicyRegistry, Refusal, RulesChanged, rules_fingerprint, warm_up, build_engine, read_loaded, refuse_same_version

log = logging.getLogger(__name__)
WORD = "handover.json"
LOADED = ".loaded.pickle"  # a kept version's loaded form (engine/registry.py save_loaded), beside its files
BUILDING = ".building.lock"  # held by the worker compiling a version
STAGGER_SECONDS = 0.5  # the longest a worker waits for a sibling's compile before it compiles too
BUILD_SWITCH_SECONDS = 0.001  # the GIL switch interval while a worker compiles (Python's default: 0.005)
FOLLOW_SECONDS = 0.1  # how often a worker reads the word: a stat and a small read, far below a call's cost
CHECK_NICE = 10  # the check runs this far below serving: under load it takes longer instead of taking calls' CPU


@dataclass(frozen=True)
class Word:
    """What the supervisor tells its workers: serve this kept version; this was refused last."""

    generation: int  # one more at every word, so that a worker sees a new refusal of the same version too
    accepted: str  # the kept version's directory name: the rules files' fingerprint
    digest: str  # the fingerprint the version was checked under (with its approvals', see registry._look)
    policy: tuple[str, str, str]  # the strategy's name, version and content hash, for the logs
    refusal: Refusal | None = None


class Handover:
    """The word in a directory shared by the supervisor (writer) and its workers (readers)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / WORD

    def write(self, word: Word) -> None:
        refusal = word.refusal
        data: dict[str, Any] = {
            "generation": word.generation, "accepted": word.accepted, "digest": word.digest, "policy": list(word.policy),
            "refusal": None if refusal is None else {"at": refusal.at.isoformat(), "fingerprint": refusal.fingerprint, "reason": refusal.reason},
        }
        aside = self.directory / f".{WORD}-{os.getpid()}"
        aside.write_text(json.dumps(data), encoding="utf-8")
        os.replace(aside, self.path)

    def read(self) -> Word | None:
        """The word in force; None when there is none (yet) or it cannot be read."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            refusal = data["refusal"]
            return Word(
                int(data["generation"]), str(data["accepted"]), str(data["digest"]), tuple(data["policy"]),
                None if refusal is None else Refusal(datetime.fromisoformat(refusal["at"]), refusal["fingerprint"], refusal["reason"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def kept(self, word: Word) -> Path:
        return self.directory / word.accepted


class RulesChecker:
    """The supervisor's half: watches the rules, checks each version once, keeps and hands over the accepted one."""

    def __init__(self, rules_dir: Path, keep: LastGoodRules, checks: Sequence[Check] = (), nice: int = CHECK_NICE) -> None:
        self.rules_dir = rules_dir
        self.keep = keep
        self.checks = tuple(checks)
        self.nice = nice
        self.handover = Handover(keep.directory)
        self._lock = threading.Lock()
        self._served: dict[str, tuple[str, str]] = {}
        self._word: Word | None = None
        self.took = (0.0, 0.0)  # the last check's wall and CPU seconds
        # The next check's child, started once a check is over: a reload then pays no interpreter start and imports.
        self.spare = SpareChild()
        files_digest = rules_fingerprint(rules_dir)
        for _ in range(SETTLE_ATTEMPTS):  # at start, wait for files being edited to hold still
            try:
                self._accept(files_digest, nice=0)  # nothing serves yet: no reason to wait
                self.spare.prepare(self.checks, nice=self.nice)
                return
            except RulesChanged:
                time.sleep(0.5)
                files_digest = rules_fingerprint(rules_dir)
        raise PolicyError.plain(f"the rules in {rules_dir} kept changing while they were loaded")

    @property
    def word(self) -> Word:
        assert self._word is not None  # set by __init__ or it raised
        return self._word

    def _accept(self, files_digest: str, nice: int) -> None:
        """Check the rules directory; keep and hand over the version (`took`: the check's wall and CPU seconds)."""
        started, cpu = time.monotonic(), _children_cpu()
        self.keep.directory.mkdir(parents=True, exist_ok=True)
        saved = self.keep.directory / f".loaded-{os.getpid()}.pickle"
        try:
            trial = try_rules(self.rules_dir, self.checks, nice=nice, save=saved, spare=self.spare)
            self.took = time.monotonic() - started, _children_cpu() - cpu
            if rules_fingerprint(self.rules_dir) != files_digest:
                raise RulesChanged()
            if trial.reasons or not trial.versions:
                raise PolicyError.plain("\n".join(trial.reasons) or "the rules built, but the check did not say which versions")
            refuse_same_version(self._served, trial.versions)
            accepted = files_digest.partition("+")[0]  # the kept copy is named by the rules files' own fingerprint
            if not self.keep.keep(self.rules_dir, accepted):
                raise RulesChanged()  # edited after the check: the copy is not what was checked
            if saved.exists():  # beside the files it was loaded from (a hidden name: not one of the rules files)
                os.replace(saved, self.keep.directory / accepted / LOADED)
        finally:
            saved.unlink(missing_ok=True)
        name, (version, content) = next(iter(trial.versions.items()))  # the strategy comes first
        generation = self._word.generation + 1 if self._word else 1
        self._word = Word(generation, accepted, files_digest, (name, version, content))
        self._served = dict(trial.versions)
        self.handover.write(self._word)

    def close(self) -> None:
        """End the spare check child (the supervisor is stopping)."""
        self.spare.close()

    def reload_if_changed(self) -> bool | None:
        """Check the rules when they changed since the version handed over or the last refusal.
        True: a new version handed over; False: refused; None: nothing changed, or changing still."""
        word = self.word
        current = rules_fingerprint(self.rules_dir)
        if current == word.digest or (word.refusal and current == word.refusal.fingerprint):
            return None
        with self._lock:
            try:
                self._accept(current, self.nice)
            except RulesChanged:
                log.info("the rules in %s changed while they were checked; checking them again at the next look", self.rules_dir)
                return None
            except Exception as error:  # whatever fails while checking, the workers keep serving the last good version
                name, version, content = word.policy
                refusal = Refusal(datetime.now(timezone.utc), current, str(error))
                self._word = Word(word.generation + 1, word.accepted, word.digest, word.policy, refusal)
                self.handover.write(self._word)
                log.error(
                    "refused new rules from %s; still serving %s %s (%s):\n%s", self.rules_dir, name, version, content, error,
                    extra={"event": "policy_refused", "policy_version": version, "policy_hash": content},
                )
                return False
            finally:  # after the word is written: the next check's child starts once this one is over
                self.spare.prepare(self.checks, nice=self.nice)
        name, version, content = self.word.policy
        took, cpu = self.took
        log.info(
            "checked new rules from %s in %.2f s: policy %s %s (%s); handing it to the workers", self.rules_dir, took, name, version, content,
            extra={"event": "policy_accepted", "policy_version": version, "policy_hash": content, "check_seconds": round(took, 3), "check_cpu_seconds": round(cpu, 3)},
        )
        return True


class FollowingRegistry(PolicyRegistry):
    """A worker's registry under a supervisor: serves the version the supervisor's word names.

    It never reads the rules directory to decide what to serve, and runs no
    check of its own: a version named in the word has passed them all."""

    def __init__(self, rules_dir: Path, handover: Handover, backend: str = "durable") -> None:
        # Not PolicyRegistry.__init__: that checks and builds the rules directory, which is the supervisor's job here.
        self.rules_dir = rules_dir
        self.backend = backend
        self.checks = ()
        self.keep = None
        self.isolate = False
        self._lock = threading.Lock()
        self.handover = handover
        self.build_cpu = 0.0  # CPU seconds of the last build, in the thread that built it
        word = handover.read()
        if word is None:
            raise PolicyError.plain(f"no checked version of the rules to serve in {handover.path}: the supervisor hands one over before it starts a worker")
        self._word = word
        self._active = self._built(word)
        self.last_refusal = word.refusal
        changed = rules_fingerprint(rules_dir)
        if changed != word.digest:  # a worker started again after a crash: say why it serves the kept copy
            refused = word.refusal is not None and word.refusal.fingerprint == changed
            log.log(
                logging.ERROR if refused else logging.INFO,
                "%s the rules in %s; starting on the last good version, kept in %s",
                "refused" if refused else "still checking", rules_dir, handover.kept(word),
                extra={"event": "started_on_last_good"},
            )

    def _built(self, word: Word) -> Active:
        """Compile and warm up the version the word names (the check has already passed).

        One worker at a time (a lock on a file in the keep directory): a compile holds the GIL
        most of the time it runs, so it slows its own worker's calls; one at a time, the others
        serve at full speed meanwhile. A worker waits for a sibling's compile at most
        `STAGGER_SECONDS`, then compiles beside it: on a busy machine a compile takes longer, and
        its connections would wait for the new version past the 2 s the swap may take. And with a shorter GIL switch interval while it runs: a
        call waiting for the GIL then waits for at most that, not 5 ms at each of its steps
        (serving threads beside a compile kept 0.75-0.9 of their decisions/s with 1 ms against
        0.4-0.6 with the default 5 ms, measured in one process on two busy cores)."""
        started = time.thread_time()
        with open(self.handover.directory / BUILDING, "a") as lock:
            _take_turn(lock)
            with switch_interval(BUILD_SWITCH_SECONDS):
                engine = self._compiled(word)
                warm_up(engine)
        self.build_cpu = time.thread_time() - started
        return Active(engine, datetime.now(timezone.utc), word.digest)

    def _compiled(self, word: Word) -> StrategyEngine:
        """While the rules directory still holds the files checked, the engine comes from them (the
        loaded form the check saved, else the files), so that explanations name the rules where the
        analyst wrote them; once the directory has moved on, from the kept copy of what was checked."""
        if rules_fingerprint(self.rules_dir) == word.digest:
            try:
                loaded = read_loaded(self.handover.kept(word) / LOADED, word.policy[2])
                engine = StrategyEngine(*loaded, self.backend) if loaded else build_engine(self.rules_dir, self.backend)
                if rules_fingerprint(self.rules_dir) == word.digest:
                    return engine
            except PolicyError:  # edited while it compiled
                pass
        return build_engine(self.handover.kept(word), self.backend)

    def reload_if_changed(self) -> bool | None:
        """Follow the word. True: swapped to the version it names; False: it names a new
        refusal (the version in force stays); None: no new word, or it could not be built."""
        word = self.handover.read()
        if word is None or word.generation == self._word.generation:
            return None
        self._word = word
        if word.digest == self._active.fingerprint:
            self.last_refusal = word.refusal
            return False if word.refusal is not None else None
        started = time.monotonic()
        with self._lock:
            try:
                active = self._built(word)
            except Exception:  # checked, so this is the machine (memory, a kept copy removed), not the rules
                log.exception("could not build the checked rules kept in %s; still serving the version in force", self.handover.kept(word))
                return None
            self._active = active
            self.last_refusal = word.refusal
        ref = active.engine.ref
        log.info(
            "now serving policy %s %s (%s)", ref.name, ref.version, ref.hash,
            extra={
                "event": "policy_swapped", "policy_version": ref.version, "policy_hash": ref.hash,
                "build_seconds": round(time.monotonic() - started, 3), "build_cpu_seconds": round(self.build_cpu, 3),
            },
        )
        return True

    def reload(self, files_digest: str | None = None) -> bool | None:
        """A worker under a supervisor serves what the word names: reloading means reading it again."""
        return self.reload_if_changed()


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (the check's child, once it has)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _take_turn(lock: IO[str]) -> None:
    """Wait for the compile lock (released by the kernel too if its holder dies), at most `STAGGER_SECONDS`."""
    deadline = time.monotonic() + STAGGER_SECONDS
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                return  # compile beside the sibling rather than keep this worker's connections on the old version
            time.sleep(0.02)

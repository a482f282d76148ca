"""The last rules a worker accepted, kept where a restarted worker finds them.

Each worker checks and accepts a change of the rules on its own. A worker that
is started again later (after a crash) reads the rules directory afresh; if
what is there now would be refused, it starts on the kept copy instead of not
at all, like its siblings, which still serve that version.

The writers are sibling processes, so every step is atomic: a version is
copied under a temporary name and renamed to its fingerprint, then the file
`current` is replaced to name it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from engine.policy.loader import POLICY_SUFFIXES

POINTER = "current"
STALE_SECONDS = 300  # an older version is removed once no restarting worker can still be reading it


def rules_files(rules_dir: Path) -> list[Path]:
    """Every policy and policy-test file under a rules directory, in a stable order."""
    return sorted(path for path in rules_dir.rglob("*") if path.suffix in POLICY_SUFFIXES and path.is_file())


class LastGoodRules:
    def __init__(self, directory: Path):
        self.directory = directory

    def keep(self, rules_dir: Path, fingerprint: str) -> None:
        """Keep the files of an accepted version (named by their fingerprint)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / fingerprint
        if not target.exists():
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.directory))
            for path in rules_files(rules_dir):
                copy = staging / path.relative_to(rules_dir)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
            try:
                staging.rename(target)
            except OSError:  # a sibling kept the same version first
                shutil.rmtree(staging, ignore_errors=True)
        pointer = self.directory / f".{POINTER}-{os.getpid()}"
        pointer.write_text(fingerprint, encoding="utf-8")
        os.replace(pointer, self.directory / POINTER)
        self._remove_stale(keep=fingerprint)

    def latest(self) -> Path | None:
        """The directory of the version accepted last, if any was kept."""
        try:
            fingerprint = (self.directory / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        kept = self.directory / fingerprint
        return kept if fingerprint and kept.is_dir() else None

    def _remove_stale(self, keep: str) -> None:
        cutoff = time.time() - STALE_SECONDS
        for path in self.directory.iterdir():
            if path.is_dir() and path.name != keep and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

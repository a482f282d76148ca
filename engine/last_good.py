"""The last rules accepted, kept where the workers find them.

Under a supervisor, the supervisor checks each change of the rules once and
keeps the version it accepts here; its word to the workers names the kept copy
(engine/handover.py), and a worker started again after a crash serves it like
its siblings, whatever the rules directory holds now. A registry that checks
for itself (engine/registry.py `keep`) keeps what it accepts too, and starts on
the kept copy when the rules directory would be refused.

The writers are sibling processes, so every step is atomic: a version is
copied under a temporary name and renamed to its fingerprint, then the file
`current` is replaced to name it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from engine.policy.loader import POLICY_SUFFIXES

POINTER = "current"
STALE_SECONDS = 300  # an older version is removed once no restarting worker can still be reading it


def rules_files(rules_dir: Path) -> list[Path]:
    """Every policy and policy-test file under a rules directory, in a stable order."""
    return sorted(path for path in visible_files(rules_dir) if path.suffix in POLICY_SUFFIXES)


def visible_files(root: Path) -> Iterator[Path]:
    """The files under `root`, following links to folders (each real folder once), but
    not into hidden ones: a Kubernetes ConfigMap mount links every name through
    `..data` to a hidden `..<timestamp>` folder, two of them during an update."""
    seen: set[str] = set()
    for folder, folders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back to a folder already walked
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        yield from (Path(folder) / name for name in sorted(files) if not name.startswith(".") and (Path(folder) / name).is_file())


def fingerprint(rules_dir: Path) -> str:
    """A digest of every policy and test file under the rules directory."""
    digest = hashlib.sha256()
    for path in rules_files(rules_dir):
        digest.update(str(path.relative_to(rules_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class LastGoodRules:
    def __init__(self, directory: Path):
        self.directory = directory

    def keep(self, rules_dir: Path, accepted: str) -> bool:
        """Keep the files of the version accepted with fingerprint `accepted`;
        False when the files have changed since (nothing kept then)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / accepted
        if target.exists():
            os.utime(target)  # in force again: not stale
        else:
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.directory))
            for path in rules_files(rules_dir):
                copy = staging / path.relative_to(rules_dir)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
            if (rules_dir / ".bundle").is_dir():  # its approvals: a worker restarted on the kept copy must pass --require-approved too
                shutil.copytree(rules_dir / ".bundle", staging / ".bundle")
            if fingerprint(staging) != accepted:  # edited after the check: not what was accepted
                shutil.rmtree(staging, ignore_errors=True)
                return False
            try:
                staging.rename(target)
            except OSError:  # a sibling kept the same version first
                shutil.rmtree(staging, ignore_errors=True)
        pointer = self.directory / f".{POINTER}-{os.getpid()}"
        pointer.write_text(accepted, encoding="utf-8")
        os.replace(pointer, self.directory / POINTER)
        self._remove_stale()
        return True

    def latest(self) -> Path | None:
        """The directory of the version accepted last, if any was kept."""
        try:
            fingerprint = (self.directory / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        kept = self.directory / fingerprint
        return kept if fingerprint and kept.is_dir() else None

    def _remove_stale(self) -> None:
        cutoff = time.time() - STALE_SECONDS
        latest = self.latest()  # read again: a sibling may have moved the pointer meanwhile
        for path in self.directory.iterdir():
            if path.is_dir() and path != latest and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

"""A progress bar for the long runs (decide, simulate, portfolio): on a terminal only.

In CI, a pipe or a file there is no bar at all (the bar is for a person waiting).
tqdm draws without colour, so NO_COLOR holds as it stands; with NO_COLOR or
TERM=dumb the bar is plain ASCII too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

Item = TypeVar("Item")


def bar(total: int | None, unit: str) -> Any:
    """A context manager giving a bar with `update(n)`, or None when stderr is no terminal."""
    if not sys.stderr.isatty():
        return nullcontext()
    from tqdm import tqdm  # type: ignore[import-untyped]  # no type information shipped

    # No monitor thread: a second thread makes decide and simulate spawn their helpers
    # instead of forking them (engine/authoring/workers.py), each then paying a full start-up.
    tqdm.monitor_interval = 0

    plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    return tqdm(total=total, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True, mininterval=0.5, ascii=plain or None)


def file_bar(path: Path, unit: str) -> Any:
    """A bar over the rows of a file (counted only when a bar is drawn), or None."""
    if not sys.stderr.isatty():
        return nullcontext()
    from engine.authoring import bulk_files

    try:
        total: int | None = bulk_files.count(path)
    except (OSError, ValueError):
        total = None  # the run itself will say what is wrong with the file
    return bar(total, unit)


def counted(items: Iterable[Item], progress: Any) -> Iterator[Item]:
    """The items, each counted on `progress` (None: not counted)."""
    for item in items:
        if progress is not None:
            progress.update(1)
        yield item

"""A shorter GIL switch interval while a thread holds the GIL for long stretches.

A thread running Python code keeps the GIL until another thread has waited the
switch interval for it (Python's default: 5 ms), at each of that thread's steps.
Where one thread computes for long (a worker compiling a policy, a bulk command
deciding its chunks) and others only need the GIL briefly between waits (calls
being served, chunks handed to helper processes), a short interval lets them in
soon. The interval is process-wide: nested or overlapping uses keep the
shortest asked for, and the interval from before the first comes back with the last.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_asked: list[float] = []  # the intervals of the uses in progress
_before = 0.0  # the interval before the first of them


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """The GIL switch interval at most `seconds` while inside."""
    global _before
    with _lock:
        if not _asked:
            _before = sys.getswitchinterval()
        _asked.append(seconds)
        sys.setswitchinterval(min(_asked))
    try:
        yield
    finally:
        with _lock:
            _asked.remove(seconds)
            sys.setswitchinterval(min(_asked) if _asked else _before)

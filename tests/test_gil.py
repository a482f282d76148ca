"""engine/gil.py: a shorter GIL switch interval while inside, process-wide, restored by the last use."""

from __future__ import annotations

import sys
import threading

import pytest

from engine.gil import switch_interval


def test_inside_the_interval_is_short_and_after_it_is_as_before() -> None:
    before = sys.getswitchinterval()
    with switch_interval(0.0005):
        assert sys.getswitchinterval() == 0.0005
    assert sys.getswitchinterval() == before


def test_overlapping_uses_keep_the_shortest_and_the_last_restores_the_first_ones_before() -> None:
    """Two threads' uses that overlap, ending in either order: a use that ends first must not
    leave its own short interval in force for good, nor lift the other's shorter one."""
    before = sys.getswitchinterval()
    first, second = switch_interval(0.001), switch_interval(0.0005)
    first.__enter__()
    second.__enter__()
    assert sys.getswitchinterval() == 0.0005
    first.__exit__(None, None, None)  # the first ends while the second is still inside
    assert sys.getswitchinterval() == 0.0005
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before


def test_an_error_inside_restores_the_interval() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError), switch_interval(0.0005):
        raise RuntimeError("the build failed")
    assert sys.getswitchinterval() == before


def test_threads_entering_and_leaving_together_leave_the_interval_as_before() -> None:
    before = sys.getswitchinterval()

    def use() -> None:
        for _ in range(200):
            with switch_interval(0.001):
                pass

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.getswitchinterval() == before

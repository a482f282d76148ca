"""Spreading a file's rows over processes, results in the file's order.

`simulate` and `decide` share it. The engine's durable_rules C code never
releases the GIL, so the work goes to processes, each building its engine once
in the pool's initializer and then working through chunks of rows. At most a
few chunks per worker are in flight, so a large file is never all in memory,
and the results come back in the order the chunks went out.

The caller is one of the workers: with N workers it starts N - 1 processes,
works a chunk itself whenever they have enough queued, and at the end takes
back the chunks none of them has started. One worker means no process at all.
The helpers are started first and the caller sets itself up (`local()`) while
they start. (N processes beside a caller that only hands out chunks would pay
one start-up more and leave the caller's engine idle.) What the caller does
besides deciding (reading, writing, adding up) is the run's serial part, so the
work handed out includes parsing the rows and formatting the results.

How a helper starts (`start_method`): a spawned process imports everything
again before it builds its engine, 1.1-1.3 s of CPU against 0.17 s forked
(measured), an eighth of a helper's share of a 20,000-case run on two cores,
spent while the caller already decides. So on Linux a helper is forked
from the caller when that is safe: the caller runs one thread (a fork copies
only the thread that forks, and with it any lock another thread held) and has
not loaded gRPC (whose C threads Python cannot see). The helper still builds
its own engine and uses none of the caller's C state. Anywhere else, spawn. multiprocessing
flushes stdout and stderr before it forks, and a forked helper leaves with
os._exit, so it writes nothing the caller had buffered.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Chunks queued per helper before the caller works one itself: enough that no helper waits
# while the caller works, few enough that the caller does not wait long for the last ones.
QUEUED_PER_HELPER = 2
# Results held back (finished, waiting for an earlier chunk) per worker: the caller goes on
# deciding while a helper starts (a second or two), yet a helper that stalls cannot make
# it hold the whole file (64 chunks of 100 rows is a few megabytes).
HELD_PER_WORKER = 32


def chunks(items: Iterable[Item], workers: int, size: int) -> Iterator[list[Item]]:
    """`items` in lists of `size`; a file of fewer than `workers * size` items is
    shared evenly instead, so that every worker helps."""
    items = iter(items)
    head = list(itertools.islice(items, workers * size))
    first = size if len(head) == workers * size else max(1, math.ceil(len(head) / workers))
    for start in range(0, len(head), first):
        yield head[start:start + first]
    while batch := list(itertools.islice(items, size)):
        yield batch


def start_method() -> str:
    """`fork` where a forked helper is safe (Linux, one thread, no gRPC loaded), else `spawn`."""
    if sys.platform == "linux" and threading.active_count() == 1 and "grpc" not in sys.modules:
        return "fork"
    return "spawn"


def _ready() -> None:
    """A task that only makes the pool start a process."""


def spread(
    work: Callable[[list[Item]], Result],
    batches: Iterable[list[Item]],
    workers: int,
    start: Callable[..., None],
    start_args: tuple[Any, ...],
    local: Callable[[], Callable[[list[Item]], Result]],
) -> Iterator[Result]:
    """Every batch worked by one of `workers` workers, the results in the batches' order.

    The caller is one: `local()` gives its own work (with the engine it built), and is
    called once the others are starting. The others are `workers - 1` processes (forked
    or spawned, `start_method`), each set up once by `start(*start_args)` (build the
    engine there), doing `work`.
    An executor, not a Pool: a process that dies raises BrokenProcessPool instead of hanging.
    `work`, `start` and their arguments must pickle (module-level functions)."""
    helpers = workers - 1
    if helpers < 1:
        yield from map(local(), batches)
        return
    context = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(helpers, mp_context=context, initializer=start, initargs=start_args) as pool:
        for _ in range(helpers):
            pool.submit(_ready)  # every helper starts now, while the caller sets itself up
        mine = local()
        queued, held = QUEUED_PER_HELPER * helpers, HELD_PER_WORKER * workers
        pending: deque[tuple[Future[Result], list[Item]]] = deque()
        for batch in batches:
            if sum(not future.done() for future, _ in pending) < queued:
                pending.append((pool.submit(work, batch), batch))
            else:  # the helpers have enough queued: the caller works this one
                done: Future[Result] = Future()
                done.set_result(mine(batch))
                pending.append((done, []))
            # Hand back what is finished, in order; wait for the oldest when too much is held.
            while pending and (pending[0][0].done() or len(pending) >= held):
                yield pending.popleft()[0].result()
        while pending:
            future, batch = pending.popleft()
            # At the end, a chunk no helper has started is the caller's: it would only wait otherwise.
            yield mine(batch) if future.cancel() else future.result()

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

Started early (`start_early`): the command line forks the helpers before it imports
the command's modules, and each helper imports them itself while the caller does.
Those imports (about 0.9 s of CPU for `simulate`) were otherwise the largest serial
part of a run: a helper forked after them had nothing to do until they were done.
A helper started early builds its engine with the first chunk it gets (`_begun`).
"""

from __future__ import annotations

import importlib
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


_early: tuple[ProcessPoolExecutor, int] | None = None  # helpers started early, and how many, until a run takes them


def start_early(helpers: int, module: str) -> None:
    """Fork `helpers` processes now, each importing `module`, for the next `spread` of
    as many helpers to take. Only where a helper would be forked anyway (`start_method`):
    a spawned helper imports everything in any case."""
    global _early
    if helpers < 1 or _early is not None or start_method() != "fork":
        return
    pool = ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("fork"), initializer=importlib.import_module, initargs=(module,))
    pool.submit(_ready)  # with fork, the first task forks every helper at once, before the pool's own thread starts
    _early = (pool, helpers)


def stop_early() -> None:
    """Stop helpers started early that no run took (the command stopped before it spread any work)."""
    global _early
    if _early is not None:
        _early[0].shutdown(cancel_futures=True)
        _early = None


def _take_early(helpers: int) -> ProcessPoolExecutor | None:
    global _early
    if _early is None:
        return None
    if _early[1] != helpers:  # not what this run asks for: stopped, so that its thread does not keep a new pool from forking
        stop_early()
        return None
    pool, _early = _early[0], None
    return pool


_started: tuple[Callable[..., None], tuple[Any, ...]] | None = None  # how this helper was set up, when it started early


def _begun(start: Callable[..., None], start_args: tuple[Any, ...], work: Callable[[list[Item]], Result], batch: list[Item]) -> Result:
    """`work` on `batch` in a helper started early: set up by `start(*start_args)` first, once."""
    global _started
    if _started != (start, start_args):
        start(*start_args)
        _started = (start, start_args)
    return work(batch)


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
    `work`, `start` and their arguments must pickle (module-level functions).
    Helpers started early (`start_early`) are taken when there are as many."""
    helpers = workers - 1
    if helpers < 1:
        yield from map(local(), batches)
        return
    early = _take_early(helpers)
    if early is not None:
        pool = early
        submit: Callable[[list[Item]], Future[Result]] = lambda batch: pool.submit(_begun, start, start_args, work, batch)  # noqa: E731
    else:
        context = multiprocessing.get_context(start_method())
        pool = ProcessPoolExecutor(helpers, mp_context=context, initializer=start, initargs=start_args)
        for _ in range(helpers):
            pool.submit(_ready)  # every helper starts now, while the caller sets itself up
        submit = lambda batch: pool.submit(work, batch)  # noqa: E731
    with pool:
        mine = local()
        queued, held = QUEUED_PER_HELPER * helpers, HELD_PER_WORKER * workers
        pending: deque[tuple[Future[Result], list[Item]]] = deque()
        for batch in batches:
            if sum(not future.done() for future, _ in pending) < queued:
                pending.append((submit(batch), batch))
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

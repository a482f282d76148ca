"""Spreading a file's rows over processes, results in the file's order.

`simulate` (cases and debtors) and `decide` share it. The engine's durable_rules C
code never releases the GIL, so the work goes to processes, each working through
chunks of rows with an engine built once. At most a few chunks per worker are in
flight, so a large file is never all in memory, and the results come back in the
order the chunks went out.

The caller is one of the workers: with N workers it starts N - 1 helper processes,
works a chunk itself whenever they have enough queued, and at the end takes back
the chunks none of them has started. One worker means no process at all. (N
processes beside a caller that only hands out chunks would pay one start-up more
and leave the caller's engine idle.) What the caller does besides deciding
(reading, writing, adding up) is the run's serial part, so the work handed out
includes parsing the rows and formatting the results.

How a helper starts (`start_method`). On Linux, when it is safe, a helper is forked
from the caller once the caller has built its work (`local()`: its engine), and
works with the caller's very work object, inherited copy-on-write: it imports and
builds nothing, and decides as the caller does. Safe means the caller runs one
thread (a fork copies only the thread that forks, and with it any lock another
thread held) and has not loaded gRPC (whose C threads Python cannot see). The
engine's durable_rules rulesets are C memory with no thread of their own and no
file or socket, each guarded by a Python lock that no thread holds at the fork:
each process then decides with its own copy. Anywhere else a helper is spawned:
it imports everything again and builds its own work (`set_up`), while the caller
builds its own. multiprocessing flushes stdout and stderr before it forks, and a
forked helper leaves with os._exit, so it writes nothing the caller had buffered.

Measured (20,000 synthetic cases, `decide` and `simulate`, process CPU of a helper,
two cores shared with other work). Before, the command line forked the helpers
before its imports and each imported the command's modules and built its own
engine (`start_early`, removed): per helper 0.59-0.76 s of imports, 0.15 s of
engine and 0.06-0.07 s besides its chunks (pickles, pipes): 0.04-0.05 s per
1,000 rows of the file. Forked after the build: 0 s, 0 s and 0.06-0.08 s, page
faults included (about 5,700, 23 MB of pages copied: gc.freeze() before the fork
changed neither). Spawned, a helper's start-up is 1.1-1.3 s of CPU. A progress
bar on a terminal must not run a thread while the helpers start, or they are
spawned (tqdm's monitor thread: engine/authoring/progress.py).
While helpers run, the caller's GIL switch interval is short (SWITCH_SECONDS):
it decides holding the GIL, and the threads that pass chunks to the helpers and
take their answers back must not wait 5 ms for it at each step.
bench/bench_bulk.py measures whole commands.
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

from engine.errors import PolicyError
from engine.gil import switch_interval

Item = TypeVar("Item")
Result = TypeVar("Result")

# Chunks queued per helper before the caller works one itself: enough that no helper waits
# while the caller works, few enough that the caller does not wait long for the last ones.
QUEUED_PER_HELPER = 2
# Results held back (finished, waiting for an earlier chunk) per worker: the caller goes on
# deciding while a helper starts, yet a helper that stalls cannot make it hold the whole
# file (64 chunks of 100 rows is a few megabytes).
HELD_PER_WORKER = 32
# The GIL switch interval while helpers run (engine/gil.py). The caller's main thread decides
# holding the GIL, and the pool's threads that hand a chunk to a helper (its pipe write is ~150 kB,
# in steps) and take its results back wait for the GIL at every step, up to the interval: with
# Python's default 5 ms a helper idled about 6 ms between chunks of 40 ms, 13% of its time.
# Those threads otherwise sleep on pipes, so a short interval costs the caller almost nothing.
SWITCH_SECONDS = 0.0005


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


# --- in a helper ---------------------------------------------------------------------------------

_work: Callable[[list[Any]], Any] | str | None = None  # what this helper does with a chunk, or why it cannot


def set_up(make: Callable[..., Callable[[list[Any]], Any]], args: tuple[Any, ...]) -> None:
    """A spawned helper's start: its work made once, by `make(*args)` (it builds its engine).
    Rules that do not load leave the reason, which the helper's first chunk raises."""
    global _work
    try:
        _work = make(*args)
    except PolicyError as error:
        # The caller loads the same rules and reports them; a traceback from here would only repeat it.
        _work = f"the worker could not load the rules: {error}"


def _work_on(batch: list[Item]) -> Any:
    """A helper's task: one chunk, with the work it was set up (or forked) with."""
    if not callable(_work):
        raise RuntimeError(_work or "the worker was not started")
    return _work(batch)


def _ready() -> None:
    """A task that only makes the pool start a process."""


# --- in the caller -------------------------------------------------------------------------------


def _helpers(count: int, method: str, make: Callable[..., Callable[[list[Any]], Any]], make_args: tuple[Any, ...]) -> ProcessPoolExecutor:
    """`count` helper processes, started now: forked ones with the caller's `_work`, spawned ones set up by `make(*make_args)`."""
    context = multiprocessing.get_context(method)
    if method == "fork":
        pool = ProcessPoolExecutor(count, mp_context=context)
    else:
        pool = ProcessPoolExecutor(count, mp_context=context, initializer=set_up, initargs=(make, make_args))
    for _ in range(count):
        # With fork, the first task forks every helper at once, before the pool's own thread starts.
        pool.submit(_ready)
    return pool


def spread(
    batches: Iterable[list[Item]],
    workers: int,
    *,
    local: Callable[[], Callable[[list[Item]], Result]],
    make: Callable[..., Callable[[list[Item]], Result]],
    make_args: tuple[Any, ...],
) -> Iterator[Result]:
    """Every batch worked by one of `workers` workers, the results in the batches' order.

    The caller is one: `local()` builds its work (its engine; rules that do not load
    raise here, before any batch). The others are `workers - 1` helper processes:
    forked after `local()`, working with the very same work (`start_method`), or
    spawned (before it, or after it when it started a thread), each set up by
    `make(*make_args)`, which must pickle (module-level), as must the batches and results.
    An executor, not a Pool: a process that dies raises BrokenProcessPool instead of hanging."""
    global _work
    helpers = workers - 1
    if helpers < 1:
        yield from map(local(), batches)
        return
    if start_method() == "fork":
        mine = local()
        _work = mine  # what the helpers forked now inherit
        try:
            # Building started no thread (durable_rules starts none): else spawned after all.
            pool = _helpers(helpers, start_method(), make, make_args)
        finally:
            _work = None  # the caller's engine is not kept past the run by this module
    else:
        pool = _helpers(helpers, "spawn", make, make_args)
        try:
            mine = local()  # while the helpers import and build theirs
        except BaseException:  # rules that do not load: the helpers are stopped, not left to the interpreter's exit
            pool.shutdown(cancel_futures=True)
            raise
    with switch_interval(SWITCH_SECONDS):
        yield from _share(batches, workers, pool, mine)


def _share(batches: Iterable[list[Item]], workers: int, pool: ProcessPoolExecutor, mine: Callable[[list[Item]], Result]) -> Iterator[Result]:
    """The batches worked by the helpers in `pool` and by the caller (`mine`), the results in order."""
    with pool:
        queued, held = QUEUED_PER_HELPER * (workers - 1), HELD_PER_WORKER * workers
        pending: deque[tuple[Future[Result], list[Item]]] = deque()
        for batch in batches:
            if sum(not future.done() for future, _ in pending) < queued:
                pending.append((pool.submit(_work_on, batch), batch))
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

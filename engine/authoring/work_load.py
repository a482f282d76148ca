"""The load a run puts on each team: review decisions per queue against its capacity.

`simulate` and `decide` count every HUMAN_REVIEW and LEGAL_REVIEW decision by the
queue of its work item (engine/work_items.py), and report per queue: the items,
their share of the run's decided cases, how many of each priority, how many are
due within 24 hours of the run's as_of, and against the queue's capacity per
day the load in percent (the run's items as a share of one day's capacity) and
whether it is over capacity. Every declared queue is listed, an idle one too;
reviews no queue takes are counted apart (queue None), never dropped.

This module returns plain data (QueueLoad); the text, JSON and HTML reports
only present it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.policy.work import PRIORITIES, WorkPlan
from engine.work_items import REVIEWS

URGENT = timedelta(hours=24)
NO_QUEUE = "(no queue)"  # how the text report names reviews no queue takes


@dataclass(frozen=True)
class QueueLoad:
    queue: str | None  # None: review decisions no queue of the policy takes
    description: str | None
    items: int
    share: float  # of the run's decided cases
    by_priority: dict[str, int]  # high, normal, low (every one, zeros too)
    due_within_24h: int  # due at most 24 hours after the run's as_of
    capacity_per_day: int | None
    load_pct: float | None  # items / capacity per day x 100; None without a capacity
    over_capacity: bool


class WorkTally:
    """Counts review decisions by queue and priority as a run's results arrive."""

    def __init__(self) -> None:
        self.items: Counter[tuple[str | None, str | None]] = Counter()  # (queue, priority)
        self.urgent: Counter[str | None] = Counter()

    def add(self, action: str, queue: str | None, priority: str | None, due_in: timedelta | None) -> None:
        """One decision; `due_in` is its work item's due time less the run's as_of."""
        if action not in REVIEWS:
            return
        self.items[(queue, priority if queue else None)] += 1
        if queue and due_in is not None and due_in <= URGENT:
            self.urgent[queue] += 1

    def add_row(self, row: Mapping[str, Any]) -> None:
        """One flat decision row (engine.bulk.decision_row)."""
        queue, due = row.get("work_queue"), row.get("work_due_utc")
        due_in = _instant(due) - _instant(row["as_of"]) if queue and due and row.get("as_of") else None
        self.add(str(row.get("action")), queue, row.get("work_priority"), due_in)

    def merge(self, later: WorkTally) -> None:
        """Add the counts of another tally (a worker's chunk)."""
        self.items.update(later.items)
        self.urgent.update(later.urgent)

    @property
    def reviews(self) -> int:
        return sum(self.items.values())


def queue_load(tally: WorkTally, plan: WorkPlan, decided: int) -> list[QueueLoad]:
    """The load on each of the plan's queues, in the order the policy declares them,
    then any queue the plan does not know (a run decided with other rules), then the
    reviews no queue takes (only when there are some)."""
    names: list[str | None] = [queue.name for queue in plan.queues]
    names += sorted({queue for queue, _ in tally.items if queue is not None and queue not in names})
    if any(queue is None for queue, _ in tally.items):
        names.append(None)
    loads = []
    for name in names:
        declared = plan.queue(name) if name else None
        by_priority: dict[str, int] = {priority: tally.items[(name, priority)] for priority in PRIORITIES} if name else {}
        items = sum(count for (queue, _), count in tally.items.items() if queue == name)
        capacity = declared.capacity_per_day if declared else None
        loads.append(
            QueueLoad(
                queue=name,
                description=declared.description if declared else None,
                items=items,
                share=round(items / decided, 6) if decided else 0.0,
                by_priority=by_priority,
                due_within_24h=tally.urgent[name],
                capacity_per_day=capacity,
                load_pct=round(items / capacity * 100, 1) if capacity else None,
                over_capacity=bool(capacity and items > capacity),
            )
        )
    return loads


def load_dicts(loads: list[QueueLoad]) -> list[dict[str, Any]]:
    """For a JSON document."""
    return [asdict(load) for load in loads]


def format_load(loads: list[QueueLoad]) -> list[str]:
    """The table the text reports print (no lines when the run made no review and the policy declares no queue)."""
    if not loads:
        return []
    width = max(len("queue"), *(len(load.queue or NO_QUEUE) for load in loads)) + 2
    lines = [
        "work for people: review decisions by queue (load: the run's items against one day's capacity)",
        f"  {'queue':<{width}}{'items':>8}  {'share':>6}{'high':>7}{'normal':>8}{'low':>7}{'due<24h':>9}{'capacity':>10}{'load':>8}",
    ]
    for load in loads:
        priorities = "".join(f"{load.by_priority.get(name, 0):>{size},}" for name, size in (("high", 7), ("normal", 8), ("low", 7))) if load.queue else f"{'':>22}"
        capacity = f"{load.capacity_per_day:>10,}" if load.capacity_per_day else f"{'-':>10}"
        used = f"{load.load_pct:>7.1f}%" if load.load_pct is not None else f"{'-':>8}"
        flag = "  OVER CAPACITY" if load.over_capacity else ""
        lines.append(f"  {load.queue or NO_QUEUE:<{width}}{load.items:>8,}  {load.share * 100:5.1f}%{priorities}{load.due_within_24h:>9,}{capacity}{used}{flag}")
    if any(load.queue is None for load in loads):
        lines.append(f"  {NO_QUEUE}: reviews no rule's `work` routes and no queue is `default_for` (docs/work-queues.md)")
    return lines


def _instant(text: Any) -> datetime:
    return text if isinstance(text, datetime) else datetime.fromisoformat(str(text).replace("Z", "+00:00"))

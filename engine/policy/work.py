"""Human work: the queue, priority and due time of a review decision.

A HUMAN_REVIEW or LEGAL_REVIEW decision is work for a team. The strategy says
which team (`queues:`, each with its capacity per day and its service level)
and each review rule may name its queue (`then: work:`), its priority and its
due time; what a rule leaves out comes from its queue. A review decision no
rule routes to a queue (a rule without `work:`, a compliance pack's `route` or
`replace`) goes to the queue declared `default_for` its action, so a pack, which
states a jurisdiction's law for every operator, never has to know a team's
name. Without such a queue the decision carries no work item, and lint warns
(engine/authoring/lint_work.py): the review still happens, nothing is guessed.

Refused when loading, with file and line: `work:` on an action that is not a
review; a queue nobody declared (with a did-you-mean); a queue declared twice;
two queues `default_for` one action. docs/work-queues.md tells the whole rule.

The loader builds the plan (`plan_of`) into the policy's intermediate form
(`Policy.work`), so a saved or kept policy carries its own queues.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, model_validator

from engine.errors import PolicyError, PolicyProblem
from engine.policy.yaml_source import SourceMap
from engine.vocabulary import Action

QUEUE_NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")  # most urgent first
REVIEW_ACTIONS = frozenset({Action.HUMAN_REVIEW, Action.LEGAL_REVIEW})
DueUnit = Literal["hours", "days", "business_days"]
_DUE_FIELDS: dict[str, DueUnit] = {"due_in_hours": "hours", "due_in_days": "days", "due_in_business_days": "business_days"}
_HOURS = "due this many hours after the decision's as_of"
_DAYS = "due this many days (of 24 hours) after the decision's as_of"
_BUSINESS = "due at the end of the n-th business day after as_of's local date, in the debtor's country (weekends and its public holidays do not count)"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _dues(spec: Any) -> list[str]:
    return [name for name in _DUE_FIELDS if getattr(spec, name) is not None]


class WorkSpec(_Spec):
    """The work item a review rule creates: its queue, and what it changes of the queue's priority and due time."""

    queue: str = Field(pattern=QUEUE_NAME, description="the team's queue, one of the strategy's `queues`")
    priority: Priority | None = Field(default=None, description="high, normal or low; default: the queue's")
    due_in_hours: int | None = Field(default=None, ge=1, le=2160, description=_HOURS + "; default: the queue's")
    due_in_days: int | None = Field(default=None, ge=1, le=90, description=_DAYS + "; default: the queue's")
    due_in_business_days: int | None = Field(default=None, ge=1, le=60, description=_BUSINESS + "; default: the queue's")

    @model_validator(mode="after")
    def _one_due(self) -> WorkSpec:
        if len(_dues(self)) > 1:
            raise ValueError(f"name one due time, not {' and '.join(_dues(self))}")
        return self


class QueueSpec(_Spec):
    """A team's queue: how many items it handles a day and the service level of an item (its default priority and due time)."""

    description: str | None = None
    capacity_per_day: int | None = Field(default=None, ge=1, le=10_000_000, description="items the team handles a day; `simulate` and `decide` report the load against it")
    priority: Priority = Field(default="normal", description="the priority of an item whose rule names none")
    due_in_hours: int | None = Field(default=None, ge=1, le=2160, description=_HOURS)
    due_in_days: int | None = Field(default=None, ge=1, le=90, description=_DAYS)
    due_in_business_days: int | None = Field(default=None, ge=1, le=60, description=_BUSINESS)
    default_for: list[Literal["HUMAN_REVIEW", "LEGAL_REVIEW"]] = Field(
        default_factory=list,
        description="review decisions of these actions that no rule's `work` routes (a rule without `work`, a compliance pack's route or replacement) come here",
    )

    @model_validator(mode="after")
    def _one_due(self) -> QueueSpec:
        if len(_dues(self)) != 1:
            named = " and ".join(_dues(self))
            raise ValueError("a queue names its service level, one of due_in_hours, due_in_days or due_in_business_days" + (f", not {named}" if named else ""))
        return self


def _on_review(work: WorkSpec | None, info: ValidationInfo) -> WorkSpec | None:
    action = info.data.get("action")
    if work is not None and isinstance(action, Action) and action not in REVIEW_ACTIONS:
        raise ValueError(f"{action.value} is not work for a person: only HUMAN_REVIEW and LEGAL_REVIEW carry a work item")
    return work


# ThenSpec's `work` field (it reads the rule's action, declared before it).
ReviewWork = Annotated[WorkSpec | None, AfterValidator(_on_review)]
# PolicyFile's `queues` field.
Queues = dict[Annotated[str, StringConstraints(pattern=QUEUE_NAME)], QueueSpec]
WORK_DESCRIPTION = "HUMAN_REVIEW and LEGAL_REVIEW only: the queue the decision goes to, and its priority and due time when not the queue's (docs/work-queues.md)"
QUEUES_DESCRIPTION = "the teams review decisions go to: queue name -> capacity per day, service level and the review actions it takes by default (docs/work-queues.md)"


# --- the plan the engine uses --------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    amount: int
    unit: DueUnit

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Queue:
    name: str
    description: str | None
    capacity_per_day: int | None
    priority: Priority
    due: Due
    default_for: frozenset[Action]


@dataclass(frozen=True)
class WorkOrder:
    """What a review decision becomes: a queue, a priority and a due time, and who said so
    (a rule id, or `queues.<name>.default_for`)."""

    queue: str
    priority: Priority
    due: Due
    declared_by: str


@dataclass(frozen=True)
class WorkPlan:
    """The strategy's queues and the work order of each review rule that names one."""

    queues: tuple[Queue, ...] = ()
    by_rule: Mapping[str, WorkOrder] = field(default_factory=dict)

    def default_for(self, action: Action) -> WorkOrder | None:
        queue = next((queue for queue in self.queues if action in queue.default_for), None)
        return WorkOrder(queue.name, queue.priority, queue.due, f"queues.{queue.name}.default_for") if queue else None

    def queue(self, name: str) -> Queue | None:
        return next((queue for queue in self.queues if queue.name == name), None)


def _due(spec: WorkSpec | QueueSpec) -> Due | None:
    named = _dues(spec)
    return Due(getattr(spec, named[0]), _DUE_FIELDS[named[0]]) if named else None


# What one file declares: its queues, each rule's (index in the file, id, `work`), and where each value is.
FileWork = tuple[Mapping[str, QueueSpec], Sequence[tuple[int, str, "WorkSpec | None"]], SourceMap]


def plan_of(files: Sequence[FileWork]) -> WorkPlan:
    """The plan of a strategy's files, each as (its `queues`, each rule's (index, id, `work`),
    its source map), checked across files: every queue declared once, one default queue
    per action, every rule's queue declared. PolicyError names file and line of each problem."""
    problems: list[PolicyProblem] = []
    queues: dict[str, tuple[Queue, SourceMap]] = {}
    for declared, _, source in files:
        for name, spec in declared.items():
            if name in queues:
                other = queues[name][1]
                problems.append(source.problem(("queues", name), f"queue `{name}` is already declared in {other.file}:{other.where(('queues', name))[0]}"))
                continue
            due = _due(spec)
            assert due is not None  # a queue names exactly one
            queues[name] = (Queue(name, spec.description, spec.capacity_per_day, spec.priority, due, frozenset(Action(action) for action in spec.default_for)), source)
    for action in sorted(REVIEW_ACTIONS):
        takers = [name for name, (queue, _) in queues.items() if action in queue.default_for]
        for name in takers[1:]:
            problems.append(queues[name][1].problem(("queues", name, "default_for"), f"`{takers[0]}` is already the default queue for {action.value}: one queue takes the review decisions no rule routes"))
    by_rule: dict[str, WorkOrder] = {}
    for _, rules, source in files:
        for index, rule_id, work in rules:
            if work is None:
                continue
            if work.queue not in queues:
                problems.append(source.problem(("rules", index, "then", "work", "queue"), f"work: queue `{work.queue}` is not declared under `queues`" + _did_you_mean(work.queue, list(queues)), rule_id))
                continue
            queue = queues[work.queue][0]
            by_rule[rule_id] = WorkOrder(queue.name, work.priority or queue.priority, _due(work) or queue.due, rule_id)
    if problems:
        raise PolicyError(sorted(problems, key=lambda problem: (problem.file, problem.line, problem.column)))
    return WorkPlan(tuple(queue for queue, _ in queues.values()), by_rule)


def _did_you_mean(word: str, choices: list[str]) -> str:
    hint = difflib.get_close_matches(word, choices, n=1)
    if hint:
        return f"; did you mean `{hint[0]}`?"
    return f"; declared: {', '.join(choices)}" if choices else "; declare it under `queues:` (docs/work-queues.md)"

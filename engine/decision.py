"""What the engine answers: the decision and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.vocabulary import Channel


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True)
class Veto:
    rule_id: str
    guardrail: str
    reason: str
    channel: Channel | None = None  # None: the whole candidate was removed


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    time_zone: str  # the debtor's most likely IANA zone: local_start and local_end are in it
    local_start: str
    local_end: str
    zones: tuple[str, ...]  # every zone the window is lawful in (intersected over), by name


@dataclass(frozen=True)
class OfferClamp:
    """A limit that narrowed one bound of the rule's offer."""

    limit_id: str
    bound: str  # e.g. "discount_pct_max"
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class OfferBounds:
    currency: str
    set_by: str  # the rule whose offer this is
    discount_pct: tuple[Decimal, Decimal] | None = None
    instalments: tuple[int, int] | None = None
    min_instalment: Decimal | None = None
    max_deferral_days: int | None = None
    settlement_floor: Decimal | None = None  # the least amount that closes the debt
    payment_holiday: bool = False
    review_above_discount_pct: Decimal | None = None  # a larger discount needs a person's approval
    clamps: tuple[OfferClamp, ...] = ()


@dataclass(frozen=True)
class PolicyRef:
    name: str
    version: str
    hash: str


@dataclass(frozen=True)
class WorkItem:
    """A review decision as a team's work (engine/policy/work.py): its queue, how
    urgent it is, when it is due, and the rule (or the queue's default) that said so."""

    queue: str
    priority: str  # high | normal | low
    due: datetime  # UTC
    declared_by: str  # a rule id, or "queues.<queue>.default_for"


@dataclass(frozen=True)
class Decision:
    case_id: str
    action: str
    channel: Channel | None
    window: Window | None
    offer: OfferBounds | None
    template: str | None
    reasons: tuple[Reason, ...]
    fired_rules: tuple[str, ...]
    vetoes: tuple[Veto, ...]
    policy: PolicyRef
    as_of: datetime
    next_review_at: datetime
    experiment_arm: str = ""  # "<experiment>:<arm>" for each experiment of the policy, comma-separated
    window_constraints: tuple[Reason, ...] = ()  # the compliance rules that shaped the window
    required_disclosures: tuple[Reason, ...] = ()  # what the message must carry by law: (code, the rule's reason)
    data_warnings: tuple[Reason, ...] = ()  # what the caller should check in its own data
    work: WorkItem | None = None  # HUMAN_REVIEW and LEGAL_REVIEW: the queue it goes to; None for other actions, or when no queue takes it
    trace: dict[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def made(
        cls, *, case_id: str, action: str, channel: Channel | None, window: Window | None, offer: OfferBounds | None, template: str | None,
        reasons: tuple[Reason, ...], fired_rules: tuple[str, ...], vetoes: tuple[Veto, ...], policy: PolicyRef, as_of: datetime,
        next_review_at: datetime, window_constraints: tuple[Reason, ...] = (),
    ) -> Decision:
        """The decision the engine makes, equal to Decision(...) with the same fields (the
        rest at their defaults), at a third of its cost: a frozen dataclass's __init__ sets
        each of its 18 fields through object.__setattr__. Nothing is derived in __init__."""
        made = object.__new__(cls)
        object.__setattr__(made, "__dict__", {  # every field, in declared order, as __init__ sets them
            "case_id": case_id, "action": action, "channel": channel, "window": window, "offer": offer, "template": template,
            "reasons": reasons, "fired_rules": fired_rules, "vetoes": vetoes, "policy": policy, "as_of": as_of,
            "next_review_at": next_review_at, "experiment_arm": "", "window_constraints": window_constraints,
            "required_disclosures": (), "data_warnings": (), "work": None, "trace": None,
        })
        return made

    def amended(self, **changes: Any) -> Decision:
        """This decision with `changes`, equal to what dataclasses.replace makes, at a
        seventh of its cost (replace walks every field and calls __init__): nothing
        here is derived in __init__, so the fields are copied and the changes set."""
        unknown = changes.keys() - _DECISION_FIELDS
        if unknown:
            raise TypeError(f"Decision has no field {', '.join(sorted(unknown))}")
        amended = object.__new__(Decision)
        amended.__dict__.update(self.__dict__, **changes)
        return amended


_DECISION_FIELDS = frozenset(Decision.__dataclass_fields__)

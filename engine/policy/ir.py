"""The engine-neutral intermediate form of a policy: typed rules and conditions.

The YAML compiler produces it; the durable_rules backend and the plain-Python
evaluator consume it. Negation is already pushed down into the leaves, so every
backend needs only these node types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union

from engine.vocabulary import Action, Channel

Scalar = Union[bool, int, str, Decimal]
COMPARISONS = ("eq", "neq", "lt", "lte", "gt", "gte")


@dataclass(frozen=True)
class Compare:
    path: str
    op: str  # one of COMPARISONS
    value: Scalar


@dataclass(frozen=True)
class Exists:
    path: str
    present: bool


@dataclass(frozen=True)
class Matches:
    path: str
    pattern: str  # a regular expression the whole value must match


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


Condition = Union[Compare, Exists, Matches, AllOf, AnyOf]
ALWAYS = AllOf(())


@dataclass(frozen=True)
class Source:
    file: str
    line: int


@dataclass(frozen=True)
class OfferTerms:
    discount_pct: tuple[Decimal, Decimal] | None = None
    instalments: tuple[int, int] | None = None
    min_instalment: Decimal | None = None
    max_deferral_days: int | None = None


# The channel a rule names as "preferred": the snapshot's preferred channel.
PREFERRED = "preferred"


@dataclass(frozen=True)
class Rule:
    id: str
    priority: int
    condition: Condition
    action: Action
    channels: tuple[Channel | str, ...]  # in order of preference; PREFERRED allowed
    reason: dict[str, str]  # language -> text an agent can read aloud
    source: Source
    template: str | None = None
    offer: OfferTerms | None = None
    review_in_days: int | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    rules: tuple[Rule, ...]
    content_hash: str
    source_files: tuple[str, ...] = field(default=())


def paths_of(condition: Condition) -> set[str]:
    """Every fact path a condition reads."""
    if isinstance(condition, (AllOf, AnyOf)):
        return set().union(*(paths_of(item) for item in condition.items)) if condition.items else set()
    return {condition.path}

"""The engine-neutral intermediate form of a policy: typed rules and conditions.

The YAML compiler produces it; the durable_rules backend and the plain-Python
evaluator consume it. Negation is already pushed down into the leaves, so every
backend needs only these node types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Iterator, Mapping, Union

from engine.policy.work import WorkPlan
from engine.vocabulary import Action, Channel, Outcome, PaymentMethod

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


class CurrencyAmounts(Mapping[str, Decimal]):
    """An amount for each currency named (ISO 4217 code -> amount); a currency not
    named has none. Immutable and hashable, like the rest of the intermediate form."""

    __slots__ = ("_amounts",)

    def __init__(self, amounts: Mapping[str, Decimal]):
        self._amounts = dict(sorted(amounts.items()))

    def __getitem__(self, code: str) -> Decimal:
        return self._amounts[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._amounts)

    def __len__(self) -> int:
        return len(self._amounts)

    def __hash__(self) -> int:
        return hash(tuple(self._amounts.items()))

    def __str__(self) -> str:
        return ", ".join(f"{code} {amount}" for code, amount in self._amounts.items())

    def __repr__(self) -> str:
        return f"CurrencyAmounts({self._amounts!r})"


@dataclass(frozen=True)
class OfferTerms:
    discount_pct: tuple[Decimal, Decimal] | None = None
    instalments: tuple[int, int] | None = None
    min_instalment: Decimal | Mapping[str, Decimal] | None = None  # per currency (a CurrencyAmounts), or bare: any currency
    max_deferral_days: int | None = None
    settlement_floor_pct: Decimal | None = None
    payment_holiday: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.min_instalment, Mapping) and not isinstance(self.min_instalment, CurrencyAmounts):
            object.__setattr__(self, "min_instalment", CurrencyAmounts(self.min_instalment))


@dataclass(frozen=True)
class OfferLimit:
    """A cap on offers for some segments or products; None fields cap nothing."""

    id: str
    segments: frozenset[str] | None
    products: frozenset[str] | None
    reason: dict[str, str]
    discount_pct_max: Decimal | None = None
    review_above_discount_pct: Decimal | None = None
    instalments_max: int | None = None
    max_deferral_days: int | None = None

    def applies_to(self, segment: str, product: str | None) -> bool:
        return (self.segments is None or segment in self.segments) and (self.products is None or product in self.products)


# A bound of an effective period: a date (the law's usual form: midnight of that
# day on the debtor's local clock) or an instant with its offset (exact).
Moment = Union[date, datetime]


def _reached(bound: Moment, as_of: datetime, local_day: date) -> bool:
    if isinstance(bound, datetime):  # before `date`: a datetime is also a date
        return as_of >= bound
    return local_day >= bound


@dataclass(frozen=True)
class Effective:
    """When a rule or pack is in force: from `start` (inclusive) until `end`
    (exclusive); None is no bound. A date bound is the local midnight that starts
    that day for the case at hand, so one rule switches at each debtor's own
    midnight, DST days included; an instant bound switches at that instant."""

    start: Moment | None = None
    end: Moment | None = None

    def holds(self, as_of: datetime, local_day: date) -> bool:
        """In force at `as_of`, whose date on the debtor's clock is `local_day`."""
        return (self.start is None or _reached(self.start, as_of, local_day)) and (self.end is None or not _reached(self.end, as_of, local_day))

    def __str__(self) -> str:
        return f"from {self.start.isoformat() if self.start else 'the start'} until {self.end.isoformat() if self.end else 'further notice'}"


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
    same_day_order: bool = False  # the channel order is a preference among channels open on the earliest day
    otherwise: tuple[Action, tuple[Channel, ...], str | None] | None = None  # the written step when every channel fails
    effective: Effective | None = None  # None: always in force
    # Lint findings silenced on purpose, (code, reason); lint's alone: never part of a decision or of equality.
    lint_ignore: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Experiment:
    id: str
    arms: tuple[tuple[str, int], ...]  # (arm, share in percent), in declared order


@dataclass(frozen=True)
class Input:
    """A value beyond the fixed snapshot that a policy declares it reads (a score,
    a flag, a date from the caller's own models), typed, with what it may be:
    `minimum`/`maximum` for a number, an integer or a date, `values` for text."""

    name: str
    type: str  # number | integer | text | boolean | date
    description: str
    required: bool = False
    minimum: int | Decimal | date | None = None
    maximum: int | Decimal | date | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class DebtorRules:
    """How a person's accounts share one contact (engine/debtor.py)."""

    rank: str = "oldest_first"  # oldest_first | largest_first | score
    rank_attribute: str | None = None
    bundle: tuple[frozenset[Action], ...] = ()  # actions that may share one contact
    consolidate_offers: bool = False
    allocation: str = "oldest_first"  # oldest_first | largest_first | smallest_first | listed

    def bundles(self, lead: Action, other: Action) -> bool:
        return any(lead in group and other in group for group in self.bundle)


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    rules: tuple[Rule, ...]
    content_hash: str
    source_files: tuple[str, ...] = field(default=())
    experiments: tuple[Experiment, ...] = ()
    offer_limits: tuple[OfferLimit, ...] = ()
    posting_grace: tuple[tuple[PaymentMethod, int], ...] = ()  # business days, by payment method; others: the defaults
    debtor: DebtorRules = DebtorRules()
    shortest_window: tuple[tuple[Channel, int], ...] = ()  # minutes a window must last to be used, by channel
    inputs: tuple[Input, ...] = ()  # what the policy reads beyond the fixed snapshot, by name (engine/policy/inputs.py)
    work: WorkPlan = field(default_factory=WorkPlan)  # the queues review decisions go to (engine/policy/work.py)


@dataclass(frozen=True)
class ContactHours:
    """When contact is allowed, in local time; closes is exclusive."""

    opens: time = time(8, 0)
    closes: time = time(20, 0)
    closed_weekdays: frozenset[int] = frozenset({6})  # Monday is 0, Sunday 6
    closed_on_holidays: bool = True

    def intersect(self, other: ContactHours) -> ContactHours:
        return ContactHours(
            max(self.opens, other.opens),
            min(self.closes, other.closes),
            self.closed_weekdays | other.closed_weekdays,
            self.closed_on_holidays or other.closed_on_holidays,
        )


@dataclass(frozen=True)
class HoursRule:
    id: str
    channels: frozenset[Channel]  # the channels these hours govern
    hours: ContactHours
    reason: dict[str, str]


@dataclass(frozen=True)
class CapRule:
    """At most `max` contacts on `channels` (counted together) in any rolling `period`."""

    id: str
    channels: frozenset[Channel]
    max: int
    period: timedelta
    reason: dict[str, str]


@dataclass(frozen=True)
class QuietRule:
    """After a contact on `after_channels` with one of `outcomes`, no contact on
    `channels` until `days` local days have passed (the day itself is day 1)."""

    id: str
    channels: frozenset[Channel]
    after_channels: frozenset[Channel]
    outcomes: frozenset[Outcome]
    days: int
    reason: dict[str, str]


@dataclass(frozen=True)
class Block:
    contacting: bool = False  # every action that reaches the debtor
    actions: frozenset[Action] = frozenset()
    channels: frozenset[Channel] = frozenset()


@dataclass(frozen=True)
class Replace:
    actions: frozenset[Action]
    with_action: Action


@dataclass(frozen=True)
class Step:
    """A contact that was made and delivered: one of `actions` or `templates`
    (neither named: any outbound contact)."""

    actions: frozenset[Action] = frozenset()
    templates: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Instead:
    """The step taken in place of an action whose prerequisite was never delivered."""

    action: Action
    channels: tuple[Channel, ...]
    template: str | None = None


@dataclass(frozen=True)
class Requirement:
    """Before one of `actions` (or any contacting action, with `contacting`), the
    `delivered` step must have been delivered at least `days` local days ago.
    Never delivered: `instead` is taken in its place (none: the candidate is
    removed); delivered too recently: the candidate waits."""

    actions: frozenset[Action]
    contacting: bool
    delivered: Step
    days: int
    instead: Instead | None = None

    def applies_to(self, action: Action) -> bool:
        return action in self.actions or (self.contacting and action.contacts)


@dataclass(frozen=True)
class GuardRule:
    """A compliance rule: when its condition holds, it blocks, routes, replaces,
    requires an earlier step, or names disclosures a contact must carry."""

    id: str  # "<pack>/<rule id>"
    condition: Condition
    reason: dict[str, str]
    source: Source
    block: Block | None = None
    route: Action | None = None  # the decision becomes this (non-contacting) action
    review_after_days: str | None = None  # with route: a whole-number fact, the local days until the case is decided again
    replace: Replace | None = None
    requires: Requirement | None = None
    disclose: tuple[str, ...] = ()  # codes for the caller's renderer, when the decision contacts
    effective: Effective | None = None  # None: whenever its pack is in force
    # Lint findings silenced on purpose, (code, reason); lint's alone: never part of a decision or of equality.
    lint_ignore: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Pack:
    """A compliance pack: a jurisdiction's rules, chosen by the case's country and region."""

    name: str
    version: str
    countries: frozenset[str] | None  # None: every country
    regions: frozenset[str] | None  # None: every region
    fallback: bool  # applies only to channels no other pack sets hours for
    hours: tuple[HoursRule, ...]
    caps: tuple[CapRule, ...]
    quiet: tuple[QuietRule, ...]
    rules: tuple[GuardRule, ...]
    content_hash: str
    offer_limits: tuple[OfferLimit, ...] = ()
    source_files: tuple[str, ...] = ()
    person_flags: frozenset[str] = frozenset()  # flags that, on one account, hold the person
    account_flags: frozenset[str] = frozenset()  # flags that hold only their account
    effective: Effective | None = None  # None: always in force

    def applies_to(self, country: str, region: str | None) -> bool:
        return (self.countries is None or country in self.countries) and (self.regions is None or region in self.regions)


def paths_of(condition: Condition) -> set[str]:
    """Every fact path a condition reads."""
    if isinstance(condition, (AllOf, AnyOf)):
        return set().union(*(paths_of(item) for item in condition.items)) if condition.items else set()
    return {condition.path}

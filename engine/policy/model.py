"""The shape of a policy file, as pydantic models (the source of its JSON Schema)."""

from __future__ import annotations

import difflib
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from engine.policy.inputs import InputSpec
from engine.policy.money import MAX_OFFER_AMOUNT, offer_amount, per_currency_schema
from engine.policy.work import QUEUES_DESCRIPTION, WORK_DESCRIPTION, Queues, ReviewWork
from engine.vocabulary import Action, Channel, Outcome, PaymentMethod

RULE_ID = r"^[a-z0-9][a-z0-9-]{0,79}$"
TEMPLATE = r"^[a-z0-9][a-z0-9_.-]{0,79}$"
ChannelName = Channel | Literal["preferred"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _moment(value: Any) -> date | datetime:
    """A date (local midnight of that day where the debtor lives) or an instant
    with its offset; a clock time without an offset is refused: whose clock?"""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"`{value}` is neither a date (2027-01-01) nor an instant with its offset (2027-01-01T00:00:00+01:00)") from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"`{value.isoformat()}` has no offset: write a date (2027-01-01, local midnight where the debtor lives) or an instant with its offset (2027-01-01T00:00:00+01:00)")
        return value
    if isinstance(value, date):
        return value
    raise ValueError("write a date (2027-01-01) or an instant with its offset (2027-01-01T00:00:00+01:00)")


_MOMENT_SCHEMA = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
# When a rule or pack starts or stops being in force (engine.policy.ir.Effective).
Moment = Annotated[date | datetime, PlainValidator(_moment), WithJsonSchema(_MOMENT_SCHEMA)]
_FROM = "in force from this date (local midnight where the debtor lives) or instant with offset, inclusive; absent: always was"
_UNTIL = "in force until this date (local midnight where the debtor lives) or instant with offset, exclusive; absent: until further notice"


class _Dated(_Spec):
    """Something that may be in force only for a period (`effective_from` inclusive,
    `effective_until` exclusive); the fields are declared last in each model, for the docs."""

    if TYPE_CHECKING:  # declared by each model, after its own fields
        effective_from: Moment | None
        effective_until: Moment | None

    @model_validator(mode="after")
    def _period_not_empty(self) -> _Dated:
        start, end = self.effective_from, self.effective_until
        # Only bounds of one kind compare for every debtor; lint judges a date against an instant.
        if start is not None and end is not None and isinstance(start, datetime) == isinstance(end, datetime) and end <= start:
            raise ValueError(f"effective_until ({end.isoformat()}) must come after effective_from ({start.isoformat()}): the period is empty")
        return self


_AMOUNT_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0, "maximum": int(MAX_OFFER_AMOUNT)}, {"type": "string"}]}
# An amount per currency ({PLN: 50, EUR: 20}); a bare amount is still read, for every currency, and lint flags it.
OfferAmount = Annotated[Decimal | dict[str, Decimal], PlainValidator(offer_amount), WithJsonSchema({"anyOf": [per_currency_schema(_AMOUNT_SCHEMA), _AMOUNT_SCHEMA]})]


class OfferSpec(_Spec):
    """Bounds an agent may negotiate within; each [min, max] pair is inclusive."""

    discount_pct: tuple[Decimal, Decimal] | None = Field(default=None, description="[min, max] discount for paying at once, in percent")
    instalments: tuple[int, int] | None = Field(default=None, description="[min, max] number of instalments")
    min_instalment: OfferAmount | None = Field(default=None, description="smallest instalment, per currency; a case in a currency not listed gets none")
    max_deferral_days: int | None = Field(default=None, ge=0, le=365, description="most days the due date may be moved")
    settlement_floor_pct: Decimal | None = Field(default=None, ge=0, le=100, description="the least share of the amount due, in percent, that closes the debt")
    payment_holiday: bool = Field(default=False, description="a payment holiday may be offered")

    @model_validator(mode="after")
    def _ordered(self) -> OfferSpec:
        if self.discount_pct and not (0 <= self.discount_pct[0] <= self.discount_pct[1] <= 100):
            raise ValueError("discount_pct must be [min, max] with 0 <= min <= max <= 100")
        if self.instalments and not (1 <= self.instalments[0] <= self.instalments[1] <= 120):
            raise ValueError("instalments must be [min, max] with 1 <= min <= max <= 120")
        return self


class OfferLimitSpec(_Spec):
    """A cap on what any rule may offer, for some segments or products (or all)."""

    id: str = Field(pattern=RULE_ID)
    segments: list[str] | None = Field(default=None, description="only for these segments; all when absent")
    products: list[str] | None = Field(default=None, description="only for these products; all when absent")
    discount_pct_max: Decimal | None = Field(default=None, ge=0, le=100)
    review_above_discount_pct: Decimal | None = Field(default=None, ge=0, le=100, description="a larger discount needs a person's approval")
    instalments_max: int | None = Field(default=None, ge=1, le=120)
    max_deferral_days: int | None = Field(default=None, ge=0, le=365)
    reason: str | dict[Literal["en", "pl"], str]


# A call needs time to be answered, a text or a push a few minutes to go out.
SHORTEST_WINDOW_MINUTES = {Channel.PHONE: 15, Channel.SMS: 5, Channel.PUSH: 5}


# Findings lint reports against one rule that an analyst may silence on the rule
# (`lint_ignore`), with what each means. Errors are not here: lint refuses a policy
# with an error (acceptance, reload), so silencing one would serve a broken policy;
# nor are findings that name no rule (`gaps`, `not-checked`, `load`).
IGNORABLE_FINDINGS: dict[str, str] = {
    "shadowed": "higher-priority rules match every case this rule matches (kept as a fallback on purpose)",
    "overlap-same-priority": "a rule of equal priority can match the same case and does something else",
    "final-notice-without-contact": "a path to FINAL_NOTICE does not require an earlier delivered contact",
    "money-without-currency": "an amount compared or offered as a bare number, whatever the case's currency",
    "effective-overlap": "rules replacing each other on a date are both in force for a while",
    "effective-gap": "rules replacing each other on a date leave a period where none is in force",
    "effective-mixed": "rules replacing each other mix dates and instants in their periods",
    "too-complex": "the rule's condition is too large to analyse exactly",
    "input-gap": "rules that differ only in the band of an input leave part of its declared range to none of them",
    "input-overlap": "two rules that differ only in the band of an input both claim part of its range",
    "review-without-queue": "a review rule routes to no team's queue and no queue takes its action by default",
    "compliance-review-without-queue": "a compliance pack may route to a review that no queue takes by default",
}
_CANNOT_IGNORE = {
    "never-fires": "the rule can never match a case",
    "legal-without-final-notice": "a legal step could be taken without a delivered final notice",
    "effective-empty": "the rule is never in force",
}


def _ignorable(code: Any) -> Any:
    """A finding code a rule may silence, or a message that names the ones it may."""
    known = f"a rule may ignore {', '.join(IGNORABLE_FINDINGS)}"
    if not isinstance(code, str):
        raise ValueError(f"a finding code is text; {known}")
    if code in IGNORABLE_FINDINGS:
        return code
    if code in _CANNOT_IGNORE:
        raise ValueError(f"an error ({_CANNOT_IGNORE[code]}) cannot be ignored: lint refuses the policy, so correct the rule; {known}")
    hint = difflib.get_close_matches(code, list(IGNORABLE_FINDINGS), n=1)
    raise ValueError("not a lint finding a rule may ignore" + (f"; did you mean `{hint[0]}`?" if hint else "") + f" ({known})")


def _ignore_reason(reason: Any) -> Any:
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise ValueError("an ignored finding needs its reason, e.g. `shadowed: the fallback for cases the campaign rules leave`")
    return reason


IgnorableCode = Annotated[str, BeforeValidator(_ignorable)]
IgnoreReason = Annotated[str, BeforeValidator(_ignore_reason)]
# Editors complete the codes as keys and show what each means.
_IGNORES_SCHEMA = {
    "type": "object",
    "properties": {code: {"type": "string", "minLength": 1, "pattern": r"\S", "description": f"{what}: why it is deliberate"} for code, what in IGNORABLE_FINDINGS.items()},
    "additionalProperties": False,
}
LintIgnores = Annotated[dict[IgnorableCode, IgnoreReason], WithJsonSchema(_IGNORES_SCHEMA)]
_IGNORE = "lint findings this rule produces on purpose, silenced: finding code -> why it is deliberate (required); `lint --show-ignored` lists them"


class OtherwiseSpec(_Spec):
    """The written alternative of a rule whose channels are all vetoed or closed."""

    action: Action | None = Field(default=None, description="the written step's action; default: the rule's (a CALL must name one, e.g. SEND_REMINDER)")
    channel: Literal["letter", "email"] | list[Literal["letter", "email"]] = Field(description="written channels, in order of preference")
    template: str | None = Field(default=None, pattern=TEMPLATE, description="the template of the written step; default: the rule's")


class ThenSpec(_Spec):
    action: Action = Field(description="what to do next")
    channel: ChannelName | list[ChannelName] | None = Field(
        default=None, description="channel, or channels in order of preference; 'preferred' is the debtor's own choice"
    )
    template: str | None = Field(default=None, pattern=TEMPLATE, description="message template key for the caller")
    offer: OfferSpec | None = None
    review_in_days: int | None = Field(default=None, ge=0, le=365, description="decide the case again after this many days")
    channel_order: Literal["same_day", "absolute"] | None = Field(
        default=None,
        description="same_day: the channels' order is a preference among those open on the earliest day any of them is; absolute: the first channel with any window; default: the policy's",
    )
    otherwise: OtherwiseSpec | None = Field(default=None, description="the written step taken with the same intent when every channel of the rule is vetoed or closed")
    work: ReviewWork = Field(default=None, description=WORK_DESCRIPTION)

    @model_validator(mode="after")
    def _channel_fits_action(self) -> ThenSpec:
        if self.action.contacts and not self.channel:
            raise ValueError(f"{self.action.value} contacts the debtor: name a channel")
        if not self.action.contacts and self.channel:
            raise ValueError(f"{self.action.value} contacts nobody: remove the channel")
        if self.otherwise and not self.action.contacts:
            raise ValueError(f"{self.action.value} contacts nobody: it has no written alternative")
        written = self.otherwise.action or self.action if self.otherwise else None
        if written is not None and (written is Action.CALL or not written.contacts):
            raise ValueError(f"otherwise: {written.value} cannot be written; name the written step's action, e.g. otherwise: {{action: SEND_REMINDER, ...}}")
        return self


class RuleSpec(_Dated):
    id: str = Field(pattern=RULE_ID, description="unique, lower-case words joined by hyphens")
    priority: int = Field(ge=0, le=10000, description="the highest priority among matching rules wins")
    description: str | None = None
    when: dict[str, Any] = Field(default_factory=dict, description="conditions on facts; all must hold")
    then: ThenSpec
    reason: str | dict[Literal["en", "pl"], str] = Field(description="plain words an agent can read to the debtor")
    arm: dict[str, str] | None = Field(default=None, description="experiment id -> arm: the rule applies only to cases in that arm")
    lint_ignore: LintIgnores | None = Field(default=None, description=_IGNORE)
    effective_from: Moment | None = Field(default=None, description=_FROM)
    effective_until: Moment | None = Field(default=None, description=_UNTIL)

    @model_validator(mode="after")
    def _english_reason(self) -> RuleSpec:
        if isinstance(self.reason, dict) and "en" not in self.reason:
            raise ValueError("reason needs an English text under `en`")
        return self


class ExperimentSpec(_Spec):
    """Champion/challenger: cases are split between arms by a stable hash of the case id."""

    id: str = Field(pattern=RULE_ID)
    description: str | None = None
    arms: dict[str, int] = Field(description="arm name -> share in percent; the shares add up to 100")

    @model_validator(mode="after")
    def _shares(self) -> ExperimentSpec:
        if len(self.arms) < 2 or sum(self.arms.values()) != 100 or min(self.arms.values()) < 0:
            raise ValueError(f"an experiment has at least two arms whose shares add up to 100, got {dict(self.arms)}")
        return self


AccountOrder = Literal["oldest_first", "largest_first", "smallest_first", "listed"]
FlagPath = Literal[
    "legal.dispute", "legal.bankruptcy", "legal.cease_and_desist", "legal.attorney_represented", "legal.deceased", "legal.vulnerable",
    "legal.hardship", "legal.time_barred", "gdpr.objection", "gdpr.restriction", "gdpr.erasure_requested",
]


class DebtorSpec(_Spec):
    """How one contact decision is made for a person with several accounts (DecideDebtor)."""

    rank: Literal["oldest_first", "largest_first", "score"] = Field(
        default="oldest_first", description="which account leads the contact: most days past due, largest amount (within one currency), or the highest `rank_attribute`"
    )
    rank_attribute: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,47}$", description="with rank: score, the numeric attribute to rank by, highest first")
    bundle: list[list[Action]] = Field(
        default_factory=list, description="groups of actions that may share one contact: another account's step joins the lead's contact when both are in one group"
    )
    consolidate_offers: bool = Field(default=False, description="sum the offers of the accounts one contact covers into one offer per currency")
    allocation: AccountOrder = Field(default="oldest_first", description="the order a payment under a consolidated offer is allocated to the accounts")

    @model_validator(mode="after")
    def _coherent(self) -> DebtorSpec:
        if (self.rank == "score") != (self.rank_attribute is not None):
            raise ValueError("rank: score needs rank_attribute (and rank_attribute needs rank: score)")
        for group in self.bundle:
            internal = [action.value for action in group if not action.contacts]
            if internal:
                raise ValueError(f"bundle groups contacting actions only; {', '.join(internal)} contacts nobody")
        return self


class PolicyFile(_Spec):
    policy: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="the policy's name")
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$", description="the policy's version, quoted")
    description: str | None = None
    templates: list[str] | None = Field(default=None, description="the message templates the callers know; when given, rules may name only these")
    experiments: list[ExperimentSpec] = Field(default_factory=list)
    inputs: list[InputSpec] = Field(default_factory=list, description="the typed inputs the rules read beyond the snapshot, as inputs.<name> (docs/inputs.md)")
    offer_limits: list[OfferLimitSpec] = Field(default_factory=list, description="strategy-wide caps on offers")
    posting_grace: dict[PaymentMethod, Annotated[int, Field(ge=0, le=10)]] = Field(
        default_factory=dict, description="business days a payment by each method may take to reach the books before an instalment counts as missed"
    )
    shortest_window_minutes: dict[Channel, Annotated[int, Field(ge=0, le=240)]] = Field(
        default_factory=lambda: dict(SHORTEST_WINDOW_MINUTES),
        description="a window shorter than this on a channel is not used: the next opening is (default: phone 15, sms and push 5)",
    )
    channel_order: Literal["same_day", "absolute"] = Field(
        default="absolute", description="for this file's rules that do not say: same_day prefers the rule's first channel only among those open on the earliest day"
    )
    debtor: DebtorSpec | None = Field(default=None, description="one contact for a person with several accounts: ranking, bundling, consolidated offers")
    queues: Queues = Field(default_factory=dict, description=QUEUES_DESCRIPTION)
    rules: list[RuleSpec] = Field(min_length=1)


# --- compliance packs -------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Reason = str | dict[Literal["en", "pl"], str]
_EARLIEST, _LATEST = time(7, 0), time(22, 0)  # no pack may open contact wider than this


def _clock(value: Any) -> Any:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 8:00 as the number 480
        raise ValueError('write times in quotes, e.g. "08:00"')
    return value


ClockTime = Annotated[time, BeforeValidator(_clock)]


def _sunday_only() -> list[Weekday]:
    return ["sun"]


class ContactHoursSpec(_Spec):
    """When contact is lawful in local time, for some or all channels."""

    id: str = Field(pattern=RULE_ID)
    channels: list[Channel] | None = Field(default=None, description="the channels these hours govern; all when absent")
    opens: ClockTime
    closes: ClockTime = Field(description="exclusive")
    closed_weekdays: list[Weekday] = Field(default_factory=_sunday_only)
    closed_on_public_holidays: bool = True
    reason: Reason

    @model_validator(mode="after")
    def _sane(self) -> ContactHoursSpec:
        if not (_EARLIEST <= self.opens < self.closes <= _LATEST):
            raise ValueError(f"contact hours must lie within 07:00-22:00 with opens before closes, got {self.opens:%H:%M}-{self.closes:%H:%M}")
        return self


class CapSpec(_Spec):
    """At most `max` contacts on these channels, counted together, in any `period_days`."""

    id: str = Field(pattern=RULE_ID)
    channels: list[Channel] = Field(min_length=1)
    max: int = Field(ge=1, le=100)
    period_days: int = Field(ge=1, le=31)
    reason: Reason


class QuietAfterSpec(_Spec):
    """After a contact with one of `outcomes` on `after_channels`, no contact on
    `channels` for `days` local days, the day of that contact counting as day 1."""

    id: str = Field(pattern=RULE_ID)
    channels: list[Channel] = Field(min_length=1)
    after_channels: list[Channel] = Field(min_length=1)
    outcomes: list[Outcome] = Field(min_length=1)
    days: int = Field(ge=1, le=60)
    reason: Reason


class BlockSpec(_Spec):
    contacting: bool = Field(default=False, description="block every action that reaches the debtor")
    actions: list[Action] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> BlockSpec:
        if not (self.contacting or self.actions or self.channels):
            raise ValueError("a block names `contacting: true`, actions or channels")
        return self


class ReplaceSpec(_Spec):
    actions: list[Action] = Field(min_length=1)
    with_: Action = Field(alias="with")


class StepSpec(_Spec):
    """A contact that was delivered: one of these actions or templates (neither: any outbound contact)."""

    actions: list[Action] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)


class InsteadSpec(_Spec):
    action: Action = Field(description="the step to take instead; it contacts the debtor")
    channel: list[Channel] = Field(min_length=1, description="its channels, in order of preference")
    template: str | None = Field(default=None, pattern=TEMPLATE)

    @model_validator(mode="after")
    def _contacts(self) -> InsteadSpec:
        if not self.action.contacts:
            raise ValueError(f"{self.action.value} contacts nobody; `instead` names the step that must reach the debtor first")
        return self


class RequiresSpec(_Spec):
    """An action allowed only once an earlier step was delivered, at least `days_before` days ago."""

    actions: list[Action] = Field(default_factory=list, description="the actions this applies to")
    contacting: bool = Field(default=False, description="applies to every action that reaches the debtor")
    delivered: StepSpec = Field(description="the earlier step that must have been delivered")
    days_before: int = Field(default=0, ge=0, le=365, description="at least this many days before (0: any time before)")
    instead: InsteadSpec | None = Field(default=None, description="taken in place of the action when the step was never delivered; absent: the action is removed")

    @model_validator(mode="after")
    def _something(self) -> RequiresSpec:
        if not (self.actions or self.contacting):
            raise ValueError("`requires` names the `actions` it applies to, or `contacting: true`")
        return self


class GuardRuleSpec(_Dated):
    id: str = Field(pattern=RULE_ID)
    description: str | None = None
    when: dict[str, Any] = Field(default_factory=dict)
    block: BlockSpec | None = None
    route: Action | None = Field(default=None, description="the decision becomes this action, which must not contact")
    review_after_days: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_.]*$", description="with route: decide the case again after as many local days as this whole-number fact says (e.g. breathing_space.days_left)"
    )
    replace: ReplaceSpec | None = None
    requires: RequiresSpec | None = None
    disclose: list[Annotated[str, Field(pattern=TEMPLATE)]] | None = Field(default=None, description="disclosures a contact must carry, as codes for the caller's renderer")
    reason: Reason
    lint_ignore: LintIgnores | None = Field(default=None, description=_IGNORE)
    effective_from: Moment | None = Field(default=None, description=_FROM)
    effective_until: Moment | None = Field(default=None, description=_UNTIL)

    @model_validator(mode="after")
    def _one_effect(self) -> GuardRuleSpec:
        if sum(effect is not None for effect in (self.block, self.route, self.replace, self.requires, self.disclose)) != 1:
            raise ValueError("a compliance rule has exactly one of `block`, `route`, `replace`, `requires` or `disclose`")
        if self.review_after_days and not self.route:
            raise ValueError("review_after_days belongs to a rule that routes (`route`)")
        for action in [self.route] if self.route else [self.replace.with_] if self.replace else []:
            if action.contacts:
                raise ValueError(f"{action.value} contacts the debtor; compliance may only route to a step that does not")
        return self


class AppliesTo(_Spec):
    countries: list[str] | Literal["*"] = Field(description='ISO 3166-1 alpha-2 codes, or "*" for every country')
    regions: list[str] | None = Field(default=None, description="only these regions (ISO 3166-2 without the country)")
    fallback: bool = Field(default=False, description="set hours only for channels no other pack in force sets hours for")


class FlagScopeSpec(_Spec):
    """A flag on one account holds the whole person when any pack in force says
    `person`, or when no pack in force declares it (the safe side)."""

    person: list[FlagPath] = Field(default_factory=list, description="flags that, on any account, hold every account of the person")
    account: list[FlagPath] = Field(default_factory=list, description="flags that hold only the account they are on")

    @model_validator(mode="after")
    def _disjoint(self) -> FlagScopeSpec:
        both = sorted(set(self.person) & set(self.account))
        if both:
            raise ValueError(f"{', '.join(both)} cannot hold both the person and only its account")
        return self


class PackFile(_Dated):
    policy: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$")
    kind: Literal["compliance"]
    description: str | None = None
    applies_to: AppliesTo
    contact_hours: list[ContactHoursSpec] = Field(default_factory=list)
    caps: list[CapSpec] = Field(default_factory=list)
    quiet_after: list[QuietAfterSpec] = Field(default_factory=list)
    offer_limits: list[OfferLimitSpec] = Field(default_factory=list)
    flag_scope: FlagScopeSpec | None = Field(default=None, description="which flags on one of a person's accounts hold the whole person")
    rules: list[GuardRuleSpec] = Field(default_factory=list)
    effective_from: Moment | None = Field(default=None, description=_FROM)
    effective_until: Moment | None = Field(default=None, description=_UNTIL)

    @model_validator(mode="after")
    def _fallback_sets_only_hours(self) -> PackFile:
        if self.applies_to.fallback and self.rules:
            raise ValueError("a fallback pack sets contact hours and caps only; put rules in a pack that always applies")
        return self

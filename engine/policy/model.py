"""The shape of a policy file, as pydantic models (the source of its JSON Schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.vocabulary import Action, Channel

RULE_ID = r"^[a-z0-9][a-z0-9-]{0,79}$"
TEMPLATE = r"^[a-z0-9][a-z0-9_.-]{0,79}$"
ChannelName = Channel | Literal["preferred"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfferSpec(_Spec):
    """Bounds an agent may negotiate within; each [min, max] pair is inclusive."""

    discount_pct: tuple[Decimal, Decimal] | None = Field(default=None, description="[min, max] discount for paying at once, in percent")
    instalments: tuple[int, int] | None = Field(default=None, description="[min, max] number of instalments")
    min_instalment: Decimal | None = Field(default=None, ge=0, le=1_000_000_000, description="smallest instalment, in the case currency")
    max_deferral_days: int | None = Field(default=None, ge=0, le=365, description="most days the due date may be moved")

    @model_validator(mode="after")
    def _ordered(self) -> OfferSpec:
        if self.discount_pct and not (0 <= self.discount_pct[0] <= self.discount_pct[1] <= 100):
            raise ValueError("discount_pct must be [min, max] with 0 <= min <= max <= 100")
        if self.instalments and not (1 <= self.instalments[0] <= self.instalments[1] <= 120):
            raise ValueError("instalments must be [min, max] with 1 <= min <= max <= 120")
        return self


class ThenSpec(_Spec):
    action: Action = Field(description="what to do next")
    channel: ChannelName | list[ChannelName] | None = Field(
        default=None, description="channel, or channels in order of preference; 'preferred' is the debtor's own choice"
    )
    template: str | None = Field(default=None, pattern=TEMPLATE, description="message template key for the caller")
    offer: OfferSpec | None = None
    review_in_days: int | None = Field(default=None, ge=0, le=365, description="decide the case again after this many days")

    @model_validator(mode="after")
    def _channel_fits_action(self) -> ThenSpec:
        if self.action.contacts and not self.channel:
            raise ValueError(f"{self.action.value} contacts the debtor: name a channel")
        if not self.action.contacts and self.channel:
            raise ValueError(f"{self.action.value} contacts nobody: remove the channel")
        return self


class RuleSpec(_Spec):
    id: str = Field(pattern=RULE_ID, description="unique, lower-case words joined by hyphens")
    priority: int = Field(ge=0, le=10000, description="the highest priority among matching rules wins")
    description: str | None = None
    when: dict[str, Any] = Field(default_factory=dict, description="conditions on facts; all must hold")
    then: ThenSpec
    reason: str | dict[Literal["en", "pl"], str] = Field(description="plain words an agent can read to the debtor")

    @model_validator(mode="after")
    def _english_reason(self) -> RuleSpec:
        if isinstance(self.reason, dict) and "en" not in self.reason:
            raise ValueError("reason needs an English text under `en`")
        return self


class PolicyFile(_Spec):
    policy: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="the policy's name")
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$", description="the policy's version, quoted")
    description: str | None = None
    rules: list[RuleSpec] = Field(min_length=1)

"""What a policy test file may hold, as typed models: read as the policies are
(pydantic, errors at file:line through the policy loader's mapping), and the
JSON Schema editors complete and check test files with
(rules/schema/policy-test.schema.json, written by `make generate`).

A field left out of `expect` is not checked; `window: null` and `offer: null`
say the decision has none. The format is described in docs/policy-tests.md.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema, field_validator

from engine.vocabulary import Action, Channel

ACTIONS = tuple(action.value for action in Action)
CHANNELS = tuple(channel.value for channel in Channel)


def _did_you_mean(word: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _one_or_more(value: Any) -> Any:
    """A single rule id or piece of text may be written without a list."""
    return [value] if isinstance(value, str) else value


def _as_text(value: Any) -> Any:
    # YAML reads an unquoted 2026-11-24T10:00:00+01:00 as a datetime: compare it as written.
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def _action(value: Any) -> Any:
    if value not in ACTIONS:
        raise ValueError(f"not an action{_did_you_mean(value, ACTIONS)}; use one of {', '.join(ACTIONS)}")
    return value


def _channel(value: Any) -> Any:
    if value is not None and value not in CHANNELS:
        raise ValueError(f"not a channel{_did_you_mean(value, CHANNELS)}; use one of {', '.join(CHANNELS)}, or null for none")
    return value


Words = Annotated[
    list[str], BeforeValidator(_one_or_more), Field(min_length=1),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}),
]
Text = Annotated[str, BeforeValidator(_as_text)]
ActionName = Annotated[str, BeforeValidator(_action), Field(json_schema_extra={"enum": list(ACTIONS)})]
ChannelName = Annotated[str | None, BeforeValidator(_channel), Field(json_schema_extra={"enum": [*CHANNELS, None]})]
Amount = Annotated[Decimal, Field(description='an amount such as "50.00"')]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VetoSpec(_Spec):
    """A veto the decision must carry; the keys left out match any value."""

    guardrail: str = Field(description="the guardrail or pack rule that vetoed, e.g. consent, pl/draft-act-hours")
    rule_id: Text | None = Field(None, description="the strategy rule whose candidate was vetoed")
    channel: ChannelName = Field(None, description="the channel vetoed; null: the whole candidate")


class WindowSpec(_Spec):
    """The contact window, in the debtor's local time; the keys left out are not checked."""

    local_start: Text | None = None
    local_end: Text | None = None
    time_zone: str | None = None


class OfferSpec(_Spec):
    """The offer's bounds; the keys left out are not checked."""

    currency: str | None = None
    discount_pct: tuple[Amount, Amount] | None = None
    instalments: tuple[StrictInt, StrictInt] | None = None
    min_instalment: Amount | None = None
    max_deferral_days: StrictInt | None = None


class ExpectSpec(_Spec):
    """What the engine must answer: every field given is compared, the others are not."""

    action: ActionName | None = None
    channel: ChannelName = None
    template: Text | None = None
    reason: Text | None = Field(None, description="the code of the first reason: the deciding rule, or the pack rule that routed the case")
    reason_text_contains: Words | None = Field(None, description="text every fragment of which appears in one of the reasons")
    fired: Words | None = Field(None, description="strategy rules that must fire")
    not_fired: Words | None = Field(None, description="strategy rules that must not fire")
    vetoes: list[VetoSpec] | None = Field(None, min_length=1)
    no_vetoes: Literal[True] | None = Field(None, description="write `no_vetoes: true`, or leave it out")
    window: WindowSpec | None = Field(None, description="null: no window")
    offer: OfferSpec | None = Field(None, description="null: no offer")
    next_review_at: AwareDatetime | None = None

    @field_validator("window", "offer", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if value == {}:
            raise ValueError("must be null (none) or a mapping with at least one key")
        return value


class TestSpec(_Spec):
    """One scenario: a case, the instant it is decided at, and what the engine must answer."""

    __test__ = False  # not a pytest class, despite the name

    name: str = Field(description="a short sentence saying what the test checks; unique in its file")
    description: str | None = None
    as_of: AwareDatetime | None = Field(None, description="the instant the case is decided at (default: the file's as_of)")
    case: dict[str, Any] = Field(default_factory=dict, description="snapshot fields, merged over the file's defaults")
    expect: ExpectSpec

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a test needs a `name`: a short sentence saying what it checks")
        return value.strip()


class TestFile(_Spec):
    """A policy test file: tests/*.yaml beside the policies."""

    __test__ = False

    description: str | None = None
    as_of: AwareDatetime | None = Field(None, description="the default instant every test is decided at")
    defaults: dict[str, Any] = Field(default_factory=dict, description="snapshot fields every test's case starts from")
    tests: list[TestSpec] = Field(min_length=1)


def expectation(spec: ExpectSpec) -> dict[str, Any]:
    """The fields the test gives, as the checks compare them (a field left out is absent)."""
    expect: dict[str, Any] = {}
    for key in spec.model_fields_set:
        value = getattr(spec, key)
        if key in ("reason_text_contains", "fired", "not_fired"):
            value = tuple(value)
        elif key == "vetoes":
            value = tuple({name: getattr(veto, name) for name in ("guardrail", "rule_id", "channel") if name in veto.model_fields_set} for veto in value)
        elif key in ("window", "offer") and value is not None:
            value = {name: getattr(value, name) for name in type(value).model_fields if name in value.model_fields_set}
        expect[key] = value
    return expect


def policy_test_schema() -> dict[str, Any]:
    """The JSON Schema of policy test files, for editors."""
    schema = TestFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Collection strategy policy tests"
    return schema

"""Decision.amended: what dataclasses.replace makes, for every field, without its cost."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from engine.decision import Decision, PolicyRef, Reason, Veto, Window
from engine.vocabulary import Channel

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
DECISION = Decision(
    "case-1", "SEND_REMINDER", Channel.SMS, Window(AS_OF, AS_OF + timedelta(hours=2), "Europe/Warsaw", "a", "b", ("Europe/Warsaw",)),
    None, "friendly", (Reason("r", "why"),), ("r",), (Veto("r", "consent", "no", Channel.EMAIL),), PolicyRef("p", "1", "h"), AS_OF, AS_OF,
)
CHANGES = {
    "experiment_arm": "exp:b", "data_warnings": (Reason("LANGUAGE_FALLBACK", "en"),), "required_disclosures": (Reason("d", "must"),),
    "trace": {"facts": {}}, "action": "NO_CONTACT", "channel": None, "window": None,
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_amended_equals_replace_field_by_field(name: str) -> None:
    amended = DECISION.amended(**{name: CHANGES[name]})
    replaced = dataclasses.replace(DECISION, **{name: CHANGES[name]})
    assert amended == replaced and vars(amended) == vars(replaced)
    assert getattr(DECISION, name) != CHANGES[name]  # the original is untouched


def test_amended_with_everything_at_once_is_frozen_and_refuses_unknown_fields() -> None:
    amended = DECISION.amended(**CHANGES)
    assert vars(amended) == vars(dataclasses.replace(DECISION, **CHANGES))
    with pytest.raises(dataclasses.FrozenInstanceError):
        amended.action = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field offers"):
        DECISION.amended(offers=None)

"""Decision.made keeps what it replaces (issue 15, P1): it builds a decision without the
frozen dataclass's __init__ and must give the decision Decision(...) gives, field for
field, in the same order, equal and hashed alike, for every field the dataclass has (a
field added to Decision and not to made fails here)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.authoring.portfolio import synthetic_portfolio
from engine.decision import Decision, PolicyRef, Reason, Veto, Window
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from engine.vocabulary import Channel

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
WINDOW = Window(AS_OF, AS_OF + timedelta(hours=2), "Europe/Warsaw", "2026-11-24T10:00", "2026-11-24T12:00", ("Europe/Warsaw",))
FIELDS = dict(
    case_id="case-1", action="SEND_SMS", channel=Channel.SMS, window=WINDOW, offer=None, template="reminder-1",
    reasons=(Reason("r1", "why"),), fired_rules=("r1", "r2"), vetoes=(Veto("r2", "g", "no", Channel.EMAIL),),
    policy=PolicyRef("p", "1", "abc"), as_of=AS_OF, next_review_at=AS_OF + timedelta(days=1),
)


@pytest.mark.parametrize("extra", [{}, {"window_constraints": (Reason("hours", "local hours"),)}], ids=["plain", "constrained"])
def test_a_decision_made_is_the_decision_init_makes(extra: dict[str, object]) -> None:
    made = Decision.made(**FIELDS, **extra)  # type: ignore[arg-type]
    built = Decision(**FIELDS, **extra)  # type: ignore[arg-type]
    assert type(made) is Decision
    assert made == built and hash(made) == hash(built)
    assert list(vars(made).items()) == list(vars(built).items())  # every field, in declared order
    assert list(vars(made)) == [field.name for field in dataclasses.fields(Decision)]
    assert dataclasses.replace(made, action="NO_CONTACT") == dataclasses.replace(built, action="NO_CONTACT")
    assert made.amended(experiment_arm="e:a") == built.amended(experiment_arm="e:a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.action = "NO_CONTACT"  # type: ignore[misc]


def test_every_decision_the_engine_makes_is_one_init_would_make() -> None:
    engine = build_engine(REPO / "rules", "durable")
    for data in synthetic_portfolio(300, AS_OF, seed=5):
        decision = engine.decide(parse_snapshot(data, AS_OF), AS_OF)
        rebuilt = Decision(**{field.name: getattr(decision, field.name) for field in dataclasses.fields(Decision)})
        assert list(vars(decision).items()) == list(vars(rebuilt).items()), data["case_id"]
        assert hash(decision) == hash(rebuilt)

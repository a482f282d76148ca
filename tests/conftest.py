"""Shared helpers: write small policies into a temporary rules directory."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.policy.ir import Policy
from engine.policy.loader import load_strategy
from engine.snapshot import CaseSnapshot, parse_snapshot

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Warsaw


def write_policy(directory: Path, yaml_text: str, name: str = "policy.yaml") -> Path:
    strategies = directory / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    path = strategies / name
    path.write_text(textwrap.dedent(yaml_text).lstrip(), encoding="utf-8")
    return path


def load_policy(directory: Path, yaml_text: str) -> Policy:
    write_policy(directory, yaml_text)
    return load_strategy(directory / "strategies")


def snapshot(as_of: datetime = AS_OF, **overrides: Any) -> CaseSnapshot:
    data: dict[str, Any] = {
        "case_id": "case-1",
        "country": "PL",
        "time_zone": "Europe/Warsaw",
        "amount_due": "500.00",
        "currency": "PLN",
        "days_past_due": 10,
        "segment": "retail",
        "consents": {"sms": True, "email": True, "phone": True, "letter": True, "push": True},
    }
    data.update(overrides)
    return parse_snapshot(data, as_of)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return tmp_path


def without_ids(message: Any) -> Any:
    """A copy of a proto answer with every decision_id cleared: two calls that decide alike
    differ only in their ids (each decision gets its own)."""
    copy = type(message)()
    copy.CopyFrom(message)
    _clear_ids(copy)
    return copy


def _clear_ids(message: Any) -> None:
    for field, value in message.ListFields():
        if field.name == "decision_id":
            message.ClearField("decision_id")
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for item in value if field.is_repeated else [value]:
                _clear_ids(item)

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


FINAL_NOTICE_THEN = "      action: FINAL_NOTICE\n      channel: [letter, email]\n      template: final-notice\n"


def final_notice_as_reminder(directory: Path) -> Path:
    """A copy of the shipped rules under `directory` with one change: the final notice becomes a
    plain reminder, so that many cases move (a baseline for simulate's comparison)."""
    import shutil

    rules = directory / "rules"
    shutil.copytree(REPO / "rules", rules)
    policy = rules / "strategies" / "default.yaml"
    text = policy.read_text(encoding="utf-8")
    assert text.count(FINAL_NOTICE_THEN) == 1
    policy.write_text(text.replace(FINAL_NOTICE_THEN, FINAL_NOTICE_THEN.replace("FINAL_NOTICE", "SEND_REMINDER")), encoding="utf-8")
    return rules


def call_every_day_rules(directory: Path) -> Path:
    """The shipped packs under `directory` with a strategy that calls every person every day, without pacing."""
    import shutil

    shutil.copytree(REPO / "rules" / "compliance", directory / "compliance")
    write_policy(directory, """\
        policy: call-every-day
        version: "1"
        debtor: {bundle: [[CALL]]}
        rules:
          - {id: call, priority: 10, when: {}, then: {action: CALL, channel: phone}, reason: x}
        """)
    return directory


"""Policy test files read through typed models, with the JSON Schema editors use
(engine/authoring/policy_test_model.py, rules/schema/policy-test.schema.json)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.authoring.policy_test_model import TestFile, policy_test_schema
from engine.authoring.policy_tests import load_test_file
from engine.errors import PolicyError
from tests.conftest import REPO

SCHEMA = REPO / "rules" / "schema" / "policy-test.schema.json"


def as_written(value: Any) -> Any:
    """YAML's timestamps back to the text an editor sees."""
    if isinstance(value, dict):
        return {key: as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_written(item) for item in value]
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def shipped_test_files() -> list[Path]:
    return sorted(path for path in (REPO / "rules").rglob("*.yaml") if path.parent.name == "tests")


def test_the_committed_schema_is_the_models_schema() -> None:
    assert json.loads(SCHEMA.read_text(encoding="utf-8")) == policy_test_schema()


def test_every_shipped_test_file_validates_against_the_schema_and_the_models() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    files = shipped_test_files()
    assert len(files) >= 12
    for path in files:
        document = as_written(yaml.safe_load(path.read_text(encoding="utf-8")))
        errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]
        assert not errors, f"{path}: {errors[:3]}"
        TestFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_schema_catches_what_an_editor_should_underline() -> None:
    validator = jsonschema.Draft202012Validator(policy_test_schema())
    typo = {"tests": [{"name": "n", "expect": {"acton": "CALL"}}]}
    assert any("acton" in error.message for error in validator.iter_errors(typo))
    wrong = {"tests": [{"name": "n", "expect": {"action": "CALLL"}}]}
    assert list(validator.iter_errors(wrong))
    single = {"tests": [{"name": "n", "expect": {"fired": "remind"}}]}  # one rule id needs no list
    assert not list(validator.iter_errors(single))


@pytest.mark.parametrize(
    ("written", "line", "message"),
    [
        ("next_review_at: 2026-11-25T10:00:00", 6, "expect.next_review_at: Input should have timezone info"),
        ("offer: {instalments: [2, null]}", 6, "expect.offer.instalments"),
        ("no_vetoes: false", 6, "expect.no_vetoes"),
        ("window: {}", 6, "must be null (none) or a mapping with at least one key"),
        (None, 3, "`expect` is missing"),
    ],
)
def test_a_bad_value_is_refused_at_its_line_naming_the_field(tmp_path: Path, written: str | None, line: int, message: str) -> None:
    path = tmp_path / "tests" / "t.yaml"
    path.parent.mkdir()
    text = 'as_of: "2026-11-24T10:00:00+01:00"\ntests:\n  - name: one\n    case: {days_past_due: 5}\n'
    if written is not None:
        text += f"    expect:\n      {written}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_test_file(path)
    problem = error.value.problems[0]
    assert (problem.file, problem.line) == (str(path), line) and message in problem.message, str(error.value)
    assert not re.search(r"\btests\.", problem.message)  # the line points at the test already

"""The committed JSON Schemas accept the shipped rules under a validator that checks formats.

Editors and CI tools (check-jsonschema, yaml-language-server) check `format`
keywords; the schemas must not claim a format the shipped files do not have
(contact hours were once `format: time`, i.e. RFC 3339 "08:00:00Z", which
rejected "08:00" in every pack that sets hours).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from jsonschema import Draft202012Validator

from engine.errors import PolicyError
from engine.policy.packs import load_pack

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
SCHEMAS = {"strategies": "policy.schema.json", "compliance": "pack.schema.json"}
CHECKER = Draft202012Validator.FORMAT_CHECKER


def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((RULES / "schema" / SCHEMAS[kind]).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=CHECKER)


def shipped_files() -> list[Path]:
    return [path for path in sorted(RULES.rglob("*.yaml")) if "tests" not in path.relative_to(RULES).parts]


def formats(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            yield node["format"]
        for value in node.values():
            yield from formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from formats(value)


def test_the_validator_really_checks_time_formats() -> None:
    # Without rfc3339-validator installed jsonschema skips `format: time` silently,
    # and the test below would pass whatever the schema says.
    assert not CHECKER.conforms("08:00", "time")
    assert CHECKER.conforms("08:00:00Z", "time")


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_format_in_the_schemas_is_one_the_validator_checks(kind: str) -> None:
    schema = json.loads((RULES / "schema" / SCHEMAS[kind]).read_text(encoding="utf-8"))
    unchecked = sorted(set(formats(schema)) - set(CHECKER.checkers))
    assert not unchecked, f"{SCHEMAS[kind]} uses formats no validator here checks: {unchecked}"


@pytest.mark.parametrize("path", shipped_files(), ids=lambda path: str(path.relative_to(RULES)))
def test_every_shipped_file_validates_with_format_checks(path: Path) -> None:
    kind = path.relative_to(RULES).parts[0]
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}" for error in validator(kind).iter_errors(document)]
    assert not errors, f"{path.relative_to(REPO)}: {errors}"


def test_every_shipped_pack_and_the_strategy_were_checked() -> None:
    kinds = [path.relative_to(RULES).parts[0] for path in shipped_files()]
    assert kinds.count("strategies") >= 1 and kinds.count("compliance") >= 8


PACK = """\
policy: hours
version: "1"
kind: compliance
applies_to: {countries: [PL]}
contact_hours:
  - {id: hours, opens: %s, closes: "20:00", reason: x}
"""


@pytest.mark.parametrize("opens, loads", [('"08:00"', True), ('"07:30:00"', True), ('"8:00"', False), ('"0800"', False), ('"24:00"', False), ("8:00", False)])
def test_the_schema_and_the_loader_agree_on_clock_times(tmp_path: Path, opens: str, loads: bool) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(PACK % opens, encoding="utf-8")
    try:
        load_pack(path)
        loaded = True
    except PolicyError:
        loaded = False
    valid = validator("compliance").is_valid(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert (loaded, valid) == (loads, loads)

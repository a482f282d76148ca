"""YAML composed by libyaml reads exactly as YAML composed node by node in Python.

load_yaml lets libyaml compose the document and counts the limits afterwards;
load_yaml_reference composes it in Python, counting as it goes (as every file
was read before). Both must give the same values, the same line and column for
every value, and the same errors at the same places.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.errors import PolicyError
from engine.policy import yaml_source
from engine.policy.yaml_source import MAX_DEPTH, load_yaml, load_yaml_reference
from tests.conftest import REPO

YAML_FILES = sorted(path for root in (REPO / "rules", REPO / "tests") for suffix in ("*.yaml", "*.yml") for path in root.rglob(suffix))

BROKEN = {
    "syntax error": "policy: p\nrules:\n  - id: a\n   priority: 3\n",
    "unclosed flow": "policy: p\nrules: [a, b\n",
    "tab indentation": "policy: p\nrules:\n\t- id: a\n",
    "duplicate key": "policy: p\nversion: '1'\npolicy: q\n",
    "duplicate key deep": "rules:\n  - id: a\n    when: {segment: x, segment: y}\n",
    "bad date": "as_of: 2026-13-01\n",
    "huge number": "amount: 1e999999999999\nwhole: " + "9" * 5000 + "\n",
    "unknown tag": "policy: !custom p\n",
    "python tag": "policy: !!python/object:os.system x\n",
    "set tag": "policy: !!set {a, b}\n",
    "merge key": "base: &b {a: 1}\nother:\n  <<: *b\n",
    "key that is a list": "[a, b]: 1\n",
    "undefined alias": "a: *nowhere\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\nc: *x\n",
    "alias inside itself": "a: &x [1, *x]\n",
    "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)),
    "too deep": "a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n",
    "too deep blocks": "".join(" " * depth + f"k{depth}:\n" for depth in range(MAX_DEPTH + 2)) + " " * (MAX_DEPTH + 2) + "end\n",
    "deeper than libyaml allows": "a: " + "[" * 20_000 + "\n",
    "keys that are not words": "null: nothing\n2026-01-01: date\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "empty": "# nothing here\n",
    "bad unicode escape": 'a: "\\ud800"\n',
}

VALID = {
    "aliases within limits": "a: &a {x: 1, y: [2, 3]}\nb: *a\nc: [*a, *a]\n",
    "keys of numbers and true/false": "1: one\ntrue: yes\n",
    "just below the depth": "a: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n",
    "scalars": "text: 'quoted'\nplain: word\nnumber: 3.5\nwhole: 7\ndate: 2026-11-24\nstamp: 2026-11-24T10:00:00+01:00\nflag: no\nnothing: ~\nbinary: !!binary aGVsbG8=\n",
}


def _outcome(load, text: str) -> tuple[str, object]:
    try:
        data, source = load(text, "policy.yaml")
    except PolicyError as error:
        return "refused", [(problem.file, problem.line, problem.column, problem.message, problem.rule_id) for problem in error.problems]
    return "loaded", (data, source.positions)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_shipped_and_fixture_file_reads_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _outcome(load_yaml, text) == _outcome(load_yaml_reference, text)


def test_there_are_files_to_compare() -> None:
    assert len(YAML_FILES) >= 10


@pytest.mark.parametrize("name", list(BROKEN) + list(VALID))
def test_broken_and_tricky_files_read_alike(name: str) -> None:
    text = BROKEN.get(name) or VALID[name]
    fast, reference = _outcome(load_yaml, text), _outcome(load_yaml_reference, text)
    assert fast == reference
    assert fast[0] == ("refused" if name in BROKEN else "loaded"), fast


def test_refusals_name_the_place_and_the_limit() -> None:
    # The errors themselves, not only their sameness: these are what an analyst reads.
    assert _outcome(load_yaml, BROKEN["duplicate key"])[1] == [("policy.yaml", 3, 1, "`policy` appears twice in the same block; keep one", None)]
    refused = _outcome(load_yaml, BROKEN["billion laughs"])[1]
    assert refused[0][1:3] == (6, 8) and "more than 100,000 values" in refused[0][3]  # type: ignore[index]
    assert "stands inside the block it names" in _outcome(load_yaml, BROKEN["alias inside itself"])[1][0][3]  # type: ignore[index]
    assert f"more than {MAX_DEPTH} deep" in _outcome(load_yaml, BROKEN["too deep"])[1][0][3]  # type: ignore[index]


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
def test_a_valid_file_is_composed_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def composed_in_python(*_: object) -> None:
        raise AssertionError("composed node by node in Python")

    monkeypatch.setattr(yaml_source, "_compose_counting", composed_in_python)
    data, source = load_yaml((REPO / "rules" / "strategies" / "default.yaml").read_text(encoding="utf-8"), "default.yaml")
    assert data["policy"] == "default-strategy"
    lines = (REPO / "rules" / "strategies" / "default.yaml").read_text(encoding="utf-8").splitlines()
    first_rule = next(number for number, line in enumerate(lines, 1) if number > lines.index("rules:") and line.startswith("  - id:"))
    assert source.where(("rules", 0)) == (first_rule, 5)


@pytest.mark.parametrize("path", YAML_FILES[:4] + [REPO / "rules" / "strategies" / "default.yaml"], ids=lambda path: path.name)
def test_without_libyaml_values_and_places_are_the_same(path: Path) -> None:
    # PyYAML's pure-Python parser, as on a machine without libyaml.
    text = path.read_text(encoding="utf-8")
    assert _outcome(lambda text, file: load_yaml_reference(text, file, yaml_source._PythonParser), text) == _outcome(load_yaml, text)


@pytest.mark.parametrize("name", ["duplicate key", "duplicate key deep", "bad date", "unknown tag", "merge key", "billion laughs", "alias inside itself", "too deep"])
def test_without_libyaml_errors_are_the_same(name: str) -> None:
    python = _outcome(lambda text, file: load_yaml_reference(text, file, yaml_source._PythonParser), BROKEN[name])
    assert python == _outcome(load_yaml, BROKEN[name])

"""Rule sets durable_rules cannot hold are refused with the rules named, never served.

durable_rules 2.0.28 spins forever (holding the GIL) when one node of its
network gets more than 511 children, so each case runs in a subprocess with a
timeout: a regression fails here instead of hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

BUILD = """
import sys
from pathlib import Path
from engine.errors import PolicyError
from engine.registry import build_engine
try:
    engine = build_engine(Path(sys.argv[1]))
except PolicyError as error:
    print("REFUSED", error)
    sys.exit(3)
print("LOADED", len(engine.policy.rules))
"""


def _rules(tmp_path: Path, rules_yaml: str) -> Path:
    strategies = tmp_path / "strategies"
    strategies.mkdir(parents=True)
    (strategies / "policy.yaml").write_text('policy: big\nversion: "1"\nrules:\n' + rules_yaml, encoding="utf-8")
    (tmp_path / "compliance").symlink_to(REPO / "rules" / "compliance")
    return tmp_path


def _build(rules: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BUILD, str(rules)], cwd=REPO, capture_output=True, text=True, timeout=60)


def _rule(rule_id: str, when: str, priority: int = 10) -> str:
    return textwrap.indent(f"- id: {rule_id}\n  priority: {priority}\n  when: {when}\n  then: {{action: SEND_REMINDER, channel: sms}}\n  reason: x\n", "  ")


def test_a_long_value_list_loads_and_decides(tmp_path: Path) -> None:
    # 440 values froze every worker: an `$or` of 440 nodes under one parent beside the other rules.
    values = ", ".join(f"s{index}" for index in range(2000))
    rules = _rules(tmp_path, _rule("listed", f"{{segment: {{in: [{values}]}}}}") + _rule("also", f"{{product: {{not_in: [{values}]}}}}"))
    result = _build(rules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_durable_or_of_equalities_is_a_value_list_too(tmp_path: Path) -> None:
    branches = ", ".join(f"{{segment: s{index}}}" for index in range(600))
    result = _build(_rules(tmp_path, _rule("power-user", f"{{durable: {{$or: [{branches}]}}}}")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_many_rules_with_different_first_conditions_load(tmp_path: Path) -> None:
    # 600 rules each starting with its own condition crowded durable's root node.
    rules = "".join(_rule(f"r{index}", f"{{days_past_due: {{gte: {index}}}}}", priority=index) for index in range(600))
    result = _build(_rules(tmp_path, rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED 600" in result.stdout


def test_an_any_of_hundreds_of_comparisons_is_refused_naming_the_rule(tmp_path: Path) -> None:
    branches = ", ".join(f"{{days_past_due: {{gte: {index}}}}}" for index in range(500))
    result = _build(_rules(tmp_path, _rule("fan", f"{{any: [{branches}]}}")))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "policy.yaml:4:1 (rule fan)" in result.stdout
    assert "durable_rules holds at most 400" in result.stdout


def test_too_many_groups_in_one_rule_are_refused_naming_the_rule(tmp_path: Path) -> None:
    groups = ", ".join(f"{{any: [{{days_past_due: {index}}}, {{amount_due: {{gte: {index}}}}}]}}" for index in range(20))
    result = _build(_rules(tmp_path, _rule("nested", f"{{all: [{groups}]}}")))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "(rule nested)" in result.stdout and "all/any groups" in result.stdout

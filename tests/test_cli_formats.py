"""`check` and `lint` as a CI pipeline uses them: the rules directory as a
positional path (`--rules` its alias), `--version`, and `--format
text|json|junit|sarif|github` with the file and line of every problem
(engine/authoring/formats.py, engine/authoring/arguments.py)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest

from engine.authoring.cli import main
from engine.authoring.formats import POLICY_LANGUAGE_VERSION, Annotation, render
from tests.conftest import REPO, write_policy

# The official schema (OASIS SARIF 2.1.0, errata 01): tests/schemas/README.md says where it is from.
SARIF_SCHEMA = json.loads((REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
# https://docs.github.com/actions/reference/workflow-commands-for-github-actions
WORKFLOW_COMMAND = re.compile(r"^::(error|warning|notice) file=[^,:]+(,line=\d+(,col=\d+)?)?,title=[^,:]+::[^\r\n]+$")

OVERLAP = """
policy: p
version: "1"
rules:
  - id: a
    priority: 5
    when: {days_past_due: {lt: 12}}
    then: {action: SEND_REMINDER, channel: email}
    reason: x
  - id: b
    priority: 5
    when: {days_past_due: {lt: 5}}
    then: {action: SEND_REMINDER, channel: sms}
    reason: x
  - id: z
    priority: 0
    then: {action: HUMAN_REVIEW}
    reason: x
"""  # b (line 9) ties with a: one warning, overlap-same-priority
BROKEN = """
policy: broken
version: "1"
rules:
  - {id: a, priority: 1, when: {segmnt: retail}, then: {action: NO_CONTACT}, reason: x}
  - {id: b, priority: 1, then: {action: CALL}, reason: x}
"""  # two load problems: line 4 column 33 (`segmnt`), line 5 column 26 (no channel)
WARNING_AT = ("rules/strategies/p.yaml", 9)
PROBLEMS_AT = [("broken/strategies/policy.yaml", 4, 33), ("broken/strategies/policy.yaml", 5, 26)]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout as CI has it: `rules/` with a lint warning, `broken/` that does not load; paths relative to it."""
    write_policy(tmp_path / "rules", OVERLAP, name="p.yaml")
    write_policy(tmp_path / "broken", BROKEN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- paths and versions -----------------------------------------------------


def test_the_rules_directory_is_positional_for_check_and_lint(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", "rules")
    assert code == 0 and "rules/strategies/p.yaml:9: warning [overlap-same-priority] b:" in out
    code, out, _ = run(capsys, "check", str(REPO / "rules"))
    assert code == 0 and "ok: policy default-strategy" in out
    code, _, err = run(capsys, "check", "broken")
    assert code == 1 and "broken/strategies/policy.yaml:4:33 (rule a):" in err


def test_rules_stays_an_alias_and_both_spellings_with_one_directory_agree(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["lint", "--rules", "rules"], ["lint", "rules", "--rules", "rules/"], ["lint", "--rules=rules", "rules"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "0 error(s), 1 warning(s)" in out, argv
    code, _, err = run(capsys, "check", "--rules", "broken")
    assert code == 1 and "2 problem(s)" in err


@pytest.mark.parametrize("command", ["check", "lint"])
def test_two_different_rules_directories_are_a_usage_error(command: str, workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, "rules", "--rules", "broken"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "given twice" in error and "rules" in error and "broken" in error


def test_version_names_the_engine_and_the_policy_language(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"collection-strategy: engine {metadata.version('collection-strategy-engine')}, policy language {POLICY_LANGUAGE_VERSION}"


# --- formats --------------------------------------------------------------


def test_text_stays_the_default(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "lint", "rules", "--format", "text") == run(capsys, "lint", "rules")
    code, out, err = run(capsys, "check", "broken", "--format", "text")
    assert code == 1 and out == "" and err.startswith("broken/strategies/policy.yaml:4:33 (rule a): `segmnt`: unknown fact")


def test_json_lists_every_finding_and_problem_with_its_place(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "lint", "rules", "--format", "json")
    assert code == 0 and "1 warning(s)" in err
    [finding] = json.loads(out)
    assert (finding["path"], finding["line"], finding["severity"], finding["code"], finding["rule_id"]) == (*WARNING_AT, "warning", "overlap-same-priority", "b")
    code, out, _ = run(capsys, "check", "broken", "--format", "json")
    problems = json.loads(out)
    assert code == 1 and [(p["path"], p["line"], p["column"]) for p in problems] == PROBLEMS_AT
    assert [p["rule_id"] for p in problems] == ["a", "b"] and "did you mean `segment`?" in problems[0]["message"]
    code, out, err = run(capsys, "check", str(REPO / "rules"), "--format", "json")
    assert code == 0 and json.loads(out) == [] and "ok: policy" in err


def test_junit_is_xml_a_ci_shows_as_test_results(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", "rules", "--format", "junit")
    suites = ElementTree.fromstring(out.encode())
    [suite] = suites.findall("testsuite")
    [case] = suite.findall("testcase")
    assert code == 0 and suites.tag == "testsuites" and suite.get("tests") == "1" and suite.get("failures") == "1"
    assert case.get("classname") == WARNING_AT[0] and "overlap-same-priority" in case.get("name", "")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "warning" and "rules/strategies/p.yaml:9" in (failure.text or "")
    code, out, _ = run(capsys, "check", "broken", "--format", "junit")
    cases = ElementTree.fromstring(out.encode()).findall("testsuite/testcase")
    assert code == 1 and [case.get("name", "").split(" ")[0] for case in cases] == [f"{path}:{line}:{column}" for path, line, column in PROBLEMS_AT]
    assert all(case.find("failure") is not None for case in cases)
    code, out, _ = run(capsys, "check", str(REPO / "rules"), "--format", "junit")
    clean = ElementTree.fromstring(out.encode()).findall("testsuite/testcase")
    assert code == 0 and len(clean) == 1 and clean[0].find("failure") is None  # a clean run still shows as one passed test


def test_sarif_is_valid_against_the_official_schema(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict enough to refuse a log without a version
        validator.validate({"runs": []})
    code, out, _ = run(capsys, "lint", "rules", "--format", "sarif")
    log = json.loads(out)
    validator.validate(log)
    [result] = log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert code == 0 and result["level"] == "warning" and result["ruleId"] == "overlap-same-priority"
    assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == WARNING_AT
    code, out, _ = run(capsys, "check", "broken", "--format", "sarif")
    log = json.loads(out)
    validator.validate(log)
    regions = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["locations"][0]["physicalLocation"]["region"]) for r in log["runs"][0]["results"]]
    assert code == 1 and regions == [(path, {"startLine": line, "startColumn": column}) for path, line, column in PROBLEMS_AT]
    code, out, _ = run(capsys, "check", str(REPO / "rules"), "--format", "sarif")
    log = json.loads(out)
    validator.validate(log)
    assert code == 0 and log["runs"][0]["results"] == []


def test_github_annotates_the_pull_request_on_the_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", "rules", "--format", "github")
    [line] = out.splitlines()
    assert code == 0 and WORKFLOW_COMMAND.match(line), line
    assert line.startswith("::warning file=rules/strategies/p.yaml,line=9,title=")
    code, out, _ = run(capsys, "check", "broken", "--format", "github")
    lines = out.splitlines()
    assert code == 1 and all(WORKFLOW_COMMAND.match(line) for line in lines), lines
    assert [line.split(",title=")[0] for line in lines] == [f"::error file={path},line={line},col={column}" for path, line, column in PROBLEMS_AT]


def test_rules_that_cannot_be_built_still_give_a_pipeline_a_document(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CSE_BUILD_MEMORY_MB", "20")  # too little even to start: stands in for a rule set that exhausts it
    for command in ("lint", "check"):
        code, out, _ = run(capsys, command, str(REPO / "rules"), "--format", "github")
        assert code == 1 and out.startswith(f"::error file={REPO / 'rules'},title=build::building the rules"), out


def test_github_and_junit_keep_one_annotation_whole_whatever_its_message() -> None:
    awkward = Annotation("rules/a, b.yaml", 3, None, "info", "gaps", "x: y", "100% covered?\nno,\r\x00 not: quite")
    [line] = render([awkward], "github").splitlines()
    assert line == "::notice file=rules/a%2C b.yaml,line=3,title=[gaps] x%3A y::100%25 covered?%0Ano,%0D\x00 not: quite"
    case = ElementTree.fromstring(render([awkward], "junit").encode()).find("testsuite/testcase")
    assert case is not None and case.find("failure") is None and "not: quite" in (case.findtext("system-out") or "")

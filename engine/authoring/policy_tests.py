"""Policy tests: scenarios analysts write in YAML beside their policies.

A test names a case, the instant it is decided at, and what the engine must
answer. `collection-strategy test` runs every `tests/*.yaml` under the rules
directory against the engine built from that directory and prints, for each
failure, one line per mismatching field (`expected X, got Y`) with the rules
that fired and the guardrails that vetoed. The format is described in
docs/policy-tests.md.

Test files are read through typed models (policy_test_model); which rules the
tests reach is policy_coverage; the formats a pipeline reads, policy_test_formats.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from engine.decision import Decision
from engine.errors import InvalidSnapshot, PolicyError, PolicyProblem
from engine.last_good import visible_files
from engine.policy.yaml_source import SourceMap, load_yaml, read_yaml_file
from engine.authoring.policy_coverage import Coverage, format_coverage, measure, reached_by
from engine.authoring.policy_test_model import ExpectSpec, OfferSpec, TestFile, WindowSpec, expectation
from engine.policy.loader import model_problems  # the policies' pydantic errors -> file:line
from engine.registry import build_engine
from engine.policy.inputs import check_inputs
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Channel

TEST_DIR = "tests"
TEST_SUFFIXES = (".yaml", ".yml")
DEFAULT_CASE_ID = "policy-test"  # so a test need not invent a case id

EXPECT_KEYS = tuple(ExpectSpec.model_fields)  # in the order the checks report them
WINDOW_KEYS = tuple(WindowSpec.model_fields)
OFFER_KEYS = tuple(OfferSpec.model_fields)

Where = tuple[str | int, ...]


# --- what a test file holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTest:
    file: str
    line: int
    name: str
    as_of: datetime
    case: dict[str, Any]
    expect: dict[str, Any]
    # Where the test's case sits in its file, to put a line on snapshot errors.
    source: SourceMap = field(compare=False, repr=False)
    path: Where = ()


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class, despite the name

    file: str
    line: int
    name: str
    passed: bool
    diff: tuple[str, ...] = ()  # one line per mismatching field
    decided: tuple[str, ...] = ()  # what the engine answered, to help read the diff
    reached: frozenset[str] = frozenset()  # the rules that took part in the decision (with coverage only)


@dataclass
class TestReport:
    __test__ = False

    results: list[TestResult] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)  # test files that could not be read
    deselected: int = 0  # tests left out by `-k`
    coverage: Coverage | None = None

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.problems and self.failed == 0


# --- discovery and loading ----------------------------------------------------------------------


def discover(rules_dir: Path) -> list[Path]:
    """Every `tests/*.yaml` anywhere under the rules directory, in a stable order."""
    if not rules_dir.is_dir():
        return []
    return sorted(
        path for path in visible_files(rules_dir) if path.suffix in TEST_SUFFIXES and path.parent.name == TEST_DIR
    )


def load_test_file(path: Path, rule_ids: frozenset[str] | None = None) -> list[PolicyTest]:
    """The tests of one file, read through the typed models (engine/authoring/policy_test_model.py);
    PolicyError with file:line for every problem in it.

    With `rule_ids`, a rule named in `fired`, `not_fired` or a veto must exist:
    a misspelt id would otherwise make `not_fired` pass for ever.
    """
    data, source = load_yaml(read_yaml_file(path), str(path))
    if not isinstance(data, dict):
        raise PolicyError([source.problem((), "a test file is a mapping with a `tests:` list")])
    try:
        spec = TestFile.model_validate(data)
    except ValidationError as error:
        # The line points at the test already: `expect.action: ...`, not `tests.expect.action: ...`.
        refused = [dataclasses.replace(problem, message=problem.message.removeprefix("tests.")) for problem in model_problems(error.errors(), data, source, TestFile)]
        raise PolicyError(sorted(refused, key=lambda problem: (problem.line, problem.column))) from None
    problems: list[PolicyProblem] = []
    tests: list[PolicyTest] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(spec.tests):
        where: Where = ("tests", index)
        line, _ = source.where(where)
        as_of = item.as_of or spec.as_of
        if as_of is None:
            problems.append(source.problem(where, "a test needs an `as_of` (or the file a default `as_of`), e.g. 2026-11-24T10:00:00+01:00"))
        expect = expectation(item.expect)
        if not expect:
            problems.append(source.problem((*where, "expect"), f"`expect` must give at least one of: {', '.join(EXPECT_KEYS)}"))
        if rule_ids is not None:
            problems += _unknown_rules(expect, (*where, "expect"), source, rule_ids)
        if item.name in seen:
            problems.append(source.problem((*where, "name"), f"the name `{item.name}` is already used on line {seen[item.name]}; names must be unique in a file"))
        seen[item.name] = line
        if as_of is not None:
            case = _deep_merge(spec.defaults, item.case)
            case.setdefault("case_id", DEFAULT_CASE_ID)
            tests.append(PolicyTest(source.file, line, item.name, as_of, case, expect, source, where))
    if problems:
        raise PolicyError(sorted(problems, key=lambda problem: (problem.line, problem.column)))
    return tests


def _unknown_rules(expect: dict[str, Any], where: Where, source: SourceMap, rule_ids: frozenset[str]) -> list[PolicyProblem]:
    named: list[tuple[Where, str]] = []
    for key in ("fired", "not_fired"):
        named += [((*where, key, index), rule) for index, rule in enumerate(expect.get(key) or ())]
    named += [((*where, "vetoes", index, "rule_id"), veto["rule_id"]) for index, veto in enumerate(expect.get("vetoes") or ()) if veto.get("rule_id")]
    return [source.problem(path, f"`{rule}` is not a rule of the policy{_did_you_mean(rule, rule_ids)}") for path, rule in named if rule not in rule_ids]


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, nested mappings merged key by key (lists are replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --- comparing a decision with the expectation --------------------------------------------------


def _show(value: Any) -> str:
    """A value as an analyst would write it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_show(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Channel):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _same(label: str, expected: Any, got: Any) -> list[str]:
    return [] if expected == got else [f"{label}: expected {_show(expected)}, got {_show(got)}"]


def _check_action(expected: str, decision: Decision) -> list[str]:
    return _same("action", expected, decision.action)


def _check_channel(expected: str | None, decision: Decision) -> list[str]:
    return _same("channel", expected, decision.channel.value if decision.channel else None)


def _check_template(expected: str | None, decision: Decision) -> list[str]:
    return _same("template", expected, decision.template)


def _check_reason(expected: str, decision: Decision) -> list[str]:
    return _same("reason", expected, decision.reasons[0].code if decision.reasons else None)


def _check_reason_text(fragments: tuple[str, ...], decision: Decision) -> list[str]:
    # Any reason counts: the deciding rule's text, and e.g. a note that the offer was adjusted.
    texts = [reason.text for reason in decision.reasons]
    return [
        f"reason text: expected it to contain {fragment!r}, got {' / '.join(repr(text) for text in texts) or 'no reason'}"
        for fragment in fragments
        if not any(fragment in text for text in texts)
    ]


def _check_fired(rules: tuple[str, ...], decision: Decision) -> list[str]:
    return [f"fired: expected {rule} to fire, got it not firing" for rule in rules if rule not in decision.fired_rules]


def _check_not_fired(rules: tuple[str, ...], decision: Decision) -> list[str]:
    return [f"not_fired: expected {rule} not to fire, got it firing" for rule in rules if rule in decision.fired_rules]


def _veto_matches(expected: dict[str, Any], veto: Any) -> bool:
    channel = veto.channel.value if veto.channel else None
    return (
        veto.guardrail == expected["guardrail"]
        and expected.get("rule_id", veto.rule_id) == veto.rule_id
        and expected.get("channel", channel) == channel
    )


def _check_vetoes(expected: tuple[dict[str, Any], ...], decision: Decision) -> list[str]:
    return [
        f"vetoes: expected a veto {_show(veto)}, got none that matches"
        for veto in expected
        if not any(_veto_matches(veto, actual) for actual in decision.vetoes)
    ]


def _check_no_vetoes(_: bool, decision: Decision) -> list[str]:
    if not decision.vetoes:
        return []
    return [f"vetoes: expected none, got {len(decision.vetoes)}: {'; '.join(_describe_veto(veto) for veto in decision.vetoes)}"]


def _check_window(expected: dict[str, str] | None, decision: Decision) -> list[str]:
    window = decision.window
    if expected is None or window is None:
        got = None if window is None else {key: getattr(window, key) for key in WINDOW_KEYS}
        return [] if expected is None and window is None else [f"window: expected {_show(expected)}, got {_show(got)}"]
    return [line for key, value in expected.items() for line in _same(f"window.{key}", value, getattr(window, key))]


def _check_offer(expected: dict[str, Any] | None, decision: Decision) -> list[str]:
    offer = decision.offer
    if expected is None or offer is None:
        got = None if offer is None else {key: getattr(offer, key) for key in OFFER_KEYS}
        return [] if expected is None and offer is None else [f"offer: expected {_show(expected)}, got {_show(got)}"]
    # Decimals compare by value, so 50 and "50.00" agree.
    return [line for key, value in expected.items() for line in _same(f"offer.{key}", value, getattr(offer, key))]


def _check_next_review(expected: datetime, decision: Decision) -> list[str]:
    got = decision.next_review_at
    if got == expected:
        return []
    return [f"next_review_at: expected {expected.isoformat()}, got {got.astimezone(expected.tzinfo).isoformat()}"]


_CHECKS: dict[str, Callable[[Any, Decision], list[str]]] = {
    "action": _check_action,
    "channel": _check_channel,
    "template": _check_template,
    "reason": _check_reason,
    "reason_text_contains": _check_reason_text,
    "fired": _check_fired,
    "not_fired": _check_not_fired,
    "vetoes": _check_vetoes,
    "no_vetoes": _check_no_vetoes,
    "window": _check_window,
    "offer": _check_offer,
    "next_review_at": _check_next_review,
}


def mismatches(expect: dict[str, Any], decision: Decision) -> list[str]:
    """One line per field of the decision that differs from the expectation."""
    return [line for key in EXPECT_KEYS if key in expect for line in _CHECKS[key](expect[key], decision)]


def _describe_veto(veto: Any) -> str:
    channel = f" on {veto.channel.value}" if veto.channel else ""
    return f"{veto.guardrail} vetoed {veto.rule_id}{channel}"


def _describe(decision: Decision) -> tuple[str, ...]:
    channel = f" on {decision.channel.value}" if decision.channel else ", no channel"
    template = f", template {decision.template}" if decision.template else ""
    reason = decision.reasons[0].code if decision.reasons else "?"
    return (
        f"decided: {decision.action}{channel}{template} (reason {reason})",
        f"fired:   {', '.join(decision.fired_rules) or 'none'}",
        f"vetoes:  {'; '.join(_describe_veto(veto) for veto in decision.vetoes) or 'none'}",
    )


# --- running ------------------------------------------------------------------------------------


def _snapshot_problems(test: PolicyTest, error: InvalidSnapshot) -> tuple[str, ...]:
    """Each invalid field of the test's case, with the line it was written on."""
    lines = []
    for problem in error.problems:
        if problem.field == "case":
            lines.append(f"case: invalid, {problem.description}")
            continue
        description = problem.description
        if description == "Extra inputs are not permitted":
            description = f"unknown field{_did_you_mean(problem.field.rsplit('.', 1)[-1], CaseSnapshot.model_fields)}"
        lines.append(f"case.{problem.field}{_line_of(test, _field_path(problem.field))}: invalid, {description}")
    return tuple(lines)


def _line_of(test: PolicyTest, where: Where) -> str:
    # The test's own case overrides the file's defaults, so look there first.
    for base in ((*test.path, "case"), ("defaults",)):
        if where and (*base, where[0]) in test.source.positions:
            return f" (line {test.source.where((*base, *where))[0]})"
    return ""


def _field_path(text: str) -> Where:
    """`prior_contacts[2].at` -> ("prior_contacts", 2, "at")."""
    parts: list[str | int] = []
    for piece in text.replace("[", ".[").split("."):
        if piece.startswith("[") and piece.endswith("]") and piece[1:-1].isdigit():
            parts.append(int(piece[1:-1]))
        elif piece:
            parts.append(piece)
    return tuple(parts)


def run_test(engine: Any, test: PolicyTest, coverage: bool = False) -> TestResult:
    """One test against the engine; with `coverage`, the decision is explained so
    that the pack rules which held are seen (engine.authoring.policy_coverage)."""
    try:
        snapshot = check_inputs(parse_snapshot(test.case, test.as_of), engine.policy.inputs)
    except InvalidSnapshot as error:
        return TestResult(test.file, test.line, test.name, False, _snapshot_problems(test, error))
    decision = engine.decide(snapshot, test.as_of, explain=coverage)
    diff = tuple(mismatches(test.expect, decision))
    reached = reached_by(decision) if coverage else frozenset()
    return TestResult(test.file, test.line, test.name, not diff, diff, _describe(decision) if diff else (), reached)


def selected(name: str, pattern: str | None) -> bool:
    """`-k`: the test's name contains the pattern, ignoring case (pytest's -k at its simplest)."""
    return pattern is None or pattern.casefold() in name.casefold()


def within(path: Path, scopes: tuple[Path, ...]) -> bool:
    """A test file is run when it is one of the given paths or lies under one of them (none given: all)."""
    resolved = path.resolve()
    return not scopes or any(resolved == scope or scope in resolved.parents for scope in (scope.resolve() for scope in scopes))


def _known_rule_ids(engine: Any) -> frozenset[str] | None:
    # The strategy's rules are the ones that fire and get vetoed; None skips the check.
    rules = getattr(getattr(engine, "policy", None), "rules", None)
    return frozenset(rule.id for rule in rules) if rules else None


def run_policy_tests(
    rules_dir: Path, engine: Any = None, pattern: str | None = None, scopes: tuple[Path, ...] = (), coverage: bool = False
) -> TestReport:
    """Run every policy test under `rules_dir` with `engine` (built from `rules_dir` when None).

    `pattern` keeps the tests whose name contains it (`-k`); `scopes` keeps the test
    files under those paths; `coverage` measures which rules the tests run reach.
    Raises PolicyError when the rules themselves do not load.
    """
    engine = engine if engine is not None else build_engine(rules_dir)
    rule_ids = _known_rule_ids(engine)
    report = TestReport()
    for path in discover(rules_dir):
        if not within(path, scopes):
            continue
        try:
            tests = load_test_file(path, rule_ids)
        except PolicyError as error:
            report.problems += error.problems
            continue
        chosen = [test for test in tests if selected(test.name, pattern)]
        report.deselected += len(tests) - len(chosen)
        report.results += [run_test(engine, test, coverage) for test in chosen]
    if coverage:
        report.coverage = measure(engine, (result.reached for result in report.results))
    return report


def format_report(report: TestReport, failures_only: bool = False) -> str:
    lines: list[str] = [str(problem) for problem in report.problems]
    if report.problems and report.results:
        lines.append("")
    for result in report.results:
        if result.passed and failures_only:
            continue
        lines.append(f"{'PASS' if result.passed else 'FAIL'} {result.file}:{result.line} {result.name}")
        lines += [f"      {line}" for line in result.diff]
        lines += [f"      {line}" for line in result.decided]
    summary = counts(report)
    if report.coverage is not None:
        summary = f"{summary}\n{format_coverage(report.coverage)}"
    return "\n".join([*lines, "", summary]) if lines else summary


def counts(report: TestReport) -> str:
    """The run in one line: passed, failed, deselected, unreadable files."""
    summary = f"{report.passed} passed, {report.failed} failed"
    if report.deselected:
        summary += f", {report.deselected} deselected"
    if report.problems:
        summary += f", {len(report.problems)} problem(s) in test files (those files were not run)"
    if not report.results and not report.problems and not report.deselected:
        summary = "no policy tests found (tests/*.yaml beside the policy files)"
    return summary


# --- command line -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `test` to the `collection-strategy` command line (engine/authoring/policy_test_cli.py)."""
    from engine.authoring.policy_test_cli import register as add_test  # it imports this module

    add_test(subparsers)

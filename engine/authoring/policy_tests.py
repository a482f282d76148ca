"""Policy tests: scenarios analysts write in YAML beside their policies.

A test names a case, the instant it is decided at, and what the engine must
answer. `collection-strategy test` runs every `tests/*.yaml` under the rules
directory against the engine built from that directory and prints, for each
failure, one line per mismatching field (`expected X, got Y`) with the rules
that fired and the guardrails that vetoed. The format is described in
docs/policy-tests.md.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from engine.decision import Decision
from engine.errors import InvalidSnapshot, PolicyError, PolicyProblem
from engine.last_good import visible_files
from engine.policy.yaml_source import SourceMap, load_yaml, read_yaml_file
from engine.registry import build_engine
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel
from engine.shipped import default_rules_dir

TEST_DIR = "tests"
TEST_SUFFIXES = (".yaml", ".yml")
DEFAULT_CASE_ID = "policy-test"  # so a test need not invent a case id

FILE_KEYS = ("description", "as_of", "defaults", "tests")
TEST_KEYS = ("name", "description", "as_of", "case", "expect")
EXPECT_KEYS = (
    "action", "channel", "template", "reason", "reason_text_contains", "fired", "not_fired",
    "vetoes", "no_vetoes", "window", "offer", "next_review_at",
)
VETO_KEYS = ("guardrail", "rule_id", "channel")
WINDOW_KEYS = ("local_start", "local_end", "time_zone")
OFFER_KEYS = ("currency", "discount_pct", "instalments", "min_instalment", "max_deferral_days")

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


@dataclass
class TestReport:
    __test__ = False

    results: list[TestResult] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)  # test files that could not be read

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.problems and self.failed == 0


class _Bad(ValueError):
    """A value in a test file is wrong; `where` points below the value being checked."""

    def __init__(self, message: str, where: Where = ()):
        super().__init__(message)
        self.where = where


# --- discovery and loading ----------------------------------------------------------------------


def discover(rules_dir: Path) -> list[Path]:
    """Every `tests/*.yaml` anywhere under the rules directory, in a stable order."""
    if not rules_dir.is_dir():
        return []
    return sorted(
        path for path in visible_files(rules_dir) if path.suffix in TEST_SUFFIXES and path.parent.name == TEST_DIR
    )


def load_test_file(path: Path, rule_ids: frozenset[str] | None = None) -> list[PolicyTest]:
    """The tests of one file; PolicyError with file:line for every problem in it.

    With `rule_ids`, a rule named in `fired`, `not_fired` or a veto must exist:
    a misspelt id would otherwise make `not_fired` pass for ever.
    """
    data, source = load_yaml(read_yaml_file(path), str(path))
    problems: list[PolicyProblem] = []
    if not isinstance(data, dict):
        raise PolicyError([source.problem((), "a test file is a mapping with a `tests:` list")])
    problems += _unknown_keys(data, FILE_KEYS, (), source, "in a test file")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(source.problem(("defaults",), "`defaults` must be a mapping of snapshot fields"))
        defaults = {}
    file_as_of = _checked(lambda: _instant(data["as_of"]), ("as_of",), source, problems) if "as_of" in data else None
    items = data.get("tests")
    if not isinstance(items, list) or not items:
        problems.append(source.problem(("tests",), "`tests` must be a list with at least one test"))
        items = []
    tests: list[PolicyTest] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        test = _parse_test(item, ("tests", index), defaults, file_as_of, "as_of" in data, source, problems, rule_ids)
        if test is None:
            continue
        if test.name in seen:
            problems.append(source.problem(("tests", index, "name"), f"the name `{test.name}` is already used on line {seen[test.name]}; names must be unique in a file"))
        seen[test.name] = test.line
        tests.append(test)
    if problems:
        raise PolicyError(sorted(problems, key=lambda problem: (problem.line, problem.column)))
    return tests


def _parse_test(
    item: Any,
    where: Where,
    defaults: dict[str, Any],
    file_as_of: datetime | None,
    file_has_as_of: bool,
    source: SourceMap,
    problems: list[PolicyProblem],
    rule_ids: frozenset[str] | None,
) -> PolicyTest | None:
    if not isinstance(item, dict):
        problems.append(source.problem(where, "a test is a mapping with `name`, `as_of`, `case` and `expect`"))
        return None
    before = len(problems)
    problems += _unknown_keys(item, TEST_KEYS, where, source, "in a test")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(source.problem((*where, "name") if "name" in item else where, "a test needs a `name`: a short sentence saying what it checks"))
        name = "?"
    as_of = _checked(lambda: _instant(item["as_of"]), (*where, "as_of"), source, problems) if "as_of" in item else file_as_of
    if as_of is None and "as_of" not in item and not file_has_as_of:
        problems.append(source.problem(where, "a test needs an `as_of` (or the file a default `as_of`), e.g. 2026-11-24T10:00:00+01:00"))
    case = item.get("case") or {}
    if not isinstance(case, dict):
        problems.append(source.problem((*where, "case"), "`case` must be a mapping of snapshot fields"))
        case = {}
    expect = _parse_expect(item.get("expect"), (*where, "expect"), source, problems, rule_ids) if "expect" in item else None
    if "expect" not in item:
        problems.append(source.problem(where, "a test needs an `expect` block: what the engine must answer"))
    if len(problems) > before or as_of is None or expect is None:
        return None
    merged = _deep_merge(defaults, case)
    merged.setdefault("case_id", DEFAULT_CASE_ID)
    line, _ = source.where(where)
    return PolicyTest(source.file, line, name.strip(), as_of, merged, expect, source, where)


def _parse_expect(value: Any, where: Where, source: SourceMap, problems: list[PolicyProblem], rule_ids: frozenset[str] | None) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value:
        problems.append(source.problem(where, f"`expect` must be a mapping with at least one of: {', '.join(EXPECT_KEYS)}"))
        return None
    problems += _unknown_keys(value, EXPECT_KEYS, where, source, "in `expect`")
    expect: dict[str, Any] = {}
    for key, raw in value.items():
        if key in _NORMALISE:
            expect[key] = _checked(lambda: _NORMALISE[key](raw), (*where, key), source, problems)
    if rule_ids is not None:
        problems += _unknown_rules(expect, where, source, rule_ids)
    return expect


def _unknown_rules(expect: dict[str, Any], where: Where, source: SourceMap, rule_ids: frozenset[str]) -> list[PolicyProblem]:
    named: list[tuple[Where, str]] = []
    for key in ("fired", "not_fired"):
        named += [((*where, key, index), rule) for index, rule in enumerate(expect.get(key) or ())]
    named += [((*where, "vetoes", index, "rule_id"), veto["rule_id"]) for index, veto in enumerate(expect.get("vetoes") or ()) if "rule_id" in veto]
    return [source.problem(path, f"`{rule}` is not a rule of the policy{_did_you_mean(rule, rule_ids)}") for path, rule in named if rule not in rule_ids]


def _checked(parse: Callable[[], Any], where: Where, source: SourceMap, problems: list[PolicyProblem]) -> Any:
    """Run a parser; a bad value becomes a problem at its own line."""
    try:
        return parse()
    except _Bad as bad:
        problems.append(source.problem((*where, *bad.where), str(bad)))
        return None


def _unknown_keys(data: dict[str, Any], known: tuple[str, ...], where: Where, source: SourceMap, place: str) -> list[PolicyProblem]:
    return [
        source.problem((*where, key), f"`{key}`: unknown key {place}{_did_you_mean(key, known)}; use {', '.join(known)}")
        for key in data
        if key not in known
    ]


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


# --- checking and normalising expectations ------------------------------------------------------


def _instant(value: Any) -> datetime:
    # YAML reads an unquoted 2026-11-24T10:00:00+01:00 as a datetime already.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad(f"`{value}` is not an ISO 8601 instant such as 2026-11-24T10:00:00+01:00") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _Bad("must be an instant with a time zone offset, e.g. 2026-11-24T10:00:00+01:00")
    return value


def _text(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if not isinstance(value, str):
        raise _Bad(f"must be text, not {_show(value)}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _action(value: Any) -> str:
    actions = [action.value for action in Action]
    if value not in actions:
        raise _Bad(f"`{value}` is not an action{_did_you_mean(value, actions)}; use one of {', '.join(actions)}")
    return str(value)


def _channel(value: Any) -> str | None:
    channels = [channel.value for channel in Channel]
    if value is not None and value not in channels:
        raise _Bad(f"`{value}` is not a channel{_did_you_mean(value, channels)}; use one of {', '.join(channels)}, or null for none")
    return value


def _words(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) for item in items):
        raise _Bad("must be a rule id or a list of rule ids")
    return tuple(items)


def _fragments(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) for item in items):
        raise _Bad("must be a piece of text or a list of them")
    return tuple(items)


def _vetoes(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise _Bad("must be a list of vetoes such as {guardrail: consent, channel: sms}")
    vetoes = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Bad("a veto is a mapping such as {guardrail: consent, rule_id: firm-reminder, channel: sms}", (index,))
        for key in item:
            if key not in VETO_KEYS:
                raise _Bad(f"`{key}`: unknown key in a veto{_did_you_mean(key, VETO_KEYS)}; use {', '.join(VETO_KEYS)}", (index, key))
        if not isinstance(item.get("guardrail"), str):
            raise _Bad("a veto needs a `guardrail`, e.g. consent", (index,))
        veto = {"guardrail": item["guardrail"]}
        if "rule_id" in item:
            veto["rule_id"] = _text(item["rule_id"])
        if "channel" in item:
            try:
                veto["channel"] = _channel(item["channel"])
            except _Bad as bad:
                raise _Bad(str(bad), (index, "channel")) from None
        vetoes.append(veto)
    return tuple(vetoes)


def _true(value: Any) -> bool:
    if value is not True:
        raise _Bad("write `no_vetoes: true`, or leave it out")
    return True


def _window(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise _Bad(f"must be null (no window) or a mapping with any of {', '.join(WINDOW_KEYS)}")
    for key in value:
        if key not in WINDOW_KEYS:
            raise _Bad(f"`{key}`: unknown key in a window{_did_you_mean(key, WINDOW_KEYS)}; use {', '.join(WINDOW_KEYS)}", (key,))
    return {key: _text(raw) for key, raw in value.items()}


def _offer(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise _Bad(f"must be null (no offer) or a mapping with any of {', '.join(OFFER_KEYS)}")
    offer: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in OFFER_KEYS:
            raise _Bad(f"`{key}`: unknown key in an offer{_did_you_mean(key, OFFER_KEYS)}; use {', '.join(OFFER_KEYS)}", (key,))
        try:
            offer[key] = _OFFER_PARTS[key](raw)
        except _Bad as bad:
            raise _Bad(str(bad), (key,)) from None
    return offer


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Bad("must be an amount such as \"50.00\"")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"`{value}` is not an amount such as \"50.00\"") from None


def _whole(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _Bad(f"must be a whole number, not {_show(value)}")
    return value


def _pair(part: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any] | None]:
    def parse(value: Any) -> tuple[Any, Any] | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2 or None in value:
            raise _Bad("must be [min, max], or null for none")
        return (part(value[0]), part(value[1]))

    return parse


_OFFER_PARTS: dict[str, Callable[[Any], Any]] = {
    "currency": _text,
    "discount_pct": _pair(_decimal),
    "instalments": _pair(_whole),
    "min_instalment": _decimal,
    "max_deferral_days": _whole,
}

_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "action": _action,
    "channel": _channel,
    "template": _optional_text,
    "reason": _text,
    "reason_text_contains": _fragments,
    "fired": _words,
    "not_fired": _words,
    "vetoes": _vetoes,
    "no_vetoes": _true,
    "window": _window,
    "offer": _offer,
    "next_review_at": _instant,
}


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


def run_test(engine: Any, test: PolicyTest) -> TestResult:
    try:
        snapshot = parse_snapshot(test.case, test.as_of)
    except InvalidSnapshot as error:
        return TestResult(test.file, test.line, test.name, False, _snapshot_problems(test, error))
    decision = engine.decide(snapshot, test.as_of)
    diff = tuple(mismatches(test.expect, decision))
    return TestResult(test.file, test.line, test.name, not diff, diff, _describe(decision) if diff else ())


def _known_rule_ids(engine: Any) -> frozenset[str] | None:
    # The strategy's rules are the ones that fire and get vetoed; None skips the check.
    rules = getattr(getattr(engine, "policy", None), "rules", None)
    return frozenset(rule.id for rule in rules) if rules else None


def run_policy_tests(rules_dir: Path, engine: Any = None) -> TestReport:
    """Run every policy test under `rules_dir` with `engine` (built from `rules_dir` when None).

    Raises PolicyError when the rules themselves do not load.
    """
    engine = engine if engine is not None else build_engine(rules_dir)
    rule_ids = _known_rule_ids(engine)
    report = TestReport()
    for path in discover(rules_dir):
        try:
            tests = load_test_file(path, rule_ids)
        except PolicyError as error:
            report.problems += error.problems
            continue
        report.results += [run_test(engine, test) for test in tests]
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
    summary = f"{report.passed} passed, {report.failed} failed"
    if report.problems:
        summary += f", {len(report.problems)} problem(s) in test files (those files were not run)"
    if not report.results and not report.problems:
        summary = "no policy tests found (tests/*.yaml beside the policy files)"
    return "\n".join([*lines, "", summary]) if lines else summary


# --- command line -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `test` to the `collection-strategy` command line."""
    parser = subparsers.add_parser("test", help="run the policy tests (tests/*.yaml beside the policies); exit 1 on any failure")
    parser.add_argument("--rules", type=Path, default=default_rules_dir(), help="the rules directory (default: ./rules, else the shipped rules)")
    parser.add_argument("--failures-only", action="store_true", help="list only failing tests")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    try:
        report = run_policy_tests(args.rules)
    except PolicyError as error:
        print(error, file=sys.stderr)
        print(f"\n{len(error.problems)} problem(s); the rules were not loaded, so no test ran.", file=sys.stderr)
        return 1
    print(format_report(report, failures_only=getattr(args, "failures_only", False)))
    return 0 if report.ok else 1

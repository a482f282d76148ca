"""`collection-strategy test`: the command line of the policy tests.

    collection-strategy test [PATH...] [-k PATTERN] [--coverage] [--fail-under N] [--format F]

PATH is the rules directory (`--rules` its alias) or folders and test files
inside it; the engine is always the whole rules directory's (docs/policy-tests.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.authoring.formats import Annotation, Format, add_format_option, render
from engine.authoring.policy_test_formats import run_annotations
from engine.authoring.policy_tests import counts, format_report, run_policy_tests
from engine.errors import PolicyError
from engine.registry import STRATEGY_DIR
from engine.shipped import default_rules_dir


class _Paths(argparse.Action):
    """`test rules/` as `test --rules rules/`; a path inside the rules (a pack's
    folder, a tests/ folder, one test file) runs only the tests under it, with the
    engine of the rules directory that holds it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        paths = [Path(value) for value in values or ()]
        if not paths:
            return
        for path in paths:
            if not path.exists():
                parser.error(f"{path}: no such file or folder")
        found = {path: rules_root(path) for path in paths}
        outside = [path for path, root in found.items() if root is None]
        if outside:
            parser.error(f"{outside[0]}: not inside a rules directory (a folder with strategies/)")
        roots = {root for root in found.values() if root is not None}
        if len(roots) > 1:
            parser.error(f"the paths belong to different rules directories ({', '.join(sorted(map(str, roots)))}); run them one at a time")
        root = roots.pop()
        _refuse_two_directories(parser, namespace, root)
        namespace.rules = root
        namespace.scopes = tuple(path for path in paths if path.resolve() != root.resolve())
        namespace.rules_from_paths = True


class _RulesOption(argparse.Action):
    """`--rules DIR`, refused when the paths name another rules directory (never a silent choice of one)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        _refuse_two_directories(parser, namespace, Path(values))
        namespace.rules = Path(values)
        namespace.rules_from_option = True


def _refuse_two_directories(parser: argparse.ArgumentParser, namespace: argparse.Namespace, directory: Path) -> None:
    given = getattr(namespace, "rules_from_paths", False) or getattr(namespace, "rules_from_option", False)
    if given and Path(namespace.rules).resolve() != directory.resolve():
        parser.error(f"the rules directory was given twice, {namespace.rules} and {directory}; give it once")


def rules_root(path: Path) -> Path | None:
    """The rules directory a path is in: itself or the nearest folder above with a strategies/ folder."""
    for folder in (path, *path.parents) if path.is_dir() else path.parents:
        if (folder / STRATEGY_DIR).is_dir():
            return folder
    return None


def register(subparsers: Any) -> None:
    """Add `test` to the `collection-strategy` command line."""
    parser = subparsers.add_parser("test", help="run the policy tests (tests/*.yaml beside the policies); exit 1 on any failure")
    parser.add_argument("paths", nargs="*", action=_Paths, metavar="PATH", help="the rules directory, or folders and test files inside it (default: ./rules, else the shipped rules)")
    parser.add_argument("--rules", action=_RulesOption, default=default_rules_dir(), metavar="RULES", help="the rules directory (the same as a PATH; kept for scripts written before it)")
    parser.add_argument("--failures-only", action="store_true", help="list only failing tests")
    parser.add_argument("-k", dest="pattern", metavar="PATTERN", help="run only the tests whose name contains PATTERN (case-insensitive)")
    parser.add_argument("--coverage", action="store_true", help="list the rules (strategy and packs) no test reaches, with file and line")
    parser.add_argument("--fail-under", type=_percent, metavar="PERCENT", help="with --coverage (implied): exit 1 when fewer than PERCENT of the rules are reached")
    add_format_option(parser)
    parser.set_defaults(func=command, scopes=())


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a percentage such as 90") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100")
    return value


def command(args: argparse.Namespace) -> int:
    fail_under = getattr(args, "fail_under", None)
    coverage = getattr(args, "coverage", False) or fail_under is not None
    output_format: Format = getattr(args, "format", "text")
    try:
        report = run_policy_tests(args.rules, pattern=getattr(args, "pattern", None), scopes=getattr(args, "scopes", ()), coverage=coverage)
    except PolicyError as error:
        if output_format != "text":  # the pipeline annotates the rules' own problems too
            print(render([Annotation(problem.file, problem.line, problem.column, "error", "load", problem.rule_id or "load", problem.message, problem.rule_id) for problem in error.problems], output_format, tool="collection-strategy test"))
        else:
            print(error, file=sys.stderr)
        print(f"\n{len(error.problems)} problem(s); the rules were not loaded, so no test ran.", file=sys.stderr)
        return 1
    under = fail_under is not None and report.coverage is not None and report.coverage.percent < fail_under
    if output_format == "text":
        print(format_report(report, failures_only=getattr(args, "failures_only", False)))
        if under:
            print(f"coverage {report.coverage.percent:.1f}% is below --fail-under {fail_under:g}%", file=sys.stderr)  # type: ignore[union-attr]
    else:  # one document on stdout, the counts on stderr (as lint)
        document = render(run_annotations(report, args.rules, output_format, fail_under), output_format, tool="collection-strategy test")
        if document:
            print(document)
        measured = report.coverage
        print(counts(report) + (f"; {measured.percent:.1f}% of the rules reached" if measured else ""), file=sys.stderr)
    return 1 if under or not report.ok else 0

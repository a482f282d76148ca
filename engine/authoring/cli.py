"""The analyst's command line.

    collection-strategy check [rules/] [--format F]      load, report every problem with file:line
    collection-strategy lint [rules/] [--format F]       rules that never fire or never win, ties, gaps, legal steps without a final notice
    collection-strategy test [--rules rules/]            the policy tests beside the rules
    collection-strategy explain CASE.json [--as-of ...]  one decision with its whole trace
    collection-strategy simulate CASES [--compare DIR]   a portfolio's decisions, and what a change moves
    collection-strategy decide CASES --out DECISIONS     every case's decision as a flat row (JSON Lines, CSV, Parquet)
    collection-strategy portfolio --count N              a synthetic portfolio to try it on
    collection-strategy outcomes DECISIONS --out F       synthetic outcomes, with a known true effect for one arm
    collection-strategy evaluate DECISIONS OUTCOMES      which experiment arm works: measures with intervals and verdicts
    collection-strategy diff OLD NEW                     a rule-level diff of two versions
    collection-strategy schema [--pack]                  the JSON Schema editors use
    collection-strategy bundle build|approve|verify      a signed, approved policy bundle (docs/bundles.md)
    collection-strategy --version                        the engine's version and the policy language's

`check` and `lint` take the rules directory as RULES or `--rules RULES` (the same), and
print text, or with `--format json|junit|sarif|github` one document for a CI pipeline
(engine/authoring/formats.py); the exit code is the same in every format.

A command's modules are imported only when it runs (`COMMANDS`): every run of
`simulate` or `decide` once paid for every command's imports (cryptography for
`bundle`, the linter, the evaluator: about 0.3 s of CPU in the one process that
also reads and writes), and `--help` paid for all of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from engine.authoring.arguments import add_rules_argument, instant
from engine.authoring.formats import POLICY_LANGUAGE_VERSION, Annotation, Format, add_format_option, engine_version, render
from engine.shipped import default_rules_dir

if TYPE_CHECKING:
    from engine.isolation import Trial


class Command(NamedTuple):
    module: str  # the module whose register(subparsers) adds the command, imported when it runs
    help: str  # the one-line help `--help` lists (tests/test_bulk_scaling_startup.py holds it to the module's)


COMMANDS: dict[str, Command] = {
    "lint": Command("engine.authoring.lint", "find rules that never fire or never win, ties, uncovered cases, and legal steps without a final notice"),
    "test": Command("engine.authoring.policy_tests", "run the policy tests (tests/*.yaml beside the policies); exit 1 on any failure"),
    "simulate": Command(
        "engine.authoring.simulate",
        "decide a portfolio (JSON Lines or CSV) and count actions, channels and vetoes; compare two rule sets; "
        "run a file of debtors over days and count contacts per person against the caps",
    ),
    "decide": Command(
        "engine.authoring.bulk_decide",
        "decide every case of a file (JSON Lines, CSV or Parquet) at one instant and write one flat row per decision; "
        "refused rows go to a separate file with their field and reason",
    ),
    "portfolio": Command("engine.authoring.portfolio_cli", "write a synthetic portfolio of cases (JSON Lines, or CSV by the .csv suffix) for simulate"),
    "diff": Command("engine.authoring.policy_diff", "show what changed between two versions of the rules"),
    "replay": Command("engine.authoring.replay", "decide every decision of a decision log again and report identical / different"),
    "bundle": Command("engine.authoring.bundle_cli", "build, approve and verify a signed policy bundle (docs/bundles.md)"),
    "evaluate": Command(
        "engine.authoring.evaluate_cli",
        "join decisions with outcomes and report, per experiment arm, segment and stage, what each arm achieves, with intervals and verdicts",
    ),
    "outcomes": Command("engine.authoring.outcome_generator", "synthetic outcomes for decisions (the `decide` output or a decision log), with a known true effect for one arm"),
}


def check(rules: Path, output_format: Format = "text") -> int:
    """The rules load and compile for the engine (strategy, packs, durable_rules), as the server would.
    In a format other than text, stdout holds only the document (engine/authoring/formats.py)."""
    from engine.isolation import try_rules
    from engine.policy.loader import load_strategy
    from engine.registry import STRATEGY_DIR

    trial = try_rules(rules)
    if trial.reasons:
        if output_format == "text":
            print("\n".join(trial.reasons), file=sys.stderr)
        else:
            print(render(_problem_annotations(rules, trial), output_format, tool="collection-strategy check"))
        print(f"\n{len(trial.reasons)} problem(s); the rules were not loaded.", file=sys.stderr)
        return 1
    policy = load_strategy(rules / STRATEGY_DIR)
    summary = f"ok: policy {policy.name} {policy.version} ({policy.content_hash}), {len(policy.rules)} rules"
    if output_format == "text":
        print(summary)
    else:
        document = render([], output_format, tool="collection-strategy check")
        if document:
            print(document)
        print(summary, file=sys.stderr)
    return 0


def _problem_annotations(rules: Path, trial: Trial) -> list[Annotation]:
    """The problems of rules the child refused, each with its file, line and column.

    The child reports them as text; when it finished, loading the rules here again
    is as safe as it was there and gives them back as `PolicyProblem`s."""
    from engine.errors import PolicyError
    from engine.registry import build_engine

    if trial.finished:
        try:
            build_engine(rules)
        except PolicyError as error:
            if error.problems:
                return [Annotation(p.file, p.line, p.column, "error", "load", p.rule_id or "load", p.message, p.rule_id) for p in error.problems]
    return unlocated_annotations(rules, trial.reasons)


def unlocated_annotations(rules: Path, reasons: list[str]) -> list[Annotation]:
    """Reasons that are about the rules directory as a whole (a limit, a crash), not a line."""
    return [Annotation(str(rules), None, None, "error", "build", "build", reason) for reason in reasons]


def explain(case_file: Path, rules: Path, as_of: datetime) -> int:
    import dataclasses
    import json

    from engine.errors import InvalidSnapshot, PolicyError
    from engine.explain import plain
    from engine.policy.inputs import check_inputs
    from engine.registry import build_engine
    from engine.snapshot import parse_snapshot

    try:
        engine = build_engine(rules)
        snapshot = check_inputs(parse_snapshot(json.loads(case_file.read_text(encoding="utf-8")), as_of), engine.policy.inputs)
    except (PolicyError, InvalidSnapshot) as error:
        print(error, file=sys.stderr)
        return 1
    decision = engine.decide(snapshot, as_of, explain=True)
    print(json.dumps(plain(dataclasses.asdict(decision)), indent=2, ensure_ascii=False))
    return 0


def schema(pack: bool) -> int:
    import json

    from engine.policy.json_schema import pack_schema, policy_schema

    print(json.dumps(pack_schema() if pack else policy_schema(), indent=2))
    return 0


def _command_named(argv: list[str]) -> str | None:
    """The command `argv` runs: its first word that is no option (the only options
    before a command, --help and --version, end the run)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return _run(argv, _command_named(argv))


def _run(argv: list[str], chosen: str | None) -> int:
    parser = argparse.ArgumentParser(prog="collection-strategy", description="Tools for the people who write collection policies.")
    parser.add_argument("--version", action="version", version=f"collection-strategy: engine {engine_version()}, policy language {POLICY_LANGUAGE_VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="load the rules and report every problem with file:line")
    add_rules_argument(check_parser, default_rules_dir())
    add_format_option(check_parser)
    check_parser.set_defaults(func=lambda args: check(args.rules, args.format))
    explain_parser = commands.add_parser("explain", help="decide one case (a snapshot as JSON) and show the whole trace")
    explain_parser.add_argument("case", type=Path)
    explain_parser.add_argument("--rules", type=Path, default=default_rules_dir())
    explain_parser.add_argument("--as-of", type=instant, default=datetime.now(timezone.utc))
    explain_parser.set_defaults(func=lambda args: explain(args.case, args.rules, args.as_of))
    schema_parser = commands.add_parser("schema", help="print the JSON Schema of policy files (--pack: of compliance packs)")
    schema_parser.add_argument("--pack", action="store_true")
    schema_parser.set_defaults(func=lambda args: schema(args.pack))
    for name, command in COMMANDS.items():
        if name == chosen:
            importlib.import_module(command.module).register(commands)
        else:  # listed by --help, never parsed: only the chosen command's arguments are
            commands.add_parser(name, help=command.help)
    args = parser.parse_args(argv)
    if args.command in ("lint", "test"):
        from engine.isolation import try_rules

        # Rules that would hang or exhaust the builder stop here with a reason; load
        # problems are left to the command, which reports them in its own format.
        trial = try_rules(args.rules)
        if not trial.finished:
            if getattr(args, "format", "text") != "text":  # a pipeline still gets a document it can read
                print(render(unlocated_annotations(args.rules, trial.reasons), args.format, tool=f"collection-strategy {args.command}"))
            print("\n".join(trial.reasons), file=sys.stderr)
            return 1
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""`collection-strategy evaluate DECISIONS OUTCOMES`: the command line of engine/authoring/evaluate.py.

Exit codes: 0 evaluated; 1 evaluated, but some decision or outcome rows were
refused (each listed with its line and field, and in the JSON report); 2 nothing
evaluated (usage, a file that cannot be read, an experiment without a champion).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.authoring.evaluate import MIN_ACCOUNTS, NoChampion, evaluate
from engine.authoring.evaluate_join import DecidedCase, RefusedDecision, join, read_decisions
from engine.authoring.evaluate_render import as_html, as_json, as_text
from engine.authoring.outcomes import Outcome, RefusedOutcome, read_outcomes

EVALUATED, REFUSED, UNUSABLE = 0, 1, 2
LISTED = 20  # refused rows printed to stderr; the JSON report lists up to REPORTED
REPORTED = 1000


def _champion(text: str) -> tuple[str, str]:
    experiment, _, arm = text.partition("=")
    if not experiment or not arm:
        raise argparse.ArgumentTypeError(f"{text!r} is not EXPERIMENT=ARM (e.g. plan-offer=champion)")
    return experiment, arm


def register(subparsers: Any) -> None:
    """Add `evaluate` to the `collection-strategy` command line."""
    from engine.authoring.arguments import confidence_level, file_in_a_format, positive_days

    parser = subparsers.add_parser(
        "evaluate",
        help="join decisions with outcomes and report, per experiment arm, segment and stage, what each arm achieves, with intervals and verdicts",
        description="Exit codes: 0 evaluated; 1 evaluated, some rows refused (listed); 2 nothing evaluated. See docs/evaluate.md.",
    )
    parser.add_argument("decisions", type=file_in_a_format, help="the `decide` output (.jsonl, .csv, .parquet) or a decision log (.jsonl)")
    parser.add_argument("outcomes", type=file_in_a_format, help="the outcomes (.jsonl, .csv, .parquet; docs/outcomes.md)")
    parser.add_argument("--format", choices=("text", "json", "html"), default="text")
    parser.add_argument("--out", type=Path, help="write the report here (default: stdout)")
    parser.add_argument("--confidence", type=confidence_level, default=0.95, help="of every interval and verdict (default 0.95)")
    parser.add_argument("--window", type=positive_days, default=30, help="days after a decision its outcomes count for (default 30)")
    parser.add_argument("--champion", type=_champion, action="append", default=[], metavar="EXPERIMENT=ARM", help="the arm the others are compared with")
    parser.add_argument("--rules", type=Path, help="the rules the decisions were made with: their experiments' first arms are the champions")
    parser.add_argument("--min-accounts", type=int, default=MIN_ACCOUNTS, help=f"fewer accounts than this in an arm: not judged (default {MIN_ACCOUNTS})")
    parser.set_defaults(func=command)


def _declared(rules: Path | None) -> dict[str, list[str]]:
    if rules is None:
        return {}
    from engine.policy.loader import load_strategy
    from engine.registry import STRATEGY_DIR

    policy = load_strategy(rules / STRATEGY_DIR)
    return {experiment.id: [arm for arm, _ in experiment.arms] for experiment in policy.experiments}


def command(args: argparse.Namespace) -> int:
    try:
        kind, decision_rows = read_decisions(args.decisions)
        outcome_rows = list(read_outcomes(args.outcomes))
        declared = _declared(args.rules)
    except (OSError, ValueError) as error:
        print(f"cannot evaluate: {error}", file=sys.stderr)
        return UNUSABLE
    decisions = [row for row in decision_rows if isinstance(row, DecidedCase)]
    outcomes = [row for row in outcome_rows if isinstance(row, Outcome)]
    refused_decisions = [row for row in decision_rows if isinstance(row, RefusedDecision)]
    refused_outcomes = [row for row in outcome_rows if isinstance(row, RefusedOutcome)]
    accounts, summary = join(decisions, outcomes, args.window)
    try:
        report = evaluate(accounts, summary, args.confidence, dict(args.champion), declared, args.min_accounts)
    except NoChampion as error:
        print(f"cannot evaluate: {error}", file=sys.stderr)
        return UNUSABLE
    report["inputs"] = {
        "decisions": {"path": str(args.decisions), "kind": kind, "rows": len(decision_rows), "refused": len(refused_decisions)},
        "outcomes": {"path": str(args.outcomes), "rows": len(outcome_rows), "refused": len(refused_outcomes)},
        "window_days": args.window,
    }
    report["refused"] = {
        "decisions": [row.to_row() for row in refused_decisions[:REPORTED]],
        "outcomes": [row.to_row() for row in refused_outcomes[:REPORTED]],
    }
    document = {"text": as_text, "json": as_json, "html": as_html}[args.format](report)
    if args.out:
        args.out.write_text(document, encoding="utf-8")
        print(f"wrote the {args.format} report to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(document)
    for path, refused in ((args.decisions, refused_decisions), (args.outcomes, refused_outcomes)):
        for row in refused[:LISTED]:
            print(f"{path}:{row.line}: {row.field} {row.problem}" + (f" (case {row.case_id})" if row.case_id else ""), file=sys.stderr)
        if len(refused) > LISTED:
            print(f"{path}: ... {len(refused) - LISTED:,} more refused rows (all in --format json, up to {REPORTED:,})", file=sys.stderr)
    return REFUSED if refused_decisions or refused_outcomes else EVALUATED

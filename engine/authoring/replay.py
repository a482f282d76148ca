"""Replay: decide every logged decision again and say whether it comes out the same.

    collection-strategy replay LOG --rules DIR

LOG is a decision log (JSON Lines, transport/decision_log.py) written with whole
snapshots (`--decision-log-snapshots whole`); a record with a masked snapshot
cannot be decided again and is counted as such. Each record is decided at its
own `as_of` with the rules of DIR, and its flat decision compared field by field
with the logged one. The same policy hash must give the same decision: a
difference there is a fault (exit 1); under another hash it is the effect of
the change, reported, not a fault.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.bulk import decide_one, decision_row
from engine.debtor import decide_debtor
from engine.debtor_snapshot import parse_debtor
from engine.decision_record import debtor_row
from engine.errors import InvalidSnapshot, PolicyError
from engine.registry import build_engine
from engine.shipped import default_rules_dir

EXAMPLES = 20  # differences shown in full


@dataclass
class Replayed:
    identical: int = 0
    different: int = 0  # under the same policy hash: a fault
    changed: int = 0  # under another policy hash: what the change does
    not_replayable: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical, "different": self.different, "changed": self.changed,
            "not_replayable": [{"line": line, "reason": why} for line, why in self.not_replayable],
            "examples": self.examples,
        }


def replay(log_path: Path, rules_dir: Path) -> Replayed:
    """Raises PolicyError when the rules do not load, OSError when the log cannot be read."""
    engine = build_engine(rules_dir)
    result = Replayed()
    with log_path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            why = _replay_one(engine, number, line, result)
            if why:
                result.not_replayable.append((number, why))
    return result


def _replay_one(engine: Any, number: int, line: str, result: Replayed) -> str | None:
    try:
        record = json.loads(line)
        logged, snapshot, as_of = record["decision"], record["snapshot"], datetime.fromisoformat(record["as_of"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        return f"not a decision record: {type(error).__name__} {error}"
    if record.get("snapshot_masked", True):
        return "the snapshot was logged masked; replay needs whole snapshots (--decision-log-snapshots whole)"
    try:
        if record.get("kind") == "debtor":
            again = debtor_row(decide_debtor(engine, parse_debtor(snapshot, as_of), as_of))
        else:
            parsed, decision = decide_one(engine, snapshot, as_of)
            again = decision_row(decision, parsed)
    except InvalidSnapshot as error:
        return f"the logged snapshot is not valid now: {error.problems[0].field}: {error.problems[0].description}"
    # A column the engine that logged the record did not write yet (work_queue, say) is not compared.
    differences = {name: {"logged": logged[name], "now": value} for name, value in again.items() if name in logged and logged[name] != value}
    if not differences:
        result.identical += 1
        return None
    same_policy = logged.get("policy_hash") == again["policy_hash"]
    if same_policy:
        result.different += 1
    else:
        result.changed += 1
    if len(result.examples) < EXAMPLES:
        result.examples.append({"line": number, "decision_id": record.get("decision_id"), "same_policy": same_policy, "differences": differences})
    return None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="decide every decision of a decision log again and report identical / different")
    parser.add_argument("log", type=Path, help="a decision log (JSON Lines) written with --decision-log-snapshots whole")
    parser.add_argument("--rules", type=Path, default=default_rules_dir(), help="the rules directory to decide with (default: ./rules, else the shipped rules)")
    parser.add_argument("--json", type=Path, help="write the full result as JSON here")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    try:
        result = replay(args.log, args.rules)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot replay: {error}", file=sys.stderr)
        return 1
    print(f"identical: {result.identical}; different under the same policy: {result.different}; "
          f"changed under another policy: {result.changed}; not replayable: {len(result.not_replayable)}")
    for example in result.examples:
        print(f"  line {example['line']} ({'same policy' if example['same_policy'] else 'another policy'}): "
              + ", ".join(f"{name} {d['logged']!r} -> {d['now']!r}" for name, d in example["differences"].items()))
    for line, why in result.not_replayable[:EXAMPLES]:
        print(f"  line {line}: {why}")
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if result.different else 0

"""`collection-strategy outcomes`: synthetic outcomes for decisions, with a known true effect.

    collection-strategy outcomes decisions.jsonl --out outcomes.jsonl --seed 7 --cases cases.jsonl \\
        --arm challenger --effect cure_rate=0.05

For demonstrations and for testing `evaluate`: the true effect is known, so a
test can check that evaluate finds it, and finds nothing where there is none.
Every decision gets one outcome row, on a day inside its window (`--days`),
summing what happened in it. The base rates depend on the stage (days past due
when decided) and on the action: early cases cure more often on their own, a
call cures a little more than a reminder and costs more, and draws a few more
complaints. A `self_cure_score` in the case's inputs (0-100, as the portfolio
generator writes it; docs/inputs.md), when the cases carry one, pulls the chance
to cure halfway towards it. These are plausible shapes, not
calibrated to any real portfolio.

`--effect METRIC=DELTA` adds DELTA to the named arm's probabilities (cure_rate,
roll_rate, complaints, opt_outs, hardship_share: 0.05 is five points) or to its
mean contacts (contacts). The amount owed and its currency come from the case
(`--cases`, the portfolio the decisions were made for); without it, a fixed
amount of 250.00 EUR. Deterministic:
the same decisions, cases and seed give the same file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.authoring import bulk_files
from engine.authoring.evaluate import stage_of
from engine.authoring.evaluate_join import DecidedCase, RefusedDecision, read_decisions
from engine.authoring.outcomes import Outcome, Promise, write_outcomes

EFFECTS = ("cure_rate", "roll_rate", "complaints", "opt_outs", "hardship_share", "contacts")
DEFAULT_AMOUNT, DEFAULT_CURRENCY = Decimal("250.00"), "EUR"
# stage -> (cure, roll, hardship): early cases cure on their own, late ones rarely
BASE = {"pre-due": (0.60, 0.10, 0.01), "1-30": (0.40, 0.20, 0.02), "31-60": (0.25, 0.25, 0.03), "61-90": (0.15, 0.30, 0.05), "91+": (0.06, 0.05, 0.06)}
# action -> (cure lift, mean contacts, cost per contact, extra complaint chance)
ACTION = {
    "NO_CONTACT": (0.0, 0.0, Decimal("0"), 0.0),
    "SEND_REMINDER": (0.03, 1.5, Decimal("0.05"), 0.001),
    "CALL": (0.06, 2.5, Decimal("2.50"), 0.004),
}
OTHER_ACTION = (0.04, 1.0, Decimal("1.00"), 0.002)  # offers, letters, reviews: between a reminder and a call
BASE_COMPLAINT, BASE_OPT_OUT = 0.003, 0.01


@dataclass(frozen=True)
class Case:
    amount: Decimal
    currency: str
    self_cure_score: float | None


def parse_effect(text: str) -> tuple[str, float]:
    """METRIC=DELTA, e.g. cure_rate=0.05; argparse.ArgumentTypeError naming what is wrong."""
    name, _, delta = text.partition("=")
    if name not in EFFECTS:
        raise argparse.ArgumentTypeError(f"{text!r}: unknown metric {name!r}; the metrics are {', '.join(EFFECTS)}")
    try:
        return name, float(delta)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the delta {delta!r} is not a number (e.g. cure_rate=0.05)") from None


def read_cases(path: Path) -> dict[str, Case]:
    """case_id -> what the generator needs of it, from a portfolio file (JSON Lines or CSV)."""
    found: dict[str, Case] = {}
    for _, payload in bulk_files.read(path):
        data = json.loads(payload) if isinstance(payload, str) else payload
        if isinstance(data, dict) and isinstance(data.get("case_id"), str):
            found[data["case_id"]] = _case(data)
    return found


def _case(data: dict[str, Any]) -> Case:
    score: Any = None
    for group in ("inputs", "attributes"):  # typed inputs (docs/inputs.md), or an older attribute
        values = data.get(group)
        if isinstance(values, dict) and values.get("self_cure_score") is not None:
            score = values["self_cure_score"]
            break
    try:
        chance = float(score) if score is not None else None
    except (TypeError, ValueError):
        chance = None
    if chance is not None:
        chance = min(1.0, max(0.0, chance / 100 if chance > 1 else chance))  # a percent (0-100) or a share (0-1)
    return Case(Decimal(str(data.get("amount_due", DEFAULT_AMOUNT))), str(data.get("currency") or DEFAULT_CURRENCY), chance)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def outcome_for(decision: DecidedCase, case: Case | None, rng: random.Random, days: int, effects: dict[str, float]) -> Outcome:
    """One decision's window, summed into one row."""
    case = case or Case(DEFAULT_AMOUNT, DEFAULT_CURRENCY, None)
    cure, roll, hardship = BASE.get(stage_of(decision.days_past_due), BASE["1-30"])
    lift, mean_contacts, unit_cost, complaint = ACTION.get(decision.action or "", OTHER_ACTION)
    cure += lift
    if case.self_cure_score is not None:
        cure = cure * 0.5 + case.self_cure_score * 0.5
    cured = rng.random() < _clamp(cure + effects.get("cure_rate", 0.0))
    rolled = not cured and rng.random() < _clamp(roll + effects.get("roll_rate", 0.0))
    contacts = max(0, round(rng.expovariate(1 / mean_contacts) if mean_contacts else 0) + round(effects.get("contacts", 0.0)))
    if cured:
        paid = case.amount
    elif rng.random() < 0.2:
        paid = (case.amount * Decimal(rng.randint(10, 50)) / 100).quantize(Decimal("0.01"))
    else:
        paid = Decimal(0)
    promise = Promise.NONE
    if rng.random() < 0.3:
        promise = Promise.KEPT if cured else Promise.BROKEN
    return Outcome(
        case_id=decision.case_id,
        date=decision.decided_on + timedelta(days=rng.randrange(days)),
        paid_amount=paid,
        currency=case.currency,
        cured=cured,
        rolled=rolled,
        promise=promise,
        complaint=rng.random() < _clamp(BASE_COMPLAINT + complaint + effects.get("complaints", 0.0)),
        opted_out=rng.random() < _clamp(BASE_OPT_OUT + effects.get("opt_outs", 0.0)),
        hardship_declared=rng.random() < _clamp(hardship + effects.get("hardship_share", 0.0)),
        contact_cost=(unit_cost * contacts).quantize(Decimal("0.01")),
        contacts=contacts,
    )


def generate(decisions: list[DecidedCase], cases: dict[str, Case], seed: int, days: int, arm: str | None, effects: dict[str, float]) -> list[Outcome]:
    """An outcome per decision; `effects` apply to decisions in `arm` (of any experiment)."""
    outcomes = []
    for decision in decisions:
        rng = random.Random(f"{seed}\0{decision.case_id}\0{decision.decided_on}")  # per case: independent of file order
        applies = arm is not None and arm in decision.arms.values()
        outcomes.append(outcome_for(decision, cases.get(decision.case_id), rng, days, effects if applies else {}))
    return outcomes


# --- command line -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `outcomes` to the `collection-strategy` command line."""
    from engine.authoring.arguments import file_in_a_format, positive_days

    parser = subparsers.add_parser(
        "outcomes",
        help="synthetic outcomes for decisions (the `decide` output or a decision log), with a known true effect for one arm",
        description="Exit codes: 0 written; 1 written, some decision rows refused (listed); 2 nothing written. See docs/outcomes.md.",
    )
    parser.add_argument("decisions", type=file_in_a_format, help="the decisions: `decide` output (.jsonl, .csv, .parquet) or a decision log (.jsonl)")
    parser.add_argument("--out", type=file_in_a_format, required=True, help="where the outcomes go: .jsonl, .csv or .parquet")
    parser.add_argument("--seed", type=int, default=7, help="the random seed (default 7): the same seed, the same outcomes")
    parser.add_argument("--cases", type=file_in_a_format, help="the cases the decisions were made for (amounts, currencies, self-cure scores)")
    parser.add_argument("--arm", help="the arm the effects apply to, e.g. challenger")
    parser.add_argument("--effect", type=parse_effect, action="append", default=[], metavar="METRIC=DELTA",
                        help=f"a true effect for --arm, e.g. cure_rate=0.05 (metrics: {', '.join(EFFECTS)}); repeatable")
    parser.add_argument("--days", type=positive_days, default=30, help="the observation window in days (default 30)")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    if args.effect and not args.arm:
        print("cannot generate: --effect needs --arm (the arm the effect is for)", file=sys.stderr)
        return 2
    try:
        _, rows = read_decisions(args.decisions)
        cases = read_cases(args.cases) if args.cases else {}
    except (OSError, ValueError) as error:
        print(f"cannot generate: {error}", file=sys.stderr)
        return 2
    decisions = [row for row in rows if isinstance(row, DecidedCase)]
    refused = [row for row in rows if isinstance(row, RefusedDecision)]
    if args.arm and not any(args.arm in decision.arms.values() for decision in decisions):
        print(f"cannot generate: no decision is in arm {args.arm!r}", file=sys.stderr)
        return 2
    try:
        write_outcomes(args.out, generate(decisions, cases, args.seed, args.days, args.arm, dict(args.effect)))
    except (OSError, ValueError) as error:
        print(f"cannot generate: {error}", file=sys.stderr)
        return 2
    for row in refused[:20]:
        print(f"{args.decisions}:{row.line}: {row.field} {row.problem}", file=sys.stderr)
    print(f"wrote {len(decisions):,} outcome rows to {args.out}" + (f"; {len(refused):,} decision rows refused" if refused else ""))
    return 1 if refused else 0

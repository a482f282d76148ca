"""`collection-strategy portfolio`: write a synthetic portfolio for `simulate`.

    collection-strategy portfolio --count 20000 --seed 7 --as-of 2026-11-24T10:00:00+01:00 --out cases.jsonl
    collection-strategy portfolio --debtors --count 5000 --seed 7 --as-of 2026-11-24T10:00:00+01:00 --out debtors.jsonl

The cases come from engine.authoring.portfolio.synthetic_portfolio (deterministic for a
seed): contact histories that follow a collection ladder stage by stage, with
delivery statuses, and arrangements (promises, plans) kept, missed or broken;
docs/simulate.md ("The synthetic portfolio") lists the calibration.
`--invalid-share` spoils that share of them on purpose, one field each, so that
the handling of bad input can be seen in a simulation. A `.csv` output is
written in the flat columns of docs/simulate.md (without contact histories and
arrangements, which are lists). With `--debtors` it writes persons with one or
more accounts instead (engine/authoring/portfolio_debtors.py), one DecideDebtor debtor
per JSON line; `--count` is then the number of persons.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from engine.authoring import progress
from engine.authoring.portfolio import synthetic_portfolio
from engine.authoring.portfolio_debtors import synthetic_debtors
from engine.authoring.arguments import instant
from engine.authoring.simulate_input import csv_columns, row_from_case


def _spoil_amount(case: dict[str, Any]) -> None:
    case["amount_due"] = float(case["amount_due"])  # money as a float loses cents: refused


def _spoil_country(case: dict[str, Any]) -> None:
    case["country"] = "XX"


def _spoil_time_zone(case: dict[str, Any]) -> None:
    case["time_zone"] = "Mars/Olympus_Mons"


def _spoil_currency(case: dict[str, Any]) -> None:
    case["currency"] = "ZZZ"


def _spoil_segment(case: dict[str, Any]) -> None:
    del case["segment"]


def _spoil_days(case: dict[str, Any]) -> None:
    case["days_past_due"] = "soon"


SPOILERS: tuple[Callable[[dict[str, Any]], None], ...] = (_spoil_amount, _spoil_country, _spoil_time_zone, _spoil_currency, _spoil_segment, _spoil_days)
PERSON_SPOILERS = (_spoil_country, _spoil_time_zone)  # on a debtor, these spoil the person; the others one account


def portfolio(count: int, as_of: datetime, seed: int = 7, invalid_share: float = 0.0) -> Iterator[dict[str, Any]]:
    """Synthetic cases; with `invalid_share`, about that share spoiled in one field each."""
    rng = random.Random(f"invalid-{seed}")  # its own stream: the valid cases stay those of the seed
    for case in synthetic_portfolio(count, as_of, seed):
        if invalid_share and rng.random() < invalid_share:
            rng.choice(SPOILERS)(case)
        yield case


def debtors(count: int, as_of: datetime, seed: int = 7, invalid_share: float = 0.0) -> Iterator[dict[str, Any]]:
    """Synthetic debtors; with `invalid_share`, about that share spoiled in one field each
    (the person's country or zone, or a field of one of their accounts)."""
    rng = random.Random(f"invalid-debtors-{seed}")
    for debtor in synthetic_debtors(count, as_of, seed):
        if invalid_share and rng.random() < invalid_share:
            spoil = rng.choice(SPOILERS)
            spoil(debtor if spoil in PERSON_SPOILERS else rng.choice(debtor["accounts"]))
        yield debtor


def write_cases(cases: Iterable[dict[str, Any]], out: Path) -> int:
    """Write JSON Lines, or CSV when `out` ends in .csv; the number of cases written."""
    if out.suffix.lower() == ".csv":
        return _write_csv(list(cases), out)
    written = 0
    with out.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(case, ensure_ascii=False) + "\n")
            written += 1
    return written


def _write_csv(cases: list[dict[str, Any]], out: Path) -> int:
    columns = csv_columns()
    rows = [row_from_case(case, columns) for case in cases]
    attributes = sorted({name for row in rows for name in row if name not in columns})
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, *attributes])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def register(subparsers: Any) -> None:
    """Add `portfolio` to the `collection-strategy` command line."""
    parser = subparsers.add_parser(
        "portfolio",
        help="write a synthetic portfolio of cases (JSON Lines, or CSV by the .csv suffix) for simulate",
        description=(
            "A synthetic consumer book, deterministic for a seed: contact histories that follow the ladder stage by stage "
            "(2 to 4 attempts per 30 days early, 6 to 7 mid-stage, with each stage's action and template, some bounced or failed, "
            "mostly on email and SMS, some inbound) and, for about 17% of cases, an arrangement (plans and promises, most "
            "performing, some missed or broken, a few completed or cancelled). Every case is valid at --as-of. "
            "The calibration is in docs/simulate.md, 'The synthetic portfolio'. With --debtors, persons with one or more "
            "accounts (most 1, many 2 or 3, a few up to 10), some contacts recorded once for several accounts ('Synthetic debtors')."
        ),
    )
    parser.add_argument("--count", type=int, required=True, help="how many cases (with --debtors: persons)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same cases (default: 7)")
    parser.add_argument("--as-of", type=instant, help="the instant contact histories and arrangements are relative to (default: now); simulate at the same instant")
    parser.add_argument("--out", type=Path, required=True, help="cases.jsonl or cases.csv (with --debtors: debtors.jsonl)")
    parser.add_argument("--invalid-share", type=float, default=0.0, help="share of cases to spoil on purpose, e.g. 0.01 (default: none)")
    parser.add_argument(
        "--debtors", action="store_true",
        help="write persons with 1 to 10 accounts (most 1, many 2-3), one DecideDebtor debtor per JSON line, for simulate's per-person report",
    )
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    if args.count < 0 or not 0 <= args.invalid_share <= 1:
        print("--count must be 0 or more and --invalid-share between 0 and 1", file=sys.stderr)
        return 1
    as_of = args.as_of or datetime.now(timezone.utc)
    if args.debtors:
        if args.out.suffix.lower() == ".csv":
            print("--debtors writes JSON Lines only (a debtor's accounts are a list): name the output .jsonl", file=sys.stderr)
            return 1
        with progress.bar(args.count, " debtors") as shown:
            written = write_cases(progress.counted(debtors(args.count, as_of, args.seed, args.invalid_share), shown), args.out)
        print(f"wrote {written:,} debtors to {args.out} (seed {args.seed}, as of {as_of.isoformat()})")
        return 0
    with progress.bar(args.count, " cases") as shown:
        written = write_cases(progress.counted(portfolio(args.count, as_of, args.seed, args.invalid_share), shown), args.out)
    print(f"wrote {written:,} cases to {args.out} (seed {args.seed}, as of {as_of.isoformat()})")
    return 0

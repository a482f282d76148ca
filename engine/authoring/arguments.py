"""The rules directory on the command line, as ruff and OPA take their paths.

`collection-strategy lint rules/` and `collection-strategy lint --rules rules/`
say the same; both with the same directory are accepted, both with different
directories are a usage error (exit 2), never a silent choice of one.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

_GIVEN = "rules_given_as"  # which of the two spellings set `rules` so far


class _RulesDirectory(argparse.Action):
    """Stores the directory in `rules`, refusing a second, different one given the other way."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        if values == argparse.SUPPRESS:  # the positional, absent (some Pythons still call its action)
            return
        values = Path(values)
        spelling = option_string or "RULES"
        earlier = getattr(namespace, _GIVEN, None)
        if earlier is not None and earlier != spelling and getattr(namespace, self.dest) != values:
            parser.error(f"the rules directory was given twice, as {earlier} and as {spelling}, with different values ({getattr(namespace, self.dest)} and {values}); give it once")
        setattr(namespace, self.dest, values)
        setattr(namespace, _GIVEN, spelling)


def add_rules_argument(parser: argparse.ArgumentParser, default: Path, description: str = "the rules directory (with strategies/ and compliance/)") -> None:
    """A positional RULES directory, with `--rules` as its alias; `args.rules` holds it (`default` if neither)."""
    # SUPPRESS: an absent positional runs no action, so it neither overrides --rules nor clashes with it.
    parser.add_argument("rules", nargs="?", default=argparse.SUPPRESS, action=_RulesDirectory, metavar="RULES", help=f"{description} (default: {default})")
    parser.add_argument("--rules", type=Path, default=default, action=_RulesDirectory, dest="rules", metavar="RULES", help="the same as RULES (kept for scripts written before it)")



# --- the files and numbers of `evaluate` and `outcomes` --------------------------------------------


def file_in_a_format(text: str) -> Path:
    """A path whose extension names a format `decide` reads and writes (.jsonl, .csv, .parquet)."""
    from engine.authoring.bulk_files import format_of  # not at import: arguments stays light

    path = Path(text)
    try:
        format_of(path)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return path


def confidence_level(text: str) -> float:
    """A confidence level from 0.5 up to (not including) 1, e.g. 0.95."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.5 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a confidence level between 0.5 and 1 (e.g. 0.95)")
    return value


def positive_days(text: str) -> int:
    """A whole number of days, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (1 or more)")
    return value


def instant(text: str) -> datetime:
    """An argparse type: an ISO 8601 instant that must carry its offset (--as-of)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant such as 2026-11-24T10:00:00+01:00") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. 2026-11-24T10:00:00+01:00")
    return value

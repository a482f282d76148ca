"""`diff`: what changed between two versions of a policy, rule by rule, in plain words.

    ~ firm-reminder: priority 570 -> 575; when (now matches fewer cases): (days_past_due >= 15 ...) -> (...)

A changed condition says, when it can be proved (engine.authoring.lint's exact analysis),
whether the rule now matches the same, fewer or more cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from engine.errors import PolicyError
from engine.explain import describe, plain
from engine.authoring.lint import condition_boxes, covered, strategy_dir
from engine.policy.ir import AllOf, AnyOf, Condition, Matches, OfferTerms, Policy, Rule, Source
from engine.policy.loader import load_strategy

Kind = Literal["policy", "added", "removed", "changed"]


@dataclass(frozen=True)
class PartChange:
    part: str  # "priority", "when", "action", "channels", "template", "offer", "reason (en)", ...
    old: str
    new: str
    note: str = ""  # e.g. "now matches fewer cases"


@dataclass(frozen=True)
class RuleChange:
    """One difference: a rule added, removed or changed, or (kind "policy") the policy's name or version."""

    kind: Kind
    rule_id: str  # "" for kind "policy"
    old: Rule | None = None
    new: Rule | None = None
    parts: tuple[PartChange, ...] = ()


def diff_policies(old: Policy, new: Policy) -> list[RuleChange]:
    """The policy header change (if any), then removed, added and changed rules, each in priority order."""
    changes: list[RuleChange] = []
    header = tuple(
        PartChange(part, before, after) for part, before, after in (("name", old.name, new.name), ("version", old.version, new.version)) if before != after
    )
    if header:
        changes.append(RuleChange("policy", "", parts=header))
    old_rules = {rule.id: rule for rule in _ordered(old)}
    new_rules = {rule.id: rule for rule in _ordered(new)}
    changes += [RuleChange("removed", rule_id, old=rule) for rule_id, rule in old_rules.items() if rule_id not in new_rules]
    changes += [RuleChange("added", rule_id, new=rule) for rule_id, rule in new_rules.items() if rule_id not in old_rules]
    for rule_id, rule in new_rules.items():
        before = old_rules.get(rule_id)
        if before is not None:
            parts = rule_parts(before, rule, files_matter=len(old.source_files) > 1 or len(new.source_files) > 1)
            if parts:
                changes.append(RuleChange("changed", rule_id, old=before, new=rule, parts=tuple(parts)))
    return changes


def _ordered(policy: Policy) -> list[Rule]:
    return sorted(policy.rules, key=lambda rule: (-rule.priority, rule.id))


def rule_parts(old: Rule, new: Rule, files_matter: bool = True) -> list[PartChange]:
    """Which parts of one rule changed, each shown old -> new.

    A move to another file is news only when a policy spans several files;
    comparing one file with a renamed copy would otherwise flag every rule.
    """
    parts: list[PartChange] = []
    simple: list[tuple[str, Callable[[Rule], str]]] = [
        ("priority", lambda rule: str(rule.priority)),
        ("action", lambda rule: rule.action.value),
        ("channels", channels_text),
        ("template", lambda rule: rule.template or "none"),
        ("review_in_days", lambda rule: "none" if rule.review_in_days is None else str(rule.review_in_days)),
    ]
    if files_matter:
        simple.append(("file", lambda rule: Path(rule.source.file).name))
    for name, text in simple[:1]:
        _add(parts, name, text(old), text(new))
    if old.condition != new.condition:
        parts.append(PartChange("when", describe(old.condition), describe(new.condition), condition_relation(old.condition, new.condition)))
    for name, text in simple[1:]:
        _add(parts, name, text(old), text(new))
    parts += offer_parts(old.offer, new.offer)
    for language in sorted(set(old.reason) | set(new.reason), key=lambda code: (code != "en", code)):
        _add(parts, f"reason ({language})", _quoted(old.reason.get(language)), _quoted(new.reason.get(language)))
    return parts


def _add(parts: list[PartChange], name: str, old: str, new: str) -> None:
    if old != new:
        parts.append(PartChange(name, old, new))


def _quoted(text: str | None) -> str:
    return "none" if text is None else f'"{text}"'


def channels_text(rule: Rule) -> str:
    return ", ".join(getattr(channel, "value", channel) for channel in rule.channels) or "none"


def _offer_terms(offer: OfferTerms) -> dict[str, str]:
    """Each term of an offer in words, by name; a term not set is "none"."""
    return {
        "instalments": _range(offer.instalments) if offer.instalments else "none",
        "min instalment": "none" if offer.min_instalment is None else str(plain(offer.min_instalment)),
        "discount": _range(offer.discount_pct) + "%" if offer.discount_pct else "none",
        "deferral": "none" if offer.max_deferral_days is None else f"up to {offer.max_deferral_days} days",
    }


def _range(bounds: tuple[Any, Any]) -> str:
    return f"{plain(bounds[0])}-{plain(bounds[1])}"


def offer_text(offer: OfferTerms | None) -> str:
    if offer is None:
        return "none"
    return ", ".join(f"{name} {value}" for name, value in _offer_terms(offer).items() if value != "none") or "no terms"


def offer_parts(old: OfferTerms | None, new: OfferTerms | None) -> list[PartChange]:
    """The offer terms that changed; a whole offer when one side has none."""
    if old == new:
        return []
    if old is None or new is None:
        return [PartChange("offer", offer_text(old), offer_text(new))]
    before, after = _offer_terms(old), _offer_terms(new)
    return [PartChange(f"offer {name}", before[name], after[name]) for name in before if before[name] != after[name]]


def condition_relation(old: Condition, new: Condition) -> str:
    """"same cases", "fewer cases", "more cases" when proved, else ""."""
    old_boxes, new_boxes = condition_boxes(old), condition_boxes(new)
    if old_boxes is None or new_boxes is None:
        return ""
    narrower, wider = covered(new_boxes, old_boxes), covered(old_boxes, new_boxes)
    if narrower and wider:
        return "matches the same cases"
    # Containment is proved exactly, but its absence only without patterns.
    strict = not (_has_pattern(old) or _has_pattern(new))
    if narrower:
        return "now matches fewer cases" if strict else "matches no more cases than before"
    if wider:
        return "now matches more cases" if strict else "matches no fewer cases than before"
    return ""


def _has_pattern(condition: Condition) -> bool:
    if isinstance(condition, (AllOf, AnyOf)):
        return any(_has_pattern(item) for item in condition.items)
    return isinstance(condition, Matches)


def format_diff(changes: Sequence[RuleChange]) -> str:
    """One line per change: `+` added, `-` removed, `~` changed, and a closing count."""
    if not changes:
        return "no differences"
    lines = [_line(change) for change in changes]
    counts = {kind: sum(1 for change in changes if change.kind == kind) for kind in ("added", "removed", "changed")}
    lines.append(f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed")
    return "\n".join(lines)


def _line(change: RuleChange) -> str:
    if change.kind == "policy":
        return "policy: " + "; ".join(f"{part.part} {part.old} -> {part.new}" for part in change.parts)
    if change.kind == "removed":
        rule = change.old
        assert rule is not None
        return f"- {rule.id} (priority {rule.priority}, was at {_where(rule.source)})"
    if change.kind == "added":
        rule = change.new
        assert rule is not None
        then = rule.action.value + (f" via {channels_text(rule)}" if rule.channels else "")
        return f"+ {rule.id} (priority {rule.priority}, {_where(rule.source)}): when {describe(rule.condition)}; then {then}"
    shown = [_part_words(part) for part in change.parts]
    return f"~ {change.rule_id}: " + "; ".join(shown)


def _part_words(part: PartChange) -> str:
    # Long texts (conditions, reasons) get a colon after their name; short values read as a phrase.
    note = f" ({part.note})" if part.note else ""
    colon = ":" if part.part.startswith(("when", "reason")) else ""
    return f"{part.part}{note}{colon} {part.old} -> {part.new}"


def _where(source: Source) -> str:
    return f"{source.file}:{source.line}"


# ---------------------------------------------------------------------------
# Loading either side and the command line.
# ---------------------------------------------------------------------------


def load_side(path: Path) -> Policy:
    """A policy from a rules directory (with strategies/), a strategies directory, or one policy file."""
    if path.is_file():
        return _load_single_file(path)
    return load_strategy(strategy_dir(path))


def _load_single_file(path: Path) -> Policy:
    # The loader reads directories; load a private copy, then point sources back at the file.
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        try:
            policy = load_strategy(Path(scratch))
        except PolicyError as error:
            raise PolicyError([dataclasses.replace(problem, file=str(path)) for problem in error.problems]) from None
    rules = tuple(dataclasses.replace(rule, source=Source(str(path), rule.source.line)) for rule in policy.rules)
    return dataclasses.replace(policy, rules=rules, source_files=(str(path),))


def run_diff(old: Path, new: Path) -> int:
    """Print the differences; 0 when both sides load (whether or not they differ), else 1."""
    try:
        before, after = load_side(old), load_side(new)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    print(format_diff(diff_policies(before, after)))
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `diff OLD NEW`; the parsed args carry `func(args) -> exit code`."""
    parser = subparsers.add_parser("diff", help="show what changed between two versions of the rules")
    parser.add_argument("old", type=Path, help="rules directory (with strategies/), strategies directory or policy file")
    parser.add_argument("new", type=Path, help="the same, for the new version")
    parser.set_defaults(func=lambda args: run_diff(args.old, args.new))
    return parser

"""Policy test coverage: which rules of the strategy and the packs no test reaches.

A rule is reached when it took part in at least one test case's decision:
- a strategy rule fired (it matched and was in force: `Decision.fired_rules`);
- a pack rule (`rules:`) held for the case (the explain trace's
  `compliance.rules_holding`), whether it then blocked, routed, replaced,
  required an earlier step or named a disclosure;
- contact hours, a cap or a quiet period shaped the window, or left no lawful
  time (`Decision.window_constraints`, or the veto that names them);
- an offer limit narrowed an offer (`OfferBounds.clamps`).

A rule that only sat in the rule set while the case went elsewhere is not
reached: a test that never makes it matter cannot tell whether it is right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from engine.decision import Decision
from engine.errors import PolicyError
from engine.policy.yaml_source import load_yaml, read_yaml_file

# The lists of a policy or pack file whose items are rules with an `id`, as the
# engine names them: "<owner>/<id>" for all but the strategy's own `rules:`.
SECTIONS = ("rules", "contact_hours", "caps", "quiet_after", "offer_limits")


@dataclass(frozen=True)
class RuleSite:
    """A rule and where it is written."""

    id: str
    kind: str  # the section it is written in: rules, contact_hours, caps, quiet_after, offer_limits
    file: str
    line: int


@dataclass(frozen=True)
class Coverage:
    rules: tuple[RuleSite, ...]
    reached: frozenset[str]

    @property
    def missed(self) -> tuple[RuleSite, ...]:
        return tuple(rule for rule in self.rules if rule.id not in self.reached)

    @property
    def percent(self) -> float:
        """The share of rules reached; 100 when there are none to reach."""
        if not self.rules:
            return 100.0
        return 100.0 * (len(self.rules) - len(self.missed)) / len(self.rules)


def reached_by(decision: Decision) -> frozenset[str]:
    """The ids of the rules that took part in one decision (made with explain=True,
    without which pack rules that held but left no veto are not seen)."""
    ids: set[str] = set(decision.fired_rules)
    ids.update(reason.code for reason in (*decision.reasons, *decision.window_constraints))
    for veto in decision.vetoes:
        ids.add(veto.rule_id)
        # A window left empty names every rule that shaped it, comma-separated.
        ids.update(part.strip() for part in veto.guardrail.split(","))
    if decision.offer is not None:
        ids.update(clamp.limit_id for clamp in decision.offer.clamps)
    compliance = (decision.trace or {}).get("compliance") or {}
    ids.update(compliance.get("rules_holding") or ())
    return frozenset(ids)


def rule_sites(engine: Any) -> tuple[RuleSite, ...]:
    """Every rule of the engine's strategy and packs, with file and line, in file order."""
    policy = engine.policy
    owners: list[tuple[str | None, tuple[str, ...]]] = [(None, tuple(policy.source_files))]
    owners += [(pack.name, tuple(pack.source_files)) for pack in engine.compliance.packs]
    sites: list[RuleSite] = []
    for owner, files in owners:
        for file in files:
            sites += _sites_in(Path(file), owner)
    return tuple(sites)


def _sites_in(path: Path, owner: str | None) -> list[RuleSite]:
    """The rules written in one file; `owner` None: the strategy, whose `rules:` keep their bare id."""
    try:
        data, source = load_yaml(read_yaml_file(path), str(path))
    except PolicyError:  # it loaded for the engine a moment ago; nothing to add if it changed since
        return []
    if not isinstance(data, dict):
        return []
    policy_name = data.get("policy")
    sites = []
    for section in SECTIONS:
        items = data.get(section)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            bare = owner is None and section == "rules"
            rule_id = item["id"] if bare else f"{owner or policy_name}/{item['id']}"
            sites.append(RuleSite(rule_id, section, str(path), source.where((section, index))[0]))
    return sorted(sites, key=lambda site: site.line)


def measure(engine: Any, reached: Iterable[frozenset[str]]) -> Coverage:
    return Coverage(rule_sites(engine), frozenset().union(*reached))


def format_coverage(coverage: Coverage) -> str:
    lines = [f"{rule.file}:{rule.line}: {rule.id} ({rule.kind}) is reached by no policy test" for rule in coverage.missed]
    total = len(coverage.rules)
    lines.append(f"coverage: {total - len(coverage.missed)} of {total} rules reached by a policy test ({coverage.percent:.1f}%)")
    return "\n".join(lines)

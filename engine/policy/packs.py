"""Load compliance packs: rules/compliance/<pack>/*.yaml (or rules/compliance/*.yaml).

A pack is chosen by the case's country and region, never by the strategy, and
can only restrict: block, route to a review step, replace an act by a review,
narrow contact hours, cap contacts, impose quiet periods.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pycountry

from engine.errors import PolicyError, PolicyProblem
from engine.facts import FactType, fact_spec
from engine.policy.gc_pause import gc_paused
from engine.policy.ir import ALWAYS, Block, CapRule, Condition, ContactHours, GuardRule, HoursRule, Instead, Pack, QuietRule, Replace, Requirement, Source, Step
from engine.policy.loader import content_hash, effective, offer_limit, parse_file, policy_files
from engine.policy.model import GuardRuleSpec, PackFile, Reason
from engine.policy.yaml_source import SourceMap
from engine.vocabulary import Channel

_WEEKDAY = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
ALL_CHANNELS = frozenset(Channel)


def pack_files(directory: Path) -> list[Path]:
    """Pack files in the directory and in each of its sub-folders (not in tests/)."""
    if not directory.is_dir():
        return []
    folders = [directory, *sorted(path for path in directory.iterdir() if path.is_dir() and path.name != "tests" and not path.name.startswith("."))]
    return [path for folder in folders for path in policy_files(folder)]


def load_packs(directory: Path) -> tuple[Pack, ...]:
    with gc_paused():  # everything built here stays alive: nothing for the collector to find (engine/policy/gc_pause.py)
        return _load_packs(directory)


def _load_packs(directory: Path) -> tuple[Pack, ...]:
    packs: list[Pack] = []
    problems: list[PolicyProblem] = []
    for path in pack_files(directory):
        try:
            packs.append(load_pack(path))
        except PolicyError as error:
            problems += error.problems
    names: dict[str, str] = {}
    for pack in packs:
        if pack.name in names:
            problems.append(PolicyProblem(pack.source_files[0], 1, 1, f"pack `{pack.name}` is also defined in {names[pack.name]}"))
        names[pack.name] = pack.source_files[0]
    if problems:
        raise PolicyError(problems)
    return tuple(packs)


def load_pack(path: Path) -> Pack:
    spec, conditions, source = parse_file(path, PackFile)
    _check_places(spec, source)
    name = spec.policy
    applies = spec.applies_to
    return Pack(
        name=name,
        version=spec.version,
        countries=None if applies.countries == "*" else frozenset(code.upper() for code in applies.countries),
        regions=frozenset(code.upper() for code in applies.regions) if applies.regions else None,
        fallback=applies.fallback,
        hours=tuple(
            HoursRule(
                f"{name}/{item.id}",
                frozenset(item.channels) if item.channels else ALL_CHANNELS,
                ContactHours(item.opens, item.closes, frozenset(_WEEKDAY[day] for day in item.closed_weekdays), item.closed_on_public_holidays),
                _texts(item.reason),
            )
            for item in spec.contact_hours
        ),
        caps=tuple(CapRule(f"{name}/{item.id}", frozenset(item.channels), item.max, timedelta(days=item.period_days), _texts(item.reason)) for item in spec.caps),
        quiet=tuple(
            QuietRule(f"{name}/{item.id}", frozenset(item.channels), frozenset(item.after_channels), frozenset(item.outcomes), item.days, _texts(item.reason))
            for item in spec.quiet_after
        ),
        rules=tuple(_guard_rule(name, rule, conditions.get(index, ALWAYS), Source(str(path), source.where(("rules", index))[0])) for index, rule in enumerate(spec.rules)),
        content_hash=content_hash([path]),
        offer_limits=tuple(offer_limit(item, name) for item in spec.offer_limits),
        source_files=(str(path),),
        person_flags=frozenset(spec.flag_scope.person) if spec.flag_scope else frozenset(),
        account_flags=frozenset(spec.flag_scope.account) if spec.flag_scope else frozenset(),
        effective=effective(spec.effective_from, spec.effective_until),
    )


def _guard_rule(pack: str, spec: GuardRuleSpec, condition: Condition, source: Source) -> GuardRule:
    if spec.review_after_days:
        known = fact_spec(spec.review_after_days)
        if known is None or known.type is not FactType.INT:
            raise PolicyError([PolicyProblem(source.file, source.line, 1, f"review_after_days names `{spec.review_after_days}`, which is not a whole-number fact (docs/facts.md)", spec.id)])
    block = Block(spec.block.contacting, frozenset(spec.block.actions), frozenset(spec.block.channels)) if spec.block else None
    replace = Replace(frozenset(spec.replace.actions), spec.replace.with_) if spec.replace else None
    requires = None
    if spec.requires:
        item = spec.requires
        instead = Instead(item.instead.action, tuple(dict.fromkeys(item.instead.channel)), item.instead.template) if item.instead else None
        step = Step(frozenset(item.delivered.actions), frozenset(item.delivered.templates))
        requires = Requirement(frozenset(item.actions), item.contacting, step, item.days_before, instead)
    return GuardRule(
        f"{pack}/{spec.id}", condition, _texts(spec.reason), source, block=block, route=spec.route, review_after_days=spec.review_after_days, replace=replace, requires=requires, disclose=tuple(spec.disclose or ()),
        effective=effective(spec.effective_from, spec.effective_until), lint_ignore=tuple((spec.lint_ignore or {}).items()),
    )


def _texts(reason: Reason) -> dict[str, str]:
    return {"en": reason} if isinstance(reason, str) else {language: words for language, words in reason.items()}


def _check_places(spec: PackFile, source: SourceMap) -> None:
    problems = []
    countries = [] if spec.applies_to.countries == "*" else spec.applies_to.countries
    for index, code in enumerate(countries):
        if pycountry.countries.get(alpha_2=code.upper()) is None:
            problems.append(source.problem(("applies_to", "countries", index), f"`{code}` is not an ISO 3166-1 alpha-2 country code"))
    for index, region in enumerate(spec.applies_to.regions or []):
        if not any(pycountry.subdivisions.get(code=f"{country.upper()}-{region.upper()}") for country in countries):
            problems.append(source.problem(("applies_to", "regions", index), f"`{region}` is not a region of {', '.join(countries) or 'the listed countries'}"))
    ids = [item.id for group in (spec.contact_hours, spec.caps, spec.quiet_after, spec.offer_limits, spec.rules) for item in group]
    for duplicate in sorted({item for item in ids if ids.count(item) > 1}):
        problems.append(source.problem((), f"id `{duplicate}` is used twice in this pack"))
    if problems:
        raise PolicyError(problems)

"""Load policy files: YAML -> validated models -> intermediate form, every error with file:line."""

from __future__ import annotations

import difflib
import hashlib
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError

from engine.errors import PolicyError, PolicyProblem
from engine.policy.conditions import ConditionError, compile_when
from engine.facts import EXPERIMENT_PREFIX, declare_inputs, forget_inputs
from engine.policy.gc_pause import gc_paused
from engine.policy.inputs import InputSpec, fact_specs
from engine.policy.ir import ALWAYS, AllOf, Compare, Condition, DebtorRules, Effective, Experiment, Input, OfferLimit, OfferTerms, Policy, Rule, Source
from engine.policy.model import SHORTEST_WINDOW_MINUTES, OfferLimitSpec, OfferSpec, PolicyFile, RuleSpec
from engine.policy.work import plan_of
from engine.policy.yaml_source import SourceMap, load_yaml, read_yaml_file
from engine.vocabulary import Channel

POLICY_SUFFIXES = (".yaml", ".yml")
ModelT = TypeVar("ModelT", bound=BaseModel)


def policy_files(directory: Path) -> list[Path]:
    """The policy files of a directory (its tests/ subfolder holds tests, not policy)."""
    return sorted(path for path in directory.iterdir() if path.suffix in POLICY_SUFFIXES and path.is_file())


def load_strategy(directory: Path) -> Policy:
    """Load every policy file of a directory as one strategy.

    All files must name the same policy and version; rule ids are unique across them.
    """
    with gc_paused():  # everything built here stays alive: nothing for the collector to find (engine/policy/gc_pause.py)
        return _load_strategy(directory)


def _load_strategy(directory: Path) -> Policy:
    files = policy_files(directory) if directory.is_dir() else []
    if not files:
        raise PolicyError([PolicyProblem(str(directory), 1, 1, "no policy files (*.yaml) found")])
    # Each file's YAML is read once: its inputs are declared before any file's rules are compiled.
    documents = {path: _document(path) for path in files}
    inputs, problems = declared_inputs(files, documents)
    parsed: list[tuple[Path, PolicyFile, list[Rule], SourceMap]] = []
    token = declare_inputs(fact_specs(inputs))  # rules of any file may read an input declared in another
    try:
        for path in files:
            try:
                parsed.append((path, *_load_file(path, documents[path])))
            except PolicyError as error:
                problems += error.problems
    finally:
        forget_inputs(token)
    if problems:
        raise PolicyError(problems)
    first_path, first, _, _ = parsed[0]
    seen: dict[str, Source] = {}
    rules: list[Rule] = []
    for path, spec, file_rules, _ in parsed:
        if (spec.policy, spec.version) != (first.policy, first.version):
            problems.append(PolicyProblem(str(path), 1, 1, f"names policy {spec.policy} {spec.version}, but {first_path.name} names {first.policy} {first.version}; files of one directory form one policy"))
        for rule in file_rules:
            if rule.id in seen:
                other = seen[rule.id]
                problems.append(PolicyProblem(rule.source.file, rule.source.line, 1, f"rule id `{rule.id}` is already used at {other.file}:{other.line}", rule.id))
            seen[rule.id] = rule.source
            rules.append(rule)
    if problems:
        raise PolicyError(problems)
    ordered = tuple(sorted(rules, key=lambda rule: (-rule.priority, rule.id)))
    experiments = [Experiment(item.id, tuple(item.arms.items())) for _, spec, _, _ in parsed for item in spec.experiments]
    if len({experiment.id for experiment in experiments}) != len(experiments):
        raise PolicyError([PolicyProblem(str(files[0]), 1, 1, "an experiment id is declared twice")])
    limits = tuple(offer_limit(item, first.policy) for _, spec, _, _ in parsed for item in spec.offer_limits)
    grace = tuple(sorted({method: days for _, spec, _, _ in parsed for method, days in spec.posting_grace.items()}.items()))
    debtor = _debtor_rules([(path, spec) for path, spec, _, _ in parsed])
    work = plan_of([(spec.queues, [(index, rule.id, rule.then.work) for index, rule in enumerate(spec.rules)], source) for _, spec, _, source in parsed])
    shortest = dict(SHORTEST_WINDOW_MINUTES)
    for _, spec, _, _ in parsed:
        if "shortest_window_minutes" in spec.model_fields_set:
            shortest.update(spec.shortest_window_minutes)
    return Policy(
        first.policy, first.version, ordered, content_hash(files), tuple(str(path) for path in files), tuple(experiments), limits, grace, debtor,
        tuple(sorted(shortest.items())), inputs, work,
    )


Document = Union[tuple[Any, SourceMap], PolicyError]  # a file's YAML and where each value is, or why it cannot be read


def _document(path: Path) -> Document:
    try:
        return load_yaml(read_yaml_file(path), str(path))
    except PolicyError as error:
        return error


def declared_inputs(files: list[Path], documents: dict[Path, Document] | None = None) -> tuple[tuple[Input, ...], list[PolicyProblem]]:
    """The inputs the files declare, read before their rules are compiled, and an input
    declared twice as a problem. An entry that is not a valid declaration is left to
    the file's own validation, which reports it with the file's other problems.
    `documents`: the files already read (_document), else each is read here."""
    found: dict[str, tuple[Input, str]] = {}
    problems: list[PolicyProblem] = []
    for path in files:
        document = documents[path] if documents is not None else _document(path)
        if isinstance(document, PolicyError):
            continue  # reported when the file itself is parsed
        data, source = document
        entries = data.get("inputs") if isinstance(data, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            try:
                item = InputSpec.model_validate(entry).to_ir()
            except (ValidationError, ValueError):
                continue
            line, _ = source.where(("inputs", index, "name"))
            if item.name in found:
                problems.append(source.problem(("inputs", index, "name"), f"input `{item.name}` is already declared at {found[item.name][1]}"))
                continue
            found[item.name] = (item, f"{source.file}:{line}")
    return tuple(item for item, _ in found.values()), problems


def _debtor_rules(parsed: list[tuple[Path, PolicyFile]]) -> DebtorRules:
    declared = [(path, spec.debtor) for path, spec in parsed if spec.debtor is not None]
    if not declared:
        return DebtorRules()
    if len(declared) > 1:
        raise PolicyError([PolicyProblem(str(path), 1, 1, f"`debtor` is also set in {declared[0][0].name}: set it in one file of the policy") for path, _ in declared[1:]])
    spec = declared[0][1]
    return DebtorRules(spec.rank, spec.rank_attribute, tuple(frozenset(group) for group in spec.bundle), spec.consolidate_offers, spec.allocation)


def _load_file(path: Path, document: Document) -> tuple[PolicyFile, list[Rule], SourceMap]:
    spec, conditions, source = parse_file(path, PolicyFile, document)
    arms = {experiment.id: experiment.arms for experiment in spec.experiments}
    unknown = [
        source.problem(("rules", index, "arm", experiment), f"experiment `{experiment}` has no arm `{arm}`; " + (f"its arms are {', '.join(arms[experiment])}" if experiment in arms else f"declare it under `experiments` (declared: {', '.join(arms) or 'none'})"), rule.id)
        for index, rule in enumerate(spec.rules)
        for experiment, arm in (rule.arm or {}).items()
        if arm not in arms.get(experiment, {})
    ]
    templates = spec.templates
    if templates is not None:
        unknown += [
            source.problem(("rules", index, "then", "template"), f"template `{rule.then.template}` is not in this policy's `templates`" + _did_you_mean(rule.then.template, templates), rule.id)
            for index, rule in enumerate(spec.rules)
            if rule.then.template and rule.then.template not in templates
        ]
        unknown += [
            source.problem(("rules", index, "then", "otherwise", "template"), f"template `{rule.then.otherwise.template}` is not in this policy's `templates`" + _did_you_mean(rule.then.otherwise.template, templates), rule.id)
            for index, rule in enumerate(spec.rules)
            if rule.then.otherwise and rule.then.otherwise.template and rule.then.otherwise.template not in templates
        ]
    if unknown:
        raise PolicyError(unknown)
    return spec, [_rule(rule_spec, _in_arm(rule_spec, conditions.get(index, ALWAYS)), index, source, spec.channel_order) for index, rule_spec in enumerate(spec.rules)], source


def _did_you_mean(word: str, choices: list[str]) -> str:
    hint = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean `{hint[0]}`?" if hint else f"; add it there or use one of {', '.join(choices)}"


def _in_arm(spec: RuleSpec, condition: Condition) -> Condition:
    """A rule of an experiment arm holds only for cases assigned to that arm."""
    if not spec.arm:
        return condition
    arms = tuple(Compare(f"{EXPERIMENT_PREFIX}{experiment}", "eq", arm) for experiment, arm in sorted(spec.arm.items()))
    return AllOf((*arms, condition))


def parse_file(path: Path, model: type[ModelT], document: Document | None = None) -> tuple[ModelT, dict[int, Condition], SourceMap]:
    """Read and validate one file: the model, each rule's compiled `when` by index,
    and the source map; every problem of the file at once, in line order.
    `document`: the file's YAML when it has been read already (_document)."""
    if document is None:
        document = _document(path)
    if isinstance(document, PolicyError):
        raise document
    data, source = document
    conditions, problems = _compile_conditions(data, source)
    try:
        spec = model.model_validate(data)
    except ValidationError as error:
        problems += model_problems(error.errors(), data, source, model)
    if problems:
        raise PolicyError(sorted(problems, key=lambda problem: (problem.line, problem.column)))
    return spec, conditions, source


def content_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _compile_conditions(data: Any, source: SourceMap) -> tuple[dict[int, Condition], list[PolicyProblem]]:
    """Each rule's `when` compiled, by rule index, and the problems found."""
    rules = data.get("rules") if isinstance(data, dict) else None
    conditions: dict[int, Condition] = {}
    problems = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict) and isinstance(rule.get("when"), dict):
            try:
                conditions[index] = compile_when(rule["when"])
            except ConditionError as error:
                problems.append(source.problem(("rules", index, "when", *error.path), str(error), _rule_id(data, ("rules", index))))
    return conditions, problems


def _rule(spec: RuleSpec, condition: Condition, index: int, source: SourceMap, channel_order: str = "absolute") -> Rule:
    then = spec.then
    otherwise = None
    if then.otherwise:
        written = then.otherwise.channel if isinstance(then.otherwise.channel, list) else [then.otherwise.channel]
        otherwise = (then.otherwise.action or then.action, tuple(Channel(name) for name in dict.fromkeys(written)), then.otherwise.template or then.template)
    channels: tuple[Channel | str, ...]
    if then.channel is None:
        channels = ()
    elif isinstance(then.channel, list):
        channels = tuple(dict.fromkeys(then.channel))
    else:
        channels = (then.channel,)
    reason: dict[str, str] = {"en": spec.reason} if isinstance(spec.reason, str) else {language: words for language, words in spec.reason.items()}
    return Rule(
        id=spec.id,
        priority=spec.priority,
        condition=condition,
        action=then.action,
        channels=channels,
        reason=reason,
        source=Source(source.file, source.where(("rules", index))[0]),
        template=then.template,
        offer=_offer(then.offer),
        review_in_days=then.review_in_days,
        same_day_order=(then.channel_order or channel_order) == "same_day",
        otherwise=otherwise,
        effective=effective(spec.effective_from, spec.effective_until),
        lint_ignore=tuple((spec.lint_ignore or {}).items()),
    )


def effective(start: date | datetime | None, end: date | datetime | None) -> Effective | None:
    """The period a rule or pack is in force; None when it is always in force."""
    return Effective(start, end) if start is not None or end is not None else None


def _offer(spec: OfferSpec | None) -> OfferTerms | None:
    if spec is None:
        return None
    return OfferTerms(spec.discount_pct, spec.instalments, spec.min_instalment, spec.max_deferral_days, spec.settlement_floor_pct, spec.payment_holiday)


def offer_limit(spec: OfferLimitSpec, owner: str) -> OfferLimit:
    return OfferLimit(
        id=f"{owner}/{spec.id}",
        segments=frozenset(spec.segments) if spec.segments else None,
        products=frozenset(spec.products) if spec.products else None,
        reason={"en": spec.reason} if isinstance(spec.reason, str) else {language: words for language, words in spec.reason.items()},
        discount_pct_max=spec.discount_pct_max,
        review_above_discount_pct=spec.review_above_discount_pct,
        instalments_max=spec.instalments_max,
        max_deferral_days=spec.max_deferral_days,
    )


def model_problems(items: list[Any], data: Any, source: SourceMap, root: type[BaseModel]) -> list[PolicyProblem]:
    """One readable problem per place, from pydantic's errors."""
    by_place: dict[tuple[Any, ...], list[Any]] = {}
    for item in items:
        by_place.setdefault(tuple(part for part in item["loc"] if not _is_union_branch(part)), []).append(item)
    suggested: set[tuple[Any, ...]] = set()
    problems: list[tuple[tuple[Any, ...], str]] = []
    for loc, group in by_place.items():
        item = group[0]
        if item["type"] == "extra_forbidden":
            key = str(loc[-1])
            known = _known_keys(root, loc[:-1])
            hint = difflib.get_close_matches(key, known, n=1)
            if hint:
                suggested.add((*loc[:-1], hint[0]))
            message = f"`{key}` is not a known key here" + (f"; did you mean `{hint[0]}`?" if hint else f"; expected one of {', '.join(known)}")
        elif item["type"] == "missing":
            message = f"`{loc[-1]}` is missing"
        else:
            field = ".".join(str(part) for part in loc[2 if loc[:1] == ("rules",) else 0 :] if not isinstance(part, int))
            texts = list(dict.fromkeys(entry["msg"].removeprefix("Value error, ") for entry in group))
            shown = f"`{item['input']}`: " if field and isinstance(item.get("input"), (str, int)) and not isinstance(item.get("input"), bool) else ""
            # A check of a whole rule or file has no field of its own: say just what is wrong.
            message = (f"{field}: {shown}" if field else "") + "; or ".join(texts)
        problems.append((loc, message))
    # A misspelt key is reported once, as the misspelling, not also as a missing key.
    return [source.problem(loc, message, _rule_id(data, loc)) for loc, message in problems if not (message.endswith("is missing") and loc in suggested)]


def _is_union_branch(part: Any) -> bool:
    # pydantic names the union member it tried, e.g. "list[...]" or "literal['preferred']"
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "bool", "enum"))


def _rule_id(data: Any, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            rule_id = rules[loc[1]].get("id")
            return str(rule_id) if rule_id is not None else None
    return None


def _known_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key was found, for a did-you-mean hint."""
    model: Any = root
    for part in loc:
        if isinstance(part, str):
            annotation = model.model_fields[part].annotation if part in getattr(model, "model_fields", {}) else None
            model = _model_in(annotation) or model
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `list[RuleSpec] | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found:
            return found
    return None

r"""Match rules with durable_rules' C engine, driven directly and defensively.

durable_rules 2.0.28 (unmaintained since 2020) has hazards measured on these
machines; this module is built around each of them:
- its `Host` starts timer threads that segfault under concurrency and after
  errors: we never create a Host nor start a thread, and call the C engine's
  functions ourselves;
- `delete_state` frees a session's action context, which is uninitialised
  until an action has run in it: we delete state only after that (`_CRuleset`);
- a ruleset accepts at most 1,024 session ids in its life: every request uses
  the one fixed sid and retracts the fact it asserted;
- events are consumed by the first matching rule: we assert facts, which every
  matching rule sees;
- there is no `$in`: the compiler already turned `in` into an `$or`;
- a fact holds at most ~250 properties: the fact carries only the paths the
  policy reads, and a policy reading more than MAX_FACT_PATHS is refused;
- actions are Python callbacks whose exceptions are swallowed into the state:
  our rules have no Python action; we read the rule names from the action queue;
- the C engine has no locks and never releases the GIL: one lock per ruleset
  (parallelism comes from worker processes, not threads);
- an `$or` is expanded into one path per branch, so a rule fires once for each
  branch that holds: fired rule ids are de-duplicated;
- its `$mt` has a regular-expression dialect of its own (no \d, \w or (?i); `.`
  matches a newline; long repeats fail to compile): patterns are matched by
  Python's `re` here and reach durable as boolean facts.
Any failure throws the ruleset away (its queue may hold another request's
actions) and raises MatcherFault, which the engine turns into "no contact".
A ruleset and its session state live in C memory (about 0.7 MB for the shipped
rules once a fact was asserted): both are freed when the matcher is collected,
i.e. after the last call deciding with an old policy version has finished, so
hot reloads do not grow the process. A ruleset thrown away after a failure is
left alone, since its state is unknown.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import durable_rules_engine as durable

from engine.matching import MatcherFault, RuleSet
from engine.policy.ir import AllOf, AnyOf, Compare, Condition, Exists, Matches, paths_of

MAX_FACT_PATHS = 200  # durable refuses facts of more than ~253 properties (error 302)
MONEY_SCALE = 10_000  # money travels as integer ten-thousandths: exact in a double
_SID = "0"
_MARK = {"t": "case"}  # present in every fact, so a rule with no condition still matches
_OPS = {"neq": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_ruleset_names = itertools.count()


def _encode(value: Any) -> Any:
    return int(value * MONEY_SCALE) if isinstance(value, Decimal) else value


def _patterns(condition: Condition) -> set[tuple[str, str]]:
    if isinstance(condition, (AllOf, AnyOf)):
        return set().union(*(_patterns(item) for item in condition.items)) if condition.items else set()
    return {(condition.path, condition.pattern)} if isinstance(condition, Matches) else set()


def pattern_keys(policy: RuleSet) -> dict[tuple[str, str], str]:
    """A boolean fact name for each (fact, pattern) the rules match against."""
    found = sorted(set().union(*(_patterns(rule.condition) for rule in policy.rules)))
    return {item: f"matches.{index}" for index, item in enumerate(found)}


def to_durable(condition: Condition, patterns: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The durable_rules JSON for one intermediate condition."""
    if isinstance(condition, AllOf):
        return {"$and": [to_durable(item, patterns) for item in condition.items]} if condition.items else _MARK
    if isinstance(condition, AnyOf):
        return {"$or": [to_durable(item, patterns) for item in condition.items]}
    if isinstance(condition, Exists):
        return {"$ex" if condition.present else "$nex": {condition.path: 1}}
    if isinstance(condition, Matches):
        return {patterns[(condition.path, condition.pattern)]: True}
    value = _encode(condition.value)
    if condition.op == "eq":
        return {condition.path: value}
    return {_OPS[condition.op]: {condition.path: value}}


def ruleset_definition(policy: RuleSet) -> dict[str, Any]:
    patterns = pattern_keys(policy)
    return {rule.id: {"all": [{"m": {"$and": [_MARK, to_durable(rule.condition, patterns)]}}]} for rule in policy.rules}


class DurableMatcher:
    def __init__(self, policy: RuleSet):
        paths = sorted(set().union(*(paths_of(rule.condition) for rule in policy.rules)))
        if len(paths) > MAX_FACT_PATHS:
            raise ValueError(f"policy {policy.name} reads {len(paths)} facts; durable_rules holds at most {MAX_FACT_PATHS}")
        self._paths = paths
        self._patterns = [(json.dumps(key) + ":", path, re.compile(pattern)) for (path, pattern), key in pattern_keys(policy).items()]
        self._keys = [(path, json.dumps(path) + ":") for path in paths]
        self._definition = json.dumps(ruleset_definition(policy))
        self._name = f"{policy.name}-{policy.version}"
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._rulesets = [_CRuleset(self._create())]  # one; a list so that the finalizer sees a replacement
        weakref.finalize(self, _free, self._rulesets).atexit = False

    def _create(self) -> int:
        try:
            return durable.create_ruleset(f"{self._name}-{next(_ruleset_names)}", self._definition)
        except durable.error as error:
            raise ValueError(f"durable_rules refused the compiled rules of {self._name}: {error}") from None

    def fact_text(self, facts: dict[str, Any], fact_id: int) -> str:
        """The JSON text asserted for these facts: only the paths rules read.

        Keys stay flat ("contacts.all.last_7d"): durable looks a dotted name up
        as one property, and misses it in nested objects beyond the first level.
        Written directly since values are only bools, ints, money and text.
        """
        parts = [f'{{"t":"case","sid":"{_SID}","id":"{fact_id}"']
        for path, key in self._keys:
            if path in facts:
                value = facts[path]
                if value is True or value is False:
                    parts.append(key + ("true" if value else "false"))
                elif isinstance(value, int):
                    parts.append(key + str(value))
                elif isinstance(value, Decimal):
                    parts.append(key + str(int(value * MONEY_SCALE)))
                else:
                    parts.append(key + json.dumps(value))
        for key, path, pattern in self._patterns:
            value = facts.get(path)
            if isinstance(value, str):  # an absent fact matches no pattern: the key stays absent too
                parts.append(key + ("true" if pattern.fullmatch(value) else "false"))
        return ",".join(parts) + "}"

    def matching(self, facts: dict[str, Any]) -> list[str]:
        with self._lock:
            text = self.fact_text(facts, next(self._ids))
            try:
                return self._run(text)
            except Exception as error:
                self._rulesets[:] = [_CRuleset(self._create())]
                raise MatcherFault(f"durable_rules failed: {error}") from error

    def _run(self, text: str) -> list[str]:
        ruleset = self._rulesets[0]
        handle = ruleset.handle
        fired: list[str] = []
        _, state = durable.assert_fact(handle, text)
        try:
            started = durable.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                # The queue yields '{"<rule id>":{"m":{...}}}'; rule ids hold no quotes.
                fired.append(message[2 : message.index('"', 2)])
                message = durable.complete_and_start_action(handle, state)
        finally:
            durable.retract_fact(handle, text)
        if durable.start_action_for_state(handle, state):
            raise RuntimeError("an action was still queued after the fact was retracted")
        ruleset.actions_completed = ruleset.actions_completed or bool(fired)
        return list(dict.fromkeys(fired))


@dataclass
class _CRuleset:
    handle: int
    # durable leaves a session's action context uninitialised until an action
    # has run (createStateNode sets no `context`), and delete_state frees it:
    # the state is deleted only once an action ran and completed, which clears it.
    actions_completed: bool = False


def _free(rulesets: list[_CRuleset]) -> None:
    for ruleset in rulesets:
        if ruleset.actions_completed:  # otherwise the state (if any) stays: freeing it could crash
            durable.delete_state(ruleset.handle, _SID)  # delete_ruleset alone leaves the session state behind
        durable.delete_ruleset(ruleset.handle)

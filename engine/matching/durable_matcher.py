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
- there is no `$in`, and a node of its network with more than 511 children
  makes create_ruleset spin forever holding the GIL: value lists reach durable
  as one boolean fact each, rules hang under bucket nodes, and a definition
  that would still crowd a node is refused before durable sees it, naming the
  rules (engine/matching/durable_form.py);
- a fact holds at most ~250 properties: the fact carries only the paths the
  policy reads, and a policy reading more than MAX_FACT_PATHS is refused;
- actions are Python callbacks whose exceptions are swallowed into the state:
  our rules have no Python action; we read the rule names from the action queue;
- the C engine has no locks and never releases the GIL: one lock per ruleset
  (parallelism comes from worker processes, not threads);
- an `$or` is expanded into one path per branch, so a rule fires once for each
  branch that holds: fired rule ids are de-duplicated;
- a rule holds fewer than 32 expressions, two per all/any group: nested groups
  of one kind are flattened, and a rule with more is refused by name;
- its `$mt` has a regular-expression dialect of its own (no \d, \w or (?i); `.`
  matches a newline; long repeats fail to compile): patterns are matched by
  RE2 here (engine/policy/patterns.py: linear time, the very compiled pattern
  the python matcher uses) and reach durable as boolean facts.
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
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import durable_rules_engine as durable
import orjson

from engine.matching import MatcherFault, RuleSet
from engine.matching.durable_form import MONEY_SCALE, check_capacity, derived_facts, fact_paths, ruleset_definition
from engine.policy.patterns import compile_pattern

MAX_FACT_PATHS = 200  # durable refuses facts of more than ~253 properties (error 302)
_SID = "0"
_ruleset_names = itertools.count()


def _money(value: Any) -> int:
    """Money as durable compares it: integer ten-thousandths (engine.matching.durable_form)."""
    if isinstance(value, Decimal):
        return int(value * MONEY_SCALE)
    raise TypeError(f"a fact of type {type(value).__name__} has no JSON form here")


class DurableMatcher:
    def __init__(self, policy: RuleSet):
        derived = derived_facts(policy.rules)
        paths = fact_paths(policy.rules)
        if len(paths) + len(derived.patterns) + len(derived.lists) > MAX_FACT_PATHS:
            raise ValueError(f"policy {policy.name} reads {len(paths)} facts, {len(derived.patterns)} patterns and {len(derived.lists)} value lists; durable_rules holds at most {MAX_FACT_PATHS} in all")
        definition = ruleset_definition(policy.rules, derived)
        check_capacity(definition)  # before durable sees it: some shapes make it spin forever
        self._paths = paths
        self._patterns = [(key, path, compile_pattern(pattern)) for key, (path, pattern) in derived.patterns.items()]
        self._lists = list(derived.lists.items())
        self._definition = json.dumps(definition)
        self._name = f"{policy.name}-{policy.version}"
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._rulesets = [_CRuleset(self._create())]  # one; a list so that the finalizer sees a replacement
        weakref.finalize(self, _free, self._rulesets).atexit = False  # type: ignore[misc]  # typeshed gives finalize empty __slots__; atexit is a settable property

    def _create(self) -> int:
        try:
            return durable.create_ruleset(f"{self._name}-{next(_ruleset_names)}", self._definition)
        except durable.error as error:
            raise ValueError(f"durable_rules refused the compiled rules of {self._name}: {error}") from None

    def fact_text(self, facts: dict[str, Any], fact_id: int) -> str:
        """The JSON text asserted for these facts: only the paths rules read.

        Keys stay flat ("contacts.all.last_7d"): durable looks a dotted name up
        as one property, and misses it in nested objects beyond the first level.
        Values are only bools, ints, money and text. Written by orjson (a tenth of
        the cost of writing it here) when the text comes out printable ASCII, where orjson
        and json.dumps write the same bytes; otherwise (text beyond ASCII, which
        json.dumps escapes and the compiled rules were written with, or an int
        orjson does not hold) by json.dumps, as before: the very same text.
        """
        document: dict[str, Any] = {"t": "case", "sid": _SID, "id": str(fact_id)}
        document.update({path: facts[path] for path in self._paths if path in facts})
        for key, path, pattern in self._patterns:
            value = facts.get(path)
            if isinstance(value, str):  # an absent fact matches no pattern: the key stays absent too
                document[key] = bool(pattern.fullmatch(value))
        for key, value_list in self._lists:
            if value_list.path in facts:  # absent: no key, so neither `in` nor `not_in` holds
                document[key] = value_list.holds(facts[value_list.path])
        try:
            text = orjson.dumps(document, default=_money).decode()
            if text.isascii() and "\x7f" not in text:  # json.dumps escapes DEL too
                return text
        except TypeError:  # orjson.JSONEncodeError: e.g. an int beyond 64 bits
            pass
        return json.dumps({key: _money(value) if isinstance(value, Decimal) else value for key, value in document.items()}, separators=(",", ":"))

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

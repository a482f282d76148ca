"""`lint`, money: an amount compared, or offered, whatever the case's currency.

  money-without-currency  (warning) a rule compares an amount with a bare number,
                                    or offers a bare `min_instalment`

1000 is a large debt in PLN and a small one in JPY or HUF: a bare number treats
every currency alike, so a tiny debt in a currency with small units goes to
legal review. A comparison is currency-aware when every way the rule can match
through it pins `currency` to named values: written per currency
(`amount_due: {gte: {PLN: 1000, EUR: 400}}`), or beside `currency: PLN` (or
`currency: {in: [...]}`) in the same block or one around it. A comparison with
zero means the same in every currency and is never reported. A bare offer
amount is fine on a rule whose condition pins the currency.

The finding points at the comparison's own line, read again from the rule's
file (the rule's line when it cannot be found there). Bare numbers are still
accepted when a policy loads, for policies written before amounts had
currencies: this is a warning, an error under `lint --strict`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from engine.errors import PolicyError
from engine.explain import describe
from engine.facts import FactType, fact_spec
from engine.authoring.lint import Finding
from engine.policy.conditions import CURRENCY
from engine.policy.ir import AllOf, AnyOf, Compare, Condition, GuardRule, Pack, Policy, Rule
from engine.policy.yaml_source import SourceMap, load_yaml, read_yaml_file
from engine.vocabulary import Action

CODE = "money-without-currency"
ESCALATING = (Action.FINAL_NOTICE, Action.LEGAL_REVIEW)


def money_findings(policy: Policy, packs: Sequence[Pack] = ()) -> list[Finding]:
    """A finding for each amount of the strategy's rules and the packs' rules that
    is compared or offered without a currency."""
    files = _Files()
    findings: list[Finding] = []
    rules: list[Rule | GuardRule] = [*policy.rules, *(rule for pack in packs for rule in pack.rules)]
    for rule in rules:
        for comparison in unpinned_amounts(rule.condition):
            line = files.line_of(rule, comparison)
            findings.append(Finding("warning", rule.source.file, line, rule.id, CODE, _comparison_message(rule, comparison)))
        offer = rule.offer if isinstance(rule, Rule) else None
        minimum = offer.min_instalment if offer else None
        if minimum is not None and not isinstance(minimum, Mapping) and minimum != 0 and not pins_currency(rule.condition):
            line = files.line_of_offer(rule)
            findings.append(Finding("warning", rule.source.file, line, rule.id, CODE, (
                f"offers `min_instalment: {minimum}`, a bare amount whatever the case's currency ({minimum} PLN and {minimum} JPY are very different "
                "sums). Write it per currency, e.g. `min_instalment: {PLN: 50, EUR: 20}` (a case in a currency not listed then gets no minimum, "
                "and a note says so), or pin `currency` in the rule's `when`."
            )))
    return findings


def unpinned_amounts(condition: Condition, pinned: bool = False) -> Iterator[Compare]:
    """The money comparisons (other than with zero) through which the condition can
    hold for a case in any currency."""
    if isinstance(condition, AllOf):
        pinned = pinned or any(pins_currency(item) for item in condition.items)
    if isinstance(condition, (AllOf, AnyOf)):
        for item in condition.items:
            yield from unpinned_amounts(item, pinned)
    elif isinstance(condition, Compare) and not pinned and _is_money(condition.path) and condition.value != 0:
        yield condition


def pins_currency(condition: Condition) -> bool:
    """Whenever `condition` holds, the case's currency is one it names."""
    if isinstance(condition, Compare):
        return condition.path == CURRENCY and condition.op == "eq"
    if isinstance(condition, AllOf):
        return any(pins_currency(item) for item in condition.items)
    if isinstance(condition, AnyOf):
        return bool(condition.items) and all(pins_currency(item) for item in condition.items)
    return False


def _is_money(path: str) -> bool:
    spec = fact_spec(path)
    return spec is not None and spec.type is FactType.MONEY


def _comparison_message(rule: Rule | GuardRule, comparison: Compare) -> str:
    text = (
        f"`{describe(comparison)}` compares the amount with a bare number, whatever the case's currency ({comparison.value} PLN and "
        f"{comparison.value} JPY are very different sums), so cases in every currency are judged alike"
    )
    if isinstance(rule, Rule) and rule.action in ESCALATING:
        text += f", and this rule escalates to {rule.action.value}: a small debt in a currency with small units would be escalated on its amount alone"
    return text + (
        f". Write the amount per currency, e.g. `{comparison.path}: {{{comparison.op}: {{PLN: {comparison.value}, EUR: ..., GBP: ...}}}}` (a case in a currency not listed then never matches "
        "on it), or pin `currency` in the same `when`."
    )


class _Files:
    """Each rule file read once, to point at the line of a comparison."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[Any, SourceMap] | None] = {}

    def _rule(self, rule: Rule | GuardRule) -> tuple[tuple[str | int, ...], Any, SourceMap] | None:
        """The rule's path in its file, its raw YAML, and the file's source map."""
        file = rule.source.file
        if file not in self._read:
            try:
                self._read[file] = load_yaml(read_yaml_file(Path(file)), file)
            except PolicyError:
                self._read[file] = None
        found = self._read[file]
        if found is None or not isinstance(found[0], dict) or not isinstance(found[0].get("rules"), list):
            return None
        data, source = found
        for index, raw in enumerate(data["rules"]):
            if source.where(("rules", index))[0] == rule.source.line:
                return ("rules", index), raw, source
        return None

    def line_of(self, rule: Rule | GuardRule, comparison: Compare) -> int:
        found = self._rule(rule)
        if found is None or not isinstance(found[1], dict):
            return rule.source.line
        where, raw, source = found
        bare = [(path, operand) for path, fact, operand in _written_amounts(raw.get("when"), (*where, "when")) if fact == comparison.path and not isinstance(operand, dict)]
        exact = [path for path, operand in bare if comparison.value in _decimals(operand)]
        paths = exact or [path for path, _ in bare]
        return source.where(paths[0])[0] if paths else rule.source.line

    def line_of_offer(self, rule: Rule | GuardRule) -> int:
        found = self._rule(rule)
        if found is None:
            return rule.source.line
        where, _, source = found
        return source.where((*where, "then", "offer", "min_instalment"))[0]


def _written_amounts(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """(path, money fact, operand) for each amount written in a raw `when` block, in
    its YAML form (`fact: value`, `fact: {op: value}`) or its durable form (`$op: {fact: value}`)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _written_amounts(item, (*path, index))
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = (*path, key)
        if isinstance(key, str) and _is_money(key):
            if isinstance(value, dict):
                yield from (((*here, op), key, operand) for op, operand in value.items())
            else:
                yield here, key, value
        elif isinstance(key, str) and key.startswith("$") and isinstance(value, dict) and len(value) == 1:
            ((fact, operand),) = value.items()
            if isinstance(fact, str) and _is_money(fact):
                yield (*here, fact), fact, operand
                continue
            yield from _written_amounts(value, here)
        else:
            yield from _written_amounts(value, here)


def _decimals(operand: Any) -> list[Decimal]:
    values = operand if isinstance(operand, list) else [operand]
    found = []
    for value in values:
        try:
            found.append(Decimal(str(value)))
        except InvalidOperation:
            pass
    return found

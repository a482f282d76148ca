"""The JSON Schema of policy files, for editors (yaml-language-server, IntelliJ).

The shape comes from the pydantic models; `when` is filled in from the fact
catalogue, so an editor completes fact names and operators and underlines a
wrong type as the analyst types.
"""

from __future__ import annotations

from typing import Any

from engine.facts import FACT_TYPES, FactSpec, FactType
from pydantic import BaseModel

from engine.policy.model import PackFile, PolicyFile
from engine.policy.money import per_currency_schema
from engine.policy.patterns import MAX_PATTERN_LENGTH

# A local clock time as packs write it ("08:00", "20:00:00"). Not `format: time`:
# that is RFC 3339 time, which needs seconds and an offset, so a format-checking
# validator would reject every pack's hours.
CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
_JSON_TYPES = {FactType.BOOL: "boolean", FactType.INT: "integer", FactType.MONEY: ["number", "string"], FactType.TEXT: "string"}


def _value_schema(spec: FactSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[spec.type]}
    if spec.choices:
        schema["enum"] = list(spec.choices)
    return schema


def _fact_schema(spec: FactSpec) -> dict[str, Any]:
    value = _value_schema(spec)
    operators: dict[str, Any] = {"eq": value, "neq": value, "in": {"type": "array", "items": value, "minItems": 1}, "not_in": {"type": "array", "items": value, "minItems": 1}, "exists": {"type": "boolean"}}
    if spec.type in (FactType.INT, FactType.MONEY):
        operators |= {op: value for op in ("lt", "lte", "gt", "gte")}
        operators["between"] = {"type": "array", "items": value, "minItems": 2, "maxItems": 2}
    if spec.type is FactType.MONEY:  # each comparison also per currency: {gte: {PLN: 1000, EUR: 400}}
        operators = {op: {"anyOf": [per_currency_schema(operand), operand]} if op != "exists" else operand for op, operand in operators.items()}
    if spec.type is FactType.TEXT:
        operators["matches"] = {"type": "string", "maxLength": MAX_PATTERN_LENGTH, "description": "a regular expression in RE2 syntax that the whole value must match (docs/patterns.md)"}
    return {"description": spec.description, "anyOf": [value, {"type": "object", "properties": operators, "additionalProperties": False, "minProperties": 1}]}


# An input's type is the policy's own declaration, which the loader checks each comparison against.
_INPUT_VALUE: dict[str, Any] = {"type": ["number", "integer", "string", "boolean"]}
_INPUT: dict[str, Any] = {
    "description": "a typed input the policy declares under `inputs:` (docs/inputs.md); dates as YYYY-MM-DD",
    "anyOf": [
        _INPUT_VALUE,
        {
            "type": "object",
            "properties": {
                **{op: _INPUT_VALUE for op in ("eq", "neq", "lt", "lte", "gt", "gte")},
                "between": {"type": "array", "items": _INPUT_VALUE, "minItems": 2, "maxItems": 2},
                "in": {"type": "array", "items": _INPUT_VALUE, "minItems": 1},
                "not_in": {"type": "array", "items": _INPUT_VALUE, "minItems": 1},
                "exists": {"type": "boolean"},
                "matches": {"type": "string", "maxLength": MAX_PATTERN_LENGTH},
            },
            "additionalProperties": False,
            "minProperties": 1,
        },
    ],
}


def _when_schema() -> dict[str, Any]:
    text = _fact_schema(FactSpec(FactType.TEXT, "free-form attribute from the snapshot"))
    return {
        "type": "object",
        "description": "Conditions on facts; all must hold. A comparison with an absent fact is false.",
        "properties": {
            **{path: _fact_schema(spec) for path, spec in FACT_TYPES.items()},
            "all": {"type": "array", "items": {"$ref": "#/$defs/When"}, "description": "every block holds"},
            "any": {"type": "array", "items": {"$ref": "#/$defs/When"}, "description": "at least one block holds"},
            "not": {"$ref": "#/$defs/When", "description": "the block does not hold"},
            "durable": {"type": "object", "description": "a condition in durable_rules' own JSON ($and, $or, $lt, $lte, $gt, $gte, $neq, $ex, $nex, $mt)"},
        },
        "patternProperties": {"^attributes\\.[a-z][a-z0-9_]*$": text, "^inputs\\.[a-z][a-z0-9_]*$": _INPUT},
        "additionalProperties": False,
    }


def _clock_times(node: Any) -> Any:
    """Every `format: time` (pydantic's name for a `datetime.time`) becomes a
    pattern for the local clock time the loader reads, quoted as in YAML."""
    if isinstance(node, list):
        return [_clock_times(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "time":
        node = {key: value for key, value in node.items() if key != "format"}
        words = 'local time "HH:MM" (24-hour clock), quoted in YAML'
        node |= {"pattern": CLOCK_TIME_PATTERN, "description": f"{node['description']}; {words}" if node.get("description") else words}
    return {key: _clock_times(value) for key, value in node.items()}


def _with_conditions(model: type[BaseModel], title: str, rule_def: str) -> dict[str, Any]:
    schema = _clock_times(model.model_json_schema(by_alias=True))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    schema["$defs"]["When"] = _when_schema()
    schema["$defs"][rule_def]["properties"]["when"] = {"$ref": "#/$defs/When"}
    return schema


def policy_schema() -> dict[str, Any]:
    return _with_conditions(PolicyFile, "Collection strategy policy", "RuleSpec")


def pack_schema() -> dict[str, Any]:
    return _with_conditions(PackFile, "Compliance pack", "GuardRuleSpec")

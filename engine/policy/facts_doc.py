"""docs/facts.md: the facts rules can use, written from the catalogue."""

from __future__ import annotations

from engine.facts import FACT_TYPES


def facts_markdown() -> str:
    lines = [
        "# Facts rules can use",
        "",
        "Generated from `engine/facts.py` by `make generate`; do not edit by hand.",
        "A comparison with an absent fact is false. Money compares as a decimal, written per currency (`amount_due: {gte: {PLN: 1000, EUR: 400}}`, see docs/money.md); a case in a currency not listed does not match.",
        "Free-form snapshot attributes are text facts named `attributes.<name>`, at most 256 characters;",
        "`matches` patterns use RE2 syntax and must match the whole value (docs/patterns.md).",
        "",
        "| fact | type | values | meaning |",
        "|---|---|---|---|",
    ]
    for path, spec in FACT_TYPES.items():
        values = ", ".join(spec.choices)
        lines.append(f"| `{path}` | {spec.type.value} | {values} | {spec.description} |")
    return "\n".join(lines) + "\n"

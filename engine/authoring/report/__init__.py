"""Reports analysts open in a browser and print: Jinja2 templates, tables with exports.

`render(template_name, **context)` fills a template of templates/ (autoescaped:
every name that comes from a policy or a file is escaped; strict: a value the
template asks for and the context lacks is an error, not an empty cell).
Templates extend `base.html` (the layout, readable from 1024 px, printing to
PDF with a page per section and no table cut) and import `macros.html`:

- `bar_chart(chart)`, `stacked_chart(chart)`, `legend(colours)`: charts.bar_chart, charts.stacked_chart
- `comparison_chart(chart)`: the baseline and the change side by side with the difference (charts.comparison_chart)
- `interval_chart(chart)`: values with their confidence intervals (charts.interval_chart)
- `table(t, exports=none)`: a tables.Table; a from→to tables.matrix keeps its names in view;
  with `exports` (a folder, relative to the page) it links <folder>/<key>.csv and .xlsx

The page runs no script and fetches nothing: it opens offline. The exports are
written by engine/authoring/report/exports.py from the same Table objects.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.authoring.report.tables import Table, Value

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["breakable", "cell", "render", "tables_of"]

_BREAKS = ("_", "/", ".")


def breakable(text: str) -> Markup:
    """Text the browser may wrap after each underscore, slash or dot (OFFER_PAYMENT_PLAN, pl/draft-act-calls)."""
    from markupsafe import Markup, escape

    return Markup("".join(str(escape(part)) + ("<wbr>" if part[-1:] in _BREAKS else "") for part in re.split(r"(?<=[_/.])", text)))


def cell(value: Value, kind: str) -> str:
    """A table value as the page shows it: counts with thousands separators, shares as
    percentages, other fractional numbers with two decimals."""
    if value is None:
        return ""
    if kind == "count" and isinstance(value, int | float):
        return f"{value:,}"
    if kind == "share" and isinstance(value, int | float):
        return f"{value:.1%}"
    if kind == "number" and isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Imported here, with the templates: a module that builds tables without rendering them
    # (or a command run without --html) does not pay for jinja2.
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("engine.authoring.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update({
        "count": lambda value: f"{value:,}",
        "pct": lambda value: f"{value:.1%}",
        "signed": lambda value: f"{value:+,}" if value else "0",
        "signed_pct": lambda value: f"{value * 100:+.1f} pp" if round(value * 1000) else "0",
        "f1": lambda value: f"{value:.1f}",
        "breakable": breakable,
        "cell": cell,
    })
    return environment


def render(template_name: str, **context: Any) -> str:
    """The page of templates/<template_name> filled with `context`.

    Raises jinja2.UndefinedError when the template uses a value the context lacks,
    jinja2.TemplateNotFound for an unknown template."""
    return _environment().get_template(template_name).render(**context).lstrip()


def tables_of(*items: Table | None) -> list[Table]:
    """The tables given, without the absent ones, each key once (a repeated key would overwrite an export)."""
    seen: dict[str, Table] = {}
    for item in items:
        if item is None:
            continue
        if item.key in seen:
            raise ValueError(f"two tables are keyed {item.key!r}: each names its own export files")
        seen[item.key] = item
    return list(seen.values())

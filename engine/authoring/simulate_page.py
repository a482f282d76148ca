"""The Jinja2 template of the simulation page (engine/authoring/simulate_html.py fills it).

Kept as a module, not a data file, so that every install of the package has it.
Autoescaping is on: case ids, rule ids, file names and problems are escaped
wherever they appear. Numbers arrive as numbers and are formatted here, by the
filters `count` (1,234), `pct` (12.3%), `f0` and `f1` (decimals for SVG).
"""

# The charts and tables every page uses (the debtors' page too: engine/authoring/simulate_debtor_page.py).
MACROS = """\
{% macro svg_open(chart) %}<svg role="img" aria-label="{{ chart.title }}" width="{{ chart.width|f0 }}" height="{{ chart.height }}" \
viewBox="0 0 {{ chart.width|f0 }} {{ chart.height }}" style="max-width:100%;height:auto">{% endmacro %}

{% macro bar_chart(chart) %}
{{ svg_open(chart) }}
{% for bar in chart.bars %}
<text x="{{ chart.label_width - 8 }}" y="{{ bar.y + 15 }}" text-anchor="end">{{ bar.name }}</text>
<rect x="{{ chart.label_width }}" y="{{ bar.y }}" width="{{ bar.width|f1 }}" height="{{ chart.row - 6 }}" fill="{{ bar.fill }}"><title>{{ bar.name }}: {{ bar.count|count }} ({{ bar.share }})</title></rect>
<text x="{{ (chart.label_width + bar.width + 6)|f1 }}" y="{{ bar.y + 15 }}">{{ bar.count|count }} ({{ bar.share }})</text>
{% endfor %}
</svg>
{% endmacro %}

{% macro stacked_chart(chart) %}
{{ svg_open(chart) }}
{% for row in chart.rows %}
<text x="{{ chart.label_width - 8 }}" y="{{ row.y + 16 }}" text-anchor="end">{{ row.name }}</text>
{% for part in row.parts %}
<rect x="{{ part.x|f1 }}" y="{{ row.y }}" width="{{ part.width|f1 }}" height="{{ chart.row - 6 }}" fill="{{ part.fill }}"><title>{{ row.name }}: {{ part.name }} {{ part.count|count }} ({{ (part.count / row.total)|pct }})</title></rect>
{% endfor %}
<text x="{{ chart.label_width + chart.bar_room + 6 }}" y="{{ row.y + 16 }}">{{ row.total|count }}</text>
{% endfor %}
</svg>
{% endmacro %}

{% macro legend(colours) %}
<p class="legend">{% for name, colour in colours.items() %}<span><i style="background:{{ colour }}"></i>{{ name }}</span>{% endfor %}</p>
{% endmacro %}

{% macro count_table(heading, counts, total, unit="cases") %}
<table><thead><tr><th>{{ heading }}</th><th>{{ unit }}</th><th>share</th></tr></thead><tbody>
{% if total %}{% for name, count in counts.items() %}<tr><td>{{ name }}</td><td>{{ count|count }}</td><td>{{ (count / total)|pct }}</td></tr>{% endfor %}{% endif %}
</tbody></table>
{% endmacro %}

{% macro matrix_table(heading, rows, columns, moved=False) %}
<table><thead><tr><th>{{ heading }}</th>{% for column in columns %}<th>{{ column }}</th>{% endfor %}<th>all</th></tr></thead><tbody>
{% for name, counts in rows.items() %}
<tr><td>{{ name }}</td>{% for column in columns %}<td{% if moved and column != name and counts.get(column) %} class=moved{% endif %}>{{ counts.get(column, 0)|count }}</td>{% endfor %}<td>{{ counts.values()|sum|count }}</td></tr>
{% endfor %}
</tbody></table>
{% endmacro %}

{% macro examples(title, changes) %}
{% if changes %}
<h3>{{ title }}</h3><table><thead><tr><th>change</th><th>cases</th><th>examples (up to {{ example_count }})</th></tr></thead><tbody>
{% for change in changes %}<tr><td>{{ change.before }} → {{ change.after }}</td><td>{{ change.count|count }}</td><td>{{ change.examples|join(", ") }}</td></tr>{% endfor %}
</tbody></table>
{% endif %}
{% endmacro %}
"""

TEMPLATE = MACROS + """\

<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulation: {{ policy.name }} {{ policy.version }}</title><style>{{ css }}</style></head><body>
<h1>Simulation of {{ policy.name }} {{ policy.version }}</h1>
<p class="meta">{{ report.total|count }} cases from <code>{{ report.cases_file }}</code> with <code>{{ report.rules }}</code> \
(policy hash {{ policy.hash }}), all decided as of {{ report.as_of }}: {{ report.decided|count }} decided, {{ report.invalid|count }} invalid. \
Shares are of the decided cases.</p>

<section><h2>Actions</h2>
{{ bar_chart(charts.actions) }}
{{ count_table("action", report.by_action, report.decided) }}
</section>

<section><h2>Channels</h2>
{{ bar_chart(charts.channels) }}
{{ count_table("channel", report.by_channel, report.decided) }}
</section>

<section><h2>Actions by days past due</h2>
{{ legend(colours) }}
{{ stacked_chart(charts.dpd) }}
{{ matrix_table("days past due", report.by_dpd_bucket, report.actions) }}
</section>

<section><h2>Actions by segment</h2>
{{ legend(colours) }}
{{ stacked_chart(charts.segments) }}
{{ matrix_table("segment", report.by_segment, report.actions) }}
</section>

<section><h2>Deciding rule</h2>
{{ count_table("rule or reason", report.by_rule, report.decided) }}
</section>

{% if report.with_arrangement %}
<section><h2>Current arrangement</h2>
<p>The engine's verdict on each case's current arrangement (<code>arrangement.state</code>): \
{{ report.with_arrangement|count }} cases ({{ report.share(report.with_arrangement)|pct }}) have one, and \
{{ report.kept|count }} of them ({{ report.arrangement_share(report.kept)|pct }}) are kept (performing or completed). \
The chart shows shares of the cases with an arrangement.</p>
{{ bar_chart(charts.arrangements) }}
<table><thead><tr><th>current arrangement</th><th>cases</th><th>share</th><th>of arrangements</th></tr></thead><tbody>
{% for state, count in report.by_arrangement_state.items() %}<tr><td>{{ state }}</td><td>{{ count|count }}</td><td>{{ report.share(count)|pct }}</td>\
<td>{% if state != no_arrangement %}{{ report.arrangement_share(count)|pct }}{% endif %}</td></tr>{% endfor %}
</tbody></table>
{{ legend(colours) }}
{{ stacked_chart(charts.arrangement_actions) }}
{{ matrix_table("current arrangement", report.by_arrangement_state_action, report.actions) }}
</section>
{% endif %}

{% if report.vetoes_by_guardrail %}
<section><h2>Guardrail vetoes</h2>
<p>Cases in which each guardrail removed a candidate or a channel (a case can be vetoed by several).</p>
{{ bar_chart(charts.vetoes) }}
<table><thead><tr><th>guardrail</th><th>vetoes</th><th>cases</th></tr></thead><tbody>
{% for name, item in report.vetoes_by_guardrail.items() %}<tr><td>{{ name }}</td><td>{{ item.vetoes|count }}</td><td>{{ item.cases|count }}</td></tr>{% endfor %}
</tbody></table>
</section>
{% endif %}

{% for experiment, arms in report.by_experiment_arm.items() %}
<section><h2>Experiment {{ experiment }}</h2>
{{ legend(colours) }}
{{ stacked_chart(charts.experiments[experiment]) }}
{{ matrix_table("arm", arms, report.actions) }}
</section>
{% endfor %}

{% if comparison %}
<section><h2>What the change moves</h2>
<p>Compared with <code>{{ comparison.compare }}</code> ({{ comparison.policy.name }} {{ comparison.policy.version }}, hash {{ comparison.policy.hash }}): \
<strong>{{ comparison.changed_action|count }}</strong> cases ({{ report.share(comparison.changed_action)|pct }}) change action, \
{{ comparison.changed_channel|count }} change channel, {{ comparison.changed_any|count }} change either. \
Rows: what the baseline <code>{{ comparison.compare }}</code> decides; columns: what <code>{{ report.rules }}</code> decides.</p>
{% if charts.moves %}{{ bar_chart(charts.moves) }}{% endif %}
<h3>Action: from → to</h3>
{{ matrix_table("from \\\\ to", comparison.action_matrix, action_columns, moved=True) }}
<h3>Channel: from → to</h3>
{{ matrix_table("from \\\\ to", comparison.channel_matrix, channel_columns, moved=True) }}
{% if report.with_arrangement %}
<h3>Action changes by current arrangement</h3>
<table><thead><tr><th>current arrangement</th><th>cases</th><th>change action</th><th>share</th></tr></thead><tbody>
{% for state, count in report.by_arrangement_state.items() %}{% set moved = comparison.changed_action_by_arrangement_state.get(state, 0) %}\
<tr><td>{{ state }}</td><td>{{ count|count }}</td><td>{{ moved|count }}</td><td>{{ (moved / count)|pct }}</td></tr>{% endfor %}
</tbody></table>
{% endif %}
{% if comparison.changed_arrangement_state %}
<h3>Current arrangement: from → to</h3>
<p>{{ comparison.changed_arrangement_state|count }} cases' current arrangement is judged differently: the two policies declare a different posting grace.</p>
{{ matrix_table("from \\\\ to", comparison.arrangement_matrix, arrangement_columns, moved=True) }}
{% endif %}
{{ examples("Example cases per action change", comparison.action_changes) }}
{{ examples("Example cases per channel change", comparison.channel_changes) }}
</section>
{% endif %}

{% if report.invalid %}
<section><h2>Invalid cases</h2>
<p>{{ report.invalid|count }} cases were not decided; each is counted by its first bad field.</p>
<table><thead><tr><th>field</th><th>cases</th></tr></thead><tbody>
{% for name, count in report.invalid_by_field.items() %}<tr><td>{{ name }}</td><td>{{ count|count }}</td></tr>{% endfor %}
</tbody></table>
<table><thead><tr><th>line</th><th>case</th><th>field</th><th>problem</th></tr></thead><tbody>
{% for item in report.invalid_examples %}<tr><td>{{ item.line }}</td><td>{{ item.case_id or "" }}</td><td>{{ item.field }}</td><td>{{ item.problem }}</td></tr>{% endfor %}
</tbody></table>
</section>
{% endif %}
</body></html>
"""

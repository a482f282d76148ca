"""The Jinja2 template of the debtors' simulation page (engine/authoring/simulate_html.py fills it).

The same macros, filters and style as the cases' page (engine/authoring/simulate_page.py);
autoescaped, so debtor ids, cap ids, file names and problems are escaped
wherever they appear.
"""

from engine.authoring.simulate_page import MACROS

DEBTOR_TEMPLATE = MACROS + """\

<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Debtors simulated: {{ policy.name }} {{ policy.version }}</title><style>{{ css }}</style></head><body>
<h1>Debtors simulated with {{ policy.name }} {{ policy.version }}</h1>
<p class="meta">{{ report.persons|count }} persons ({{ report.accounts|count }} accounts) from <code>{{ report.debtors_file }}</code> with \
<code>{{ report.rules }}</code> (policy hash {{ policy.hash }}), each decided {% if report.at_review %}when its last decision's review fell due{% else %}every day{% endif %} \
for {{ report.days }} days from {{ report.as_of }} \
({{ report.decisions|count }} decisions), every contact chosen recorded as a dialer would; {{ report.invalid|count }} invalid.</p>

<section><h2>Caps of the packs in force</h2>
<p>{% if report.persons_over_a_cap %}<strong>{{ report.persons_over_a_cap|count }} persons were taken over a cap.</strong>\
{% else %}No person was taken over a cap.{% endif %} \
A cap is checked at every contact the run made: every outbound contact with the person on the cap's channels in its period, \
on any account and including the history the file gave, is counted as the law counts it.</p>
<table><thead><tr><th>cap</th><th>channels</th><th>limit</th><th>persons</th><th>contacts</th><th>most</th><th>persons over</th><th>contacts over</th></tr></thead><tbody>
{% for cap in report.caps %}<tr><td>{{ cap.cap }}</td><td>{{ cap.channels|join(", ") }}</td><td>{{ cap.max }} in {{ cap.period_days }} days</td>\
<td>{{ cap.persons|count }}</td><td>{{ cap.contacts|count }}</td><td>{{ cap.most }}</td>\
<td{% if cap.persons_over %} class=moved{% endif %}>{{ cap.persons_over|count }}</td><td>{{ cap.contacts_over|count }}</td></tr>{% endfor %}
</tbody></table>
{% if report.over_examples %}
<table><thead><tr><th>debtor</th><th>cap</th><th>most in its period</th><th>first over at</th></tr></thead><tbody>
{% for item in report.over_examples %}<tr><td>{{ item.debtor_id }}</td><td>{{ item.cap }}</td><td>{{ item.most }}</td><td>{{ item.first_over }}</td></tr>{% endfor %}
</tbody></table>
{% endif %}
</section>

<section><h2>Contacts per person per week</h2>
<p>The most contacts the run made with one person in any 7 consecutive days: \
p50 {{ week.p50 }}, p90 {{ week.p90 }}, p99 {{ week.p99 }}, max <strong>{{ week.max }}</strong>, mean {{ "%.2f"|format(week.mean) }}. \
{{ report.contacts|count }} contacts were made; {{ report.contacts_covering_several_accounts|count }} of them \
({{ report.several_share|pct }}) were about more than one account.</p>
{{ bar_chart(charts.week) }}
{{ count_table("contacts in 7 days", week.histogram, report.persons, "persons") }}
<h3>By accounts per person</h3>
<table><thead><tr><th>accounts</th><th>persons</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th></tr></thead><tbody>
{% for group, item in report.week_by_accounts.items() %}<tr><td>{{ group }}</td><td>{{ item.persons|count }}</td><td>{{ item.p50 }}</td><td>{{ item.p90 }}</td>\
<td>{{ item.p99 }}</td><td>{{ item.max }}</td><td>{{ "%.2f"|format(item.mean) }}</td></tr>{% endfor %}
</tbody></table>
</section>

<section><h2>Per channel</h2>
<p>The most contacts on a channel with one person in 7 days, counting their earlier contacts, beside the strictest cap in force on it \
and the most under that cap in its period.</p>
<table><thead><tr><th>channel</th><th>contacts</th><th>most in 7 days</th><th>strictest cap</th><th>limit</th><th>most under it</th></tr></thead><tbody>
{% for channel, item in report.channels.items() %}<tr><td>{{ channel }}</td><td>{{ item.contacts|count }}</td><td>{{ item.most_in_7_days }}</td>\
{% if item.strictest_cap %}<td>{{ item.strictest_cap }}</td><td>{{ item.strictest_max }} in {{ item.strictest_period_days }} days</td><td>{{ item.most_under_strictest }}</td>\
{% else %}<td>none</td><td></td><td></td>{% endif %}</tr>{% endfor %}
</tbody></table>
</section>

<section><h2>Persons by accounts</h2>
{{ count_table("accounts", report.persons_by_accounts, report.persons, "persons") }}
<p>{{ report.persons_with_several_currencies|count }} persons hold accounts in two or more currencies.</p>
</section>

<section><h2>Decisions by action</h2>
{{ bar_chart(charts.actions) }}
{{ count_table("action", report.by_action, report.decisions, "decisions") }}
<h3>By channel</h3>
{{ count_table("channel", report.by_channel, report.decisions, "decisions") }}
<h3>By deciding rule or reason</h3>
{{ count_table("rule or reason", report.by_reason, report.decisions, "decisions") }}
</section>

{% if report.invalid %}
<section><h2>Invalid debtors</h2>
<p>{{ report.invalid|count }} debtors were not run; each is counted by its first bad field.</p>
<table><thead><tr><th>field</th><th>debtors</th></tr></thead><tbody>
{% for name, count in report.invalid_by_field.items() %}<tr><td>{{ name }}</td><td>{{ count|count }}</td></tr>{% endfor %}
</tbody></table>
<table><thead><tr><th>line</th><th>debtor</th><th>field</th><th>problem</th></tr></thead><tbody>
{% for item in report.invalid_examples %}<tr><td>{{ item.line }}</td><td>{{ item.case_id or "" }}</td><td>{{ item.field }}</td><td>{{ item.problem }}</td></tr>{% endfor %}
</tbody></table>
</section>
{% endif %}
</body></html>
"""

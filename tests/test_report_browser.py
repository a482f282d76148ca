"""The simulation report in a real browser (headless Chromium from the Debian packages).

Each page is built from a report with ten actions and long names (segments,
rules, guardrails, caps, case ids) so that a label that does not fit would show,
opened at 1280 and 1024 px, and measured (tests/browser.py): no console or
script error, nothing fetched, no label wider than its box on screen or in print,
a screenshot kept in tests/artifacts/ for CI, and a PDF of at least one page.
The helper itself is shown to catch a label that does not fit, in HTML and in
the SVG charts of the earlier report, whose label widths were guessed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.authoring.report.tables import Table
from engine.authoring.simulate import write_outputs
from engine.authoring.simulate_debtor_report import CapFigures, ChannelFigures, DebtorSimulationReport, Distribution
from engine.authoring.simulate_report import Change, Comparison, SimulationReport
from tests.browser import BrowserResult, open_report

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTHS = (1280, 1024)
ACTIONS = [
    "SEND_REMINDER", "CONFIRM_ARRANGEMENT", "SEND_NOTICE", "CALL", "OFFER_PAYMENT_PLAN",
    "OFFER_SETTLEMENT", "FINAL_NOTICE", "LEGAL_REVIEW", "HUMAN_REVIEW", "NO_CONTACT",
]
LONG = "small-business-with-a-personal-guarantor-and-collateral-held-outside-the-union"
UNBROKEN = "case-" + "x" * 120  # a case id with nowhere to wrap


def cases_report() -> SimulationReport:
    """A report as simulate builds it, with ten actions, every action moving to the next, and long names."""
    counts = {action: 1000 * (index + 1) for index, action in enumerate(ACTIONS)}
    decided = sum(counts.values())
    rows = {action: {ACTIONS[(index + shift) % 10]: 100 * (shift + 1) for shift in range(10)} for index, action in enumerate(ACTIONS)}
    changes = [Change(action, ACTIONS[(index + 1) % 10], 200, [f"{UNBROKEN}-{n}" for n in range(20)]) for index, action in enumerate(ACTIONS)]
    comparison = Comparison(
        compare="rules-in-production/" + LONG, policy={"name": "default-strategy", "version": "2026.11.1", "hash": "ab" * 32},
        changed_action=5000, changed_channel=1200, changed_any=5400,
        action_matrix=rows, channel_matrix={"sms": {"sms": 900, "phone": 100}, "phone": {"phone": 700, "letter": 60}, "none": {"none": 300}},
        action_changes=changes, channel_changes=[Change("sms", "phone", 100, [UNBROKEN])],
        changed_action_by_arrangement_state={"performing": 10, "none": 4990},
        arrangement_matrix={"missed": {"missed": 10, "performing": 5}, "performing": {"performing": 40}}, changed_arrangement_state=5,
    )
    return SimulationReport(
        cases_file="/data/portfolios/" + LONG + ".jsonl", rules="my-change/" + LONG, policy={"name": "default-strategy", "version": "2026.12.2", "hash": "cd" * 32},
        as_of="2026-11-24T10:00:00+01:00", workers=8, seconds=12.5, total=decided + 2, invalid=2,
        by_action=counts, by_channel={"sms": decided // 2, "phone": decided - decided // 2},
        by_rule={f"us-ma/cmr-7-04-two-in-seven-days-{LONG}-{n}": decided // 10 for n in range(10)},
        by_segment={LONG: counts, "retail": {"CALL": 10}},
        by_dpd_bucket={"0-14": counts, ">180": {"LEGAL_REVIEW": 5}},
        vetoes_by_guardrail={f"guardrail-{LONG}": {"vetoes": 900, "cases": 800}, "consent": {"vetoes": 10, "cases": 10}},
        by_experiment_arm={"plan-offer-" + LONG: {"champion-" + LONG: counts, "challenger": {"CALL": 5}}},
        invalid_by_field={"prior_contacts[3].outcome": 2},
        invalid_examples=[{"line": 8, "case_id": UNBROKEN, "field": "country", "problem": "not valid JSON: " + "y" * 150}],
        comparison=comparison, actions=ACTIONS,
        by_arrangement_state={"performing": 40, "missed": 15, "none": decided - 55},
        by_arrangement_state_action={"performing": {"NO_CONTACT": 40}, "missed": {"CALL": 15}, "none": counts},
    )


def debtors_report() -> DebtorSimulationReport:
    week = Distribution(2000, 3, 3, 7, 12, 2.6, {str(n): 100 + n for n in range(13)})
    caps = [
        CapFigures(f"us-ma/cmr-7-04-two-in-seven-days-{LONG}", ["phone", "sms"], 2, 7, 400, 900, 3, 1, 1, [UNBROKEN]),
        CapFigures("pl/draft-act-calls", ["phone"], 3, 7, 600, 1500, 3, 0, 0, []),
    ]
    counts = {action: 100 * (index + 1) for index, action in enumerate(ACTIONS)}
    return DebtorSimulationReport(
        debtors_file="/data/" + LONG + ".jsonl", rules="rules/", policy={"name": "default-strategy", "version": "2026.12.2", "hash": "ef" * 32},
        as_of="2026-11-24T10:00:00+01:00", days=14, workers=4, seconds=30.0, total=2001, invalid=1, persons=2000, accounts=4160,
        persons_by_accounts={"1": 1100, "2": 500, "10": 400}, persons_with_several_currencies=12, decisions=sum(counts.values()),
        by_action=counts, by_channel={"phone": 3000, "none": sum(counts.values()) - 3000},
        by_reason={f"rule-{LONG}-{n}": 550 for n in range(10)},
        contacts=8698, contacts_covering_several_accounts=2035, contacts_per_person_week=week, week_by_accounts={"1": week, "6-10": week},
        channels={"phone": ChannelFigures(1500, 3, caps[0].cap, 2, 7, 3), "push": ChannelFigures(10, 1, None, None, None, None)},
        caps=caps, persons_over_a_cap=1, over_examples=[{"debtor_id": UNBROKEN, "cap": caps[0].cap, "most": 3, "first_over": "2026-11-27T09:00:00-05:00"}],
        invalid_by_field={"accounts[2].currency": 1}, invalid_examples=[{"line": 4, "case_id": UNBROKEN, "field": "accounts[2].currency", "problem": "z" * 150}],
        actions=ACTIONS,
    )


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    written = {}
    for name, report in (("cases", cases_report()), ("debtors", debtors_report())):
        written[name] = folder / f"{name}.html"
        write_outputs(report, html_path=written[name])
    return written


def _seen(page: Path, name: str, width: int) -> BrowserResult:
    ARTIFACTS.mkdir(exist_ok=True)
    return open_report(page, width, screenshot=ARTIFACTS / f"simulate-{name}-{width}.png")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["cases", "debtors"])
def test_the_report_opens_without_errors_and_no_label_overflows(pages: dict[str, Path], name: str, width: int) -> None:
    seen = _seen(pages[name], name, width)
    assert seen.console_errors == [] and seen.page_errors == []
    assert seen.requests == []  # nothing fetched: the page works offline
    assert seen.overflows == [], f"labels that do not fit at {width} px: {seen.overflows[:5]}"
    assert seen.print_overflows == [], f"labels that do not fit in print: {seen.print_overflows[:5]}"
    assert seen.pdf_pages > 0
    assert seen.screenshot and Path(seen.screenshot).stat().st_size > 0


def test_the_helper_finds_a_label_too_wide_for_its_box(tmp_path: Path) -> None:
    """The measure is not vacuous: a fixed-width label that cannot wrap is caught, one that wraps between words is not."""
    page = tmp_path / "narrow.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<div class="label" style="width:60px;white-space:nowrap">OFFER_PAYMENT_PLAN_WITH_A_LONG_NAME</div>'
        '<div class="label" style="width:120px">OFFER_<wbr>PAYMENT_<wbr>PLAN_<wbr>WITH_<wbr>A_<wbr>NAME_<wbr>THAT_<wbr>WRAPS</div>'
        '</body></html>', encoding="utf-8",
    )
    seen = open_report(page, 1024, pdf=False)
    assert [item["text"] for item in seen.overflows] == ["OFFER_PAYMENT_PLAN_WITH_A_LONG_NAME"]


def test_the_helper_finds_a_header_or_number_broken_inside_a_word(tmp_path: Path) -> None:
    """A squeezed column that wraps "cases" letter by letter fits its box but cannot be read; wrapping after an underscore can."""
    page = tmp_path / "squeezed.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><table><tr>'
        '<th style="width:1px;overflow-wrap:anywhere">cases</th><td style="width:1px;overflow-wrap:anywhere">1,200</td>'
        '<th style="width:1px">OFFER_<wbr>PAYMENT_<wbr>PLAN</th><td class="free" style="width:1px;overflow-wrap:anywhere">case-xxxxxxxxxxxx</td>'
        '</tr></table></body></html>', encoding="utf-8",
    )
    seen = open_report(page, 1024, pdf=False)
    assert [(item["text"], item["why"]) for item in seen.overflows] == [
        ("cases", 'breaks the word "cases" across lines'), ("1,200", 'breaks the word "1,200" across lines'),
    ]


def test_the_helper_finds_an_svg_label_cut_off_at_a_guessed_width(tmp_path: Path) -> None:
    """The earlier report placed each label at a width guessed from its length (7 px a
    character); a label of wide letters ran off the left of its chart, unseen."""
    label = "MAXIMUM_WAGE_GARNISHMENT_REVIEW"
    guessed = min(420, max(90, 7 * len(label) + 16))
    page = tmp_path / "svg.html"
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>svg text{{font:12px system-ui,sans-serif}}</style></head><body>'
        f'<svg width="{guessed + 300}" height="30"><text x="{guessed - 8}" y="19" text-anchor="end">{label}</text>'
        f'<rect x="{guessed}" y="4" width="200" height="18" fill="#4e79a7"></rect></svg></body></html>', encoding="utf-8",
    )
    seen = open_report(page, 1024, pdf=False)
    assert [(item["element"], item["text"]) for item in seen.overflows] == [("text", label)]


def test_every_table_is_exported_beside_the_page_and_linked(pages: dict[str, Path], tmp_path: Path) -> None:
    page = pages["cases"].read_text(encoding="utf-8")
    folder = pages["cases"].with_name("cases_files")
    exported = sorted(path.name for path in folder.iterdir())
    assert exported and all(f'href="cases_files/{name}"' in page for name in exported)
    assert page.count("<table>") * 2 == len(exported)  # a CSV and an XLSX for every table on the page
    with (folder / "action-from-to.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["from \\ to", *ACTIONS, "all"] and len(rows) == 11 and rows[1][-1] == "5500"
    assert (folder / "action-from-to.xlsx").read_bytes()[:2] == b"PK"  # a zip: an Office Open XML workbook


def test_a_table_refuses_a_key_that_cannot_name_a_file() -> None:
    with pytest.raises(ValueError, match="table key '../x'"):
        Table("../x", "t", (), ())

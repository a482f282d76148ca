"""The compliance packs, proved with the regulations' own examples.

Each test states a rule the way the regulation (or our written stance) states
it, and checks the decision through the real pipeline: the shipped packs in
rules/compliance, and either the shipped strategy (`build_engine(REPO/'rules')`)
or a small inline strategy written to a temporary directory, so the test
controls which candidate the packs see. Expected instants are written out by
hand, never computed with the engine's own code.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.compliance import Compliance
from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.facts import derive
from engine.policy.loader import load_strategy
from engine.policy.packs import load_pack, load_packs
from engine.registry import build_engine
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel

REPO = Path(__file__).resolve().parent.parent
PACKS_DIR = REPO / "rules" / "compliance"
UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PHOENIX = ZoneInfo("America/Phoenix")
WARSAW = ZoneInfo("Europe/Warsaw")
LONDON = ZoneInfo("Europe/London")
DUBLIN = ZoneInfo("Europe/Dublin")
TORONTO = ZoneInfo("America/Toronto")
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")

EU_EEA = ("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO").split()
CONTACTING = frozenset(action.value for action in Action if action.contacts)
ALL_CONSENTS = {"sms": True, "email": True, "phone": True, "letter": True, "push": True}
_DEFAULTS = {  # country -> (currency, zone, amount)
    "US": ("USD", "America/New_York", "500.00"),
    "PL": ("PLN", "Europe/Warsaw", "500.00"),
    "GB": ("GBP", "Europe/London", "500.00"),
    "IE": ("EUR", "Europe/Dublin", "500.00"),
    "DE": ("EUR", "Europe/Berlin", "500.00"),
    "CA": ("CAD", "America/Toronto", "500.00"),
    "JP": ("JPY", "Asia/Tokyo", "50000"),
}

# --- helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packs():
    return load_packs(PACKS_DIR)


@pytest.fixture(scope="module")
def shipped() -> StrategyEngine:
    return build_engine(REPO / "rules")


def rule(rule_id: str, priority: int, action: str, channel: str | list[str] | None = None, when: str = "{}") -> str:
    then = f"{{action: {action}" + (f", channel: {channel if isinstance(channel, str) else '[' + ', '.join(channel) + ']'}" if channel else "") + "}"
    return f"  - id: {rule_id}\n    priority: {priority}\n    when: {when}\n    then: {then}\n    reason: test rule {rule_id}\n"


def strategy_engine(root: Path, packs, *rules: str) -> StrategyEngine:
    """An engine with an inline strategy and the given (normally the shipped) packs."""
    folder = root / f"strategies-{len(list(root.glob('strategies-*')))}"
    folder.mkdir(parents=True)
    (folder / "s.yaml").write_text('policy: test-strategy\nversion: "1"\nrules:\n' + "".join(rules), encoding="utf-8")
    return StrategyEngine(load_strategy(folder), packs)


def call_only(root: Path, packs) -> StrategyEngine:
    return strategy_engine(root, packs, rule("call", 10, "CALL", "phone"))


def reminder_on(root: Path, packs, channel: str) -> StrategyEngine:
    return strategy_engine(root, packs, rule(f"remind-{channel}", 10, "SEND_REMINDER", channel))


def escalating(root: Path, packs) -> StrategyEngine:
    """Legal review first, then a final notice, then a plain reminder by letter."""
    return strategy_engine(
        root,
        packs,
        rule("legal", 100, "LEGAL_REVIEW"),
        rule("final-notice", 90, "FINAL_NOTICE", "letter"),
        rule("reminder", 10, "SEND_REMINDER", "letter"),
    )


def case(as_of: datetime, country: str = "US", **overrides: Any) -> CaseSnapshot:
    currency, zone, amount = _DEFAULTS[country]
    data: dict[str, Any] = {
        "case_id": "case-1",
        "country": country,
        "time_zone": zone,
        "amount_due": amount,
        "currency": currency,
        "days_past_due": 40,
        "segment": "retail",
        "consents": dict(ALL_CONSENTS),
        "prior_contacts": notice_delivered(as_of),
    }
    data.update(overrides)
    return parse_snapshot(data, as_of)


def notice_delivered(as_of: datetime, days_ago: int = 40) -> list[dict[str, Any]]:
    """A final notice that reached the debtor by letter: what a legal step needs first (first-steps, pl)."""
    return [{**contact("letter", as_of - timedelta(days=days_ago), "delivered"), "action": "FINAL_NOTICE"}]


def contact(channel: str, at: datetime, outcome: str = "no_answer") -> dict[str, Any]:
    return {"channel": channel, "at": at.astimezone(UTC).isoformat(), "outcome": outcome}


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def window_of(decision: Decision) -> tuple[datetime, datetime]:
    assert decision.window is not None, f"expected a window, got {decision.action} {decision.reasons} {decision.vetoes}"
    return decision.window.start, decision.window.end


def constraint_codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.window_constraints]


def veto_guardrails(decision: Decision) -> set[str]:
    return {veto.guardrail for veto in decision.vetoes}


# --- United States: Regulation F --------------------------------------------------------


class TestUnitedStates:
    """12 CFR 1006 (Regulation F) and the FDCPA, in America/New_York unless stated."""

    def test_a_call_at_0759_waits_for_0800(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 7, 59)  # Tuesday
        decision = call_only(tmp_path, packs).decide(case(as_of), as_of)
        assert decision.action == "CALL" and decision.channel == Channel.PHONE
        assert window_of(decision) == (local(NEW_YORK, 2026, 11, 24, 8, 0), local(NEW_YORK, 2026, 11, 24, 21, 0))
        assert decision.window.start > as_of  # not allowed now

    def test_a_call_at_2045_is_allowed_now(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 20, 45)
        decision = call_only(tmp_path, packs).decide(case(as_of), as_of)
        assert window_of(decision) == (as_of, local(NEW_YORK, 2026, 11, 24, 21, 0))

    def test_a_call_at_2059_is_too_late_to_be_answered_and_waits_for_0800(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 20, 59)  # one minute is shorter than a call's 15
        decision = call_only(tmp_path, packs).decide(case(as_of), as_of)
        assert window_of(decision) == (local(NEW_YORK, 2026, 11, 25, 8, 0), local(NEW_YORK, 2026, 11, 25, 21, 0))

    def test_a_call_at_2100_waits_for_0800_next_day(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 21, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of), as_of)
        assert window_of(decision) == (local(NEW_YORK, 2026, 11, 25, 8, 0), local(NEW_YORK, 2026, 11, 25, 21, 0))

    def test_the_window_names_the_convenient_hours_rule(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of), as_of)
        assert constraint_codes(decision) == ["us/reg-f-convenient-hours"]

    def test_the_eighth_call_in_seven_days_waits_until_the_oldest_leaves_the_period(self, tmp_path, packs):
        # 1006.14(b)(2)(i)(A): more than seven calls within seven consecutive days.
        as_of = local(NEW_YORK, 2026, 11, 24, 12, 0)
        calls = [contact("phone", local(NEW_YORK, 2026, 11, day, 11, 0)) for day in range(18, 25)]  # 7 calls, Wed..Tue
        engine = call_only(tmp_path, packs)
        decision = engine.decide(case(as_of, prior_contacts=calls), as_of)
        assert window_of(decision)[0] == local(NEW_YORK, 2026, 11, 25, 11, 0)  # the 18th's call leaves the period
        assert "us/reg-f-seven-calls-in-seven-days" in constraint_codes(decision)
        # Six prior calls: the seventh may be made now.
        decision = engine.decide(case(as_of, prior_contacts=calls[1:]), as_of)
        assert window_of(decision)[0] == as_of
        assert "us/reg-f-seven-calls-in-seven-days" not in constraint_codes(decision)

    def test_calls_older_than_seven_days_do_not_count(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 12, 0)
        calls = [contact("phone", local(NEW_YORK, 2026, 11, 17, 11, 0))] + [contact("phone", local(NEW_YORK, 2026, 11, day, 11, 0)) for day in range(19, 25)]
        decision = call_only(tmp_path, packs).decide(case(as_of, prior_contacts=calls), as_of)
        assert window_of(decision)[0] == as_of

    @pytest.mark.parametrize("outcome", ["right_party_contact", "promise_to_pay", "refused"])
    def test_no_call_within_seven_days_after_a_conversation(self, tmp_path, packs, outcome):
        # 1006.14(b)(2)(i)(B): the conversation day (Monday 23 Nov) is day 1, so
        # calls may resume at local midnight starting day 8, Monday 30 Nov.
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        snapshot = case(as_of, prior_contacts=[contact("phone", local(NEW_YORK, 2026, 11, 23, 15, 0), outcome)])
        decision = call_only(tmp_path, packs).decide(snapshot, as_of)
        assert window_of(decision) == (local(NEW_YORK, 2026, 11, 30, 8, 0), local(NEW_YORK, 2026, 11, 30, 21, 0))
        assert constraint_codes(decision) == ["us/reg-f-convenient-hours", "us/reg-f-seven-days-after-conversation"]
        shaping = Compliance(packs).shaping(derive(snapshot, as_of), Channel.PHONE)
        assert shaping.not_before == local(NEW_YORK, 2026, 11, 30, 0, 0)

    def test_a_conversation_late_in_the_evening_still_counts_its_own_day_as_day_one(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        snapshot = case(as_of, prior_contacts=[contact("phone", local(NEW_YORK, 2026, 11, 23, 23, 30), "right_party_contact")])
        shaping = Compliance(packs).shaping(derive(snapshot, as_of), Channel.PHONE)
        assert shaping.not_before == local(NEW_YORK, 2026, 11, 30, 0, 0)

    def test_calls_resume_on_day_eight(self, tmp_path, packs):
        conversation = contact("phone", local(NEW_YORK, 2026, 11, 23, 15, 0), "right_party_contact")
        engine = call_only(tmp_path, packs)
        as_of = local(NEW_YORK, 2026, 11, 30, 9, 0)
        assert window_of(engine.decide(case(as_of, prior_contacts=[conversation]), as_of))[0] == as_of
        as_of = local(NEW_YORK, 2026, 11, 28, 20, 0)  # Saturday, day 6
        assert window_of(engine.decide(case(as_of, prior_contacts=[conversation]), as_of))[0] == local(NEW_YORK, 2026, 11, 30, 8, 0)

    def test_an_unanswered_call_is_not_a_conversation(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        snapshot = case(as_of, prior_contacts=[contact("phone", local(NEW_YORK, 2026, 11, 23, 15, 0), "no_answer")])
        assert window_of(call_only(tmp_path, packs).decide(snapshot, as_of))[0] == as_of

    @pytest.mark.parametrize("channel", ["sms", "email"])
    def test_the_quiet_period_does_not_touch_texts_and_email(self, tmp_path, packs, channel):
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        snapshot = case(as_of, prior_contacts=[contact("phone", local(NEW_YORK, 2026, 11, 23, 15, 0), "right_party_contact")])
        decision = reminder_on(tmp_path, packs, channel).decide(snapshot, as_of)
        assert decision.channel == Channel(channel)
        assert window_of(decision) == (as_of, local(NEW_YORK, 2026, 11, 24, 21, 0))
        assert "us/reg-f-seven-days-after-conversation" not in constraint_codes(decision)

    def test_no_zone_and_no_region_gets_hours_lawful_in_every_us_zone_in_winter(self, tmp_path, packs):
        # 08:00 in Honolulu and Adak (UTC-10) is 18:00Z = 13:00 in New York;
        # 21:00 in New York (UTC-5) is 02:00Z = 16:00 in Honolulu.
        as_of = utc(2026, 11, 24, 12, 0)  # Tuesday
        decision = call_only(tmp_path, packs).decide(case(as_of, time_zone=None), as_of)
        assert window_of(decision) == (utc(2026, 11, 24, 18, 0), utc(2026, 11, 25, 2, 0))
        zones = set(decision.window.zones)
        assert {"Pacific/Honolulu", "America/Adak", "America/New_York", "America/Los_Angeles", "America/Chicago", "America/Denver"} <= zones

    def test_no_zone_and_no_region_in_summer(self, tmp_path, packs):
        # Honolulu keeps UTC-10 (08:00 = 18:00Z); Adak is UTC-9 (08:00 = 17:00Z);
        # New York is UTC-4 (21:00 = 01:00Z).
        as_of = utc(2026, 7, 14, 12, 0)  # Tuesday
        decision = call_only(tmp_path, packs).decide(case(as_of, time_zone=None), as_of)
        assert window_of(decision) == (utc(2026, 7, 14, 18, 0), utc(2026, 7, 15, 1, 0))

    def test_no_zone_after_the_common_window_waits_for_the_next_day(self, tmp_path, packs):
        engine = call_only(tmp_path, packs)
        as_of = utc(2026, 11, 25, 2, 0)  # Tuesday 21:00 in New York, 16:00 in Honolulu
        assert window_of(engine.decide(case(as_of, time_zone=None), as_of)) == (utc(2026, 11, 25, 18, 0), utc(2026, 11, 26, 2, 0))
        as_of = utc(2026, 11, 26, 2, 0)  # Wednesday 21:00 in New York
        decision = engine.decide(case(as_of, time_zone=None), as_of)
        # Thursday 26 Nov is Thanksgiving: the next common window is Friday.
        assert window_of(decision) == (utc(2026, 11, 27, 18, 0), utc(2026, 11, 28, 2, 0))

    def test_massachusetts_allows_two_calls_or_texts_in_seven_days(self, tmp_path, packs):
        # 940 CMR 7.04(1)(f); one call and one text already count as two.
        as_of = local(NEW_YORK, 2026, 11, 24, 12, 0)
        prior = [contact("phone", local(NEW_YORK, 2026, 11, 20, 10, 0)), contact("sms", local(NEW_YORK, 2026, 11, 22, 10, 0), "delivered")]
        snapshot = case(as_of, region="MA", prior_contacts=prior)
        for channel in ("phone", "sms"):
            engine = call_only(tmp_path, packs) if channel == "phone" else reminder_on(tmp_path, packs, channel)
            decision = engine.decide(snapshot, as_of)
            assert window_of(decision)[0] == local(NEW_YORK, 2026, 11, 27, 10, 0), channel  # the 20th's call leaves the period
            assert "us-ma/cmr-7-04-two-in-seven-days" in constraint_codes(decision)
        email = reminder_on(tmp_path, packs, "email").decide(snapshot, as_of)
        assert window_of(email)[0] == as_of
        # Outside Massachusetts the same history allows a call now.
        elsewhere = call_only(tmp_path, packs).decide(case(as_of, region="NY", prior_contacts=prior), as_of)
        assert window_of(elsewhere)[0] == as_of

    def test_massachusetts_one_prior_contact_still_allows_one_more(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 12, 0)
        snapshot = case(as_of, region="MA", prior_contacts=[contact("sms", local(NEW_YORK, 2026, 11, 22, 10, 0), "delivered")])
        assert window_of(call_only(tmp_path, packs).decide(snapshot, as_of))[0] == as_of

    def test_zone_and_region_that_disagree_both_constrain(self, tmp_path, packs):
        # Region MA (New York time) but zone America/Los_Angeles: 08:00 in Los
        # Angeles (16:00Z) to 21:00 in New York (02:00Z).
        as_of = utc(2026, 11, 24, 12, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of, region="MA", time_zone="America/Los_Angeles"), as_of)
        assert window_of(decision) == (utc(2026, 11, 24, 16, 0), utc(2026, 11, 25, 2, 0))
        assert decision.window.time_zone == "America/Los_Angeles"
        assert decision.window.zones == ("America/Los_Angeles", "America/New_York")
        # The Massachusetts overlay applies too.
        prior = [contact("sms", local(NEW_YORK, 2026, 11, day, 10, 0), "delivered") for day in (20, 22)]
        capped = call_only(tmp_path, packs).decide(case(as_of, region="MA", time_zone="America/Los_Angeles", prior_contacts=prior), as_of)
        assert "us-ma/cmr-7-04-two-in-seven-days" in constraint_codes(capped)

    def test_a_time_barred_debt_is_never_escalated(self, tmp_path, packs):
        # 1006.26(b): no suit or threat of suit on a time-barred debt.
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        engine = escalating(tmp_path, packs)
        decision = engine.decide(case(as_of, legal={"time_barred": True}), as_of)
        assert decision.action == "SEND_REMINDER"
        assert {(veto.rule_id, veto.guardrail) for veto in decision.vetoes} >= {
            ("legal", "us/reg-f-time-barred-no-suit"),
            ("final-notice", "us/reg-f-time-barred-no-suit"),
        }
        assert engine.decide(case(as_of), as_of).action == "LEGAL_REVIEW"  # the control: not time-barred

    def test_a_time_barred_debt_through_the_shipped_strategy(self, shipped):
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        ripe = {"days_past_due": 150, "amount_due": "5000.00", "payment": {"broken_promises": 3}}
        assert shipped.decide(case(as_of, **ripe), as_of).action == "LEGAL_REVIEW"
        decision = shipped.decide(case(as_of, **ripe, legal={"time_barred": True}), as_of)
        assert decision.action not in ("LEGAL_REVIEW", "FINAL_NOTICE")
        assert (decision.action, decision.template) == ("SEND_NOTICE", "time-barred-information")
        assert {"us-ca-time-barred", "us-ny-time-barred"} <= {d.code for d in decision.required_disclosures}

    def test_puerto_rico_as_a_us_region_gets_regulation_f(self, tmp_path, packs):
        as_of = local(ZoneInfo("America/Puerto_Rico"), 2026, 11, 24, 10, 0)
        decision = escalating(tmp_path, packs).decide(case(as_of, region="PR", time_zone=None, legal={"time_barred": True}), as_of)
        assert decision.action == "SEND_REMINDER"
        assert "us/reg-f-time-barred-no-suit" in veto_guardrails(decision)

    @pytest.mark.parametrize("territory, zone", [("PR", "America/Puerto_Rico"), ("GU", "Pacific/Guam"), ("VI", "America/St_Thomas")])
    def test_us_territories_get_regulation_f(self, tmp_path, packs, territory, zone):
        as_of = local(ZoneInfo(zone), 2026, 11, 24, 10, 0)
        snapshot = parse_snapshot(
            {"case_id": "c", "country": territory, "time_zone": zone, "amount_due": "500.00", "currency": "USD", "days_past_due": 150, "segment": "retail", "consents": ALL_CONSENTS, "legal": {"time_barred": True}},
            as_of,
        )
        decision = escalating(tmp_path, packs).decide(snapshot, as_of)
        assert decision.action not in ("LEGAL_REVIEW", "FINAL_NOTICE")

    def test_spring_forward_weekend(self, tmp_path, packs):
        engine = call_only(tmp_path, packs)
        saturday = local(NEW_YORK, 2027, 3, 13, 10, 0)  # EST, UTC-5
        assert window_of(engine.decide(case(saturday), saturday)) == (saturday, utc(2027, 3, 14, 2, 0))
        late = local(NEW_YORK, 2027, 3, 13, 21, 30)
        # Sunday 14 March (the change) is closed; Monday is EDT, UTC-4.
        assert window_of(engine.decide(case(late), late)) == (utc(2027, 3, 15, 12, 0), utc(2027, 3, 16, 1, 0))

    def test_fall_back_weekend(self, tmp_path, packs):
        engine = call_only(tmp_path, packs)
        saturday = local(NEW_YORK, 2026, 10, 31, 21, 30)  # EDT, UTC-4
        # Sunday 1 November (the change) is closed; Monday is EST, UTC-5.
        assert window_of(engine.decide(case(saturday), saturday)) == (utc(2026, 11, 2, 13, 0), utc(2026, 11, 3, 2, 0))

    @pytest.mark.parametrize(
        "day, expected",
        [
            (date(2027, 3, 14), (utc(2027, 3, 14, 12, 0), utc(2027, 3, 15, 1, 0))),  # 08:00-21:00 EDT on the day clocks go forward
            (date(2026, 11, 1), (utc(2026, 11, 1, 13, 0), utc(2026, 11, 2, 2, 0))),  # 08:00-21:00 EST on the day clocks go back
        ],
    )
    def test_on_the_day_of_the_change_hours_stay_local(self, tmp_path, day, expected):
        """With Sunday opened in a copy of the US pack, the day of the change itself
        still runs 08:00-21:00 on the local clock, whatever its length."""
        copy = tmp_path / "compliance"
        shutil.copytree(PACKS_DIR, copy)
        us = copy / "us" / "us.yaml"
        us.write_text(us.read_text(encoding="utf-8").replace("closed_weekdays: [sun]", "closed_weekdays: []"), encoding="utf-8")
        engine = call_only(tmp_path, load_packs(copy))
        as_of = local(NEW_YORK, day.year, day.month, day.day, 0, 30)
        assert window_of(engine.decide(case(as_of), as_of)) == expected
        assert window_of(engine.decide(case(as_of), as_of))[0].astimezone(NEW_YORK).hour == 8

    def test_a_quiet_period_across_the_spring_change(self, tmp_path, packs):
        # Conversation Saturday 13 March 2027 (EST): day 8 begins Saturday 20 March 00:00 EDT.
        as_of = local(NEW_YORK, 2027, 3, 15, 10, 0)
        snapshot = case(as_of, prior_contacts=[contact("phone", local(NEW_YORK, 2027, 3, 13, 12, 0), "right_party_contact")])
        assert Compliance(packs).shaping(derive(snapshot, as_of), Channel.PHONE).not_before == utc(2027, 3, 20, 4, 0)
        decision = call_only(tmp_path, packs).decide(snapshot, as_of)
        assert window_of(decision) == (local(NEW_YORK, 2027, 3, 20, 8, 0), local(NEW_YORK, 2027, 3, 20, 21, 0))

    def test_arizona_without_a_zone_is_lawful_on_the_navajo_nation_too(self, tmp_path, packs):
        as_of = local(PHOENIX, 2026, 7, 14, 20, 30)  # summer: Phoenix UTC-7, Navajo Nation (Denver) UTC-6 = 21:30
        decision = call_only(tmp_path, packs).decide(case(as_of, region="AZ", time_zone=None), as_of)
        start, end = window_of(decision)
        for zone in ("America/Phoenix", "America/Denver"):
            for instant in (start, end - timedelta(seconds=1)):
                assert 8 <= instant.astimezone(ZoneInfo(zone)).hour < 21, f"{instant} is {instant.astimezone(ZoneInfo(zone))} in {zone}"

    def test_a_zone_outside_the_country_does_not_replace_the_country(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 4, 0)  # 10:00 in Warsaw, 04:00 in New York
        decision = call_only(tmp_path, packs).decide(case(as_of, time_zone="Europe/Warsaw"), as_of)
        start, end = window_of(decision)
        for zone in ("Europe/Warsaw", "America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu"):
            for instant in (start, end - timedelta(seconds=1)):
                assert 8 <= instant.astimezone(ZoneInfo(zone)).hour < 21, f"{instant} is {instant.astimezone(ZoneInfo(zone))} in {zone}"

    def test_a_zone_that_agrees_with_its_state_is_not_a_disagreement(self, tmp_path, packs):
        as_of = local(NEW_YORK, 2026, 11, 24, 8, 30)
        decision = call_only(tmp_path, packs).decide(case(as_of, region="MI", time_zone="America/Detroit"), as_of)
        assert window_of(decision)[0] == as_of  # 08:30 in Detroit is lawful; Chicago (07:30) is not where the debtor is


# --- Poland -------------------------------------------------------------------------


class TestPoland:
    """The 2023 draft act on debt collection, and the EU baseline (GDPR, CCD)."""

    def test_constitution_day_is_closed(self, tmp_path, packs):
        as_of = local(WARSAW, 2027, 5, 3, 10, 0)  # Monday 3 May 2027
        decision = call_only(tmp_path, packs).decide(case(as_of, "PL"), as_of)
        assert window_of(decision) == (local(WARSAW, 2027, 5, 4, 8, 0), local(WARSAW, 2027, 5, 4, 20, 0))

    def test_the_long_may_weekend_is_closed(self, tmp_path, packs):
        as_of = local(WARSAW, 2027, 4, 30, 20, 0)  # Friday evening; 1 May (Sat) and 3 May (Mon) are holidays
        decision = reminder_on(tmp_path, packs, "sms").decide(case(as_of, "PL"), as_of)
        assert window_of(decision)[0] == local(WARSAW, 2027, 5, 4, 8, 0)

    def test_a_sunday_waits_for_monday(self, tmp_path, packs):
        as_of = local(WARSAW, 2026, 11, 29, 10, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of, "PL"), as_of)
        assert window_of(decision) == (local(WARSAW, 2026, 11, 30, 8, 0), local(WARSAW, 2026, 11, 30, 20, 0))
        assert constraint_codes(decision) == ["pl/draft-act-hours"]

    def test_hours_are_0800_to_2000(self, tmp_path, packs):
        engine = call_only(tmp_path, packs)
        early = local(WARSAW, 2026, 11, 24, 7, 59)
        assert window_of(engine.decide(case(early, "PL"), early)) == (local(WARSAW, 2026, 11, 24, 8, 0), local(WARSAW, 2026, 11, 24, 20, 0))
        late = local(WARSAW, 2026, 11, 24, 20, 0)
        assert window_of(engine.decide(case(late, "PL"), late))[0] == local(WARSAW, 2026, 11, 25, 8, 0)

    @pytest.mark.parametrize("channel, cap", [("phone", "pl/draft-act-calls"), ("sms", "pl/draft-act-sms")])
    def test_the_fourth_contact_in_seven_days_waits(self, tmp_path, packs, channel, cap):
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        prior = [contact(channel, local(WARSAW, 2026, 11, day, 9, 0), "no_answer" if channel == "phone" else "delivered") for day in (18, 20, 23)]
        engine = call_only(tmp_path, packs) if channel == "phone" else reminder_on(tmp_path, packs, channel)
        decision = engine.decide(case(as_of, "PL", prior_contacts=prior), as_of)
        assert window_of(decision) == (local(WARSAW, 2026, 11, 25, 9, 0), local(WARSAW, 2026, 11, 25, 20, 0))
        assert cap in constraint_codes(decision)
        # Three in seven days is the most: two before allow the third now.
        decision = engine.decide(case(as_of, "PL", prior_contacts=prior[1:]), as_of)
        assert window_of(decision)[0] == as_of

    def test_calls_and_texts_are_capped_separately(self, tmp_path, packs):
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        prior = [contact("sms", local(WARSAW, 2026, 11, day, 9, 0), "delivered") for day in (18, 20, 23)]
        decision = call_only(tmp_path, packs).decide(case(as_of, "PL", prior_contacts=prior), as_of)
        assert window_of(decision)[0] == as_of
        email = reminder_on(tmp_path, packs, "email").decide(case(as_of, "PL", prior_contacts=prior), as_of)
        assert window_of(email)[0] == as_of

    @pytest.mark.parametrize(
        "flag, code, article",
        [
            ("objection", "eu-baseline/gdpr-art21-objection", "art. 21"),
            ("restriction", "eu-baseline/gdpr-art18-restriction", "art. 18"),
            ("erasure_requested", "eu-baseline/gdpr-art17-erasure", "art. 17"),
        ],
    )
    @pytest.mark.parametrize("language", ["en", "pl"])
    def test_gdpr_requests_route_to_a_person(self, tmp_path, packs, shipped, flag, code, article, language):
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        snapshot = case(as_of, "PL", gdpr={flag: True}, language=language)
        for engine in (call_only(tmp_path, packs), escalating(tmp_path, packs), shipped):
            decision = engine.decide(snapshot, as_of)
            assert decision.action == "HUMAN_REVIEW"
            assert decision.channel is None and decision.window is None
            assert decision.reasons[0].code == code
            assert article in decision.reasons[0].text
            assert all(veto.guardrail == code for veto in decision.vetoes)

    def test_hardship_means_forbearance_before_escalation(self, tmp_path, packs):
        # Directive (EU) 2023/2225 art. 35.
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        decision = escalating(tmp_path, packs).decide(case(as_of, "PL", legal={"hardship": True}), as_of)
        assert decision.action == "SEND_REMINDER"
        assert {(veto.rule_id, veto.guardrail) for veto in decision.vetoes} >= {
            ("legal", "eu-baseline/ccd-art35-forbearance-before-escalation"),
            ("final-notice", "eu-baseline/ccd-art35-forbearance-before-escalation"),
        }

    @pytest.mark.parametrize("country", EU_EEA)
    def test_legal_review_becomes_human_review_in_every_eu_eea_country(self, tmp_path, packs, country):
        # GDPR art. 22: no automated decision with legal effect.
        as_of = utc(2026, 11, 24, 11, 0)
        snapshot = parse_snapshot(
            {"case_id": "c", "country": country, "amount_due": "500.00", "currency": "EUR", "days_past_due": 150, "segment": "retail", "consents": ALL_CONSENTS, "prior_contacts": notice_delivered(as_of)},
            as_of,
        )
        decision = escalating(tmp_path, packs).decide(snapshot, as_of)
        assert decision.action == "HUMAN_REVIEW"
        assert decision.reasons[0].code == "eu-baseline/gdpr-art22-no-automated-escalation"
        assert "art. 22" in decision.reasons[0].text
        assert ("legal", "eu-baseline/gdpr-art22-no-automated-escalation") in {(veto.rule_id, veto.guardrail) for veto in decision.vetoes}

    @pytest.mark.parametrize("territory", ["RE", "GP", "MQ", "GF", "YT", "MF", "AX"])
    def test_eu_territory_with_its_own_iso_code_is_in_the_eu(self, tmp_path, packs, territory):
        as_of = utc(2026, 11, 24, 11, 0)
        snapshot = parse_snapshot(
            {"case_id": "c", "country": territory, "amount_due": "500.00", "currency": "EUR", "days_past_due": 150, "segment": "retail", "consents": ALL_CONSENTS, "prior_contacts": notice_delivered(as_of)},
            as_of,
        )
        assert escalating(tmp_path, packs).decide(snapshot, as_of).action == "HUMAN_REVIEW"

    def test_legal_review_stays_outside_the_eu(self, tmp_path, packs):
        as_of = utc(2026, 11, 24, 15, 0)
        for country in ("US", "GB", "CA", "JP"):
            assert escalating(tmp_path, packs).decide(case(as_of, country), as_of).action == "LEGAL_REVIEW", country

    def test_shipped_strategy_legal_review_in_poland_goes_to_a_person(self, shipped):
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        decision = shipped.decide(case(as_of, "PL", days_past_due=150, amount_due="5000.00", payment={"broken_promises": 3}), as_of)
        assert decision.action == "HUMAN_REVIEW"
        assert "eu-baseline/gdpr-art22-no-automated-escalation" in veto_guardrails(decision)


# --- United Kingdom ----------------------------------------------------------------------


class TestUnitedKingdom:
    """FCA CONC 7, the Debt Respite Scheme (Breathing Space) Regulations 2020, UK GDPR."""

    AS_OF = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)  # Tuesday

    def test_a_vulnerable_customer_goes_to_a_person(self, tmp_path, packs, shipped):
        for engine in (call_only(tmp_path, packs), escalating(tmp_path, packs), shipped):
            decision = engine.decide(case(self.AS_OF, "GB", legal={"vulnerable": True}), self.AS_OF)
            assert decision.action == "HUMAN_REVIEW"
            assert decision.reasons[0].code == "gb/fca-vulnerable-customer"

    @pytest.mark.parametrize("days_ago", [0, 10, 59])
    def test_breathing_space_stops_contact_and_enforcement(self, tmp_path, packs, shipped, days_ago):
        start = (self.AS_OF.date() - timedelta(days=days_ago)).isoformat()
        snapshot = case(self.AS_OF, "GB", legal={"breathing_space_start": start}, days_past_due=150, amount_due="5000.00", payment={"broken_promises": 3})
        engine = strategy_engine(
            tmp_path,
            packs,
            rule("legal", 100, "LEGAL_REVIEW"),
            rule("call", 90, "CALL", "phone"),
            rule("final-notice", 80, "FINAL_NOTICE", "letter"),
            rule("reminder", 70, "SEND_REMINDER", ["letter", "email", "sms"]),
        )
        # Its own reason, and the case comes back the first day after the moratorium (London midnight).
        ends = local(LONDON, 2026, 11, 24, 0, 0) + timedelta(days=60 - days_ago)
        for decided in (engine.decide(snapshot, self.AS_OF), shipped.decide(snapshot, self.AS_OF)):
            assert decided.action == "NO_CONTACT" and decided.window is None
            assert decided.reasons[0].code == "gb/breathing-space-moratorium"
            assert decided.next_review_at == ends
        decision = engine.decide(snapshot, self.AS_OF)
        assert {veto.rule_id for veto in decision.vetoes if veto.guardrail == "gb/breathing-space-moratorium"} == {"legal", "call", "final-notice", "reminder"}
        vulnerable = case(self.AS_OF, "GB", legal={"breathing_space_start": start, "vulnerable": True})
        assert shipped.decide(vulnerable, self.AS_OF).action == "NO_CONTACT"  # not a review task every day of it

    @pytest.mark.parametrize("days_ago", [60, 61])
    def test_after_sixty_days_collection_resumes(self, tmp_path, packs, days_ago):
        start = (self.AS_OF.date() - timedelta(days=days_ago)).isoformat()
        decision = call_only(tmp_path, packs).decide(case(self.AS_OF, "GB", legal={"breathing_space_start": start}), self.AS_OF)
        assert decision.action == "CALL"
        assert window_of(decision) == (self.AS_OF, local(LONDON, 2026, 11, 24, 20, 0))

    def test_a_breathing_space_that_starts_tomorrow_is_not_running_yet(self, tmp_path, packs):
        start = (self.AS_OF.date() + timedelta(days=1)).isoformat()
        assert call_only(tmp_path, packs).decide(case(self.AS_OF, "GB", legal={"breathing_space_start": start}), self.AS_OF).action == "CALL"

    def test_a_breathing_space_that_starts_tomorrow_is_kept_by_the_window(self, tmp_path, packs):
        # The moratorium starts the day after the creditor is told; told Tuesday at 20:30,
        # after hours, the next opening (Wednesday 08:00) is already inside it.
        as_of = local(LONDON, 2026, 11, 24, 20, 30)
        decision = call_only(tmp_path, packs).decide(case(as_of, "GB", legal={"breathing_space_start": "2026-11-25"}), as_of)
        assert decision.action not in CONTACTING, f"{decision.action} in {decision.window}"

    def test_a_breathing_space_that_has_begun_in_one_possible_zone_is_kept(self, tmp_path, packs):
        # A UK debtor whose data also names Pacific/Chatham (UTC+13:45): at 11:00Z on
        # 1 January 2026 it is already 2 January, the first day of the moratorium, there.
        as_of = utc(2026, 1, 1, 11, 0)
        snapshot = case(as_of, "GB", time_zone="Pacific/Chatham", legal={"breathing_space_start": "2026-01-02"})
        decision = reminder_on(tmp_path, packs, "email").decide(snapshot, as_of)
        assert decision.action not in CONTACTING, f"{decision.action} in {decision.window}"  # the window is 2 Jan 18:15-20:00Z, inside it

    def test_a_statute_barred_debt_is_never_escalated(self, tmp_path, packs):
        # CONC 7.15.4R.
        decision = escalating(tmp_path, packs).decide(case(self.AS_OF, "GB", legal={"time_barred": True}), self.AS_OF)
        assert decision.action == "SEND_REMINDER"
        assert {veto.guardrail for veto in decision.vetoes if veto.rule_id in ("legal", "final-notice")} == {"gb/conc-7-15-statute-barred"}

    def test_preferred_hours_narrow_the_window(self, tmp_path, packs):
        snapshot = case(self.AS_OF, "GB", preferred_hours={"opens": "18:00", "closes": "19:30"})
        decision = call_only(tmp_path, packs).decide(snapshot, self.AS_OF)
        assert window_of(decision) == (local(LONDON, 2026, 11, 24, 18, 0), local(LONDON, 2026, 11, 24, 19, 30))
        assert constraint_codes(decision) == ["gb/conc-7-reasonable-times", "debtor/preferred-hours"]

    def test_preferred_hours_outside_the_lawful_hours_leave_no_window(self, tmp_path, packs):
        snapshot = case(self.AS_OF, "GB", preferred_hours={"opens": "20:30", "closes": "21:30"})
        decision = call_only(tmp_path, packs).decide(snapshot, self.AS_OF)
        assert decision.action == "NO_CONTACT" and decision.window is None

    def test_christmas_bank_holidays_are_closed(self, tmp_path, packs):
        # 25 Dec (Fri), 26 Dec (Sat, Boxing Day), 27 Dec (Sun), 28 Dec (Mon, substitute day).
        as_of = local(LONDON, 2026, 12, 24, 20, 0)
        decision = reminder_on(tmp_path, packs, "letter").decide(case(as_of, "GB"), as_of)
        assert window_of(decision) == (local(LONDON, 2026, 12, 29, 8, 0), local(LONDON, 2026, 12, 29, 20, 0))
        as_of = local(LONDON, 2026, 12, 28, 12, 0)
        assert window_of(reminder_on(tmp_path, packs, "letter").decide(case(as_of, "GB"), as_of))[0] == local(LONDON, 2026, 12, 29, 8, 0)

    @pytest.mark.parametrize("flag, code", [("objection", "gb/uk-gdpr-art21-objection"), ("restriction", "gb/uk-gdpr-art18-restriction"), ("erasure_requested", "gb/uk-gdpr-art17-erasure")])
    def test_uk_gdpr_requests_route_to_a_person(self, tmp_path, packs, flag, code):
        decision = call_only(tmp_path, packs).decide(case(self.AS_OF, "GB", gdpr={flag: True}), self.AS_OF)
        assert decision.action == "HUMAN_REVIEW" and decision.reasons[0].code == code

    def test_no_eu_art22_replacement_in_the_uk(self, tmp_path, packs):
        decision = escalating(tmp_path, packs).decide(case(self.AS_OF, "GB"), self.AS_OF)
        assert decision.action == "LEGAL_REVIEW"

    def test_british_summer_time_ends(self, tmp_path, packs):
        as_of = local(LONDON, 2026, 10, 24, 19, 30)  # Saturday, BST (UTC+1); Sunday 25 Oct the clocks go back
        decision = call_only(tmp_path, packs).decide(case(as_of, "GB"), as_of)
        assert window_of(decision) == (as_of, utc(2026, 10, 24, 19, 0))
        late = local(LONDON, 2026, 10, 24, 20, 0)
        assert window_of(call_only(tmp_path, packs).decide(case(late, "GB"), late)) == (utc(2026, 10, 26, 8, 0), utc(2026, 10, 26, 20, 0))


# --- Ireland -----------------------------------------------------------------------------


class TestIreland:
    """Consumer Protection Code 2012: no calls 21:00-09:00, on Sundays or public holidays."""

    def test_a_call_at_0830_waits_for_0900(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 11, 24, 8, 30)
        decision = call_only(tmp_path, packs).decide(case(as_of, "IE"), as_of)
        assert window_of(decision) == (local(DUBLIN, 2026, 11, 24, 9, 0), local(DUBLIN, 2026, 11, 24, 21, 0))
        assert constraint_codes(decision) == ["ie/cpc-calls"]

    def test_a_text_at_0830_may_go_now_under_the_default_hours(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 11, 24, 8, 30)
        decision = reminder_on(tmp_path, packs, "sms").decide(case(as_of, "IE"), as_of)
        assert window_of(decision) == (as_of, local(DUBLIN, 2026, 11, 24, 20, 0))
        assert constraint_codes(decision) == ["default/humane-hours"]

    def test_a_call_at_2030_is_lawful_but_a_text_is_not(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 11, 24, 20, 30)
        call = call_only(tmp_path, packs).decide(case(as_of, "IE"), as_of)
        assert window_of(call) == (as_of, local(DUBLIN, 2026, 11, 24, 21, 0))
        text = reminder_on(tmp_path, packs, "sms").decide(case(as_of, "IE"), as_of)
        assert window_of(text)[0] == local(DUBLIN, 2026, 11, 25, 8, 0)

    def test_no_calls_on_sunday(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 11, 29, 12, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of, "IE"), as_of)
        assert window_of(decision) == (local(DUBLIN, 2026, 11, 30, 9, 0), local(DUBLIN, 2026, 11, 30, 21, 0))

    def test_no_calls_on_a_public_holiday(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 10, 26, 12, 0)  # October Bank Holiday, Monday
        decision = call_only(tmp_path, packs).decide(case(as_of, "IE"), as_of)
        assert window_of(decision)[0] == local(DUBLIN, 2026, 10, 27, 9, 0)

    def test_the_eu_baseline_applies_in_ireland(self, tmp_path, packs):
        as_of = local(DUBLIN, 2026, 11, 24, 12, 0)
        assert escalating(tmp_path, packs).decide(case(as_of, "IE"), as_of).action == "HUMAN_REVIEW"


# --- the default pack --------------------------------------------------------------------


class TestDefaultPack:
    """A country without a pack of its own: 08:00-20:00, Monday to Saturday, not on public holidays."""

    def test_canada_weekday(self, tmp_path, packs):
        as_of = local(TORONTO, 2026, 11, 24, 7, 0)
        decision = call_only(tmp_path, packs).decide(case(as_of, "CA"), as_of)
        assert window_of(decision) == (local(TORONTO, 2026, 11, 24, 8, 0), local(TORONTO, 2026, 11, 24, 20, 0))
        assert constraint_codes(decision) == ["default/humane-hours"]

    def test_canada_calls_wait_for_monday_and_letters_go_on_saturday(self, tmp_path, packs):
        saturday = local(TORONTO, 2026, 11, 28, 19, 0)
        monday = local(TORONTO, 2026, 11, 30, 8, 0)
        assert window_of(call_only(tmp_path, packs).decide(case(saturday, "CA"), saturday))[0] == monday  # no call at the weekend
        email = reminder_on(tmp_path, packs, "email").decide(case(saturday, "CA"), saturday)
        assert window_of(email) == (saturday, local(TORONTO, 2026, 11, 28, 20, 0))  # read when the debtor chooses
        sunday = local(TORONTO, 2026, 11, 29, 10, 0)
        assert window_of(reminder_on(tmp_path, packs, "email").decide(case(sunday, "CA"), sunday))[0] == monday

    def test_canada_day_is_closed(self, tmp_path, packs):
        as_of = local(TORONTO, 2027, 7, 1, 10, 0)  # Thursday
        decision = reminder_on(tmp_path, packs, "email").decide(case(as_of, "CA"), as_of)
        assert window_of(decision)[0] == local(TORONTO, 2027, 7, 2, 8, 0)

    def test_japan_labour_thanksgiving_day_is_closed(self, tmp_path, packs):
        as_of = local(TOKYO, 2026, 11, 23, 10, 0)  # Monday, 勤労感謝の日
        decision = call_only(tmp_path, packs).decide(case(as_of, "JP"), as_of)
        assert window_of(decision) == (local(TOKYO, 2026, 11, 24, 8, 0), local(TOKYO, 2026, 11, 24, 20, 0))

    def test_japan_evening(self, tmp_path, packs):
        as_of = local(TOKYO, 2026, 11, 24, 20, 0)
        decision = reminder_on(tmp_path, packs, "sms").decide(case(as_of, "JP"), as_of)
        assert window_of(decision)[0] == local(TOKYO, 2026, 11, 25, 8, 0)

    def test_an_eu_country_without_its_own_hours_gets_the_default(self, tmp_path, packs):
        as_of = local(BERLIN, 2026, 11, 24, 7, 30)
        decision = call_only(tmp_path, packs).decide(case(as_of, "DE"), as_of)
        assert window_of(decision) == (local(BERLIN, 2026, 11, 24, 8, 0), local(BERLIN, 2026, 11, 24, 20, 0))
        assert constraint_codes(decision) == ["default/humane-hours"]

    def test_the_fallback_does_not_widen_a_country_pack(self, tmp_path, packs):
        # The US pack sets hours for every channel, so the default (08-20) does not apply: 20:30 is lawful.
        as_of = local(NEW_YORK, 2026, 11, 24, 20, 30)
        decision = reminder_on(tmp_path, packs, "sms").decide(case(as_of), as_of)
        assert window_of(decision)[0] == as_of
        assert constraint_codes(decision) == ["us/reg-f-convenient-hours"]


# --- what GetPolicy shows, and what a decision explains ----------------------------------


class TestPolicyView:
    def test_all_eight_packs_are_listed_with_versions(self, shipped):
        packs = {pack.name: pack for pack in shipped.compliance.packs}
        assert set(packs) == {"default", "first-steps", "eu-baseline", "pl", "us", "us-ma", "gb", "ie"}
        for pack in packs.values():
            assert pack.version in ("2026.11.1", "2026.12.1", "2026.12.2", "2026.12.3")
            assert pack.content_hash and all(Path(file).is_file() for file in pack.source_files)
        assert packs["default"].fallback and not any(pack.fallback for name, pack in packs.items() if name != "default")

    @pytest.mark.parametrize(
        "country, region, expected",
        [
            ("US", None, {"us"}),
            ("US", "MA", {"us", "us-ma"}),
            ("PL", None, {"default", "eu-baseline", "pl"}),
            ("IE", None, {"default", "eu-baseline", "ie"}),
            ("DE", None, {"default", "eu-baseline"}),
            ("GB", None, {"default", "gb"}),
            ("JP", None, {"default"}),
        ],
    )
    def test_packs_in_force(self, shipped, country, region, expected):
        in_force = {pack.name for pack in shipped.compliance.in_force(country, region)}
        assert in_force - {"default", "first-steps"} == expected - {"default"}
        assert "first-steps" in in_force  # everywhere
        if "default" in expected:
            assert "default" in in_force

    def test_a_decision_names_the_rules_that_shaped_its_window(self, shipped):
        # A business case the shipped strategy calls, one day after a phone conversation.
        as_of = local(NEW_YORK, 2026, 11, 24, 10, 0)
        snapshot = case(
            as_of,
            segment="business",
            days_past_due=20,
            amount_due="5000.00",
            prior_contacts=[contact("phone", local(NEW_YORK, 2026, 11, 21, 15, 0), "right_party_contact")],
        )
        decision = shipped.decide(snapshot, as_of)
        assert decision.action == "CALL" and decision.channel == Channel.PHONE
        assert constraint_codes(decision) == ["us/reg-f-convenient-hours", "us/reg-f-seven-days-after-conversation"]
        assert window_of(decision)[0] == local(NEW_YORK, 2026, 11, 28, 8, 0)  # the 21st is day 1; Saturday the 28th is day 8
        assert all(reason.text for reason in decision.window_constraints)

    def test_the_trace_names_the_packs_in_force(self, shipped):
        as_of = local(WARSAW, 2026, 11, 24, 10, 0)
        trace = shipped.decide(case(as_of, "PL"), as_of, explain=True).trace
        assert set(trace["compliance"]["packs_in_force"]) == {"default 2026.12.2", "first-steps 2026.12.3", "eu-baseline 2026.11.1", "pl 2026.12.2"}


# --- pack loading errors -------------------------------------------------------------------

GOOD_PACK = """\
policy: test-pack
version: "1"
kind: compliance
applies_to:
  countries: [PL]
contact_hours:
  - id: hours
    opens: "08:00"
    closes: "20:00"
    reason: Test hours.
rules:
  - id: vulnerable
    when: {legal.vulnerable: true}
    route: HUMAN_REVIEW
    reason: Test route.
"""


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


class TestPackErrors:
    def write(self, tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
        folder = tmp_path / "compliance" / "test"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    def refused(self, path: Path):
        with pytest.raises(PolicyError) as caught:
            load_pack(path)
        problems = caught.value.problems
        assert problems and all(problem.file == str(path) for problem in problems)
        assert f"{path}:{problems[0].line}:" in str(caught.value)
        with pytest.raises(PolicyError) as again:  # and the same through the directory loader
            load_packs(path.parent.parent)
        assert [str(problem) for problem in again.value.problems] == [str(problem) for problem in problems]
        return problems

    def test_the_good_pack_loads(self, tmp_path):
        pack = load_pack(self.write(tmp_path, GOOD_PACK))
        assert pack.name == "test-pack" and pack.countries == frozenset({"PL"})

    def test_an_unknown_key(self, tmp_path):
        text = GOOD_PACK.replace('    closes: "20:00"\n', '    closes: "20:00"\n    closing_days: [sun]\n')
        (problem,) = self.refused(self.write(tmp_path, text))
        assert problem.line == _line_of(text, "closing_days")
        assert "`closing_days` is not a known key" in problem.message and "closed_weekdays" in problem.message

    def test_an_unquoted_time(self, tmp_path):
        text = GOOD_PACK.replace('opens: "08:00"', "opens: 8:00")  # YAML 1.1 reads 8:00 as 480
        (problem,) = self.refused(self.write(tmp_path, text))
        assert problem.line == _line_of(text, "opens: 8:00")
        assert "quotes" in problem.message and '"08:00"' in problem.message

    @pytest.mark.parametrize("old, new", [('opens: "08:00"', 'opens: "06:30"'), ('closes: "20:00"', 'closes: "22:30"'), ('opens: "08:00"', 'opens: "21:00"')])
    def test_hours_outside_0700_2200_or_backwards(self, tmp_path, old, new):
        text = GOOD_PACK.replace(old, new)
        (problem,) = self.refused(self.write(tmp_path, text))
        assert _line_of(text, "- id: hours") <= problem.line <= _line_of(text, "reason: Test hours.")
        assert "07:00-22:00" in problem.message

    def test_a_route_that_contacts(self, tmp_path):
        text = GOOD_PACK.replace("route: HUMAN_REVIEW", "route: CALL")
        (problem,) = self.refused(self.write(tmp_path, text))
        assert _line_of(text, "- id: vulnerable") <= problem.line <= _line_of(text, "route: CALL")
        assert "CALL contacts the debtor" in problem.message

    def test_a_replacement_that_contacts(self, tmp_path):
        text = GOOD_PACK.replace("    when: {legal.vulnerable: true}\n    route: HUMAN_REVIEW\n", "    replace: {actions: [LEGAL_REVIEW], with: FINAL_NOTICE}\n")
        (problem,) = self.refused(self.write(tmp_path, text))
        assert "FINAL_NOTICE contacts the debtor" in problem.message

    def test_a_fallback_pack_with_rules(self, tmp_path):
        text = GOOD_PACK.replace("  countries: [PL]\n", '  countries: "*"\n  fallback: true\n')
        (problem,) = self.refused(self.write(tmp_path, text))
        assert "fallback pack" in problem.message and "rules" in problem.message

    def test_an_unknown_country(self, tmp_path):
        text = GOOD_PACK.replace("[PL]", "[PL, XX]")
        (problem,) = self.refused(self.write(tmp_path, text))
        assert problem.line == _line_of(text, "countries:")
        assert "`XX` is not an ISO 3166-1 alpha-2 country code" in problem.message

    def test_an_unknown_region(self, tmp_path):
        text = GOOD_PACK.replace("  countries: [PL]\n", "  countries: [US]\n  regions: [ZZ]\n")
        (problem,) = self.refused(self.write(tmp_path, text))
        assert problem.line == _line_of(text, "regions:")
        assert "`ZZ` is not a region of US" in problem.message

    def test_a_pack_defined_twice(self, tmp_path):
        self.write(tmp_path, GOOD_PACK, "a.yaml")
        self.write(tmp_path, GOOD_PACK, "b.yaml")
        with pytest.raises(PolicyError, match="pack `test-pack` is also defined in"):
            load_packs(tmp_path / "compliance")

    def test_every_problem_of_a_directory_is_reported(self, tmp_path):
        self.write(tmp_path, GOOD_PACK.replace("[PL]", "[XX]"), "a.yaml")
        self.write(tmp_path, GOOD_PACK.replace('opens: "08:00"', "opens: 8:00").replace("test-pack", "other"), "b.yaml")
        with pytest.raises(PolicyError) as caught:
            load_packs(tmp_path / "compliance")
        assert {Path(problem.file).name for problem in caught.value.problems} == {"a.yaml", "b.yaml"}

    def test_the_registry_refuses_a_broken_pack(self, tmp_path):
        rules = tmp_path / "rules"
        shutil.copytree(REPO / "rules", rules, ignore=shutil.ignore_patterns("tests"))
        (rules / "compliance" / "pl" / "pl.yaml").write_text(
            (PACKS_DIR / "pl" / "pl.yaml").read_text(encoding="utf-8").replace('opens: "08:00"', "opens: 8:00"), encoding="utf-8"
        )
        with pytest.raises(PolicyError, match=r"pl\.yaml:\d+:\d+.*quotes"):
            build_engine(rules)

"""What the engine keeps between decisions to decide faster (issue 15, P1) is worked
out once per place (or per local day), bounded, and gives the answer worked out
afresh: the packs' rules for a channel, and the local text of the openings."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine import compliance, window
from engine.authoring.portfolio import synthetic_portfolio
from engine.compliance import BREATHING_SPACE_AHEAD, Compliance, Shaping, cap_release, moratorium_ahead, quiet_release
from engine.facts import derive
from engine.policy.ir import ContactHours
from engine.registry import build_engine
from engine.snapshot import parse_snapshot
from engine.vocabulary import Channel
from engine.window import BASELINE_HOURS, next_window

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture(scope="module")
def shipped() -> Any:
    return build_engine(REPO / "rules", "durable")


def _cases(count: int, seed: int) -> list[dict[str, Any]]:
    """Portfolio cases, some with preferred hours and a Breathing Space ahead (the case's own limits)."""
    chance = random.Random(seed)
    cases = []
    for data in synthetic_portfolio(count, AS_OF, seed=seed):
        if chance.random() < 0.3:
            data["preferred_hours"] = {"opens": chance.choice(["07:00", "09:30", "12:00"]), "closes": chance.choice(["13:00", "18:45", "21:00"])}
        if chance.random() < 0.2:
            data.setdefault("legal", {})["breathing_space_start"] = (AS_OF.date() + timedelta(days=chance.randint(-3, 9))).isoformat()
        cases.append(data)
    return cases


def _shaping_afresh(kept: Compliance, context: Any, channel: Channel) -> Shaping:
    """The shaping as computed before anything was kept: from the packs in force for the case, every time."""
    snapshot = context.snapshot
    packs = kept.for_case(context)
    hours_rules = [rule for pack in packs if not pack.fallback for rule in pack.hours if channel in rule.channels]
    if not hours_rules:
        hours_rules = [rule for pack in packs if pack.fallback for rule in pack.hours if channel in rule.channels]
    hours = reduce(ContactHours.intersect, (rule.hours for rule in hours_rules)) if hours_rules else BASELINE_HOURS
    constraints: list[tuple[str, dict[str, str]]] = [(rule.id, rule.reason) for rule in hours_rules]
    if snapshot.preferred_hours:
        hours = hours.intersect(ContactHours(snapshot.preferred_hours.opens, snapshot.preferred_hours.closes, frozenset(), False))
        constraints.append(("debtor/preferred-hours", {"en": "Only within the hours the debtor asked to be contacted in.", "pl": "Tylko w godzinach wskazanych przez dłużnika."}))
    not_before = None
    for cap in (cap for pack in packs for cap in pack.caps if channel in cap.channels):
        release = cap_release(cap, context)
        if release:
            not_before = max(not_before or release, release)
            constraints.append((cap.id, cap.reason))
    for quiet in (quiet for pack in packs for quiet in pack.quiet if channel in quiet.channels):
        release = quiet_release(quiet, context)
        if release and release > context.as_of:
            not_before = max(not_before or release, release)
            constraints.append((quiet.id, quiet.reason))
    not_after = moratorium_ahead(context)
    if not_after:
        constraints.append(("debtor/breathing-space-ahead", BREATHING_SPACE_AHEAD))
    return Shaping(hours, not_before, not_after, tuple(constraints))


def test_the_packs_rules_for_a_channel_are_worked_out_once_per_place(shipped: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Counter[Channel]()
    work_out = compliance.channel_rules

    def counted(packs: Any, channel: Channel) -> Any:
        calls[channel] += 1
        return work_out(packs, channel)

    monkeypatch.setattr(compliance, "channel_rules", counted)
    kept = Compliance(shipped.compliance.packs)  # nothing kept yet
    contexts = [derive(parse_snapshot(data, AS_OF), AS_OF) for data in _cases(200, seed=3)]
    places = {(context.snapshot.country, context.snapshot.region) for context in contexts}
    for _ in range(2):
        for context in contexts:
            for channel in Channel:
                kept.shaping(context, channel)
    assert calls == Counter({channel: len(places) for channel in Channel})


@pytest.mark.parametrize("seed", [5, 6])
def test_kept_shaping_is_the_shaping_worked_out_afresh(shipped: Any, seed: int) -> None:
    """Every channel of cases in many places, with and without the case's own limits
    (preferred hours, caps and quiet periods reached, a Breathing Space ahead)."""
    kept = shipped.compliance
    limited = 0
    for index, data in enumerate(_cases(300, seed)):
        as_of = AS_OF + timedelta(hours=7 * index)
        context = derive(parse_snapshot(data, as_of), as_of)
        for channel in Channel:
            answer = kept.shaping(context, channel)
            assert answer == _shaping_afresh(kept, context, channel), (data["case_id"], channel)
            limited += answer.not_before is not None or answer.not_after is not None
    assert limited > 0  # the case's own limits were exercised, not only the place's


def test_dated_packs_are_shaped_from_the_packs_in_force(shipped: Any) -> None:
    """With a dated pack, what holds depends on the day: nothing kept by place alone."""
    from dataclasses import replace

    from engine.policy.ir import Effective

    packs = tuple(replace(pack, effective=Effective(start=date(2026, 12, 1))) if pack.name == "pl" else pack for pack in shipped.compliance.packs)
    dated = Compliance(packs)
    assert dated.dated
    for day in (AS_OF, AS_OF + timedelta(days=10)):
        for data in _cases(60, seed=8):
            context = derive(parse_snapshot(data, day), day)
            for channel in Channel:
                assert dated.shaping(context, channel) == _shaping_afresh(dated, context, channel)


def test_the_local_text_of_openings_is_kept_and_requests_reuse_it() -> None:
    """Three hundred requests a second apart: the opening's local end is told once, and every
    window's local text is the instant's own on the debtor's clock."""
    window._local_text.cache_clear()
    answers = [next_window(AS_OF + timedelta(seconds=second), (WARSAW,), "PL", None) for second in range(300)]
    info = window._local_text.cache_info()
    assert info.misses == 1 and info.hits == 299
    for answer in answers:
        assert answer is not None
        assert answer.local_start == answer.start.astimezone(WARSAW).isoformat()
        assert answer.local_end == answer.end.astimezone(WARSAW).isoformat()


@pytest.mark.parametrize(
    ("as_of", "not_before", "not_after"),
    [
        (datetime(2026, 11, 24, 19, 30, tzinfo=timezone.utc), None, None),  # after hours: the next morning's opening
        (datetime(2026, 3, 28, 20, 0, tzinfo=timezone.utc), None, None),  # the night the clocks go forward
        (datetime(2026, 10, 24, 20, 0, tzinfo=timezone.utc), None, None),  # and back
        (AS_OF, AS_OF + timedelta(hours=3, minutes=17), None),  # a cap frees a place mid-opening
        (AS_OF, None, datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc)),  # a moratorium ahead cuts the opening
    ],
)
def test_a_window_tells_its_bounds_on_the_debtor_clock(as_of: datetime, not_before: datetime | None, not_after: datetime | None) -> None:
    for zones in ((WARSAW,), (ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"))):
        found = next_window(as_of, zones, "PL", None, BASELINE_HOURS, not_before, not_after)
        assert found is not None
        assert found.local_start == found.start.astimezone(zones[0]).isoformat()
        assert found.local_end == found.end.astimezone(zones[0]).isoformat()

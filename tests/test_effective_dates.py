"""Effective dates: rules and packs in force only from/until a date or an instant,
judged against as_of on the debtor's clock (docs/effective-dates.md)."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.lint import lint_policy
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.policy.ir import Pack, Policy
from engine.policy.loader import load_strategy
from engine.policy.packs import load_pack
from engine.snapshot import CaseSnapshot, parse_snapshot

# 25 October 2026 is the day Warsaw leaves summer time (03:00 CEST -> 02:00 CET).
# Its local midnight is still in summer time: 2026-10-25T00:00+02:00 = 2026-10-24T22:00Z.
WARSAW_MIDNIGHT = datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc)
LONDON_MIDNIGHT = datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc)  # 00:00 BST, the same day London changes
SECOND = timedelta(seconds=1)


def strategy(root: Path, rules: str) -> Policy:
    folder = root / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s.yaml").write_text('policy: dated\nversion: "1"\nrules:\n' + textwrap.dedent(rules), encoding="utf-8")
    return load_strategy(folder)


def pack(root: Path, text: str) -> Pack:
    path = root / "pack.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load_pack(path)


def case(as_of: datetime, **overrides: Any) -> CaseSnapshot:
    data: dict[str, Any] = {
        "case_id": "case-1", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "500.00", "currency": "PLN",
        "days_past_due": 10, "segment": "retail", "consents": {"sms": True, "email": True, "phone": True, "letter": True, "push": True},
    }
    data.update(overrides)
    return parse_snapshot(data, as_of)


def chosen(engine: StrategyEngine, as_of: datetime, **overrides: Any) -> str:
    return engine.decide(case(as_of, **overrides), as_of).reasons[0].code


# The old review rule until the DST day, the new one from it: one replaces the other.
REPLACED_AT_LOCAL_MIDNIGHT = """\
  - id: review-old
    priority: 10
    then: {action: HUMAN_REVIEW}
    reason: the old rule
    effective_until: 2026-10-25
  - id: review-new
    priority: 10
    then: {action: HUMAN_REVIEW}
    reason: the new rule
    effective_from: 2026-10-25
"""


class TestStrategyRules:
    def test_a_dated_rule_switches_at_local_midnight_on_the_dst_day(self, tmp_path: Path) -> None:
        engine = StrategyEngine(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT), backend="python")
        assert chosen(engine, WARSAW_MIDNIGHT - SECOND) == "review-old"
        assert chosen(engine, WARSAW_MIDNIGHT) == "review-new"
        # After the clocks go back (an hour that happens twice), still the new rule.
        assert chosen(engine, WARSAW_MIDNIGHT + timedelta(hours=3, minutes=30)) == "review-new"

    def test_a_debtor_in_another_zone_switches_at_their_own_midnight(self, tmp_path: Path) -> None:
        engine = StrategyEngine(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT), backend="python")
        london = {"country": "GB", "time_zone": "Europe/London", "currency": "GBP"}
        assert chosen(engine, WARSAW_MIDNIGHT, **london) == "review-old"  # 23:00 on the 24th in London
        assert chosen(engine, LONDON_MIDNIGHT - SECOND, **london) == "review-old"
        assert chosen(engine, LONDON_MIDNIGHT, **london) == "review-new"

    def test_an_instant_switches_at_that_instant_whatever_the_zone(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("2026-10-25\n", "2026-10-25T12:00:00+02:00\n")
        engine = StrategyEngine(strategy(tmp_path, rules), backend="python")
        switch = datetime(2026, 10, 25, 10, 0, tzinfo=timezone.utc)
        for zone in ({}, {"country": "GB", "time_zone": "Europe/London", "currency": "GBP"}):
            assert chosen(engine, switch - SECOND, **zone) == "review-old"
            assert chosen(engine, switch, **zone) == "review-new"

    def test_the_durable_backend_filters_the_same_way(self, tmp_path: Path) -> None:
        engine = StrategyEngine(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT), backend="durable")
        assert chosen(engine, WARSAW_MIDNIGHT - SECOND) == "review-old"
        assert chosen(engine, WARSAW_MIDNIGHT) == "review-new"

    def test_replay_of_an_old_as_of_sees_the_rules_in_force_then(self, tmp_path: Path) -> None:
        engine = StrategyEngine(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT), backend="python")
        logged = case(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
        # The same snapshot, decided today and replayed at its old as_of.
        assert engine.decide(logged, datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)).reasons[0].code == "review-new"
        assert engine.decide(logged, datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)).reasons[0].code == "review-old"

    def test_a_rule_out_of_force_is_not_among_the_fired_rules(self, tmp_path: Path) -> None:
        engine = StrategyEngine(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT), backend="python")
        assert engine.decide(case(WARSAW_MIDNIGHT), WARSAW_MIDNIGHT).fired_rules == ("review-new",)

    def test_no_rule_in_force_is_no_rule_matched(self, tmp_path: Path) -> None:
        rules = "  - id: later\n    priority: 1\n    then: {action: HUMAN_REVIEW}\n    reason: later\n    effective_from: 2030-01-01\n"
        engine = StrategyEngine(strategy(tmp_path, rules), backend="python")
        assert chosen(engine, WARSAW_MIDNIGHT) == "NO_RULE_MATCHED"


class TestPacks:
    STAGED = textwrap.dedent("""\
        policy: staged
        version: "1"
        kind: compliance
        applies_to: {countries: [PL]}
        effective_from: 2026-10-25
        rules:
          - id: stop
            route: HUMAN_REVIEW
            reason: the new law sends every case to a person
    """)

    def engine(self, tmp_path: Path, staged: str) -> StrategyEngine:
        rules = "  - id: wait\n    priority: 1\n    then: {action: NO_CONTACT}\n    reason: wait\n"
        return StrategyEngine(strategy(tmp_path, rules), [pack(tmp_path, staged)], backend="python")

    def test_a_pack_staged_ahead_applies_from_its_day_only(self, tmp_path: Path) -> None:
        engine = self.engine(tmp_path, self.STAGED)
        assert chosen(engine, WARSAW_MIDNIGHT - SECOND) == "wait"
        assert chosen(engine, WARSAW_MIDNIGHT) == "staged/stop"

    def test_a_pack_out_of_force_is_not_listed_in_the_trace(self, tmp_path: Path) -> None:
        engine = self.engine(tmp_path, self.STAGED)
        before = engine.decide(case(WARSAW_MIDNIGHT - SECOND), WARSAW_MIDNIGHT - SECOND, explain=True).trace
        after = engine.decide(case(WARSAW_MIDNIGHT), WARSAW_MIDNIGHT, explain=True).trace
        assert before is not None and after is not None
        assert before["compliance"]["packs_in_force"] == []
        assert after["compliance"]["packs_in_force"] == ["staged 1"]

    def test_a_pack_rule_may_carry_its_own_period(self, tmp_path: Path) -> None:
        staged = self.STAGED.replace("effective_from: 2026-10-25\n", "").replace(
            "reason: the new law sends every case to a person\n", "reason: the new law sends every case to a person\n    effective_until: 2026-10-25\n"
        )
        engine = self.engine(tmp_path, staged)
        assert chosen(engine, WARSAW_MIDNIGHT - SECOND) == "staged/stop"
        assert chosen(engine, WARSAW_MIDNIGHT) == "wait"

    def test_a_staged_pack_hours_shape_windows_only_once_in_force(self, tmp_path: Path) -> None:
        hours = """\
            policy: evenings
            version: "1"
            kind: compliance
            applies_to: {countries: [PL]}
            effective_from: 2026-11-02
            contact_hours:
              - id: late
                opens: "18:00"
                closes: "20:00"
                reason: only evenings
        """
        rules = "  - id: remind\n    priority: 1\n    then: {action: SEND_REMINDER, channel: sms}\n    reason: remind\n"
        engine = StrategyEngine(strategy(tmp_path, rules), [pack(tmp_path, hours)], backend="python")
        before = datetime(2026, 10, 27, 9, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Warsaw
        after = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
        assert engine.decide(case(before), before).window.start == before  # type: ignore[union-attr]
        assert engine.decide(case(after), after).window.start == datetime(2026, 11, 3, 17, 0, tzinfo=timezone.utc)  # type: ignore[union-attr]


class TestLoading:
    def test_a_clock_time_without_offset_is_refused_with_its_line(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_from: 2026-10-25\n", "effective_from: 2026-10-25T00:00:00\n")
        with pytest.raises(PolicyError) as raised:
            strategy(tmp_path, rules)
        problem = raised.value.problems[0]
        assert problem.line == 13 and "effective_from" in problem.message and "offset" in problem.message

    def test_a_quoted_date_or_instant_reads_as_one(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_until: 2026-10-25", 'effective_until: "2026-10-25"').replace(
            "effective_from: 2026-10-25", 'effective_from: "2026-10-25T00:00:00+02:00"'
        )
        policy = strategy(tmp_path, rules)
        assert [str(rule.effective) for rule in policy.rules] == [
            "from 2026-10-25T00:00:00+02:00 until further notice", "from the start until 2026-10-25",
        ]

    def test_an_empty_period_is_refused(self, tmp_path: Path) -> None:
        rules = "  - id: never\n    priority: 1\n    then: {action: HUMAN_REVIEW}\n    reason: x\n    effective_from: 2027-01-01\n    effective_until: 2026-01-01\n"
        with pytest.raises(PolicyError, match="must come after effective_from"):
            strategy(tmp_path, rules)

    def test_nonsense_is_refused_naming_the_field(self, tmp_path: Path) -> None:
        rules = "  - id: never\n    priority: 1\n    then: {action: HUMAN_REVIEW}\n    reason: x\n    effective_from: next tuesday\n"
        with pytest.raises(PolicyError, match="effective_from.*neither a date"):
            strategy(tmp_path, rules)


def codes(policy: Policy) -> list[tuple[str, str | None, str]]:
    return [(finding.code, finding.rule_id, finding.severity) for finding in lint_policy(policy) if finding.code.startswith("effective")]


class TestLint:
    def test_a_clean_replacement_has_no_finding(self, tmp_path: Path) -> None:
        assert codes(strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT)) == []

    def test_a_replacement_with_another_template_is_no_equal_priority_overlap(self, tmp_path: Path) -> None:
        """Same conditions and priority, different texts, one after the other: never both in force."""
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("then: {action: HUMAN_REVIEW}\n    reason: the new rule", "then: {action: SEND_REMINDER, channel: sms, template: new-text}\n    reason: the new rule")
        rules = rules.replace("then: {action: HUMAN_REVIEW}\n    reason: the old rule", "then: {action: SEND_REMINDER, channel: sms, template: old-text}\n    reason: the old rule")
        assert "new-text" in rules and "old-text" in rules
        found = {finding.code for finding in lint_policy(strategy(tmp_path, rules))}
        assert not found & {"overlap-same-priority", "shadowed"}

    def test_a_rule_in_force_only_later_does_not_shadow_a_lower_one(self, tmp_path: Path) -> None:
        rules = """\
  - id: later-and-higher
    priority: 20
    then: {action: HUMAN_REVIEW}
    reason: from next year
    effective_from: 2027-01-01
  - id: today
    priority: 10
    then: {action: NO_CONTACT}
    reason: until then
"""
        assert "shadowed" not in {finding.code for finding in lint_policy(strategy(tmp_path, rules))}
        undated = rules.replace("    effective_from: 2027-01-01\n", "")
        assert "shadowed" in {finding.code for finding in lint_policy(strategy(tmp_path / "b", undated))}

    def test_overlapping_periods_of_one_group_are_a_warning(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_until: 2026-10-25", "effective_until: 2026-11-01")
        assert codes(strategy(tmp_path, rules)) == [("effective-overlap", "review-new", "warning")]

    def test_an_undated_rule_beside_a_dated_one_overlaps_it(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("    effective_until: 2026-10-25\n", "")
        findings = [finding for finding in lint_policy(strategy(tmp_path, rules)) if finding.code == "effective-overlap"]
        assert len(findings) == 1 and "effective_until: 2026-10-25" in findings[0].message

    def test_a_gap_between_periods_is_a_warning(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_from: 2026-10-25", "effective_from: 2026-11-01")
        findings = [finding for finding in lint_policy(strategy(tmp_path, rules)) if finding.code == "effective-gap"]
        assert [(finding.rule_id, finding.severity) for finding in findings] == [("review-new", "warning")]
        assert "from 2026-10-25 to 2026-11-01 no rule of this group is in force" in findings[0].message

    def test_rules_that_do_different_things_are_not_one_group(self, tmp_path: Path) -> None:
        rules = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_from: 2026-10-25", "effective_from: 2026-11-01").replace(
            "    then: {action: HUMAN_REVIEW}\n    reason: the new rule", "    then: {action: NO_CONTACT}\n    reason: the new rule"
        )
        assert codes(strategy(tmp_path, rules)) == []

    def test_a_date_until_before_an_instant_from_is_an_empty_period(self, tmp_path: Path) -> None:
        rules = "  - id: never\n    priority: 1\n    then: {action: HUMAN_REVIEW}\n    reason: x\n    effective_from: 2027-01-05T00:00:00+00:00\n    effective_until: 2027-01-01\n"
        assert codes(strategy(tmp_path, rules)) == [("effective-empty", "never", "error")]

    def test_rules_that_replace_each_other_are_never_in_force_together(self, tmp_path: Path) -> None:
        from engine.authoring.lint_effective import covers_in_time, in_force_together

        new, old = strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT).rules
        assert not in_force_together(old, new) and not covers_in_time(old, new)
        overlapping = REPLACED_AT_LOCAL_MIDNIGHT.replace("effective_until: 2026-10-25", "effective_until: 2026-11-01")
        new, old = strategy(tmp_path / "b", overlapping).rules
        assert in_force_together(old, new) and not covers_in_time(new, old)
        undated = REPLACED_AT_LOCAL_MIDNIGHT.replace("    effective_until: 2026-10-25\n", "")
        new, old = strategy(tmp_path / "c", undated).rules
        assert covers_in_time(old, new) and not covers_in_time(new, old)


def test_get_policy_lists_the_dated_rules_and_packs(tmp_path: Path) -> None:
    import grpc

    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
    from transport.grpc_server import ServerConfig, start_server

    strategy(tmp_path, REPLACED_AT_LOCAL_MIDNIGHT)
    running = start_server(ServerConfig(port=0, rules_dir=tmp_path, reuse_port=False, reload_seconds=0))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            policies = pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest()).policies
    finally:
        running.stop(0)
    dated = {rule.rule_id: (rule.period.effective_from, rule.period.effective_until) for rule in policies[0].dated_rules}
    assert policies[0].kind == "strategy" and dated == {"review-old": ("", "2026-10-25"), "review-new": ("2026-10-25", "")}

"""Safe hot reload: a change is loaded, checked and swapped, or refused while the
last good version keeps serving."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from engine.authoring.acceptance import acceptance_checks
from engine.errors import PolicyError
from engine.last_good import LastGoodRules, fingerprint
from engine.registry import PolicyRegistry, build_engine
from tests.conftest import AS_OF, REPO, snapshot, write_policy
from transport.grpc_server import RunningServer, ServerConfig, start_server

POLICY = """
policy: reloadable
version: "{version}"
rules:
  - id: remind
    priority: 10
    when: {{days_past_due: {{gte: 1}}}}
    then: {{action: {action}, channel: sms}}
    reason: A reminder.
"""
TESTS = """
tests:
  - name: a late case gets the action of the day
    as_of: "2026-11-24T10:00:00+01:00"
    case: {{case_id: t1, country: PL, time_zone: Europe/Warsaw, amount_due: "10.00", currency: PLN, days_past_due: 5, segment: retail, consents: {{sms: true}}}}
    expect: {{action: {action}}}
"""


def write(rules: Path, version: str, action: str = "SEND_REMINDER", tested_action: str | None = None) -> None:
    write_policy(rules, POLICY.format(version=version, action=action))
    tests = rules / "strategies" / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "t.yaml").write_text(TESTS.format(action=tested_action or action), encoding="utf-8")


@pytest.fixture
def registry(tmp_path: Path) -> PolicyRegistry:
    write(tmp_path, "1")
    return PolicyRegistry(tmp_path, checks=acceptance_checks())


def test_a_changed_file_is_swapped_in_and_nothing_changes_without_a_change(registry: PolicyRegistry, tmp_path: Path) -> None:
    assert registry.reload_if_changed() is None
    before = registry.current
    write(tmp_path, "2", action="CALL")
    assert registry.reload_if_changed() is True
    assert registry.current.engine.ref.version == "2"
    # a request that took the old version before the swap finishes on it
    assert before.engine.decide(snapshot(consents={"sms": True}), AS_OF).action == "SEND_REMINDER"
    assert registry.current.engine.decide(snapshot(consents={"sms": True}), AS_OF).action == "CALL"


def test_a_broken_file_is_refused_and_the_last_good_version_keeps_serving(registry: PolicyRegistry, tmp_path: Path) -> None:
    write_policy(tmp_path, POLICY.format(version="2", action="SEND_REMINDER").replace("days_past_due", "days_past_du"))
    assert registry.reload_if_changed() is False
    assert registry.current.engine.ref.version == "1"
    assert registry.last_refusal is not None and "did you mean `days_past_due`" in registry.last_refusal.reason
    assert registry.reload_if_changed() is None  # the same broken files are not tried again and again


def test_a_change_that_fails_its_own_policy_tests_is_refused(registry: PolicyRegistry, tmp_path: Path) -> None:
    write(tmp_path, "2", action="CALL", tested_action="SEND_REMINDER")
    assert registry.reload_if_changed() is False
    assert registry.current.engine.ref.version == "1"
    assert "policy tests failed" in registry.last_refusal.reason  # type: ignore[union-attr]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    write(tmp_path, "1")
    running = start_server(ServerConfig(port=0, rules_dir=tmp_path, reuse_port=False, reload_seconds=0.1))
    yield running
    running.stop(0)


def wait_for(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_server_picks_up_a_change_and_reports_a_refusal(server: RunningServer, tmp_path: Path) -> None:
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        stub = pb_grpc.CollectionStrategyServiceStub(channel)

        def strategy() -> pb.PolicyInfo:
            return next(p for p in stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).policies if p.kind == "strategy")

        write(tmp_path, "2", action="CALL")
        wait_for(lambda: strategy().version == "2")
        write_policy(tmp_path, "policy: reloadable\nversion: '3'\nrules: [oops\n")
        wait_for(lambda: stub.GetPolicy(pb.GetPolicyRequest(), timeout=5).HasField("last_refusal"))
        response = stub.GetPolicy(pb.GetPolicyRequest(), timeout=5)
        assert "not valid YAML" in response.last_refusal.reason and strategy().version == "2"


def resident_megabytes() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
def test_replaced_versions_give_their_memory_back() -> None:
    # durable_rules keeps each ruleset and its session state in C memory (about
    # 0.7 MB for the shipped rules, once it decided a case): without freeing, a
    # server hot-reloading all day would grow without end.
    def serve_one_version() -> None:
        build_engine(REPO / "rules").decide(snapshot(consents={"sms": True}), AS_OF)

    serve_one_version()
    gc.collect()
    before = resident_megabytes()
    for _ in range(30):
        serve_one_version()
    gc.collect()
    assert resident_megabytes() - before < 10  # kept, it would be over 20 MB


def test_a_registry_started_on_refused_rules_serves_the_version_kept_last(tmp_path: Path) -> None:
    rules, kept = tmp_path / "rules", LastGoodRules(tmp_path / "kept")
    write(rules, "1")
    PolicyRegistry(rules, checks=acceptance_checks(), keep=kept)  # a sibling accepted version 1
    write(rules, "2", action="CALL", tested_action="SEND_REMINDER")  # then a change its own tests refuse

    restarted = PolicyRegistry(rules, checks=acceptance_checks(), keep=kept)
    assert restarted.current.engine.ref.version == "1"
    assert restarted.last_refusal is not None and "policy tests failed" in restarted.last_refusal.reason
    # GetPolicy on the restarted worker says what its siblings say: version 1 serves, version 2 was refused.
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, reload_seconds=0), registry=restarted)
    try:
        with grpc.insecure_channel(f"localhost:{running.port}") as channel:
            answer = pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=30)
    finally:
        running.stop(0)
    assert answer.policies[0].version == "1" and "policy tests failed" in answer.last_refusal.reason
    assert restarted.reload_if_changed() is None  # the refused files are not tried again
    write(rules, "3", action="CALL")
    assert restarted.reload_if_changed() is True and restarted.current.engine.ref.version == "3"
    with pytest.raises(PolicyError):  # with nothing kept, refused rules cannot start
        write(rules, "4", action="CALL", tested_action="SEND_REMINDER")
        PolicyRegistry(rules, checks=acceptance_checks())


def test_rules_edited_after_their_check_are_not_kept_under_the_checked_version(tmp_path: Path) -> None:
    rules, kept = tmp_path / "rules", LastGoodRules(tmp_path / "kept")
    write(rules, "1")
    accepted = fingerprint(rules)
    assert kept.keep(rules, accepted) and kept.latest() == tmp_path / "kept" / accepted
    checked = fingerprint(rules)
    write(rules, "2", action="CALL", tested_action="SEND_REMINDER")  # lands between the check and the copy
    assert kept.keep(rules, checked) is True  # the same version again: already kept, nothing copied
    write(rules, "3")
    assert kept.keep(rules, "0123456789abcdef") is False
    assert kept.latest() == tmp_path / "kept" / accepted and fingerprint(kept.latest()) == accepted


def test_the_isolated_check_names_what_it_built_and_saves_the_loaded_form_only_of_a_version_that_passes(tmp_path: Path) -> None:
    from engine.isolation import try_rules
    from engine.registry import read_loaded

    rules, saved = tmp_path / "rules", tmp_path / "loaded.pickle"
    write(rules, "1")
    trial = try_rules(rules, acceptance_checks(), nice=5, save=saved)  # a lower priority changes nothing but the wait
    engine = build_engine(rules)
    assert trial.reasons == [] and next(iter(trial.versions.items())) == ("reloadable", ("1", engine.ref.hash))
    loaded = read_loaded(saved, engine.ref.hash)
    assert loaded is not None and loaded[0].rules == engine.policy.rules

    saved.unlink()
    write(rules, "2", action="CALL", tested_action="SEND_REMINDER")  # builds, then fails its own tests
    refused = try_rules(rules, acceptance_checks(), save=saved)
    assert "policy tests failed" in refused.reasons[0] and not saved.exists()

"""A policy's version names its content: new content under an old version is
refused on reload and on a restart, and the version in force keeps serving."""

from __future__ import annotations

from pathlib import Path

from engine.authoring.acceptance import acceptance_checks
from engine.last_good import LastGoodRules
from engine.registry import PolicyRegistry
from tests.test_hot_reload import write


def test_new_content_under_the_same_version_is_refused_on_reload(tmp_path: Path) -> None:
    write(tmp_path, "1")
    registry = PolicyRegistry(tmp_path, checks=acceptance_checks(), isolate=False)
    served = registry.current.engine.ref

    write(tmp_path, "1", action="CALL")  # new rules, same version string
    assert registry.reload_if_changed() is False
    assert registry.current.engine.ref == served
    assert registry.last_refusal is not None
    assert "reloadable 1: its content changed" in registry.last_refusal.reason and "new `version`" in registry.last_refusal.reason

    write(tmp_path, "2", action="CALL")  # the same change with its own version is accepted
    assert registry.reload_if_changed() is True
    assert registry.current.engine.ref.version == "2"


def test_new_content_under_the_served_version_is_refused_at_start_up(tmp_path: Path) -> None:
    rules, kept = tmp_path / "rules", LastGoodRules(tmp_path / "kept")
    write(rules, "1")
    first = PolicyRegistry(rules, checks=acceptance_checks(), keep=kept, isolate=False)
    write(rules, "1", action="CALL")  # edited while the service was down, version unchanged

    restarted = PolicyRegistry(rules, checks=acceptance_checks(), keep=kept, isolate=False)
    assert restarted.current.engine.ref == first.current.engine.ref  # the kept version serves
    assert restarted.last_refusal is not None and "its content changed" in restarted.last_refusal.reason


def test_unchanged_content_and_a_first_start_are_not_refused(tmp_path: Path) -> None:
    rules, kept = tmp_path / "rules", LastGoodRules(tmp_path / "kept")
    write(rules, "1")
    PolicyRegistry(rules, checks=acceptance_checks(), keep=kept, isolate=False)
    again = PolicyRegistry(rules, checks=acceptance_checks(), keep=kept, isolate=False)
    assert again.last_refusal is None

"""Rules mounted from a Kubernetes ConfigMap: the kubelet keeps each version in a
hidden `..<timestamp>` folder, points `..data` at it and links every top-level
name through `..data`; an update writes a new folder and swaps the link. The
rules directory may be that mount itself: its hidden folders are not rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.authoring.policy_tests import discover
from engine.last_good import fingerprint, rules_files
from engine.registry import build_engine
from tests.conftest import REPO


def mount(target: Path, version: str) -> None:
    """Lay out the shipped rules as the kubelet does, as version `version`, and swap it in."""
    data = target / f"..{version}"
    shutil.copytree(REPO / "rules", data)
    link = target / "..data_tmp"
    link.symlink_to(data.name)
    os.replace(link, target / "..data")  # the kubelet's atomic swap
    for name in ("strategies", "compliance", "schema"):
        if not (target / name).is_symlink():
            (target / name).symlink_to(Path("..data") / name)


def test_a_mounted_version_is_read_once_under_its_own_names(tmp_path: Path) -> None:
    mount(tmp_path, "2026_12_01_10_00_00.1")
    files = rules_files(tmp_path)
    assert files and not any(part.startswith(".") for path in files for part in path.relative_to(tmp_path).parts)
    assert len(discover(tmp_path)) == len(discover(REPO / "rules"))
    assert build_engine(tmp_path).policy.name == "default-strategy"


def test_the_same_content_swapped_in_again_does_not_look_like_a_change(tmp_path: Path) -> None:
    mount(tmp_path, "2026_12_01_10_00_00.1")
    before = fingerprint(tmp_path)
    mount(tmp_path, "2026_12_01_10_05_00.2")  # the old folder is still there during the swap
    assert fingerprint(tmp_path) == before
    assert len(discover(tmp_path)) == len(discover(REPO / "rules"))

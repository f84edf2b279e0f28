"""Shared fixtures: the real ScanNet / VSI-Bench files in ../shared/realdata, and hand-made ScanNet scenes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table

REPO = Path(__file__).resolve().parents[1]


def _realdata() -> Path | None:
    candidates = [os.environ.get("VSI_DATA_REALDATA"), REPO.parent / "shared" / "realdata"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def realdata() -> Path:
    path = _realdata()
    if path is None:
        pytest.skip("real data not found (set VSI_DATA_REALDATA or place it at ../shared/realdata)")
    return path


@pytest.fixture
def handmade_root(tmp_path: Path) -> Path:
    """A ScanNet root with one hand-made scene (scene0001_00) and a label table."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    write_handmade_scene(tmp_path / "scans", "scene0001_00", HANDMADE_ROOM)
    return tmp_path

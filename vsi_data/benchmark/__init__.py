"""The VSI-Bench evaluation scenes, shipped with the package so builds can leave them out of training data."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_LIST = Path(__file__).with_name("vsibench_scenes.txt")


@cache
def benchmark_scenes() -> frozenset[tuple[str, str]]:
    """(dataset, scene id) of every VSI-Bench scene: 150 ARKitScenes, 88 ScanNet, 50 ScanNet++."""
    entries = []
    for line in _LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dataset, scene_id = line.split()
            entries.append((dataset, scene_id))
    return frozenset(entries)

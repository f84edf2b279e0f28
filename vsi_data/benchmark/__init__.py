"""VSI-Bench itself: its evaluation scenes (shipped so builds can leave them out of training data) and the
columns of its released test file (read by `stats` and `eval`)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_LIST = Path(__file__).with_name("vsibench_scenes.txt")
# nyu-visionx/VSI-Bench test.parquet: the columns a file must have to be read as VSI-Bench's questions.
VSIBENCH_COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "options", "ground_truth")
# ScanNet scans a room several times: scene0025_00, scene0025_01, ... show the same room and furniture.
_SCANNET_SCAN = re.compile(r"(scene\d{4})_\d{2}")


@cache
def benchmark_scenes() -> frozenset[tuple[str, str]]:
    """(dataset, scene id) of every VSI-Bench scene: 150 ARKitScenes, 88 ScanNet, 50 ScanNet++."""
    entries = []
    for line in _LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dataset, scene_id = line.split()
            entries.append((dataset, scene_id))
    return frozenset(entries)


def scanned_room(dataset: str, scene_id: str) -> str:
    """The room a scan shows: a ScanNet scan's `sceneXXXX` (its rescans share it), else the scan itself."""
    match = _SCANNET_SCAN.fullmatch(scene_id) if dataset == "scannet" else None
    return match.group(1) if match else scene_id


@cache
def benchmark_rooms() -> frozenset[tuple[str, str]]:
    """(dataset, room) of every VSI-Bench scene: a build leaves out every scan of these rooms, since another
    scan of a benchmark room (88 ScanNet rooms, 207 scans in ScanNet's val split) holds the same objects,
    distances and room size as the benchmark's own scan."""
    return frozenset((dataset, scanned_room(dataset, scene_id)) for dataset, scene_id in benchmark_scenes())


def is_benchmark_scan(dataset: str, scene_id: str) -> bool:
    """A VSI-Bench scene, or another scan of one of its rooms."""
    return (dataset, scanned_room(dataset, scene_id)) in benchmark_rooms()

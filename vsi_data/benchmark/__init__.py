"""VSI-Bench itself: its evaluation scenes (shipped so builds can leave them out of training data) and the
columns of its released test file (read by `stats` and `eval`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_LIST = Path(__file__).with_name("vsibench_scenes.txt")
_RESCANS = Path(__file__).with_name("vsibench_room_rescans.txt")
# nyu-visionx/VSI-Bench test.parquet: the columns a file must have to be read as VSI-Bench's questions.
VSIBENCH_COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "options", "ground_truth")


@cache
def benchmark_scenes() -> frozenset[tuple[str, str]]:
    """(dataset, scene id) of every VSI-Bench scene: 150 ARKitScenes, 88 ScanNet, 50 ScanNet++."""
    return _read_list(_LIST)


def _read_list(path: Path) -> frozenset[tuple[str, str]]:
    """A shipped list of `dataset scene_id` lines (`#` comments)."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dataset, scene_id = line.split()
            entries.append((dataset, scene_id))
    return frozenset(entries)


@cache
def benchmark_rescans() -> frozenset[tuple[str, str]]:
    """(dataset, scene id) of every other scan of a VSI-Bench room: ScanNet's other scans of its 88 rooms (119)
    and ARKitScenes' other videos of its 150 visits (300, two of them in the Training fold). They show the same
    room and furniture as the benchmark's scan, so the same counts, sizes, distances and room size."""
    return _read_list(_RESCANS)


def is_benchmark_scan(dataset: str, scene_id: str) -> bool:
    """A VSI-Bench scene, or another scan of its room; builds leave both out unless --allow-benchmark-scenes."""
    return (dataset, scene_id) in benchmark_scenes() or (dataset, scene_id) in benchmark_rescans()

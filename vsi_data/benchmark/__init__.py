"""VSI-Bench itself: its evaluation scenes (shipped so builds can leave them out of training data) and the
columns of its released test file (read by `stats` and `eval`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_LIST = Path(__file__).with_name("vsibench_scenes.txt")
# nyu-visionx/VSI-Bench test.parquet: the columns a file must have to be read as VSI-Bench's questions.
VSIBENCH_COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "options", "ground_truth")


@cache
def benchmark_scenes() -> frozenset[tuple[str, str]]:
    """(dataset, scene id) of every VSI-Bench scene: 150 ARKitScenes, 88 ScanNet, 50 ScanNet++."""
    entries = []
    for line in _LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dataset, scene_id = line.split()
            entries.append((dataset, scene_id))
    return frozenset(entries)

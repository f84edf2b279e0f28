"""VSI-Bench meta info (`*_meta_info_val.json`, formats.md) written for the hand-made scenes: what the benchmark's
annotations say of a room whose boxes we placed ourselves, for `vsi-data verify` tests.

Boxes are given in each dataset's scene frame (ScanNet: axis-aligned; ARKitScenes: the ARKit world; ScanNet++:
the aligned mesh frame), with `normalizedAxes` holding one box axis per row, as the released files do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from handmade import Box


def meta_box(center, extents, axes_rows) -> dict:
    center, extents, axes = (np.asarray(x, dtype=np.float64) for x in (center, extents, axes_rows))
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    corners = center + (signs * extents / 2) @ axes.reshape(3, 3)
    return {"centroid": center.tolist(), "axesLengths": extents.tolist(), "normalizedAxes": axes.reshape(-1).tolist(),
            "min": corners.min(axis=0).tolist(), "max": corners.max(axis=0).tolist()}  # fmt: skip


def box_entry(box: Box) -> dict:
    return meta_box(box.center, box.extents, box.rotation.T)


def meta_scene(dataset: str, boxes: Iterable[tuple[str, dict]], room_size: float) -> dict:
    """One scene's entry: (category, box entry) pairs grouped by category, counts from them."""
    object_bbox: dict[str, list[dict]] = {}
    for category, box in boxes:
        object_bbox.setdefault(category, []).append(box)
    return {
        "dataset": dataset,
        "video_path": f"{dataset}/video.mp4",
        "room_size": room_size,
        "room_center": [0.0, 0.0, 0.0],
        "object_counts": {c: len(b) for c, b in object_bbox.items()},
        "object_bbox": object_bbox,
    }


def write_meta(path: Path, scenes: dict[str, dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scenes, indent=1))
    return path

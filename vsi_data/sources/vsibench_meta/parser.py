"""VSI-Bench's released per-scene meta info (`*_meta_info_val.json`) as scenes.

Each entry holds the benchmark's oriented boxes per category (`centroid`, `axesLengths`, `normalizedAxes`
with the box axes as rows), the instance counts and the room size. Reading it regenerates VSI-Bench-style
questions without the raw scans, and checks our rules against the benchmark's own answers.

The release lists some boxes twice (every printer of the ScanNet file): identical boxes are dropped. A
category whose boxes still disagree with its released count is marked unreliable, so no question names
it rather than risk a wrong count.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cached_property
from pathlib import Path

import numpy as np

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.scene import Room, Scene, SceneObject
from vsi_data.sources.base import ParseOptions, SceneError, SceneRef, SceneSource
from vsi_data.sources.common import LeftOut, screen_objects
from vsi_data.sources.vsibench_meta import SPEC, VsiBenchMetaConfig

PATTERN = "*_meta_info_val.json"
BOX_KEYS = ("centroid", "axesLengths", "normalizedAxes")


class VsiBenchMetaSource(SceneSource):
    name = SPEC.name
    label_namespace = SPEC.label_namespace

    def __init__(self, config: VsiBenchMetaConfig) -> None:
        root = Path(config.root)
        if root.is_file():
            self.files = [root]
        elif root.is_dir():
            self.files = sorted(root.glob(PATTERN))
        else:
            raise SceneError(root, "no such file or folder")
        if not self.files:
            raise SceneError(root, f"no {PATTERN} files in this folder")

    @cached_property
    def _entries(self) -> dict[Path, dict]:
        entries = {}
        for path in self.files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise SceneError(path, f"not valid JSON ({exc})") from exc
            if not isinstance(data, dict):
                raise SceneError(path, "expected an object mapping scene ids to their meta info")
            entries[path] = data
        return entries

    def list_scenes(self) -> list[SceneRef]:
        refs = []
        for path, scenes in self._entries.items():
            for scene_id, entry in scenes.items():
                dataset = entry.get("dataset") if isinstance(entry, dict) else None
                refs.append(SceneRef(scene_id, "val", path, dataset=str(dataset or "unknown")))
        return refs

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        entry = self._entries[ref.path].get(ref.scene_id)
        where = f"scene {ref.scene_id}"
        if not isinstance(entry, dict) or not isinstance(entry.get("object_bbox"), dict):
            raise SceneError(ref.path, f"{where}: no `object_bbox` mapping")
        counts = entry.get("object_counts") or {}
        if not isinstance(counts, dict):
            raise SceneError(ref.path, f"{where}: `object_counts` is not a mapping")
        area = entry.get("room_size")
        if (
            isinstance(area, bool)
            or not isinstance(area, int | float)
            or not 0 < area <= options.bounds.max_room_area_m2
        ):
            raise SceneError(
                ref.path,
                f"{where}: `room_size` is not a positive number of at most {options.bounds.max_room_area_m2:g} m² "
                f"(plausibility.max_room_extent_m squared): {area!r}",
            )
        stats: Counter[str] = Counter()
        left_out = LeftOut(stats)
        objects: list[SceneObject] = []
        for label, boxes in sorted(entry["object_bbox"].items()):
            if not isinstance(boxes, list):
                raise SceneError(ref.path, f"{where}: boxes of {label!r} are not a list")
            category = options.vocabulary.categorize(self.label_namespace, label)
            if category is None:
                stats["objects_outside_vocabulary"] += len(boxes)
                continue
            kept = self._boxes(ref, label, boxes, stats)
            if counts.get(label, len(kept)) != len(kept):
                stats["categories_count_disagrees_with_boxes"] += 1
                left_out.unreliable.add(category)
            objects += [SceneObject(len(objects), category, label, box) for box in kept]
        # VSI-Bench's category order is `object_counts`' (it asks a direction triple's orderings in it).
        listed = [
            options.vocabulary.categorize(self.label_namespace, label) for label in [*counts, *entry["object_bbox"]]
        ]
        objects = screen_objects(objects, options.bounds, ref.path, left_out)
        left_out.log()
        return Scene(
            scene_id=ref.scene_id,
            dataset=ref.dataset,
            split=ref.split,
            objects=objects,
            room=Room(area=float(area), method="room_size released in VSI-Bench's meta info"),
            unreliable_categories=left_out.unreliable,
            stats=stats,
            category_order=tuple(dict.fromkeys(c for c in listed if c is not None)),
        )

    @staticmethod
    def _boxes(ref: SceneRef, label: str, boxes: list, stats: Counter[str]) -> list[OrientedBox]:
        kept: list[OrientedBox] = []
        seen: set[tuple[float, ...]] = set()
        for i, raw in enumerate(boxes):
            if not isinstance(raw, dict) or any(k not in raw for k in BOX_KEYS):
                raise SceneError(ref.path, f"scene {ref.scene_id}: {label}[{i}] lacks one of {', '.join(BOX_KEYS)}")
            try:
                values = np.concatenate([np.asarray(raw[k], dtype=np.float64).reshape(-1) for k in BOX_KEYS])
                box = OrientedBox.from_axes_rows(raw["centroid"], raw["axesLengths"], raw["normalizedAxes"])
            except (ValueError, TypeError) as exc:
                raise SceneError(ref.path, f"scene {ref.scene_id}: {label}[{i}] is not a valid box ({exc})") from exc
            key = tuple(np.round(values, 6))
            if key in seen:
                stats["duplicate_boxes_dropped"] += 1
                continue
            seen.add(key)
            kept.append(box)
        return kept

"""The toy format: `<scene>.json` = {"room_m2": area, "objects": [[label, [x, y, z], [dx, dy, dz]], ...]}, boxes
axis-aligned, metres."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toy_source import SPEC, ToyConfig
from vsi_data.geometry.boxes import OrientedBox
from vsi_data.scene import ParseOptions, Room, Scene, SceneObject
from vsi_data.sources.base import SceneRef, SceneSource


class ToySource(SceneSource):
    name = SPEC.name
    label_namespace = SPEC.label_namespace

    def __init__(self, config: ToyConfig) -> None:
        self.root = Path(config.root)
        self.min_objects = config.min_objects

    def list_scenes(self) -> list[SceneRef]:
        return [
            SceneRef(path.stem, "train", path, self.name)
            for path in sorted(self.root.glob("*.json"))
            if len(json.loads(path.read_text())["objects"]) >= self.min_objects
        ]

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        data = json.loads(ref.path.read_text())
        objects = [
            SceneObject(i, category, label, OrientedBox(np.array(center), np.array(size), np.eye(3)))
            for i, (label, center, size) in enumerate(data["objects"])
            if (category := options.vocabulary.categorize(self.label_namespace, label)) is not None
        ]
        return Scene(ref.scene_id, self.name, ref.split, objects, Room(float(data["room_m2"]), method="toy"))

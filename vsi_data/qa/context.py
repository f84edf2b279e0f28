"""What generators ask of a scene: which categories may be named, and distances between categories.

A category may be named only if the parser measured every instance of it, no confusable sibling
(office chair next to chair) shares the scene, and it is not hidden (a type that asks only about what the video
shows hides the categories it does not: `vsi_data.qa.visible`). Distances between categories are the minimum over
their instances under the recipe's metric, computed once per scene and cached.
"""

from __future__ import annotations

import copy
from functools import cached_property

import numpy as np

from vsi_data.geometry.distance import (
    box_grid_points,
    center_distance_matrix,
    closest_box_distance_matrix,
    closest_points_distance,
)
from vsi_data.scene import Scene, SceneObject
from vsi_data.vocabulary import Vocabulary


class SceneContext:
    def __init__(self, scene: Scene, distance_metric: str, vocabulary: Vocabulary) -> None:
        self.scene = scene
        self.metric = distance_metric
        self.vocabulary = vocabulary
        self._index = {id(obj): i for i, obj in enumerate(scene.objects)}
        self._pair_cache: dict[tuple[str, str], tuple[float, int, int]] = {}
        self._samples: dict[int, np.ndarray | None] = {}
        self.hidden: frozenset[str] = frozenset()
        # Which categories the video does not show, per visibility settings: computed once per scene.
        self.unseen: dict[object, frozenset[str] | None] = {}

    def hiding(self, categories: frozenset[str]) -> SceneContext:
        """The same scene with `categories` never named; distances and visibility caches are shared."""
        other = copy.copy(self)
        for derived in ("askable", "unique"):
            other.__dict__.pop(derived, None)
        other.hidden = self.hidden | categories
        return other

    @cached_property
    def askable(self) -> list[str]:
        present = set(self.scene.by_category)
        return [
            category
            for category in self.scene.by_category
            if category not in self.scene.unreliable_categories
            and category not in self.hidden
            and not (self.vocabulary.confusable_with(category) & (present | self.scene.unreliable_categories))
        ]

    @cached_property
    def unique(self) -> list[str]:
        """Askable categories with exactly one instance: a reference to them is unambiguous."""
        return [c for c in self.askable if len(self.scene.by_category[c]) == 1]

    def objects(self, category: str) -> list[SceneObject]:
        return self.scene.by_category[category]

    @cached_property
    def _box_matrix(self) -> np.ndarray:
        boxes = [obj.box for obj in self.scene.objects]
        if self.metric == "center":
            return center_distance_matrix(boxes, boxes)  # "closest_points" falls back to exact boxes
        return closest_box_distance_matrix(boxes, boxes)

    def _sample(self, obj: SceneObject) -> np.ndarray | None:
        """The points a point-based metric measures on: the object's own, or VSI-Bench's box grid."""
        if self.metric == "box_grid":
            return box_grid_points(obj.box)
        return obj.points if self.metric == "closest_points" else None

    def _object_distance(self, a: SceneObject, b: SceneObject) -> float:
        i, j = self._index[id(a)], self._index[id(b)]
        if self.metric in ("center", "closest_box"):
            return float(self._box_matrix[i, j])
        for k, obj in ((i, a), (j, b)):
            if k not in self._samples:
                self._samples[k] = self._sample(obj)
        if self._samples[i] is None or self._samples[j] is None:  # a source without object points
            return float(self._box_matrix[i, j])
        return closest_points_distance(self._samples[i], self._samples[j], a.box, b.box)

    def distance(self, category_a: str, category_b: str) -> float:
        return self.closest_pair(category_a, category_b)[0]

    def closest_pair(self, category_a: str, category_b: str) -> tuple[float, int, int]:
        """(distance, instance id in a, instance id in b) of the closest instances of two categories."""
        key = (category_a, category_b)
        if key not in self._pair_cache:
            best = min(
                (self._object_distance(a, b), a.instance_id, b.instance_id)
                for a in self.objects(category_a)
                for b in self.objects(category_b)
            )
            self._pair_cache[key] = best
            self._pair_cache[(category_b, category_a)] = (best[0], best[2], best[1])
        return self._pair_cache[key]

    @property
    def metric_note(self) -> str:
        if self.metric == "closest_points" and any(obj.points is None for obj in self.scene.objects):
            return "closest_points (closest_box where a source has no object points)"
        return self.metric

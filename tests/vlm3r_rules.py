"""VSI-Bench's question rules as the public VLM-3R data pipeline states them, written independently of vsi_data.

VITA-Group/VLM-3R (`vlm_3r_data_process/src/tasks/vsibench/*.py`, `src/utils/common_utils.py`, Apache-2.0)
is public code of VSI-Bench's generator (its README thanks the VSI-Bench team for the original scripts). The
facts below were read there; the code is ours, and deliberately shares nothing with `vsi_data` (boxes and
crops come from open3d, distances from scipy), so a test comparing the two compares two implementations:

- A category is unique when `object_counts` says 1; every other listed category is "multiple". Boxes are
  taken as listed in `object_bbox` (duplicates included); a category's distance to another is the minimum
  over all their boxes.
- Box distance: per box a grid of ceil(extent / 5 cm) evenly spaced values per axis (ends included), the
  points with some |coordinate| > extent / 4, rotated by R = reshape(normalizedAxes, 3, 3).T, moved to the
  centroid and cropped by open3d's `OrientedBoundingBox.crop`; an empty crop retries at half the spacing.
  The distance is the smallest point-to-point distance between the two crops.
- counting: categories with count > 1. size: categories with count 1.
- absolute distance: pairs of unique categories whose distance, rounded to 0.1 m, is at least 0.2.
- relative distance: a unique primary and every 4-combination of the other listed categories (unique or
  not); skipped when the nearest choice is < 0.15 m away or any two choices' distances differ by <= 0.15 m.
  (The scene needs 5 listed categories.)
- relative direction: triples of unique categories in `object_counts` order (`itertools.combinations`),
  kept when every pair's distance is in [0.30, 5.0] m; each kept triple (a, b, c) is asked as
  (a, b, c), (a, c, b), (b, a, c) = (standing, facing, queried). In the floor plane, with forward = facing
  − standing: angle = arccos of the normalised dot product of forward and (point − standing), replaced by
  360° − angle where the cross product is negative. The queried centroid and its box's 8 corners are read;
  more than 2 corners in another bin than the centroid → skipped.
  - hard (v1): bin = angle // 90 (front-left, back-left, back-right, front-right); skipped when
    90 − (angle mod 90) < 10 (only the boundary ahead, counter-clockwise).
  - medium (v2): bins by np.digitize(angle, [0, 135, 225, 360]) → left, back, right; skipped when the
    angle is within 10° of 0, 135, 225 or 360.
  - easy (v3): as medium, and "back" is skipped.

Left out, because they are not rules of the questions VSI-Bench released: the per-scene sampling (6 per
type, triples and relative-distance combinations sampled before filtering) and the four-option numeric
choices VLM-3R builds for its own multiple-choice training variants (a candidate whose distractors cannot be
drawn is dropped there).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree

HARD = ("front-left", "back-left", "back-right", "front-right")
LEFT_BACK_RIGHT = ("left", "back", "right")


def o3d_box(raw: dict) -> o3d.geometry.OrientedBoundingBox:
    return o3d.geometry.OrientedBoundingBox(
        center=np.asarray(raw["centroid"], dtype=np.float64).reshape(3, 1),
        R=np.asarray(raw["normalizedAxes"], dtype=np.float64).reshape(3, 3).T,
        extent=np.asarray(raw["axesLengths"], dtype=np.float64).reshape(3, 1),
    )


def cropped_grid(box: o3d.geometry.OrientedBoundingBox, spacing: float = 0.05) -> np.ndarray:
    extent = np.asarray(box.extent)
    axes = [np.linspace(-extent[k] / 2, extent[k] / 2, int(np.ceil(extent[k] / spacing))) for k in range(3)]
    xx, yy, zz = np.meshgrid(*axes)
    local = np.vstack([xx.ravel(), yy.ravel(), zz.ravel()]).T
    local = local[np.any(np.abs(local) > extent / 4, axis=1)]
    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.dot(local, np.asarray(box.R).T) + np.asarray(box.center))
    kept = np.asarray(cloud.crop(box).points)
    return kept if len(kept) else cropped_grid(box, spacing / 2)


@dataclass
class MetaScene:
    """One scene of a `*_meta_info_val.json`, read the way VLM-3R's generators read theirs."""

    counts: dict[str, int]
    boxes: dict[str, list[dict]]
    _grids: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    _distances: dict[frozenset, float] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry: dict) -> MetaScene:
        return cls(dict(entry["object_counts"]), entry["object_bbox"])

    @property
    def unique(self) -> list[str]:
        return [c for c, n in self.counts.items() if n == 1]

    def _grid(self, category: str, index: int) -> np.ndarray:
        key = (category, index)
        if key not in self._grids:
            self._grids[key] = cropped_grid(o3d_box(self.boxes[category][index]))
        return self._grids[key]

    def distance(self, a: str, b: str) -> float:
        key = frozenset((a, b))
        if key not in self._distances:
            self._distances[key] = min(
                float(cKDTree(self._grid(b, j)).query(self._grid(a, i))[0].min())
                for i in range(len(self.boxes[a]))
                for j in range(len(self.boxes[b]))
            )
        return self._distances[key]


def counting(scene: MetaScene) -> set[str]:
    return {c for c, n in scene.counts.items() if n > 1}


def size(scene: MetaScene) -> set[str]:
    return set(scene.unique)


def abs_distance(scene: MetaScene) -> set[frozenset]:
    return {frozenset(p) for p in itertools.combinations(scene.unique, 2) if round(scene.distance(*p), 1) >= 0.2}


def rel_distance(scene: MetaScene) -> set[tuple[str, frozenset]]:
    out = set()
    if len(scene.counts) < 5:
        return out
    for primary in scene.unique:
        others = [c for c in scene.counts if c != primary]
        for combo in itertools.combinations(others, 4):
            distances = [scene.distance(primary, c) for c in combo]
            if min(distances) < 0.15:
                continue
            if any(abs(x - y) <= 0.15 for x, y in itertools.combinations(distances, 2)):
                continue
            out.add((primary, frozenset(combo)))
    return out


def _angles(standing: dict, facing: dict, queried: dict) -> np.ndarray:
    """Degrees of the queried centroid (first) and its 8 box corners, as VLM-3R computes them."""
    points = np.concatenate([[queried["centroid"]], np.asarray(o3d_box(queried).get_box_points())])
    forward = (np.asarray(facing["centroid"]) - np.asarray(standing["centroid"]))[:2]
    vectors = (points - np.asarray(standing["centroid"]))[:, :2]
    cosine = (vectors @ forward) / (np.linalg.norm(forward) * np.linalg.norm(vectors, axis=1))
    angles = np.arccos(cosine)
    cross = forward[0] * vectors[:, 1] - forward[1] * vectors[:, 0]
    return np.degrees(np.where(cross >= 0.0, angles, 2 * math.pi - angles))


def direction_answer(level: str, standing: dict, facing: dict, queried: dict) -> str | None:
    """The answer VLM-3R's level generator gives, or None where it skips the question as ambiguous."""
    angles = _angles(standing, facing, queried)
    if level == "hard":
        bins = angles // 90
        if np.count_nonzero(bins[1:] != bins[0]) > 2 or 90 - angles[0] % 90 < 10:
            return None
        return HARD[int(bins[0])]
    bins = np.digitize(angles, [0, 135, 225, 360])
    if np.count_nonzero(bins[1:] != bins[0]) > 2 or np.abs(angles[0] - np.array([0, 135, 225, 360])).min() < 10:
        return None
    answer = LEFT_BACK_RIGHT[int(bins[0]) - 1]
    return None if level == "easy" and answer == "back" else answer


def direction(scene: MetaScene, level: str) -> dict[tuple[str, str, str], str]:
    """(standing, facing, queried) → answer for every question of the level that VLM-3R's rules keep."""
    out = {}
    for a, b, c in itertools.combinations(scene.unique, 3):
        if not all(0.30 <= scene.distance(x, y) <= 5.0 for x, y in ((a, b), (a, c), (b, c))):
            continue
        for order in ((a, b, c), (a, c, b), (b, a, c)):
            answer = direction_answer(level, *(scene.boxes[name][0] for name in order))
            if answer is not None:
                out[order] = answer
    return out

"""Oriented boxes: the one box type every source produces, and fitting one to an object's points.

A box is (center, extents, rotation) with `rotation` columns = the box axes in world coordinates,
so world = center + rotation @ local and local = rotation.T @ (world - center). VSI-Bench / ARKitScenes
store `normalizedAxes` as the rows of rotation.T (box axes as rows); `from_axes_rows` reads that form.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

BoxFit = Literal["minimal", "upright"]

# Signs of the 8 corners in box-local units of half-extents; the order is fixed so corner i of every
# box means the same thing (edges below index into it).
_CORNER_SIGNS = np.array(
    [[sx, sy, sz] for sx in (-1.0, 1.0) for sy in (-1.0, 1.0) for sz in (-1.0, 1.0)], dtype=np.float64
)
# The 12 edges as corner-index pairs: corners differing in exactly one sign.
BOX_EDGES = np.array(
    [(i, j) for i in range(8) for j in range(i + 1, 8) if np.count_nonzero(_CORNER_SIGNS[i] != _CORNER_SIGNS[j]) == 1],
    dtype=np.int64,
)


class BoxFitError(ValueError):
    """A box could not be fitted to a point set (too few points, or every fitter gave a degenerate box)."""


@dataclass(frozen=True, eq=False)
class OrientedBox:
    center: np.ndarray  # (3,) metres
    extents: np.ndarray  # (3,) full side lengths, metres
    rotation: np.ndarray  # (3, 3) proper rotation, columns are the box axes

    def __post_init__(self) -> None:
        center = np.asarray(self.center, dtype=np.float64).reshape(3)
        extents = np.asarray(self.extents, dtype=np.float64).reshape(3)
        rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        if not (np.all(np.isfinite(center)) and np.all(np.isfinite(extents)) and np.all(np.isfinite(rotation))):
            raise ValueError("box has non-finite values")
        if np.any(extents < 0):
            raise ValueError(f"box has negative extents {extents}")
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-4):
            raise ValueError("box rotation is not orthonormal")
        if np.linalg.det(rotation) < 0:  # a reflection: flip one axis to make it a rotation, same box
            rotation = rotation * np.array([1.0, 1.0, -1.0])
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "extents", extents)
        object.__setattr__(self, "rotation", rotation)

    @classmethod
    def from_axes_rows(cls, centroid, axes_lengths, normalized_axes) -> OrientedBox:
        """Build from the VSI-Bench / ARKitScenes form: `normalizedAxes` is 9 numbers, one box axis per row."""
        rows = np.asarray(normalized_axes, dtype=np.float64).reshape(3, 3)
        return cls(center=centroid, extents=axes_lengths, rotation=rows.T)

    @classmethod
    def axis_aligned(cls, lo, hi) -> OrientedBox:
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        return cls(center=(lo + hi) / 2, extents=hi - lo, rotation=np.eye(3))

    @property
    def longest_side(self) -> float:
        return float(self.extents.max())

    @property
    def volume(self) -> float:
        return float(np.prod(self.extents))

    def corners(self) -> np.ndarray:
        """(8, 3) world corners in the fixed `_CORNER_SIGNS` order."""
        return self.center + (_CORNER_SIGNS * (self.extents / 2)) @ self.rotation.T

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """Points (…×3) in box coordinates. Three broadcast products, not `offset @ rotation`: BLAS is slow on
        an inner dimension of 3 (several times slower on a mesh's worth of points)."""
        offset = np.asarray(points, dtype=np.float64) - self.center
        r = self.rotation
        return offset[..., :1] * r[0] + offset[..., 1:2] * r[1] + offset[..., 2:] * r[2]

    def contains(self, points: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        return np.all(np.abs(self.to_local(points)) <= self.extents / 2 + tol, axis=-1)

    def transformed(self, matrix: np.ndarray) -> OrientedBox:
        """The same box under a rigid 4x4 transform (e.g. an axis alignment)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        return OrientedBox(
            center=matrix[:3, :3] @ self.center + matrix[:3, 3],
            extents=self.extents,
            rotation=matrix[:3, :3] @ self.rotation,
        )

    def as_dict(self) -> dict[str, list[float]]:
        """VSI-Bench meta-info form (rounded to 0.1 mm so the JSON stays small)."""
        corners = self.corners()
        return {
            "centroid": np.round(self.center, 4).tolist(),
            "axesLengths": np.round(self.extents, 4).tolist(),
            "normalizedAxes": np.round(self.rotation.T.reshape(-1), 6).tolist(),
            "min": np.round(corners.min(axis=0), 4).tolist(),
            "max": np.round(corners.max(axis=0), 4).tolist(),
        }


def _box_from_transform(transform: np.ndarray, extents: np.ndarray) -> OrientedBox:
    """trimesh returns the world→box transform; invert it into (center, rotation)."""
    to_world = np.linalg.inv(transform)
    return OrientedBox(center=to_world[:3, 3], extents=extents, rotation=to_world[:3, :3])


def _open3d_minimal(points: np.ndarray, robust: bool) -> OrientedBox:
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    obb = cloud.get_minimal_oriented_bounding_box(robust=robust)
    return OrientedBox(center=np.asarray(obb.center), extents=np.asarray(obb.extent), rotation=np.asarray(obb.R))


def _fit_minimal_open3d(points: np.ndarray) -> OrientedBox:
    """open3d's minimal box as VSI-Bench called it (robust=False): half the cost of the joggled hull."""
    return _open3d_minimal(points, robust=False)


def _fit_minimal_open3d_joggled(points: np.ndarray) -> OrientedBox:
    """The same search on a joggled hull, for point sets whose plain hull Qhull rejects (flat objects)."""
    return _open3d_minimal(points, robust=True)


def _fit_minimal_trimesh(points: np.ndarray) -> OrientedBox:
    import trimesh

    transform, extents = trimesh.bounds.oriented_bounds(points)
    return _box_from_transform(transform, np.asarray(extents))


def _fit_upright(points: np.ndarray) -> OrientedBox:
    """Gravity-aligned box: minimal-area rectangle of the xy footprint, full z range."""
    import trimesh

    transform_2d, rect = trimesh.bounds.oriented_bounds_2D(points[:, :2])
    to_world_2d = np.linalg.inv(transform_2d)
    rotation = np.eye(3)
    rotation[:2, :2] = to_world_2d[:2, :2]
    z_lo, z_hi = points[:, 2].min(), points[:, 2].max()
    center = np.array([*to_world_2d[:2, 2], (z_lo + z_hi) / 2])
    return OrientedBox(center=center, extents=np.array([rect[0], rect[1], z_hi - z_lo]), rotation=rotation)


def _fit_principal_axes(points: np.ndarray) -> OrientedBox:
    """Box in the points' principal axes: always defined, also for flat or collinear point sets."""
    centered = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    local = centered @ vt.T
    lo, hi = local.min(axis=0), local.max(axis=0)
    return OrientedBox(center=points.mean(axis=0) + ((lo + hi) / 2) @ vt, extents=hi - lo, rotation=vt.T)


def _plausible(box: OrientedBox, points: np.ndarray, aabb_volume: float) -> bool:
    """A fitted box must hold every point and be no bigger than the axis-aligned box (always a candidate).

    open3d 0.20's minimal OBB has been seen returning all-zero extents; a zero box cannot hold spread
    points, so this catches that and any other fitter failure before a wrong size reaches an answer.
    """
    tol = 1e-4 * (1.0 + float(box.extents.max()))
    return bool(np.all(box.contains(points, tol=tol))) and box.volume <= aabb_volume * 1.01 + 1e-9


_FITTERS = {
    "minimal": (_fit_minimal_open3d, _fit_minimal_open3d_joggled, _fit_minimal_trimesh, _fit_principal_axes),
    "upright": (_fit_upright,),
}


def fit_box(points: np.ndarray, method: BoxFit = "minimal", stats: Counter[str] | None = None) -> OrientedBox:
    """Fit an oriented box to an object's points.

    "minimal" is the minimum-volume box (VSI-Bench used open3d's for ScanNet); every result is checked
    and an implausible one is re-fitted with the next fitter. "upright" keeps z vertical. `stats`, when
    given, counts which fitter produced the box (`box_fit:<fitter>`) and which ones were rejected.
    """
    stats = stats if stats is not None else Counter()
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 4:
        raise BoxFitError(f"need at least 4 points (N×3) to fit a box, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise BoxFitError("points contain non-finite values")
    lo, hi = points.min(axis=0), points.max(axis=0)
    if float((hi - lo).max()) <= 0:
        raise BoxFitError("all points coincide")
    aabb_volume = float(np.prod(hi - lo))
    if method not in _FITTERS:
        raise ValueError(f"unknown box fit {method!r}; expected one of {sorted(_FITTERS)}")
    for fitter in _FITTERS[method]:
        try:
            with np.errstate(invalid="ignore", divide="ignore"):  # flat input: trimesh divides by a zero volume
                box = fitter(points)
        except Exception as exc:  # qhull on flat input, open3d internal errors: try the next fitter
            stats[f"box_rejected:{fitter.__name__.removeprefix('_fit_')}"] += 1
            log.debug("%s failed: %s", fitter.__name__, exc)
            continue
        if _plausible(box, points, aabb_volume):
            stats[f"box_fit:{fitter.__name__.removeprefix('_fit_')}"] += 1
            return box
        stats[f"box_rejected:{fitter.__name__.removeprefix('_fit_')}"] += 1
        log.debug("%s gave an implausible box (extents %s); trying the next fitter", fitter.__name__, box.extents)
    # Last resort for every method: the axis-aligned box itself is always plausible.
    stats["box_fit:axis_aligned"] += 1
    return OrientedBox.axis_aligned(lo, hi)

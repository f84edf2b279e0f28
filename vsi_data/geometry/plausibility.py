"""Physical bounds a scan's numbers must respect before they become answers: pure checks on arrays.

A corrupt or mis-scaled scan rarely fails to parse; it parses into absurd numbers (a door 2,000 m tall from a
mesh in millimetres, a 17,000 km object from one stray vertex, a 0 cm box), and a question set of 100k rows is
never read whole. So every source's geometry passes these checks at parse time: coordinates within a sanity
bound (beyond it the numbers are corrupt, and the exact room triangulation would not finish), the scan's extent
within a room's, object boxes within an object's, camera intrinsics a pinhole's and camera poses rigid and near
the scan. Each check returns what is wrong (a sentence or a mask); the parsers name the file it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsi_data.settings import option

# No indoor scan lies 10 km from its own origin: a coordinate beyond this is corrupt (or not in metres), whatever
# the recipe's bounds say. Checked before anything else touches the points.
COORDINATE_LIMIT_M = 1e4
MISMATCH_POLICIES = ("fail", "count")
STRAY_SHARE = 0.001  # points beyond these quantiles on either side may be strays; the rest must span a room


@dataclass(frozen=True)
class PhysicalBounds:
    """What a scan must measure up to (the recipe's `plausibility:` section). The defaults are generous: the
    largest released VSI-Bench rooms span about 30 m (128 m²) and its objects 6 cm to 5.5 m."""

    min_room_extent_m: float = option(
        1.0, help="the scan's longest horizontal side at least this (a smaller one is no room)"
    )
    max_room_extent_m: float = option(
        100.0, help="the scan's longest horizontal side at most this (a mesh in millimetres spans thousands of metres)"
    )
    min_object_extent_m: float = option(
        0.01, help="an object box whose longest side is below this is degenerate: dropped and counted"
    )
    max_object_extent_m: float = option(
        20.0, help="an object box whose longest side is above this fails the scene (wrong units, outliers)"
    )
    obb_min_enclosed: float = option(
        0.5,
        help="ScanNet++: the share of its object's mesh vertices an annotated `obb` must hold (within "
        "obb_tolerance_m); below it the mesh and the annotation do not belong together",
    )
    obb_tolerance_m: float = option(0.02, help="ScanNet++: how far outside its `obb` a vertex still counts as inside")
    obb_mismatch: str = option(
        "fail", help="ScanNet++, an `obb` below obb_min_enclosed: fail (the scene fails) or count (kept, counted)"
    )

    def __post_init__(self) -> None:
        if not 0 < self.min_room_extent_m < self.max_room_extent_m <= COORDINATE_LIMIT_M:
            raise ValueError(
                f"need 0 < min_room_extent_m < max_room_extent_m <= {COORDINATE_LIMIT_M:g}, not "
                f"{self.min_room_extent_m} and {self.max_room_extent_m}"
            )
        if not 0 < self.min_object_extent_m < self.max_object_extent_m:
            raise ValueError(
                f"need 0 < min_object_extent_m < max_object_extent_m, not {self.min_object_extent_m} and "
                f"{self.max_object_extent_m}"
            )
        if not 0 <= self.obb_min_enclosed <= 1 or self.obb_tolerance_m < 0:
            raise ValueError("obb_min_enclosed must be within 0..1 and obb_tolerance_m not negative")
        if self.obb_mismatch not in MISMATCH_POLICIES:
            raise ValueError(f"obb_mismatch must be one of {', '.join(MISMATCH_POLICIES)}, not {self.obb_mismatch!r}")

    @property
    def max_room_area_m2(self) -> float:
        return self.max_room_extent_m**2


def coordinate_problem(points: np.ndarray, what: str = "vertices") -> str | None:
    """What is wrong with (N, 3) coordinates that are not finite or lie beyond `COORDINATE_LIMIT_M`, or None."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.abs(points) <= COORDINATE_LIMIT_M, axis=1)  # NaN fails the comparison too
    if not bad.any():
        return None
    first = int(np.argmax(bad))
    kind = "non-finite" if not np.all(np.isfinite(points[first])) else f"beyond ±{COORDINATE_LIMIT_M:g} m"
    return (
        f"{int(bad.sum())} of {len(points)} {what} have coordinates {kind} (the first, #{first}, at "
        f"{_triple(points[first])}): corrupt, or not in metres"
    )


def extent_problem(points: np.ndarray, bounds: PhysicalBounds, what: str = "scan", minimum: bool = True) -> str | None:
    """What is implausible about the horizontal extent of (N, 3) points, or None: wider than a room (with a
    hint: a few stray points far from the rest, or a whole scan in millimetres or centimetres), or, with
    `minimum`, narrower than one."""
    points = np.asarray(points, dtype=np.float64)
    span = np.ptp(points, axis=0)
    longest = float(span[:2].max())
    described = f"the {what} spans " + " × ".join(f"{s:.4g}" for s in span) + " m"
    if longest > bounds.max_room_extent_m:
        core = np.ptp(np.quantile(points[:, :2], [STRAY_SHARE, 1 - STRAY_SHARE], axis=0), axis=0).max()
        if core <= bounds.max_room_extent_m:
            hint = f"; all but a few points span {core:.4g} m: stray points far from the rest?"
        else:
            units = (unit for unit, scale in (("millimetres", 1e3), ("centimetres", 1e2)) if core / scale <= 100)
            hint = next((f"; in {unit}?" for unit in units), "")
        return f"{described}, more than plausibility.max_room_extent_m {bounds.max_room_extent_m:g}{hint}"
    if minimum and longest < bounds.min_room_extent_m:
        return f"{described}, less than plausibility.min_room_extent_m {bounds.min_room_extent_m:g}"
    return None


def degenerate_extents(extents: np.ndarray, bounds: PhysicalBounds) -> np.ndarray:
    """(N,) mask of boxes (given as (N, 3) side lengths) whose longest side is below the object minimum."""
    return np.asarray(extents, dtype=np.float64).reshape(-1, 3).max(axis=1) < bounds.min_object_extent_m


def oversized_extents(extents: np.ndarray, bounds: PhysicalBounds) -> np.ndarray:
    """(N,) mask of boxes whose longest side is above the object maximum (or not finite)."""
    longest = np.asarray(extents, dtype=np.float64).reshape(-1, 3).max(axis=1)
    with np.errstate(invalid="ignore"):
        return ~(longest <= bounds.max_object_extent_m)


def intrinsics_problem(k: np.ndarray, width: int, height: int) -> str | None:
    """What keeps a 3×3 matrix from being the pinhole intrinsics of a width × height image, or None."""
    k = np.asarray(k, dtype=np.float64)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)):
        return f"intrinsics {_matrix(k)} are not a finite 3×3 matrix"
    if not (k[0, 0] > 0 and k[1, 1] > 0) or not np.allclose(k[2], [0, 0, 1]) or k[1, 0] != 0:
        return f"intrinsics {_matrix(k)} are not a pinhole camera matrix (fx, fy > 0, last row 0 0 1)"
    if not (-0.5 <= k[0, 2] <= width - 0.5 and -0.5 <= k[1, 2] <= height - 0.5):
        return f"principal point ({k[0, 2]:g}, {k[1, 2]:g}) lies outside the {width}×{height} image"
    return None


def usable_poses(poses: np.ndarray, bounds: PhysicalBounds) -> np.ndarray:
    """(N,) mask of camera-to-world 4×4 poses that are finite, rigid (a rotation, bottom row 0 0 0 1) and stand
    within the room extent of the origin; others cannot place the camera."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    finite = np.all(np.isfinite(poses.reshape(len(poses), -1)), axis=1)
    safe = np.where(finite[:, None, None], poses, np.eye(4))
    rotation = safe[:, :3, :3]
    gram_error = np.abs(np.einsum("nji,njk->nik", rotation, rotation) - np.eye(3)).max(axis=(1, 2), initial=0)
    bottom_error = np.abs(safe[:, 3] - [0, 0, 0, 1]).max(axis=1, initial=0)
    near = np.linalg.norm(safe[:, :3, 3], axis=1) <= bounds.max_room_extent_m
    return finite & (gram_error < 1e-3) & (bottom_error < 1e-6) & (np.linalg.det(rotation) > 0) & near


def _triple(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _matrix(k: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(f"{v:.4g}" for v in row) for row in np.atleast_2d(k)) + "]"

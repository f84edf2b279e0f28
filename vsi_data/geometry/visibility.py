"""When does an object first appear in a scan's video? Object points projected into the depth camera.

A point counts as seen in a frame when it lies in front of the camera, projects inside the depth image, and is
not hidden behind nearer geometry: the depth measured at its pixel is not more than a tolerance short of the
point's own depth (pixels without a measurement see nothing). An object is visible when its seen points cover
at least `min_visible_area` of the frame, measured on a grid of `cell_px`-pixel cells (a point marks its
cell), so that a sparse point set still measures an area and a few stray points never make an object visible.
Frames are evaluated a few times per second of video, on valid poses only, which bounds the cost of a long scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.geometry.distance import box_grid_points

MAX_POINTS_PER_OBJECT = 4000  # an even subsample beyond this; area is measured on cells, not points


@dataclass(frozen=True)
class VisibilityRule:
    depth_tolerance: float = 0.05  # metres, plus `depth_tolerance_rel` × the measured depth (sensor noise)
    depth_tolerance_rel: float = 0.02
    min_visible_area: float = 0.005  # fraction of the frame the object's seen cells must cover
    cell_px: int = 8
    samples_per_second: float = 4.0  # frames evaluated per second of video
    near: float = 0.1  # metres; closer points are behind the lens for practical purposes


def scale_intrinsics(k: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """The intrinsics of the same camera at another image size (pixel centres at integers)."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    k = np.asarray(k, dtype=np.float64)
    return np.array(
        [
            [k[0, 0] * sx, 0.0, (k[0, 2] + 0.5) * sx - 0.5],
            [0.0, k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5],
            [0.0, 0.0, 1.0],
        ]
    )


class DepthFrames(Protocol):
    """What visibility reads of a camera stream (the scene model's `FrameStream` is one): camera-to-world poses,
    which are valid, the video rate, and a depth reader with its intrinsics."""

    poses: np.ndarray
    valid: np.ndarray
    fps: float
    depth: DepthMaps | None


class DepthMaps(Protocol):
    intrinsics: np.ndarray

    def read(self, index: int) -> np.ndarray: ...


def object_samples(points: np.ndarray | None, box: OrientedBox) -> np.ndarray:
    """The points that stand for an object: its own surface points, else a hollow grid in its box."""
    points = points if points is not None and len(points) else box_grid_points(box)
    if len(points) > MAX_POINTS_PER_OBJECT:
        points = points[np.linspace(0, len(points) - 1, MAX_POINTS_PER_OBJECT).astype(np.int64)]
    return np.asarray(points, dtype=np.float64)


def visible_areas(
    points: np.ndarray,
    owner: np.ndarray,
    num_objects: int,
    pose: np.ndarray,
    depth: np.ndarray,
    intrinsics: np.ndarray,
    rule: VisibilityRule,
) -> np.ndarray:
    """(num_objects,) fraction of the frame each object's seen points cover, for one camera-to-world `pose` and
    its depth map (metres, 0 = no measurement). `owner[i]` is the object of `points[i]`."""
    height, width = depth.shape
    cam = (points - pose[:3, 3]) @ pose[:3, :3]  # world → camera: R^T (p - t), as row vectors
    z = cam[:, 2]
    in_front = z > rule.near
    z_safe = np.where(in_front, z, 1.0)
    col = np.floor(intrinsics[0, 0] * cam[:, 0] / z_safe + intrinsics[0, 2] + 0.5)
    row = np.floor(intrinsics[1, 1] * cam[:, 1] / z_safe + intrinsics[1, 2] + 0.5)
    inside = in_front & (col >= 0) & (col < width) & (row >= 0) & (row < height)
    col, row, z, who = col[inside].astype(np.int64), row[inside].astype(np.int64), z[inside], owner[inside]
    measured = depth[row, col]
    seen = (measured > 0) & (z <= measured * (1 + rule.depth_tolerance_rel) + rule.depth_tolerance)
    cells_across = -(-width // rule.cell_px)
    cell = (row[seen] // rule.cell_px) * cells_across + col[seen] // rule.cell_px
    cells_total = cells_across * -(-height // rule.cell_px)
    occupied = np.unique(who[seen] * cells_total + cell) // cells_total
    covered = np.bincount(occupied, minlength=num_objects) * rule.cell_px**2
    return np.minimum(covered / (width * height), 1.0)


def evaluated_frames(valid: np.ndarray, fps: float, samples_per_second: float) -> np.ndarray:
    """Frame indices to test: the first valid-pose frame (`valid`: one flag per frame) of each
    1/`samples_per_second` slice of the video."""
    valid = np.flatnonzero(valid)
    step = max(1, round(fps / samples_per_second))
    _, first = np.unique(valid // step, return_index=True)
    return valid[first]


def first_visible_frames(
    frames: DepthFrames, samples: list[np.ndarray], rule: VisibilityRule, indices: np.ndarray | None = None
) -> np.ndarray:
    """(len(samples),) index of the first evaluated frame in which each object (its `object_samples`) is
    visible, -1 if none. `indices`: the frames to evaluate, in order and with valid poses (default: the
    `evaluated_frames` of the rule's `samples_per_second`).

    Needs the stream's depth; the caller decides what a stream without one means."""
    if frames.depth is None:
        raise ValueError("visibility needs a depth stream")
    first = np.full(len(samples), -1, dtype=np.int64)
    if not samples:
        return first
    points = np.concatenate(samples)
    owner = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    depth_stream = frames.depth
    if indices is None:
        indices = evaluated_frames(frames.valid, frames.fps, rule.samples_per_second)
    for index in indices:
        todo = first < 0
        keep = todo[owner]
        areas = visible_areas(
            points[keep],
            owner[keep],
            len(samples),
            frames.poses[index],
            depth_stream.read(int(index)),
            depth_stream.intrinsics,
            rule,
        )
        first[todo & (areas >= rule.min_visible_area)] = index
        if (first >= 0).all():
            break
    return first

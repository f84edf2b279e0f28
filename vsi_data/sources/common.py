"""What several source parsers share: finding the release folder, reading text files, checking that a scene's files
are there and its geometry is physically plausible, how its room area is measured from its mesh, and the PLY mesh
writer of the synthetic formats."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import plyfile

from vsi_data.geometry.area import RoomAreaError, alpha_shape
from vsi_data.geometry.boxes import BoxFitError, OrientedBox, fit_box
from vsi_data.geometry.plausibility import (
    PhysicalBounds,
    coordinate_problem,
    degenerate_extents,
    extent_problem,
    intrinsics_problem,
    oversized_extents,
    usable_poses,
)
from vsi_data.scene import FrameStream, Room, SceneObject
from vsi_data.seeding import rng_for
from vsi_data.sources.base import ParseOptions, SceneError

log = logging.getLogger(__name__)
EXAMPLES_LOGGED = 3  # objects named in a left-out warning; the rest are counted


def release_folder(root: Path | str, name: str, dataset: str) -> Path:
    """The release's `name/` folder (ScanNet's `scans/`, ScanNet++'s `data/`), whether `root` is the folder
    holding it or the folder itself; a missing one fails with the layout the user should point at."""
    root = Path(root)
    folder = root if (root.name == name or not (root / name).is_dir()) else root / name
    if not folder.is_dir():
        raise SceneError(root, f"{dataset} root not found (expected a folder holding {name}/)")
    return folder


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file; missing or undecodable, one line naming it."""
    if not path.is_file():
        raise SceneError(path, f"{what} is missing")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SceneError(path, f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def require_files(folder: Path, *paths: Path) -> None:
    """The files a scene cannot do without, checked together: one line names every missing one, so a user fixes
    them in one go rather than one per re-run."""
    missing = [path for path in paths if not path.is_file()]
    if len(missing) == 1:
        raise SceneError(missing[0], "file is missing")
    if missing:
        names = ", ".join(
            str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path) for path in missing
        )
        raise SceneError(folder, f"{len(missing)} files are missing: {names}")


@dataclass
class LeftOut:
    """Objects a parser leaves out, and why: counted in the scene's stats, their categories marked unreliable (a
    count or a unique reference to them would be wrong), and logged once per file and reason with a count and a
    few examples, not once per object (a scene can have thousands)."""

    stats: Counter[str]
    unreliable: set[str] = field(default_factory=set)
    _examples: dict[tuple[Path, str], list[str]] = field(default_factory=dict)

    def add(self, path: Path, reason: str, stat: str, category: str | None, example: str) -> None:
        self.stats[stat] += 1
        if category is not None:
            self.unreliable.add(category)
        self._examples.setdefault((path, reason), []).append(example)

    def log(self) -> None:
        for (path, reason), examples in self._examples.items():
            shown = ", ".join(examples[:EXAMPLES_LOGGED])
            more = len(examples) - EXAMPLES_LOGGED
            plural = "s" if len(examples) > 1 else ""
            log.warning(
                "%s: %d object%s left out, %s: %s%s", path, len(examples), plural, reason, shown,
                f" and {more} more" if more > 0 else "",
            )  # fmt: skip


def screen_objects(
    objects: list[SceneObject], bounds: PhysicalBounds, path: Path, left_out: LeftOut
) -> list[SceneObject]:
    """The objects whose boxes are physically plausible. A box longer than any object (wrong units, a stray
    vertex, a 303-digit size) or objects spread wider than a room fail the scene, naming `path` (the file that
    defines the objects); a degenerate box (a 0 cm object) is left out and counted."""
    if not objects:
        return objects
    extents = np.stack([obj.box.extents for obj in objects])
    oversized = oversized_extents(extents, bounds)
    if oversized.any():
        obj = objects[int(np.argmax(oversized))]
        raise SceneError(
            path,
            f"object {obj.instance_id} ({obj.raw_label!r}) measures {_sides(obj.box.extents)}, more than "
            f"plausibility.max_object_extent_m {bounds.max_object_extent_m:g} (wrong units, or stray points?)",
        )
    corners = np.concatenate([obj.box.corners() for obj in objects])
    problem = coordinate_problem(corners, "box corners") or extent_problem(
        corners, bounds, "annotated objects' layout", False
    )
    if problem:
        raise SceneError(path, problem)
    kept = []
    reason = f"degenerate box (longest side under plausibility.min_object_extent_m {bounds.min_object_extent_m:g})"
    for obj, degenerate in zip(objects, degenerate_extents(extents, bounds), strict=True):
        if degenerate:
            example = f"object {obj.instance_id} ({obj.raw_label!r}, {_sides(obj.box.extents)})"
            left_out.add(path, reason, "objects_degenerate_box", obj.category, example)
        else:
            kept.append(obj)
    return kept


def checked_stream(frames: FrameStream, bounds: PhysicalBounds, path: Path, stats: Counter[str]) -> FrameStream:
    """The stream with what cannot place its camera marked unusable rather than trusted: poses that are not
    rigid or stand farther out than a room become invalid (NaN); colour intrinsics that are not a pinhole's
    make every frame invalid; depth intrinsics that are not drop the depth stream. Each is counted, and a
    stream left without one usable frame is logged, naming `path`."""
    usable = usable_poses(frames.poses, bounds)
    finite = np.all(np.isfinite(frames.poses.reshape(len(frames), -1)), axis=1)
    if np.any(finite & ~usable):
        stats["frames_with_implausible_pose"] += int(np.count_nonzero(finite & ~usable))
    problem = intrinsics_problem(frames.intrinsics, frames.width, frames.height)
    if problem:
        stats["streams_with_invalid_intrinsics"] += 1
        log.warning("%s: colour camera %s; no frame is used for geometry", path, problem)
        usable[:] = False
    depth = frames.depth
    depth_problem = depth is not None and intrinsics_problem(depth.intrinsics, depth.width, depth.height)
    if depth_problem:
        stats["depth_streams_with_invalid_intrinsics"] += 1
        log.warning("%s: depth camera %s; the depth stream is not used", path, depth_problem)
        depth = None
    if len(frames) and not usable.any():
        stats["streams_without_usable_frame"] += 1
        if not problem:
            log.warning("%s: none of the %d frames has a usable camera pose", path, len(frames))
    with np.errstate(invalid="ignore"):
        poses = np.where(usable[:, None, None], frames.poses, np.nan)
    return dataclasses.replace(frames, poses=poses, depth=depth)


def fit_object_box(
    points: np.ndarray, options: ParseOptions, path: Path, group: dict, category: str, left_out: LeftOut
) -> OrientedBox | None:
    """The recipe's box around an annotated object's vertices, or None (left out, counted) when too few
    vertices or no fitter can give one; `group` is its {object_id, label} in the annotation at `path`."""
    example = f"object {group['object_id']} ({group['label']!r}, {len(points)} vertices)"
    if len(points) < options.min_object_points:
        reason = f"fewer than geometry.min_object_points {options.min_object_points} vertices"
        left_out.add(path, reason, "objects_unmeasurable", category, example)
        return None
    try:
        return fit_box(points, options.box_fit, left_out.stats)
    except BoxFitError as exc:
        left_out.add(path, f"no box fits: {exc}", "objects_unmeasurable", category, example)
        return None


def _sides(extents: np.ndarray) -> str:
    return " × ".join(f"{e:.4g}" for e in extents) + " m"


def measure_scene_room(vertices: np.ndarray, scene_id: str, options: ParseOptions, mesh_path: Path) -> Room:
    """The room as VSI-Bench measured it: an alpha shape of the xy projection of every mesh vertex (or of the
    recipe's seeded random sample of them). The vertices, in the scene frame, must first be finite, near the
    origin and span a room (not a mesh in millimetres, nor one stray vertex far away); a room that fails that or
    cannot be measured fails the scene, naming the mesh."""
    problem = coordinate_problem(vertices) or extent_problem(vertices, options.bounds)
    if problem:
        raise SceneError(mesh_path, problem)
    points = vertices
    method = f"alpha shape (alpha={options.room_alpha:g}) of the xy projection of all {len(points)} mesh vertices"
    if options.room_max_points is not None and len(points) > options.room_max_points:
        pick = rng_for(options.seed, scene_id, "room").choice(len(points), options.room_max_points, replace=True)
        points = points[pick]
        method = (
            f"alpha shape (alpha={options.room_alpha:g}) of the xy projection of {options.room_max_points} "
            f"mesh vertices sampled with replacement from {len(vertices)}"
        )
    try:
        shape = alpha_shape(points, options.room_alpha)
    except RoomAreaError as exc:
        raise SceneError(mesh_path, f"cannot measure the room: {exc}") from exc
    return Room(area=shape.area, trace_footprint=shape.footprint, method=method)


def write_ply_mesh(
    path: Path,
    vertices: np.ndarray,
    colors: np.ndarray,
    faces: np.ndarray,
    *,
    alpha: bool,
    comments: Sequence[str] = (),
) -> None:
    """A binary little-endian triangle mesh: float xyz, uchar rgb (and alpha = 255 when asked), faces as
    `vertex_indices` lists with a uchar count and int indices."""
    channels = ("red", "green", "blue", "alpha") if alpha else ("red", "green", "blue")
    vertex = np.empty(len(vertices), dtype=[*((axis, "<f4") for axis in "xyz"), *((c, "u1") for c in channels)])
    for i, axis in enumerate("xyz"):
        vertex[axis] = vertices[:, i]
    for i, channel in enumerate(channels):
        vertex[channel] = colors[:, i] if i < 3 else 255
    face = np.empty(len(faces), dtype=[("vertex_indices", "O")])
    face["vertex_indices"] = list(np.asarray(faces, dtype="<i4"))
    elements = [
        plyfile.PlyElement.describe(vertex, "vertex"),
        plyfile.PlyElement.describe(
            face, "face", len_types={"vertex_indices": "u1"}, val_types={"vertex_indices": "i4"}
        ),
    ]
    plyfile.PlyData(elements, text=False, byte_order="<", comments=list(comments)).write(str(path))

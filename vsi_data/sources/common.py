"""What several source parsers share: finding the release folder, reading text files, checking that a scene's files
are there and its geometry is physically plausible, how its room area is measured from its mesh, and the PLY mesh
writer of the synthetic formats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plyfile

from vsi_data.geometry.area import RoomAreaError, alpha_shape
from vsi_data.geometry.plausibility import PhysicalBounds, coordinate_problem, extent_problem
from vsi_data.scene import Room
from vsi_data.seeding import rng_for
from vsi_data.sources.base import ParseOptions, SceneError


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


def check_scan(vertices: np.ndarray, bounds: PhysicalBounds, mesh_path: Path) -> None:
    """A scan's vertices, in the scene frame, must be finite, near the origin and span a room (not a mesh in
    millimetres, nor one stray vertex far away): checked before anything is measured from them."""
    problem = coordinate_problem(vertices) or extent_problem(vertices, bounds)
    if problem:
        raise SceneError(mesh_path, problem)


def measure_scene_room(vertices: np.ndarray, scene_id: str, options: ParseOptions, mesh_path: Path) -> Room:
    """The room as VSI-Bench measured it: an alpha shape of the xy projection of every mesh vertex (or of the
    recipe's seeded random sample of them). A room that cannot be measured fails the scene, naming the mesh."""
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
    return Room(area=shape.area, outline=shape.footprint, method=method)


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

"""What every synthetic format writer shares: the scene itself (layout, annotated mesh, camera path),
its rendered frames, and the marker that says a scene folder is completely written.

A format writer (`scannet_writer`, ...) turns one `SyntheticGeometry` into that dataset's files. The
geometry lives in the layout frame (floor at z=0, walls on the polygon, metres); each writer decides how
its files' frame relates to it (ScanNet: an unaligned raw frame; ARKitScenes: a session origin).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsi_data.seeding import rng_for
from vsi_data.synthetic.layout import Layout, PlacedObject, make_layout, rotation_z
from vsi_data.synthetic.mesh import build_mesh
from vsi_data.synthetic.render import Cameras, Renderer, camera_path

DONE_MARKER = ".complete"


@dataclass(frozen=True, eq=False)
class SyntheticGeometry:
    layout: Layout
    vertices: np.ndarray  # (V, 3) layout frame
    colors: np.ndarray  # (V, 3) uint8
    faces: np.ndarray  # (F, 3)
    segments: np.ndarray  # (V,) over-segment id per vertex (arbitrary ids, as in real scans)
    groups: list[tuple[str, list[int]]]  # (catalog raw label, segment ids): floor, walls, then one per object
    poses: np.ndarray  # (N, 4, 4) camera-to-world in the layout frame (x right, y down, z forward)

    def object_groups(self) -> list[tuple[PlacedObject, list[int]]]:
        """Each layout object with its segments (the last groups are the objects, in layout order)."""
        objects = self.layout.objects
        return list(zip(objects, [segs for _, segs in self.groups[len(self.groups) - len(objects) :]], strict=True))

    def frames(self, cameras: Cameras) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(RGB at colour size, depth in metres at depth size) for every pose, rendered lazily."""
        return Renderer(self.vertices, self.faces, self.colors, cameras).frames(self.poses)


@dataclass(frozen=True)
class SyntheticScene:
    layout: Layout
    folder: Path
    files_from_layout: np.ndarray  # 4×4: layout frame → the coordinates written in the files


def synthesize(
    scene_id: str,
    seed: int,
    num_frames: int,
    layout: Layout | None = None,
    start_yaw: float | None = None,
    room_types: tuple[str, ...] | None = None,
) -> SyntheticGeometry:
    """The scene `scene_id` of `seed`, identical whichever format it is written in; `room_types` narrows the kinds
    of room drawn (a format whose dataset captured only some). A given `layout` (and the camera's `start_yaw`)
    replaces the generated one: tests stage scenes whose answers they know."""
    layout = layout or make_layout(scene_id, rng_for(seed, "synthetic-layout", scene_id), room_types=room_types)
    mesh = build_mesh(layout, rng_for(seed, "synthetic-mesh", scene_id))
    vertices, colors, faces, segments = mesh.arrays()
    camera_rng = rng_for(seed, "synthetic-camera", scene_id)
    poses = camera_path(layout, num_frames, camera_rng, start_yaw) if num_frames else None
    return SyntheticGeometry(
        layout, vertices, colors, faces, segments, mesh.groups, poses if poses is not None else np.zeros((0, 4, 4))
    )


def random_rigid_z(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 4×4 turn about z plus a shift that puts the turned vertices' minimum at the origin, as real scans'
    raw frames have it."""
    transform = np.eye(4)
    transform[:3, :3] = rotation_z(rng.uniform(0.2, 2 * math.pi - 0.2))
    transform[:3, 3] = -(vertices @ transform[:3, :3].T).min(axis=0)
    return transform


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:3, :3].T + transform[:3, 3]


def begin_scene(folder: Path, *stale: Path) -> None:
    """Open `folder` for (re)writing: until `finish_scene` the folder holds no finished scene, so an
    interrupted rewrite never passes for the old one; `stale` files from an earlier write go first."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DONE_MARKER).unlink(missing_ok=True)
    for path in stale:
        path.unlink(missing_ok=True)


def finish_scene(folder: Path, seed: int, num_frames: int, revision: int = 1) -> None:
    (folder / DONE_MARKER).write_text(done_marker(seed, num_frames, revision))


def is_written(folder: Path, seed: int, num_frames: int, revision: int = 1) -> bool:
    """Whether `folder` holds the finished scene of this seed and frame count, as revision `revision` of its
    format's writer writes it: a writer whose files change bumps its revision, so older copies are rewritten."""
    marker = folder / DONE_MARKER
    return marker.is_file() and marker.read_text() == done_marker(seed, num_frames, revision)


def done_marker(seed: int, num_frames: int, revision: int) -> str:
    """Revision 1 (every writer's first) is not written, so markers from before revisions existed still match."""
    return f"seed={seed} frames={num_frames}" + (f" revision={revision}" if revision > 1 else "") + "\n"

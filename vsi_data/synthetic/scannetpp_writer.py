"""Write a synthetic scene as ScanNet++ ships it: annotated mesh, segments and instances, split lists, and
the iPhone stream (video, per-frame poses and intrinsics, and LiDAR depth).

ScanNet++ meshes are already in the aligned frame (z up, floor near z = 0), so the files hold the layout frame
unchanged. Most instances carry an annotated oriented box (`obb`, the layout's box, turned with the object);
every third object has none, so the parser's box fitting runs too. Labels are rewritten in ScanNet++'s free-text
style (`LABELS`). The iPhone video is written at 640×480 instead of the real 1920×1440, to keep tests fast, at
60 frames per second (the iPhone capture rate as documented; not checked against real files). Its depth is the
renderer's 256×192 depth of the same frame, in `depth.bin`'s per-frame lz4 layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.sources.scannetpp import formats
from vsi_data.sources.scannetpp.depth import write_depth
from vsi_data.sources.scannetpp.parser import ScannetppConfig, ScannetppSource
from vsi_data.synthetic.layout import Layout
from vsi_data.synthetic.render import Cameras
from vsi_data.synthetic.writer import SyntheticGeometry, SyntheticScene, begin_scene, finish_scene, synthesize

# Real ScanNet++ ids are 10 random lower-case hex digits; synthetic ones are "ffffff" + a 4-digit hex index
# (ffffff0000, ffffff0001, ...), which no VSI-Bench ScanNet++ scene has and a real id matches with odds of
# about 1 in 16 million.
ID_PREFIX = "ffffff"
FRAME_RATE = 60
REVISION = 3  # 2: the iPhone stream has depth.bin; 3: ARKit-annotated pieces in kitchens and living rooms
COLOR_SIZE = (640, 480)
NO_OBB_EVERY = 3  # objects 2, 5, 8, ... (layout order) have no `obb`
# Catalog (ScanNet) raw labels → the free text ScanNet++ annotators use for the same things; others are unchanged.
LABELS = {"couch": "sofa", "lamp": "table lamp", "radiator": "heater", "closet": "wardrobe"}


class ScannetppFormat:
    dataset = "scannetpp"
    revision = REVISION
    default_frames = 900  # 15 s at the iPhone's 60 fps

    def scene_id(self, index: int) -> str:
        if not 0 <= index < 16**4:
            raise ValueError(f"synthetic ScanNet++ scene index {index} is outside 0-65535")
        return f"{ID_PREFIX}{index:04x}"

    def scene_folder(self, root: Path, scene_id: str, split: str) -> Path:
        return root / "data" / scene_id

    def prepare(self, root: Path, splits: dict[str, list[str]], seed: int) -> None:
        """`data/` and the split lists in `splits/`, as the release has them."""
        (root / "data").mkdir(parents=True, exist_ok=True)
        formats.write_split_lists(root / "splits", splits)

    def write_scene(self, root: Path, scene_id: str, split: str, seed: int, num_frames: int) -> SyntheticScene:
        return write_scene(root / "data", scene_id, seed, num_frames)

    def reader(self, root: Path) -> ScannetppSource:
        return ScannetppSource(ScannetppConfig(root=root))


def write_scene(
    data_dir: Path,
    scene_id: str,
    seed: int,
    num_frames: int,
    layout: Layout | None = None,
    start_yaw: float | None = None,
) -> SyntheticScene:
    """Generate scene `scene_id` deterministically from `seed` (or from a staged `layout` and camera start)
    and write all its ScanNet++ files."""
    folder = data_dir / scene_id
    files = formats.scene_files(folder)
    begin_scene(folder, files["poses"], files["depth"], *(files["iphone"] / name for name in formats.VIDEO_NAMES))
    geometry = synthesize(scene_id, seed, num_frames, layout, start_yaw)
    files["mesh"].parent.mkdir(exist_ok=True)
    formats.write_mesh(files["mesh"], geometry.vertices, geometry.colors, geometry.faces)
    formats.write_segments(files["segments"], geometry.segments)
    formats.write_segments_anno(files["anno"], scene_id, _groups(geometry))
    if num_frames > 0:
        _write_stream(files, geometry)
    finish_scene(folder, seed, num_frames, REVISION)
    return SyntheticScene(geometry.layout, folder, files_from_layout=np.eye(4))


def _groups(geometry: SyntheticGeometry) -> list[tuple[str, list[int], OrientedBox | None]]:
    """Floor and walls without a box, then the objects, each with its layout box except every third one."""
    objects = geometry.object_groups()
    groups: list[tuple[str, list[int], OrientedBox | None]] = [
        (label, segments, None) for label, segments in geometry.groups[: len(geometry.groups) - len(objects)]
    ]
    for k, (obj, segments) in enumerate(objects):
        box = None if k % NO_OBB_EVERY == NO_OBB_EVERY - 1 else obj.box
        groups.append((LABELS.get(obj.raw_label, obj.raw_label), segments, box))
    return groups


def _write_stream(files: dict[str, Path], geometry: SyntheticGeometry) -> None:
    """`rgb.mkv`, `depth.bin` and `pose_intrinsic_imu.json`, the poses in the file's convention (the inverse of
    the parser's `ALIGNED_POSE_TO_OPENCV`). Each frame is rendered once: its depth, as uint16 millimetres, waits in
    memory (96 KiB a frame) while the video is encoded."""
    cameras = Cameras.iphone_like(color_size=COLOR_SIZE)
    files["iphone"].mkdir(exist_ok=True)
    aligned = geometry.poses @ np.linalg.inv(formats.ALIGNED_POSE_TO_OPENCV)
    timestamps = np.arange(len(geometry.poses)) / FRAME_RATE
    formats.write_pose_file(files["poses"], aligned, timestamps, cameras.color_intrinsics)
    depths_mm: list[np.ndarray] = []

    def colour() -> Iterator[np.ndarray]:
        for rgb, depth in geometry.frames(cameras):
            depths_mm.append(np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16))
            yield rgb

    formats.write_video(files["iphone"] / formats.VIDEO_NAMES[0], colour(), FRAME_RATE)
    write_depth(files["depth"], depths_mm)

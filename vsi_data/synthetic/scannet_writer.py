"""Write a synthetic scene exactly as ScanNet v2 ships it, in the raw (unaligned) scan frame.

ScanNet's files hold the raw reconstruction, with `axisAlignment` (raw → aligned) in `<scene>.txt`;
here the raw frame is the layout turned about z by a random angle and shifted so that its minimum is the
origin, as in real scans. The parser applies the alignment, so its scenes come back in the layout frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vsi_data.io import write_atomic, write_text_if_changed
from vsi_data.seeding import rng_for
from vsi_data.sources.scannet import formats
from vsi_data.sources.scannet.parser import LABEL_TABLE_NAME, ScanNetConfig, ScanNetSource
from vsi_data.sources.scannet.sens import SensFile, SensFrame, SensHeader, write_sens
from vsi_data.synthetic.catalog import label_table_rows
from vsi_data.synthetic.layout import Layout
from vsi_data.synthetic.render import Cameras
from vsi_data.synthetic.writer import (
    SyntheticGeometry,
    SyntheticScene,
    apply,
    begin_scene,
    finish_scene,
    random_rigid_z,
    synthesize,
)

REVISION = 2  # of the files written: 2, ARKit-annotated pieces in kitchens and living rooms

DEPTH_SHIFT = 1000.0
FRAME_RATE = 30.0  # the Structure sensor records at 30 Hz
FIRST_ID = 9000  # real ScanNet ids stop at scene0806; synthetic ones never collide with them


class ScanNetFormat:
    dataset = "scannet"
    revision = REVISION
    default_frames = 360  # 15 s at the 24 fps ScanNet videos play at

    def scene_id(self, index: int) -> str:
        return f"scene{FIRST_ID + index:04d}_00"

    def scene_folder(self, root: Path, scene_id: str, split: str) -> Path:
        return root / "scans" / scene_id

    def prepare(self, root: Path, splits: dict[str, list[str]], seed: int) -> None:
        """The label table and the split lists, as ScanNet's release has them next to `scans/`."""
        (root / "scans").mkdir(parents=True, exist_ok=True)
        table = root / LABEL_TABLE_NAME
        if not table.is_file():
            write_atomic(table, lambda tmp: formats.write_label_table(tmp, label_table_rows()))
        for split, ids in splits.items():
            write_text_if_changed(root / f"scannetv2_{split}.txt", "".join(f"{i}\n" for i in ids))

    def write_scene(self, root: Path, scene_id: str, split: str, seed: int, num_frames: int) -> SyntheticScene:
        return write_scene(root / "scans", scene_id, seed, num_frames)

    def reader(self, root: Path) -> ScanNetSource:
        return ScanNetSource(ScanNetConfig(root=root))


def write_scene(
    scans_dir: Path,
    scene_id: str,
    seed: int,
    num_frames: int,
    layout: Layout | None = None,
    start_yaw: float | None = None,
) -> SyntheticScene:
    """Generate scene `scene_id` deterministically from `seed` (or from a staged `layout` and camera start)
    and write all its ScanNet files."""
    folder = scans_dir / scene_id
    files = formats.scene_files(folder, scene_id)
    begin_scene(folder, files["sens"])
    geometry = synthesize(scene_id, seed, num_frames, layout, start_yaw)
    to_raw = random_rigid_z(geometry.vertices, rng_for(seed, "synthetic-alignment", scene_id))
    alignment = np.linalg.inv(to_raw)
    formats.write_mesh(files["mesh"], apply(to_raw, geometry.vertices), geometry.colors, geometry.faces)
    formats.write_segments(files["segs"], scene_id, geometry.segments)
    formats.write_aggregation(files["aggregation"], scene_id, geometry.groups)
    cameras = Cameras.scannet_like()
    if num_frames > 0:
        _write_stream(files["sens"], geometry, to_raw, cameras)
    formats.write_meta(files["meta"], _meta(alignment, cameras, num_frames))
    finish_scene(folder, seed, num_frames, REVISION)
    return SyntheticScene(geometry.layout, folder, files_from_layout=to_raw)


def _write_stream(path: Path, geometry: SyntheticGeometry, to_raw: np.ndarray, cameras: Cameras) -> None:
    def frames():
        for i, (rgb, depth) in enumerate(geometry.frames(cameras)):
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok, "JPEG encoding failed"
            timestamp = round(i * 1e6 / FRAME_RATE)
            depth_mm = np.clip(np.round(depth * DEPTH_SHIFT), 0, 65535).astype(np.uint16)
            yield SensFrame(to_raw @ geometry.poses[i], timestamp, timestamp, jpeg.tobytes(), depth_mm)

    header = SensHeader(
        sensor_name="StructureSensor",
        intrinsic_color=_as4x4(cameras.color_intrinsics),
        extrinsic_color=np.eye(4),
        intrinsic_depth=_as4x4(cameras.depth_intrinsics),
        extrinsic_depth=np.eye(4),
        color_compression=2,
        depth_compression=1,
        color_width=cameras.color_size[0],
        color_height=cameras.color_size[1],
        depth_width=cameras.depth_size[0],
        depth_height=cameras.depth_size[1],
        depth_shift=DEPTH_SHIFT,
        num_frames=len(geometry.poses),
    )
    partial = path.with_suffix(".sens.partial")
    write_sens(partial, header, frames())
    SensFile(partial)  # index it once: a stream we cannot read back must not be published
    partial.replace(path)


def _as4x4(k: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = k
    return out


def _meta(alignment: np.ndarray, cameras: Cameras, num_frames: int) -> dict[str, object]:
    meta: dict[str, object] = {
        "axisAlignment": alignment,
        "colorWidth": cameras.color_size[0],
        "colorHeight": cameras.color_size[1],
        "depthWidth": cameras.depth_size[0],
        "depthHeight": cameras.depth_size[1],
        "colorToDepthExtrinsics": np.eye(4),
        "numColorFrames": num_frames,
        "numDepthFrames": num_frames,
        "numIMUmeasurements": 0,
        "sceneType": "Synthetic",
    }
    for camera, k in (("color", cameras.color_intrinsics), ("depth", cameras.depth_intrinsics)):
        meta.update(
            {f"fx_{camera}": k[0, 0], f"fy_{camera}": k[1, 1], f"mx_{camera}": k[0, 2], f"my_{camera}": k[1, 2]}
        )
    return {key: float(v) if isinstance(v, np.floating) else v for key, v in meta.items()}

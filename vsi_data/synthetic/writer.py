"""Write a synthetic scene exactly as ScanNet v2 ships it, in the raw (unaligned) scan frame.

The layout lives in an aligned frame (floor at z=0, walls on the polygon). ScanNet's files hold the raw
reconstruction instead, with `axisAlignment` (raw → aligned) in `<scene>.txt`; here that alignment is a
random turn about z plus a shift that puts the raw bounding box at the origin, as in real scans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vsi_data.seeding import rng_for
from vsi_data.sources.scannet import formats
from vsi_data.sources.scannet.sens import SensFile, SensFrame, SensHeader, write_sens
from vsi_data.synthetic.layout import Layout, make_layout, rotation_z
from vsi_data.synthetic.mesh import build_mesh
from vsi_data.synthetic.render import COLOR_SIZE, DEPTH_SIZE, Cameras, Renderer, camera_path

DEPTH_SHIFT = 1000.0
FRAME_RATE = 30.0  # the Structure sensor records at 30 Hz
DONE_MARKER = ".complete"


@dataclass(frozen=True)
class SyntheticScene:
    layout: Layout
    alignment: np.ndarray  # 4×4 raw → aligned, as written to <scene>.txt
    folder: Path


def raw_frame_alignment(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rigid raw→aligned transform: a turn about z, and a shift that puts the raw minimum at the origin."""
    alignment = np.eye(4)
    alignment[:3, :3] = rotation_z(rng.uniform(0.2, 2 * math.pi - 0.2))
    raw = vertices @ alignment[:3, :3]  # inverse rotation
    alignment[:3, 3] = -alignment[:3, :3] @ (-raw.min(axis=0))
    return alignment


def write_scene(scans_dir: Path, scene_id: str, seed: int, num_frames: int) -> SyntheticScene:
    """Generate scene `scene_id` deterministically from `seed` and write all its ScanNet files."""
    folder = scans_dir / scene_id
    folder.mkdir(parents=True, exist_ok=True)
    files = formats.scene_files(folder, scene_id)
    # Until the marker is written again the folder holds no finished scene: an interrupted rewrite
    # must not pass for the old one, and a stream from an earlier frame count must not linger.
    (folder / DONE_MARKER).unlink(missing_ok=True)
    files["sens"].unlink(missing_ok=True)
    rng = rng_for(seed, "synthetic-layout", scene_id)
    layout = make_layout(scene_id, rng)
    mesh = build_mesh(layout, rng_for(seed, "synthetic-mesh", scene_id))
    vertices, colors, faces, segments = mesh.arrays()
    alignment = raw_frame_alignment(vertices, rng_for(seed, "synthetic-alignment", scene_id))
    to_raw = np.linalg.inv(alignment)
    formats.write_mesh(files["mesh"], vertices @ to_raw[:3, :3].T + to_raw[:3, 3], colors, faces)
    formats.write_segments(files["segs"], scene_id, segments)
    formats.write_aggregation(files["aggregation"], scene_id, mesh.groups)
    cameras = Cameras.scannet_like()
    if num_frames > 0:
        poses = camera_path(layout, num_frames, rng_for(seed, "synthetic-camera", scene_id))
        _write_stream(files["sens"], Renderer(vertices, faces, colors, cameras), poses, to_raw, cameras)
    formats.write_meta(files["meta"], _meta(alignment, cameras, num_frames))
    (folder / DONE_MARKER).write_text(f"seed={seed} frames={num_frames}\n")
    return SyntheticScene(layout, alignment, folder)


def is_written(scans_dir: Path, scene_id: str, seed: int, num_frames: int) -> bool:
    marker = scans_dir / scene_id / DONE_MARKER
    return marker.is_file() and marker.read_text() == f"seed={seed} frames={num_frames}\n"


def _write_stream(path: Path, renderer: Renderer, poses: np.ndarray, to_raw: np.ndarray, cameras: Cameras) -> None:
    def frames():
        for i, (rgb, depth) in enumerate(renderer.frames(poses)):
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok, "JPEG encoding failed"
            timestamp = round(i * 1e6 / FRAME_RATE)
            depth_mm = np.clip(np.round(depth * DEPTH_SHIFT), 0, 65535).astype(np.uint16)
            yield SensFrame(to_raw @ poses[i], timestamp, timestamp, jpeg.tobytes(), depth_mm)

    header = SensHeader(
        sensor_name="StructureSensor",
        intrinsic_color=_as4x4(cameras.color_intrinsics),
        extrinsic_color=np.eye(4),
        intrinsic_depth=_as4x4(cameras.depth_intrinsics),
        extrinsic_depth=np.eye(4),
        color_compression=2,
        depth_compression=1,
        color_width=COLOR_SIZE[0],
        color_height=COLOR_SIZE[1],
        depth_width=DEPTH_SIZE[0],
        depth_height=DEPTH_SIZE[1],
        depth_shift=DEPTH_SHIFT,
        num_frames=len(poses),
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
        "colorWidth": COLOR_SIZE[0],
        "colorHeight": COLOR_SIZE[1],
        "depthWidth": DEPTH_SIZE[0],
        "depthHeight": DEPTH_SIZE[1],
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

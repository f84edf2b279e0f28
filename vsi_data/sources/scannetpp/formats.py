"""ScanNet++ files, byte for byte: readers for the parser and writers for the synthetic generator.

Scene folder `data/<scene>/` (docs/sources.md): `scans/mesh_aligned_0.05.ply` (the annotation mesh, already in
the aligned frame, z up), `scans/segments.json` (`segIndices`, one segment id per vertex),
`scans/segments_anno.json` (`segGroups` with an optional oriented box `obb`), and the iPhone stream:
`iphone/rgb.mkv` (older releases: `rgb.mp4`) with `iphone/pose_intrinsic_imu.json` and `iphone/depth.bin`
(its reader and writer are in `depth.py`). Every reader raises
`SceneError(path, problem)` on bad input and checks what the format promises before anything is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plyfile

from vsi_data.errors import SceneError
from vsi_data.geometry.boxes import OrientedBox
from vsi_data.io import write_text_if_changed
from vsi_data.sources.common import read_text
from vsi_data.sources.scannet.formats import check_seg_groups, read_json, read_mesh_vertices, read_segments
from vsi_data.video.files import VideoInfo, VideoReader, probe_video, write_video

SCENE_ID = re.compile(r"^[0-9a-f]{10}$")
SPLIT_NAMES = ("train", "val")
VIDEO_NAMES = ("rgb.mkv", "rgb.mp4")  # the release switched from mp4 to mkv in 2024-12
FRAME_KEY = re.compile(r"^frame_(\d+)$")
# `aligned_pose` (camera → aligned world) times this is the camera in the project's convention (OpenCV: x right,
# y down, z forward). Not stated by the toolkit; identity because public code that uses these poses projects
# and ray-casts with them as OpenCV cameras (docs/sources.md). Were they ARKit's (x right, y up, z backwards),
# this would be diag(1, -1, -1, 1): one line to change, and the synthetic writer follows it.
ALIGNED_POSE_TO_OPENCV = np.eye(4)

__all__ = [
    "ALIGNED_POSE_TO_OPENCV",
    "IphonePoses",
    "VideoInfo",
    "VideoReader",
    "probe_video",
    "read_mesh_vertices",
    "read_pose_file",
    "read_segments",
    "read_segments_anno",
    "read_split_lists",
    "scene_files",
    "write_mesh",
    "write_pose_file",
    "write_segments",
    "write_segments_anno",
    "write_split_lists",
    "write_video",
]


def scene_files(scene_dir: Path) -> dict[str, Path]:
    """The files of one scene; `video` is whichever of rgb.mkv / rgb.mp4 exists (rgb.mkv when neither)."""
    iphone = scene_dir / "iphone"
    video = next((iphone / name for name in VIDEO_NAMES if (iphone / name).is_file()), iphone / VIDEO_NAMES[0])
    return {
        "mesh": scene_dir / "scans" / "mesh_aligned_0.05.ply",
        "segments": scene_dir / "scans" / "segments.json",
        "anno": scene_dir / "scans" / "segments_anno.json",
        "iphone": iphone,
        "poses": iphone / "pose_intrinsic_imu.json",
        "video": video,
        "depth": iphone / "depth.bin",
    }


# --- mesh -------------------------------------------------------------------------------------------


def write_mesh(path: Path, vertices: np.ndarray, colors: np.ndarray, faces: np.ndarray) -> None:
    """`mesh_aligned_0.05.ply`: binary little-endian, float xyz, uchar rgb, triangles as uchar-int lists."""
    vertex = np.empty(
        len(vertices), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    vertex["x"], vertex["y"], vertex["z"] = np.asarray(vertices, dtype=np.float64).T
    vertex["red"], vertex["green"], vertex["blue"] = np.asarray(colors, dtype=np.uint8).T
    face = np.empty(len(faces), dtype=[("vertex_indices", "<i4", (3,))])
    face["vertex_indices"] = faces
    elements = [
        plyfile.PlyElement.describe(vertex, "vertex"),
        plyfile.PlyElement.describe(face, "face", len_types={"vertex_indices": "u1"}),
    ]
    plyfile.PlyData(elements, text=False, byte_order="<").write(str(path))


# --- segments and annotation ------------------------------------------------------------------------


def read_segments_anno(path: Path) -> list[dict]:
    """`segGroups` of `segments_anno.json`: {object_id, label, segments, obb}, `obb` an `OrientedBox` or None.

    An `obb` that is present must be a usable box (finite numbers, every extent positive, orthonormal axes):
    VSI-Bench took its ScanNet++ boxes from it, so a broken one fails the scene rather than being replaced."""
    raw = read_json(path).get("segGroups")
    groups = check_seg_groups(raw, path)
    for i, (group, entry) in enumerate(zip(groups, raw, strict=True)):
        obb = entry.get("obb")
        group["obb"] = None if obb is None else _parse_obb(obb, path, f"segGroups[{i}] ({group['label']!r})")
    return groups


def _parse_obb(obb: object, path: Path, where: str) -> OrientedBox:
    if not isinstance(obb, dict) or not {"centroid", "axesLengths", "normalizedAxes"} <= set(obb):
        raise SceneError(path, f"{where} has an `obb` without centroid, axesLengths and normalizedAxes")
    try:
        centroid = np.asarray(obb["centroid"], dtype=np.float64)
        lengths = np.asarray(obb["axesLengths"], dtype=np.float64)
        axes = np.asarray(obb["normalizedAxes"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SceneError(path, f"{where} has an `obb` with values that are not numbers ({exc})") from exc
    if centroid.shape != (3,) or lengths.shape != (3,) or axes.size != 9:
        raise SceneError(path, f"{where} has an `obb` that is not 3 + 3 + 9 numbers")
    if not (np.isfinite(centroid).all() and np.isfinite(lengths).all() and np.isfinite(axes).all()):
        raise SceneError(path, f"{where} has an `obb` with non-finite numbers")
    if np.any(lengths <= 0):
        raise SceneError(path, f"{where} has an `obb` with a zero or negative extent {lengths.tolist()}")
    try:
        return OrientedBox.from_axes_rows(centroid, lengths, axes)
    except ValueError as exc:  # axes that are not orthonormal
        raise SceneError(path, f"{where} has an unusable `obb`: {exc}") from exc


def write_segments(path: Path, seg_indices: np.ndarray) -> None:
    _write_json(path, {"segIndices": [int(s) for s in seg_indices]})


def write_segments_anno(
    path: Path, scene_id: str, groups: Sequence[tuple[str, Sequence[int], OrientedBox | None]]
) -> None:
    """groups: (raw label, segment ids, annotated box or None) per object, in objectId order."""
    seg_groups = []
    for i, (label, segments, box) in enumerate(groups):
        group = {"id": i, "objectId": i, "label": label, "segments": [int(s) for s in segments]}
        if box is not None:
            group["obb"] = box.as_dict()
        seg_groups.append(group)
    _write_json(path, {"sceneId": scene_id, "segGroups": seg_groups})


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


# --- iPhone poses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IphonePoses:
    """`pose_intrinsic_imu.json` as arrays indexed by frame number (`frame_000012` → 12)."""

    aligned_poses: np.ndarray  # (N, 4, 4) as written; NaN where an entry or its aligned_pose is missing/non-finite
    timestamps: np.ndarray  # (N,) seconds; NaN where missing
    intrinsic: np.ndarray  # (3, 3) of the first frame that has one
    missing_entries: int  # frame numbers below the highest with no entry at all
    missing_poses: int  # entries without a finite aligned_pose
    other_intrinsics: int  # entries whose intrinsic differs from the first one
    ignored_keys: int  # top-level keys that are not frame_NNNNNN


def read_pose_file(path: Path, video: Path, count: int) -> IphonePoses:
    """The entries of the `count` frames of `video`. Entries must reach its last frame and go no further: frame i
    is the video's i-th frame, so a pose file of another length means the two do not belong together."""
    data = read_json(path)
    entries = {int(m.group(1)): value for key, value in data.items() if (m := FRAME_KEY.match(key))}
    if not entries:
        raise SceneError(path, "no frame_NNNNNN entries")
    if max(entries) + 1 != count:
        raise SceneError(
            path,
            f"has entries up to frame_{max(entries):06d} ({max(entries) + 1} frames), but {video} has {count} frames",
        )
    poses = np.full((count, 4, 4), np.nan)
    timestamps = np.full(count, np.nan)
    intrinsics = np.full((count, 3, 3), np.nan)
    for index, entry in sorted(entries.items()):
        name = f"frame_{index:06d}"
        if not isinstance(entry, dict):
            raise SceneError(path, f"{name} is not a JSON object")
        poses[index] = _matrix(entry.get("aligned_pose"), (4, 4), path, f"{name} aligned_pose")
        intrinsics[index] = _matrix(entry.get("intrinsic"), (3, 3), path, f"{name} intrinsic")
        stamp = entry.get("timestamp")
        if stamp is not None:
            if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                raise SceneError(path, f"{name} timestamp is not a number")
            timestamps[index] = stamp
    valid = np.isfinite(poses.reshape(count, -1)).all(axis=1)
    _check_rigid(poses[valid], np.flatnonzero(valid), path)
    has_k = np.isfinite(intrinsics.reshape(count, -1)).all(axis=1)
    if not has_k.any():
        raise SceneError(path, "no frame has a finite 3x3 intrinsic")
    first = intrinsics[np.argmax(has_k)]
    if first[0, 0] <= 0 or first[1, 1] <= 0 or not np.allclose(first[2], [0, 0, 1]):
        raise SceneError(path, f"intrinsic {first.tolist()} is not a pinhole camera matrix")
    other = has_k & ~np.isclose(intrinsics, first, rtol=1e-6, atol=1e-9).all(axis=(1, 2))
    poses[~valid] = np.nan
    return IphonePoses(
        aligned_poses=poses,
        timestamps=timestamps,
        intrinsic=first,
        missing_entries=count - len(entries),
        missing_poses=int(np.count_nonzero(~valid)) - (count - len(entries)),
        other_intrinsics=int(np.count_nonzero(other)),
        ignored_keys=len(data) - len(entries),
    )


def _matrix(value: object, shape: tuple[int, int], path: Path, what: str) -> np.ndarray:
    """A nested list of numbers of `shape`; None (absent) becomes NaNs, anything else malformed fails the file."""
    if value is None:
        return np.full(shape, np.nan)
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SceneError(path, f"{what} is not a matrix of numbers ({exc})") from exc
    if matrix.shape != shape:
        raise SceneError(path, f"{what} has shape {matrix.shape}, expected {shape}")
    return matrix


def _check_rigid(poses: np.ndarray, indices: np.ndarray, path: Path) -> None:
    rotations = poses[:, :3, :3]
    gram_error = np.abs(np.einsum("nji,njk->nik", rotations, rotations) - np.eye(3)).max(axis=(1, 2), initial=0)
    bottom_error = np.abs(poses[:, 3] - [0, 0, 0, 1]).max(axis=1, initial=0)
    bad = (gram_error > 1e-3) | (bottom_error > 1e-6) | (np.linalg.det(rotations) < 0)
    if bad.any():
        raise SceneError(path, f"frame_{indices[np.argmax(bad)]:06d} aligned_pose is not a rigid transform")


def write_pose_file(path: Path, aligned_poses: np.ndarray, timestamps: np.ndarray, intrinsic: np.ndarray) -> None:
    """One entry per frame; `pose` (the raw ARKit pose) is written equal to `aligned_pose` and `imu` empty, since
    a synthetic scan has no separate raw frame or inertial data."""
    frames = {
        f"frame_{i:06d}": {
            "timestamp": float(stamp),
            "pose": pose.tolist(),
            "aligned_pose": pose.tolist(),
            "intrinsic": np.asarray(intrinsic, dtype=np.float64).tolist(),
            "imu": {},
        }
        for i, (pose, stamp) in enumerate(zip(np.asarray(aligned_poses, dtype=np.float64), timestamps, strict=True))
    }
    _write_json(path, frames)


# --- splits -----------------------------------------------------------------------------------------


def read_split_lists(folder: Path) -> dict[str, str]:
    """scene id → split from `nvs_sem_{train,val}.txt` in `folder` (empty when none are there)."""
    by_scene: dict[str, str] = {}
    for split in SPLIT_NAMES:
        path = folder / f"nvs_sem_{split}.txt"
        if path.is_file():
            for scene_id in read_text(path, "split list").split():
                by_scene[scene_id] = split
    return by_scene


def write_split_lists(folder: Path, splits: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        write_text_if_changed(folder / f"nvs_sem_{split}.txt", "".join(f"{i}\n" for i in ids))

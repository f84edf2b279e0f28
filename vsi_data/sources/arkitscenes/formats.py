"""ARKitScenes files, byte for byte: readers for the parser and writers for the synthetic generator.

Covers the 3DOD release (`3dod/<Split>/<video_id>/` with frames under `<video_id>_frames/`) and the flat
raw layout (`raw/<Split>/<video_id>/` with the frame folders directly inside). Every reader raises
`SceneError(path, problem)` on bad input and checks what the format promises before anything is used.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vsi_data.errors import SceneError
from vsi_data.geometry.boxes import OrientedBox
from vsi_data.sources.common import read_text, write_ply_mesh
from vsi_data.sources.scannet.formats import read_mesh_vertices

SPLIT_FOLDERS = {"Training": "train", "Validation": "val"}
FOLDER_OF_SPLIT = {split: folder for folder, split in SPLIT_FOLDERS.items()}
SPLIT_CSV_NAMES = ("3dod_train_val_splits.csv", "raw_train_val_splits.csv")
METADATA_NAME = "metadata.csv"
METADATA_COLUMNS = ("video_id", "visit_id", "sky_direction", "fold", "has_laser_scanner_point_clouds",
                    "is_in_upsampling", "is_in_threedod")  # fmt: skip
# Quarter turns clockwise that make a raw (landscape-sensor) frame upright, per side the sky is on.
CLOCKWISE_TURNS = {"Up": 0, "Left": 1, "Down": 2, "Right": 3}
_MISSING = {"", "na", "nan", "none", "null"}  # how pandas-written CSVs spell an absent value


@dataclass(frozen=True)
class VideoFiles:
    annotation: Path
    mesh: Path
    color_dir: Path  # lowres_wide/
    depth_dir: Path  # lowres_depth/
    intrinsics_dir: Path  # lowres_wide_intrinsics/
    traj: Path  # lowres_wide.traj


def video_files(folder: Path, video_id: str, flat: bool | None = None) -> VideoFiles:
    """The files of one video. `flat`: the raw layout (frame folders in `folder`) rather than 3DOD's
    `<video_id>_frames/`; None picks the 3DOD layout when that folder exists."""
    if flat is None:
        flat = not (folder / f"{video_id}_frames").is_dir()
    frames = folder if flat else folder / f"{video_id}_frames"
    return VideoFiles(
        annotation=folder / f"{video_id}_3dod_annotation.json",
        mesh=folder / f"{video_id}_3dod_mesh.ply",
        color_dir=frames / "lowres_wide",
        depth_dir=frames / "lowres_depth",
        intrinsics_dir=frames / "lowres_wide_intrinsics",
        traj=frames / "lowres_wide.traj",
    )


def frame_name(video_id: str, frame_id: str, suffix: str) -> str:
    return f"{video_id}_{frame_id}{suffix}"


# --- annotation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotatedObject:
    uid: str
    label: str  # as the annotators wrote it
    box: OrientedBox  # `segments.obbAligned`


@dataclass(frozen=True)
class Annotation:
    objects: list[AnnotatedObject]
    skipped: bool


def read_annotation(path: Path) -> Annotation:
    """`<video_id>_3dod_annotation.json`: each object's uid, label and gravity-aligned box, checked to be a
    real box (finite, every side longer than zero, orthonormal axes); an empty `data` is an empty room."""
    text = read_text(path, "annotation file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SceneError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SceneError(path, "expected a JSON object with a `data` list")
    skipped = data.get("skipped", False)
    if not isinstance(skipped, bool):
        raise SceneError(path, f"`skipped` is not true or false ({skipped!r})")
    objects = [_annotated_object(path, i, entry) for i, entry in enumerate(data["data"])]
    repeated = [uid for uid, n in Counter(o.uid for o in objects).items() if n > 1]
    if repeated:
        raise SceneError(path, f"uid {repeated[0]} is used by more than one object")
    return Annotation(objects, skipped)


def _annotated_object(path: Path, i: int, entry: object) -> AnnotatedObject:
    if not isinstance(entry, dict) or not isinstance(entry.get("label"), str) or not entry["label"].strip():
        raise SceneError(path, f"data[{i}] has no string `label`")
    uid = entry.get("uid")
    if not isinstance(uid, str | int) or isinstance(uid, bool) or not str(uid).strip():
        raise SceneError(path, f"data[{i}] ({entry['label']!r}) has no `uid`")
    where = f"object {uid} ({entry['label']!r})"
    segments = entry.get("segments")
    obb = segments.get("obbAligned") if isinstance(segments, dict) else None
    if not isinstance(obb, dict):
        raise SceneError(path, f"{where} has no `segments.obbAligned` box")
    values = {}
    for key, size in (("centroid", 3), ("axesLengths", 3), ("normalizedAxes", 9)):
        raw = obb.get(key)
        if not isinstance(raw, list) or len(raw) != size or not all(_is_number(v) for v in raw):
            raise SceneError(path, f"{where}: obbAligned.{key} is not a list of {size} numbers")
        values[key] = np.asarray(raw, dtype=np.float64)
    if not all(np.all(np.isfinite(v)) for v in values.values()):
        raise SceneError(path, f"{where}: obbAligned has non-finite numbers")
    if np.any(values["axesLengths"] <= 0):
        raise SceneError(path, f"{where}: obbAligned.axesLengths {values['axesLengths'].tolist()} has a side ≤ 0")
    try:
        box = OrientedBox.from_axes_rows(values["centroid"], values["axesLengths"], values["normalizedAxes"])
    except ValueError as exc:  # the axes are not orthonormal
        raise SceneError(path, f"{where}: obbAligned.normalizedAxes is not a rotation ({exc})") from exc
    return AnnotatedObject(str(uid), entry["label"], box)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_annotation(path: Path, video_id: str, objects: Sequence[tuple[str, str, OrientedBox]]) -> None:
    """objects: (uid, label, gravity-aligned box). Both `obb` and `obbAligned` hold the box, with the keys
    the release's loader documents."""
    data = []
    for uid, label, box in objects:
        obb = {
            "centroid": box.center.tolist(),
            "axesLengths": box.extents.tolist(),
            "normalizedAxes": box.rotation.T.reshape(-1).tolist(),
        }
        data.append(
            {
                "uid": uid,
                "label": label,
                "modelId": "",
                "children": [],
                "objectId": 1,
                "segments": {"obb": obb, "obbAligned": obb},
                "hierarchy": 0,
                "isInGroup": False,
                "labelType": "object",
                "attributes": {},
            }
        )
    document = {"data": data, "stats": {"objectCount": len(data)}, "comment": "", "confirm": True, "skipped": False,
                "video_id": video_id}  # fmt: skip
    path.write_text(json.dumps(document), encoding="utf-8")


# --- mesh ------------------------------------------------------------------------------------------


def read_mesh(path: Path) -> np.ndarray:
    """(N, 3) vertex xyz of `<video_id>_3dod_mesh.ply`, read and checked exactly as ScanNet's binary PLY."""
    return read_mesh_vertices(path)[0]


def write_mesh(path: Path, vertices: np.ndarray, colors: np.ndarray, faces: np.ndarray) -> None:
    """`<video_id>_3dod_mesh.ply`: binary LE, float xyz, uchar rgb, triangle `vertex_indices` (the header
    is not verified against a real file)."""
    write_ply_mesh(path, vertices, colors, faces, alpha=False)


# --- trajectory and intrinsics --------------------------------------------------------------------


def read_traj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """`lowres_wide.traj`: (N,) timestamps in seconds and (N, 4, 4) camera-to-world poses. Each line is
    `ts rx ry rz tx ty tz`, the world→camera rotation as an axis-angle vector and its translation."""
    rows = [(n, line.split()) for n, line in enumerate(read_text(path, "trajectory").splitlines(), 1)]
    rows = [(n, fields) for n, fields in rows if fields]
    for n, fields in rows:
        if len(fields) != 7:
            raise SceneError(path, f"line {n} has {len(fields)} numbers, expected 7 (ts rx ry rz tx ty tz)")
    try:
        values = np.array([fields for _, fields in rows], dtype=np.float64).reshape(-1, 7)
    except ValueError as exc:
        raise SceneError(path, f"a line holds something that is not a number ({exc})") from exc
    bad = ~np.all(np.isfinite(values), axis=1)
    if np.any(bad):
        raise SceneError(path, f"line {rows[int(np.argmax(bad))][0]} has non-finite numbers")
    if len(values) == 0:
        raise SceneError(path, "trajectory has no poses")
    world_to_camera = Rotation.from_rotvec(values[:, 1:4]).as_matrix()
    poses = np.tile(np.eye(4), (len(values), 1, 1))
    poses[:, :3, :3] = np.transpose(world_to_camera, (0, 2, 1))
    poses[:, :3, 3] = -np.einsum("nji,nj->ni", world_to_camera, values[:, 4:7])
    return values[:, 0], poses


def write_traj(path: Path, timestamps: np.ndarray, poses: np.ndarray) -> None:
    """poses: (N, 4, 4) camera-to-world, written as world→camera axis-angle + translation."""
    world_to_camera = np.transpose(poses[:, :3, :3], (0, 2, 1))
    rotvec = Rotation.from_matrix(world_to_camera).as_rotvec()
    translation = -np.einsum("nij,nj->ni", world_to_camera, poses[:, :3, 3])
    lines = [
        " ".join(f"{v:.9g}" for v in (ts, *r, *t)) for ts, r, t in zip(timestamps, rotvec, translation, strict=True)
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_pincam(path: Path) -> tuple[int, int, np.ndarray]:
    """`.pincam`: `width height fx fy cx cy` → (width, height, 3×3 K)."""
    fields = read_text(path, "intrinsics file").split()
    try:
        values = [float(v) for v in fields]
    except ValueError as exc:
        raise SceneError(path, f"holds something that is not a number ({exc})") from exc
    if len(values) != 6 or not all(math.isfinite(v) for v in values):
        raise SceneError(path, f"expected 6 finite numbers (width height fx fy cx cy), got {' '.join(fields)!r}")
    width, height, fx, fy, cx, cy = values
    if width != int(width) or height != int(height) or min(width, height, fx, fy) <= 0:
        raise SceneError(path, f"width, height and focal lengths must be positive (width {width:g}, height {height:g})")
    return int(width), int(height), np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def write_pincam(path: Path, width: int, height: int, k: np.ndarray) -> None:
    path.write_text(f"{width} {height} {k[0, 0]:.6f} {k[1, 1]:.6f} {k[0, 2]:.6f} {k[1, 2]:.6f}\n", encoding="utf-8")


# --- release-level CSVs ----------------------------------------------------------------------------


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    with io.StringIO(read_text(path, "CSV file"), newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise SceneError(path, f"lacks the columns {', '.join(missing)}")
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _video_id(value: str, path: Path, line: int) -> str:
    """pandas writes video ids as numbers, sometimes as floats (`40753679.0`)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise SceneError(path, f"line {line}: video_id {value!r} is not a whole number")
    return str(int(number))


def read_split_csv(path: Path) -> dict[str, str]:
    """`3dod_train_val_splits.csv` (`video_id,visit_id,fold`) → video id → train / val."""
    by_video: dict[str, str] = {}
    for line, row in enumerate(_read_csv(path, ("video_id", "fold")), 2):
        if row["fold"] not in SPLIT_FOLDERS:
            raise SceneError(path, f"line {line}: fold {row['fold']!r} is not Training or Validation")
        by_video[_video_id(row["video_id"], path, line)] = SPLIT_FOLDERS[row["fold"]]
    return by_video


def write_split_csv(path: Path, rows: Iterable[tuple[str, str | None, str]]) -> None:
    """rows: (video id, visit id or None, split train/val)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("video_id", "visit_id", "fold"))
        for video_id, visit_id, split in rows:
            writer.writerow((video_id, visit_id or "NA", FOLDER_OF_SPLIT[split]))


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """`metadata.csv` → video id → its row (raw strings; `sky_direction` is checked per video)."""
    return {
        _video_id(row["video_id"], path, line): row
        for line, row in enumerate(_read_csv(path, ("video_id", "sky_direction")), 2)
    }


def sky_direction(row: Mapping[str, str] | None, path: Path, video_id: str) -> str | None:
    """The video's `sky_direction` (Up/Down/Left/Right), None when the row or the value is absent."""
    value = (row or {}).get("sky_direction", "")
    if value.lower() in _MISSING:
        return None
    if value not in CLOCKWISE_TURNS:
        raise SceneError(path, f"video {video_id}: unknown sky_direction {value!r} (expected Up, Down, Left or Right)")
    return value


def write_metadata(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """rows: mappings with any of `METADATA_COLUMNS`; absent values are written `NA`, as pandas would."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=METADATA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "NA" if row.get(c) is None else row[c] for c in METADATA_COLUMNS})

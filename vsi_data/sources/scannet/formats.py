"""ScanNet v2 files, byte for byte: readers for the parser and writers for the synthetic generator.

Every reader raises `SceneError(path, problem)` on bad input, never a bare traceback, and checks what
the format promises (vertex counts, 16 alignment numbers, a rigid alignment) before anything is used.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import plyfile

from vsi_data.errors import SceneError
from vsi_data.geometry.plausibility import coordinate_problem
from vsi_data.sources.common import read_text, write_ply_mesh
from vsi_data.vocabulary import normalize_label

LABEL_TABLE_COLUMNS = (
    "id", "raw_category", "category", "count", "nyu40id", "eigen13id", "nyuClass", "nyu40class", "eigen13class",
    "ModelNet40", "ModelNet10", "ShapeNetCore55", "synsetoffset", "wnsynsetid", "wnsynsetkey", "mpcat40",
    "mpcat40index",
)  # fmt: skip
SPLIT_NAMES = ("train", "val", "test")


def scene_files(scene_dir: Path, scene_id: str) -> dict[str, Path]:
    return {
        "mesh": scene_dir / f"{scene_id}_vh_clean_2.ply",
        "segs": scene_dir / f"{scene_id}_vh_clean_2.0.010000.segs.json",
        "aggregation": scene_dir / f"{scene_id}.aggregation.json",
        "meta": scene_dir / f"{scene_id}.txt",
        "sens": scene_dir / f"{scene_id}.sens",
    }


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise SceneError(path, "file is missing")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SceneError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SceneError(path, "expected a JSON object at the top level")
    return data


# --- mesh -------------------------------------------------------------------------------------------


def read_mesh_vertices(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) float64 xyz and (N, 3) uint8 rgb (None if absent) of a `_vh_clean_2.ply`, every coordinate finite
    and within the sanity bound (`coordinate_problem`)."""
    if not path.is_file():
        raise SceneError(path, "file is missing")
    try:
        _check_declared_counts(path)
        ply = plyfile.PlyData.read(str(path), known_list_len={"face": {"vertex_indices": 3}})
        vertex = ply["vertex"].data
    except (plyfile.PlyParseError, plyfile.PlyHeaderParseError, KeyError, ValueError, EOFError) as exc:
        raise SceneError(path, f"unreadable PLY ({exc})") from exc
    names = vertex.dtype.names or ()
    if not {"x", "y", "z"} <= set(names):
        raise SceneError(path, f"vertex element has no x/y/z properties (has {', '.join(names)})")
    xyz = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float64)
    if len(xyz) == 0:
        raise SceneError(path, "mesh has no vertices")
    problem = coordinate_problem(xyz)
    if problem:
        raise SceneError(path, problem)
    rgb = None
    if {"red", "green", "blue"} <= set(names):
        rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1).astype(np.uint8)
    return xyz, rgb


def _check_declared_counts(path: Path) -> None:
    """The header's element counts must fit in the file: an ASCII body is read into arrays sized by the count, so
    a corrupt count (10^12 vertices) would ask for terabytes instead of failing. Each value takes at least its
    binary size, or two characters (a digit and a separator) in ASCII."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = plyfile.PlyData._parse_header(handle)  # the header only; plyfile has no public call for it
        body = size - handle.tell()
    for element in header.elements:
        row = sum(
            2 if header.text else np.dtype(getattr(prop, "len_dtype", prop.val_dtype)).itemsize
            for prop in element.properties
        )
        if element.count * row > body:
            raise SceneError(
                path,
                f"the header declares {element.count} {element.name} entries of at least {row} bytes, more than "
                f"the {body} bytes after the header hold (a corrupt count, or a truncated file)",
            )


def write_mesh(path: Path, vertices: np.ndarray, colors: np.ndarray, faces: np.ndarray) -> None:
    """A `_vh_clean_2.ply` as ScanNet ships it: binary LE, float xyz, uchar rgba, uchar-int face lists."""
    write_ply_mesh(path, vertices, colors, faces, alpha=True, comments=["VCGLIB generated"])


# --- segments and aggregation ----------------------------------------------------------------------


def read_segments(path: Path, vertex_count: int) -> np.ndarray:
    """Per-vertex segment ids from `_vh_clean_2.0.010000.segs.json`; one per mesh vertex, or an error."""
    data = read_json(path)
    seg = data.get("segIndices")
    if not isinstance(seg, list):
        raise SceneError(path, "no `segIndices` list")
    try:  # one vectorised check: a list of Python ints becomes an integer array, anything else does not
        seg_indices = np.asarray(seg) if seg else np.zeros(0, dtype=np.int64)
    except (ValueError, OverflowError):
        seg_indices = np.zeros(1, dtype=object)
    if seg_indices.dtype.kind not in "iu" or seg_indices.ndim != 1 or (seg_indices.size and seg_indices.min() < 0):
        raise SceneError(path, "`segIndices` holds values that are not non-negative integers")
    seg_indices = seg_indices.astype(np.int64, copy=False)
    if len(seg_indices) != vertex_count:
        raise SceneError(path, f"{len(seg_indices)} segment indices for a mesh of {vertex_count} vertices")
    return seg_indices


def read_aggregation(path: Path) -> list[dict]:
    """`segGroups` of `<id>.aggregation.json`, each checked to have an integer id, a label and segments."""
    return check_seg_groups(read_json(path).get("segGroups"), path)


def check_seg_groups(groups: object, path: Path) -> list[dict]:
    """{object_id, label, segments} of each `segGroups` entry (ScanNet's and ScanNet++'s shared form), in file
    order; a group without an integer id, a string label or a list of segment ids (integers in 0..2**63-1) fails
    the file, and so does an id that more than one group uses."""
    if not isinstance(groups, list):
        raise SceneError(path, "no `segGroups` list")
    checked = []
    for i, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("label"), str):
            raise SceneError(path, f"segGroups[{i}] has no string `label`")
        where = f"segGroups[{i}] ({group['label']!r})"
        segments = group.get("segments")
        if not isinstance(segments, list) or not all(_is_index(s) for s in segments):
            raise SceneError(path, f"{where} has no integer `segments` list (ids in 0..2**63-1)")
        key = "objectId" if "objectId" in group else "id"
        object_id = group.get(key)
        if not _is_index(object_id):
            raise SceneError(path, f"{where} has `{key}` {json.dumps(object_id)}, not an integer id in 0..2**63-1")
        checked.append({"object_id": object_id, "label": group["label"], "segments": segments})
    repeated = [i for i, n in Counter(g["object_id"] for g in checked).items() if n > 1]
    if repeated:
        raise SceneError(path, f"objectId {repeated[0]} is used by more than one segGroup")
    return checked


def _is_index(value: object) -> bool:
    """An id that fits int64 and is no boolean (JSON `true` is a Python int)."""
    return type(value) is int and 0 <= value < 2**63


def write_segments(path: Path, scene_id: str, seg_indices: np.ndarray) -> None:
    params = {"kThresh": "0.0001", "segMinVerts": "20", "minPoints": "750", "maxPoints": "30000",
              "thinThresh": "0.05", "flatThresh": "0.001", "minLength": "0.02", "maxLength": "1"}  # fmt: skip
    _write_json(path, {"params": params, "sceneId": scene_id, "segIndices": [int(s) for s in seg_indices]})


def write_aggregation(path: Path, scene_id: str, groups: Sequence[tuple[str, Sequence[int]]]) -> None:
    """groups: (raw label, segment ids) per object, in objectId order."""
    seg_groups = [
        {"id": i, "objectId": i, "segments": [int(s) for s in segments], "label": label}
        for i, (label, segments) in enumerate(groups)
    ]
    _write_json(
        path,
        {
            "sceneId": f"scannet.{scene_id}",
            "appId": "Aggregator.v2",
            "segGroups": seg_groups,
            "segmentsFile": f"scannet.{scene_id}_vh_clean_2.0.010000.segs.json",
        },
    )


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


# --- metadata txt ----------------------------------------------------------------------------------


def read_meta(path: Path) -> dict[str, str]:
    """`key = value` lines of `<id>.txt`."""
    if not path.is_file():
        raise SceneError(path, "file is missing")
    meta = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SceneError(path, f"line {line_no} is not `key = value`")
        meta[key.strip()] = value.strip()
    return meta


def parse_axis_alignment(meta: Mapping[str, str], path: Path) -> np.ndarray | None:
    """The 4×4 `axisAlignment` (row-major), checked to be a rigid transform; None when the key is absent."""
    text = meta.get("axisAlignment")
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split()]
    except ValueError as exc:
        raise SceneError(path, f"axisAlignment has a value that is not a number ({exc})") from exc
    if len(values) != 16:
        raise SceneError(path, f"axisAlignment has {len(values)} numbers, expected 16")
    matrix = np.asarray(values, dtype=np.float64).reshape(4, 4)
    if not np.all(np.isfinite(matrix)):
        raise SceneError(path, "axisAlignment has non-finite numbers")
    problem = coordinate_problem(matrix[None, :3, 3], what="translations")
    if problem:
        raise SceneError(path, f"axisAlignment would move the scan absurdly far: {problem}")
    rotation = matrix[:3, :3]
    # The release prints 6 decimals, so allow for that rounding in the rigidity check.
    if not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-5) or not np.allclose(
        rotation.T @ rotation, np.eye(3), atol=1e-4
    ):
        raise SceneError(path, "axisAlignment is not a rigid transform (rotation + translation)")
    if np.linalg.det(rotation) < 0:
        raise SceneError(path, "axisAlignment is a reflection, not a rotation")
    return matrix


def write_meta(path: Path, meta: Mapping[str, object]) -> None:
    """Keys in alphabetical order, `key = value`, as the release writes them."""
    lines = [f"{key} = {_format_meta_value(value)}" for key, value in sorted(meta.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _format_meta_value(value: object) -> str:
    if isinstance(value, np.ndarray):
        return " ".join(f"{v:.6f}" for v in value.reshape(-1))
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


# --- label table and splits ------------------------------------------------------------------------


def read_label_table(path: Path) -> dict[str, dict[str, str]]:
    """`scannetv2-labels.combined.tsv` keyed by raw_category (unique in the release), lower-cased and with
    runs of white space collapsed, the form `normalize_label` gives an aggregation label."""
    text = read_text(path, "label table")
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"raw_category", "nyu40id", "nyu40class"} - set(reader.fieldnames or ())
        if missing:
            raise SceneError(path, f"label table lacks columns {sorted(missing)}")
        table: dict[str, dict[str, str]] = {}
        for row in reader:
            raw = normalize_label(row.get("raw_category") or "")
            if raw:
                table[raw] = {key: (value or "").strip() for key, value in row.items() if key}
    if not table:
        raise SceneError(path, "label table has no rows")
    return table


def write_label_table(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """Tab-separated, CRLF line endings, the release's 17 columns (missing values left empty)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_TABLE_COLUMNS, delimiter="\t", lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in LABEL_TABLE_COLUMNS})


def read_split_lists(folder: Path) -> dict[str, str]:
    """scene id → split from `scannetv2_{train,val,test}.txt` in `folder` (empty when none are there)."""
    by_scene: dict[str, str] = {}
    for split in SPLIT_NAMES:
        path = folder / f"scannetv2_{split}.txt"
        if path.is_file():
            for line in read_text(path, "split list").split():
                by_scene[line.strip()] = split
    return by_scene

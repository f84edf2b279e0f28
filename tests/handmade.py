"""Hand-made ScanNet v2 scenes with known boxes, written byte by byte without the project's own writers.

A room is a list of boxes in the aligned frame (label, centre, extents, yaw). The mesh holds dense
samples of each box's surface (corners included) and of the floor rectangle; the files are written in
the raw frame, i.e. moved by the inverse of a non-identity `axisAlignment`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Box:
    label: str  # ScanNet raw label
    center: tuple[float, float, float]
    extents: tuple[float, float, float]
    yaw_deg: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        c, s = math.cos(math.radians(self.yaw_deg)), math.sin(math.radians(self.yaw_deg))
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def corners(self) -> np.ndarray:
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
        return np.asarray(self.center) + (signs * np.asarray(self.extents) / 2) @ self.rotation.T


@dataclass(frozen=True)
class Room:
    width: float  # floor rectangle [0, width] × [0, depth]
    depth: float
    boxes: tuple[Box, ...]
    alignment_yaw_deg: float = 37.0
    alignment_shift: tuple[float, float, float] = (-2.5, 1.25, -0.05)

    @property
    def alignment(self) -> np.ndarray:
        """raw → aligned, as `<scene>.txt` stores it."""
        c, s = math.cos(math.radians(self.alignment_yaw_deg)), math.sin(math.radians(self.alignment_yaw_deg))
        m = np.eye(4)
        m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        m[:3, 3] = self.alignment_shift
        return m


# A 6 m × 4 m room (24 m²): three chairs, and one each of bed, couch (rotated 30°), tv, refrigerator
# (rotated 10°) and table (rotated 45°), plus a floor and a wall that every vocabulary drops.
HANDMADE_ROOM = Room(
    width=6.0,
    depth=4.0,
    boxes=(
        Box("bed", (1.5, 1.0, 0.3), (2.0, 1.6, 0.6)),
        Box("couch", (4.9, 2.9, 0.4), (2.2, 0.9, 0.8), 30.0),
        Box("chair", (2.9, 0.6, 0.45), (0.5, 0.5, 0.9)),
        Box("chair", (3.6, 0.6, 0.45), (0.5, 0.5, 0.9)),
        Box("chair", (4.3, 0.6, 0.45), (0.5, 0.5, 0.9)),
        Box("tv", (1.0, 3.85, 1.2), (1.2, 0.1, 0.7)),
        Box("refrigerator", (5.5, 0.6, 0.9), (0.7, 0.7, 1.8), 10.0),
        Box("table", (2.8, 2.75, 0.375), (1.5, 0.9, 0.75), 45.0),
        Box("wall", (3.0, 3.99, 1.25), (6.0, 0.02, 2.5)),
    ),
)
LABEL_ROWS = {  # raw_category: (id, category, nyu40id, nyu40class) as in the real label table
    "bed": ("11", "bed", "4", "bed"),
    "couch": ("6", "couch", "6", "sofa"),
    "chair": ("2", "chair", "5", "chair"),
    "tv": ("33", "tv", "25", "television"),
    "refrigerator": ("27", "refrigerator", "24", "refridgerator"),
    "table": ("4", "table", "7", "table"),
    "wall": ("1", "wall", "1", "wall"),
    "floor": ("3", "floor", "2", "floor"),
}


def surface_samples(box: Box, spacing: float = 0.05) -> np.ndarray:
    """Grid samples of the six faces of a box, corners and edges included."""
    e = np.asarray(box.extents)
    pts = []
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3
        gu = np.linspace(-0.5, 0.5, max(2, math.ceil(e[u] / spacing) + 1))
        gv = np.linspace(-0.5, 0.5, max(2, math.ceil(e[v] / spacing) + 1))
        uu, vv = np.meshgrid(gu, gv, indexing="ij")
        for side in (-0.5, 0.5):
            local = np.zeros((uu.size, 3))
            local[:, axis], local[:, u], local[:, v] = side, uu.ravel(), vv.ravel()
            pts.append(local * e)
    return np.asarray(box.center) + np.concatenate(pts) @ box.rotation.T


def write_label_table(path: Path, rows: dict[str, tuple[str, str, str, str]] = LABEL_ROWS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ("id\traw_category\tcategory\tcount\tnyu40id\teigen13id\tnyuClass\tnyu40class\teigen13class\tModelNet40\t"
              "ModelNet10\tShapeNetCore55\tsynsetoffset\twnsynsetid\twnsynsetkey\tmpcat40\tmpcat40index")  # fmt: skip
    lines = [header] + [
        f"{i}\t{raw}\t{cat}\t1\t{nyu}\t\t\t{nyu_class}\t\t\t\t\t\t\t\t\t"
        for raw, (i, cat, nyu, nyu_class) in rows.items()
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment VCGLIB generated\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vertex = np.zeros(len(vertices), dtype=[("xyz", "<f4", 3), ("rgba", "u1", 4)])
    vertex["xyz"], vertex["rgba"] = vertices, 200
    face = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", 3)])
    face["n"], face["v"] = 3, faces
    return header.encode() + vertex.tobytes() + face.tobytes()


def write_handmade_scene(scans: Path, scene_id: str, room: Room) -> Path:
    folder = scans / scene_id
    folder.mkdir(parents=True, exist_ok=True)
    gx, gy = np.meshgrid(
        np.linspace(0, room.width, int(room.width / 0.05) + 1), np.linspace(0, room.depth, int(room.depth / 0.05) + 1)
    )
    floor = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    chunks, groups, segs, seg_id = [floor], [("floor", [7])], [np.full(len(floor), 7)], 100
    for box in room.boxes:
        pts = surface_samples(box)
        half = len(pts) // 2  # two over-segments per object, with arbitrary ids
        ids = [seg_id, seg_id + 13]
        segs.append(np.where(np.arange(len(pts)) < half, ids[0], ids[1]))
        chunks.append(pts)
        groups.append((box.label, ids))
        seg_id += 1000
    aligned = np.concatenate(chunks)
    to_raw = np.linalg.inv(room.alignment)
    raw = aligned @ to_raw[:3, :3].T + to_raw[:3, 3]
    n = len(raw)
    faces = np.stack([np.arange(0, n - 2, 3), np.arange(1, n - 1, 3), np.arange(2, n, 3)], axis=1)
    (folder / f"{scene_id}_vh_clean_2.ply").write_bytes(ply_bytes(raw, faces))
    seg_file = folder / f"{scene_id}_vh_clean_2.0.010000.segs.json"
    seg_file.write_text(json.dumps({"params": {}, "sceneId": scene_id, "segIndices": np.concatenate(segs).tolist()}))
    agg = {"sceneId": f"scannet.{scene_id}", "appId": "Aggregator.v2",
           "segGroups": [{"id": i, "objectId": i, "segments": s, "label": lab} for i, (lab, s) in enumerate(groups)],
           "segmentsFile": f"scannet.{scene_id}_vh_clean_2.0.010000.segs.json"}  # fmt: skip
    (folder / f"{scene_id}.aggregation.json").write_text(json.dumps(agg))
    matrix = " ".join(f"{v:.6f}" for v in room.alignment.reshape(-1))
    (folder / f"{scene_id}.txt").write_text(f"axisAlignment = {matrix}\ncolorHeight = 968\ncolorWidth = 1296\n")
    return folder


def sens_bytes(frames: int, k_color=None, k_depth=None, poses=None) -> bytes:
    """A `.sens` written from the format description (docs/sources.md): `frames` flat grey 8×6 frames, each
    1.5 m deep, posed at the identity (or `poses`), with colour and depth intrinsics `k_color` and `k_depth`
    (4×4; default a pinhole of focal 8 centred in the image)."""
    import struct
    import zlib

    import cv2

    k_color = np.array([[8.0, 0, 3.5, 0], [0, 8.0, 2.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) if k_color is None else k_color
    k_depth = k_color if k_depth is None else k_depth
    name = b"StructureSensor"
    out = struct.pack("<IQ", 4, len(name)) + name
    for matrix in (k_color, np.eye(4), k_depth, np.eye(4)):
        out += np.asarray(matrix, "<f4").tobytes()
    out += struct.pack("<ii4If", 2, 1, 8, 6, 8, 6, 1000.0) + struct.pack("<Q", frames)
    jpeg = cv2.imencode(".jpg", np.full((6, 8, 3), 90, np.uint8))[1].tobytes()
    depth = zlib.compress(np.full((6, 8), 1500, "<u2").tobytes())
    for i in range(frames):
        pose = np.eye(4) if poses is None else poses[i]
        out += np.asarray(pose, "<f4").tobytes() + struct.pack("<4Q", i * 33_333, i * 33_333, len(jpeg), len(depth))
        out += jpeg + depth
    return out + struct.pack("<Q", 0)


# --- what a hand-made room's questions must answer (shared by the parser tests of every format) -----------


def expected_distance(recipe_name: str, boxes_a: list[Box], boxes_b: list[Box]) -> float:
    """vsi100k: centre to centre. vsibench: closest points of the two solid boxes, from 2 cm surface samples.
    Between categories, the nearest pair of instances."""
    pairs = [(x, y) for x in boxes_a for y in boxes_b]
    if recipe_name == "vsi100k":
        return min(float(np.linalg.norm(np.subtract(x.center, y.center))) for x, y in pairs)
    return min(float(cKDTree(surface_samples(y, 0.02)).query(surface_samples(x, 0.02))[0].min()) for x, y in pairs)


def sector(standing: Box, facing: Box, queried: Box, level: str) -> str:
    f = np.subtract(facing.center, standing.center)[:2]
    q = np.subtract(queried.center, standing.center)[:2]
    angle = math.degrees(math.atan2(f[0] * q[1] - f[1] * q[0], f @ q)) % 360
    if level == "hard":
        return ["front-left", "back-left", "back-right", "front-right"][int(angle // 90)]
    return "left" if angle < 135 else "back" if angle < 225 else "right"


def answer_text(q) -> str:
    """The answer as words: the option text for lettered questions."""
    if q.options is None:
        return q.answer
    return next(o.split(". ", 1)[1] for o in q.options if o.startswith(q.answer + "."))

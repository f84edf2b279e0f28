"""Hand-made ScanNet++ scenes with known boxes, written byte by byte without the project's own writers.

A scene is a list of instances (ScanNet++ free-text label, box, whether `segments_anno.json` carries its `obb`)
in the aligned frame, which is the frame ScanNet++ files hold. The mesh holds dense samples of each box's
surface and of the floor rectangle; every instance has two over-segments with arbitrary ids. Optionally the
iPhone stream: a tiny Matroska video whose frame k is a flat colour, and `pose_intrinsic_imu.json` (tests write
`depth.bin` themselves).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from handmade import Box, surface_samples


@dataclass(frozen=True)
class Instance:
    box: Box  # box.label is the ScanNet++ raw label
    obb: bool = True  # write the annotated box; without it the parser fits one to the vertices
    obb_pad: float = 0.0  # the annotated box is this much larger on every side than the sampled surface


@dataclass(frozen=True)
class Room:
    width: float  # floor rectangle [0, width] × [0, depth] at z = 0
    depth: float
    instances: tuple[Instance, ...]
    # extra groups listing segments of earlier instances (multi-label vertices): (label, instance index)
    overlaps: tuple[tuple[str, int], ...] = field(default_factory=tuple)


# A 6 m × 4 m room (24 m²). Labels chosen so the two vocabularies differ: "office chair" (scannet200 only),
# "sofa" (vsibench: sofa, scannet200: couch), "heater" (vsibench only), "wall" and "cable" (neither).
HANDMADE_ROOM = Room(
    width=6.0,
    depth=4.0,
    instances=(
        Instance(Box("chair", (2.9, 0.6, 0.45), (0.5, 0.5, 0.9))),
        Instance(Box("chair", (3.6, 0.6, 0.45), (0.5, 0.5, 0.9)), obb=False),
        Instance(Box("chair", (4.3, 0.7, 0.45), (0.5, 0.5, 0.9), 20.0)),
        Instance(Box("Office Chair", (1.0, 2.0, 0.5), (0.6, 0.6, 1.0), 15.0)),
        Instance(Box("sofa", (4.9, 2.9, 0.4), (2.2, 0.9, 0.8), 30.0), obb=False),
        Instance(Box("table", (2.8, 2.75, 0.375), (1.5, 0.9, 0.75), 45.0), obb_pad=0.05),
        Instance(Box("tv", (1.0, 3.85, 1.2), (1.2, 0.1, 0.7))),
        Instance(Box("refrigerator", (5.5, 0.6, 0.9), (0.7, 0.7, 1.8), 10.0), obb=False),
        Instance(Box("trash can", (0.4, 0.4, 0.3), (0.3, 0.3, 0.6))),
        Instance(Box("trash can", (5.7, 3.6, 0.3), (0.3, 0.3, 0.6)), obb=False),
        Instance(Box("heater", (4.0, 0.06, 0.4), (1.0, 0.1, 0.5))),
        Instance(Box("wall", (3.0, 3.99, 1.25), (6.0, 0.02, 2.5))),
    ),
    overlaps=(("cable", 4),),  # a cable annotated on the sofa's first segment
)
INTRINSIC = [[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]]
# Camera looking along +x, level, OpenCV axes (x right, y down, z forward) as columns: the file's convention.
LOOK_PLUS_X = [[0.0, 0.0, 1.0, 1.0], [-1.0, 0.0, 0.0, 2.0], [0.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]]


def annotated_box(instance: Instance) -> Box:
    """The box the annotation gives (what the answers must use)."""
    pad = 2 * instance.obb_pad
    return Box(instance.box.label, instance.box.center, tuple(e + pad for e in instance.box.extents),
               instance.box.yaw_deg)  # fmt: skip


def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vertex = np.zeros(len(vertices), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    vertex["xyz"], vertex["rgb"] = vertices, 180
    face = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", 3)])
    face["n"], face["v"] = 3, faces
    return header.encode() + vertex.tobytes() + face.tobytes()


def obb_json(box: Box) -> dict:
    rotation = box.rotation
    corners = box.corners()
    return {"centroid": list(box.center), "axesLengths": list(box.extents),
            "normalizedAxes": rotation.T.reshape(-1).tolist(),  # one box axis per row
            "min": corners.min(axis=0).tolist(), "max": corners.max(axis=0).tolist()}  # fmt: skip


def write_handmade_scene(data: Path, scene_id: str, room: Room = HANDMADE_ROOM) -> Path:
    folder = data / scene_id
    (folder / "scans").mkdir(parents=True, exist_ok=True)
    gx, gy = np.meshgrid(
        np.linspace(0, room.width, int(room.width / 0.05) + 1), np.linspace(0, room.depth, int(room.depth / 0.05) + 1)
    )
    floor = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    chunks, segs = [floor], [np.full(len(floor), 3)]
    groups = [{"id": 0, "objectId": 0, "label": "floor", "segments": [3]}]
    for i, instance in enumerate(room.instances, start=1):
        pts = surface_samples(instance.box)
        ids = [1000 * i + 7, 1000 * i + 500]  # two over-segments per object, arbitrary ids
        segs.append(np.where(np.arange(len(pts)) < len(pts) // 2, ids[0], ids[1]))
        chunks.append(pts)
        group = {"id": i, "objectId": i, "label": instance.box.label, "segments": ids}
        if instance.obb:
            group["obb"] = obb_json(annotated_box(instance))
        groups.append(group)
    for label, index in room.overlaps:
        n = len(groups)
        groups.append({"id": n, "objectId": n, "label": label, "segments": [groups[index + 1]["segments"][0]]})
    vertices = np.concatenate(chunks)
    n = len(vertices)
    faces = np.stack([np.arange(0, n - 2, 3), np.arange(1, n - 1, 3), np.arange(2, n, 3)], axis=1)
    (folder / "scans/mesh_aligned_0.05.ply").write_bytes(ply_bytes(vertices, faces))
    (folder / "scans/segments.json").write_text(json.dumps({"segIndices": np.concatenate(segs).tolist()}))
    (folder / "scans/segments_anno.json").write_text(json.dumps({"sceneId": scene_id, "segGroups": groups}))
    return folder


FRAME_COLORS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (250, 250, 10)]


def write_handmade_stream(
    folder: Path, colors=FRAME_COLORS, poses=None, name: str = "rgb.mkv", size: tuple[int, int] = (64, 48)
) -> None:
    """A video (64×48 by default) whose frame k is flat `colors[k]`, and one pose entry per frame (LOOK_PLUS_X by
    default)."""
    iphone = folder / "iphone"
    iphone.mkdir(parents=True, exist_ok=True)
    with av.open(str(iphone / name), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        (stream.width, stream.height), stream.pix_fmt = size, "yuv420p"
        stream.options = {"qscale": "2"}
        for color in colors:
            rgb = np.zeros((size[1], size[0], 3), np.uint8) + np.array(color, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    poses = [LOOK_PLUS_X] * len(colors) if poses is None else poses
    entries = {f"frame_{k:06d}": {"timestamp": 100.0 + k / 30, "pose": pose, "aligned_pose": pose,
                                  "intrinsic": INTRINSIC, "imu": {"gravity": [0, 0, -9.8]}}
               for k, pose in enumerate(poses)}  # fmt: skip
    (iphone / "pose_intrinsic_imu.json").write_text(json.dumps(entries))


def yaw_of(rotation: np.ndarray) -> float:
    return math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))

"""Hand-made ARKitScenes videos with known boxes and frames, written byte by byte without the project's writers.

The room is a 6 m × 4 m floor with ARKit-labelled boxes (some turned about z), placed in an ARKit world
whose session origin is elsewhere: everything is turned by `WORLD_YAW_DEG` and shifted by `WORLD_SHIFT`.
Frames are black 256×192 images with one coloured pixel where each marker (every box centre and corner)
projects, taken by a camera held as the video's sky direction says, so a test can check that the parser's
upright frames, intrinsics and poses still agree pixel for pixel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from handmade import Box, surface_samples

WORLD_YAW_DEG = 23.0
WORLD_SHIFT = np.array([1.7, -3.2, -1.3])  # the session started 1.3 m above the floor, somewhere else
WIDTH, HEIGHT = 256, 192
FX, FY, CX, CY = 211.0, 213.5, 130.2, 93.7  # fx ≠ fy and an off-centre principal point catch swapped axes
FIRST_TS = 6845.807

# Room frame (floor z = 0). Labels as annotators might spell them; the tv's normalises to tv_monitor.
ARKIT_ROOM = (
    Box("bed", (1.5, 1.0, 0.3), (2.0, 1.6, 0.6)),
    Box("sofa", (4.9, 2.9, 0.4), (2.2, 0.9, 0.8), 30.0),
    Box("chair", (2.9, 0.6, 0.45), (0.5, 0.5, 0.9)),
    Box("chair", (3.6, 0.6, 0.45), (0.5, 0.5, 0.9)),
    Box("chair", (4.3, 0.6, 0.45), (0.5, 0.5, 0.9)),
    Box("TV/Monitor", (1.0, 3.85, 1.2), (1.2, 0.1, 0.7)),
    Box("refrigerator", (5.5, 0.6, 0.9), (0.7, 0.7, 1.8), 10.0),
    Box("table", (2.8, 2.75, 0.375), (1.5, 0.9, 0.75), 45.0),
    Box("cabinet", (0.35, 2.6, 0.5), (0.5, 0.8, 1.0)),
)
ROOM_SIZE = (6.0, 4.0)
CAMERA_SPOT = np.array([3.0, 1.9, 1.4])  # room frame
LOOK_AT = ((1.0, 3.85, 1.2), (1.5, 1.0, 0.3), (4.9, 2.9, 0.4), (5.5, 0.6, 0.9))  # tv, bed, sofa, refrigerator


def world_rotation() -> np.ndarray:
    c, s = math.cos(math.radians(WORLD_YAW_DEG)), math.sin(math.radians(WORLD_YAW_DEG))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def to_world(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=float) @ world_rotation().T + WORLD_SHIFT


def world_axes(box: Box) -> np.ndarray:
    """The box's axes in the world, one per row (ARKit's `normalizedAxes`)."""
    return (world_rotation() @ box.rotation).T


def markers() -> np.ndarray:
    """World points drawn into the frames: each box's centre and corners."""
    return to_world(np.concatenate([np.vstack([b.center, b.corners()]) for b in ARKIT_ROOM]))


def marker_color(k: int) -> tuple[int, int, int]:
    return 50 + 2 * k, 255 - 2 * k, 100


def raw_k() -> np.ndarray:
    return np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1.0]])


def raw_poses(sky: str) -> np.ndarray:
    """Camera-to-world of the device as held: its image's sky side points up. With the level camera's
    right r, down d and forward f, the raw camera's x/y axes are: Up (r, d), Down (-r, -d),
    Left (d, -r) (the image's left edge, -x, is up), Right (-d, r)."""
    eye = to_world(CAMERA_SPOT)
    poses = []
    for target in to_world(np.asarray(LOOK_AT)):
        f = (target - eye) / np.linalg.norm(target - eye)
        r = np.cross(f, [0.0, 0.0, 1.0])
        r /= np.linalg.norm(r)
        d = np.cross(f, r)
        x, y = {"Up": (r, d), "Down": (-r, -d), "Left": (d, -r), "Right": (-d, r)}[sky]
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([x, y, f])
        pose[:3, 3] = eye
        poses.append(pose)
    return np.stack(poses)


def project(pose: np.ndarray, k: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) of world points, and whether each is in front of the camera."""
    camera = (points - pose[:3, 3]) @ pose[:3, :3]
    pixels = camera @ k.T
    return pixels[:, :2] / pixels[:, 2:3], camera[:, 2] > 0.1


def frame_ids() -> list[str]:
    return [f"{FIRST_TS + 0.1 * i:.3f}" for i in range(len(LOOK_AT))]


@dataclass(frozen=True)
class Video:
    folder: Path
    video_id: str
    frames_dir: Path


def ply_bytes(vertices: np.ndarray) -> bytes:
    """Binary little-endian, float xyz, uchar rgb, triangles as uchar-count int lists."""
    n = len(vertices) - len(vertices) % 3
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {n // 3}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vertex = np.zeros(len(vertices), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    vertex["xyz"], vertex["rgb"] = vertices, 180
    face = np.zeros(n // 3, dtype=[("n", "u1"), ("v", "<i4", 3)])
    face["n"], face["v"] = 3, np.arange(n).reshape(-1, 3)
    return header.encode() + vertex.tobytes() + face.tobytes()


def annotation(boxes=ARKIT_ROOM) -> dict:
    data = []
    for i, box in enumerate(boxes):
        obb = {
            "centroid": to_world(np.asarray(box.center)).tolist(),
            "axesLengths": list(box.extents),
            "normalizedAxes": world_axes(box).reshape(-1).tolist(),
        }
        data.append({"uid": f"4d1e{i:02d}c0-uid", "label": box.label, "segments": {"obb": obb, "obbAligned": obb},
                     "objectId": 1, "attributes": {}})  # fmt: skip
    return {"data": data, "stats": {}, "comment": "", "confirm": True, "skipped": False}


def write_video(
    split_dir: Path, video_id: str, sky: str, *, flat: bool = False, frames: bool = True, boxes=ARKIT_ROOM
) -> Video:
    """One video folder: annotation, mesh (floor grid + box surfaces) and, when asked, frames with their
    intrinsics (frame 1's .pincam is stamped a millisecond late) and trajectory (frame 2's pose 3 ms late)."""
    folder = split_dir / video_id
    frames_dir = folder if flat else folder / f"{video_id}_frames"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{video_id}_3dod_annotation.json").write_text(json.dumps(annotation(boxes)))
    gx, gy = np.meshgrid(np.linspace(0, ROOM_SIZE[0], 121), np.linspace(0, ROOM_SIZE[1], 81))
    floor = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    mesh = to_world(np.concatenate([floor, *(surface_samples(b) for b in boxes)]))
    (folder / f"{video_id}_3dod_mesh.ply").write_bytes(ply_bytes(mesh))
    if frames:
        _write_frames(frames_dir, video_id, sky)
    return Video(folder, video_id, frames_dir)


def _write_frames(frames_dir: Path, video_id: str, sky: str) -> None:
    for sub in ("lowres_wide", "lowres_wide_intrinsics"):
        (frames_dir / sub).mkdir(parents=True, exist_ok=True)
    points, lines = markers(), []
    for i, (frame_id, pose) in enumerate(zip(frame_ids(), raw_poses(sky), strict=True)):
        image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        pixels, in_front = project(pose, raw_k(), points)
        for k, ((u, v), front) in enumerate(zip(np.round(pixels).astype(int), in_front, strict=True)):
            if front and 0 <= u < WIDTH and 0 <= v < HEIGHT:
                image[v, u] = marker_color(k)
        cv2.imwrite(str(frames_dir / "lowres_wide" / f"{video_id}_{frame_id}.png"), image[..., ::-1])
        pincam_id = f"{float(frame_id) + 0.001:.3f}" if i == 1 else frame_id
        (frames_dir / "lowres_wide_intrinsics" / f"{video_id}_{pincam_id}.pincam").write_text(
            f"{WIDTH} {HEIGHT} {FX} {FY} {CX} {CY}\n"
        )
        w2c = np.linalg.inv(pose)
        rotvec, _ = cv2.Rodrigues(w2c[:3, :3])
        ts = float(frame_id) + (0.003 if i == 2 else 0.0)
        lines.append(" ".join(f"{v:.8f}" for v in (ts, *rotvec.ravel(), *w2c[:3, 3])))
    (frames_dir / "lowres_wide.traj").write_text("\n".join(lines) + "\n")


def write_metadata(path: Path, skies: dict[str, str | None]) -> None:
    rows = ["video_id,visit_id,sky_direction,fold,has_laser_scanner_point_clouds,is_in_upsampling,is_in_threedod"]
    rows += [f"{vid},{int(vid) // 100},{sky or 'NA'},Validation,False,False,True" for vid, sky in skies.items()]
    path.write_text("\n".join(rows) + "\n")


def write_split_csv(path: Path, folds: dict[str, str]) -> None:
    path.write_text("video_id,visit_id,fold\n" + "".join(f"{vid},NA,{fold}\n" for vid, fold in folds.items()))

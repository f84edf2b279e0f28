"""Write a synthetic scene exactly as ARKitScenes' 3DOD release ships a video.

The ARKit world is gravity-aligned (+z up) with its origin wherever the session started: here the layout
turned about z by a random angle and shifted, so the annotated boxes are turned too. Only the objects
ARKit's 17-class taxonomy annotates are written, under its class names. Frames are 256×192 landscape
`lowres_wide` images at 10 fps, taken with the device held so that the video's `sky_direction` (which
cycles through Up, Left, Down, Right; every third video's is NA in metadata.csv, as for real videos the
release did not orient) turns them upright again.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import cv2
import numpy as np

from vsi_data.seeding import rng_for
from vsi_data.sources.arkitscenes import ArkitScenesConfig, ArkitScenesSource, formats
from vsi_data.sources.arkitscenes.formats import CLOCKWISE_TURNS, FOLDER_OF_SPLIT
from vsi_data.sources.arkitscenes.parser import upright_camera
from vsi_data.synthetic.render import Cameras, Renderer
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

FIRST_ID = 90_000_000  # real 3DOD video ids run from 40753679 to 48458785; synthetic ones never collide
FRAME_RATE = 10.0  # the 3DOD frames are sampled at about 10 fps
DEPTH_SHIFT = 1000.0  # lowres_depth is uint16 millimetres
SKY_ORDER = ("Up", "Left", "Down", "Right")
UNLISTED_EVERY = 3  # every third video's sky_direction is NA, so the parser works it out from the poses
LATE_POSE_EVERY = 4  # every fourth pose is stamped 2 ms late, so only the nearest-pose lookup finds it
# Catalog raw labels → ARKitScenes classes (threedod taxonomy); kinds not listed are not annotated.
ARKIT_LABELS = {
    "bed": "bed",
    "chair": "chair",
    "office chair": "chair",
    "armchair": "chair",
    "table": "table",
    "desk": "table",
    "coffee table": "table",
    "couch": "sofa",
    "tv": "tv_monitor",
    "bookshelf": "shelf",
    "closet": "cabinet",
    "kitchen counter": "cabinet",
    "refrigerator": "refrigerator",
    "stove": "stove",
    "sink": "sink",
    "dishwasher": "dishwasher",
    "oven": "oven",
    "fireplace": "fireplace",
    "stool": "stool",
}
# ARKitScenes captured homes; offices and bedrooms hold too few of its classes for most question types.
ROOM_TYPES = ("kitchen", "living room")


def sky_of(video_id: str, seed: int) -> tuple[str, bool]:
    """The side of the raw frames the sky is on, and whether metadata.csv says so."""
    index = int(video_id) - FIRST_ID
    return SKY_ORDER[(index + seed) % len(SKY_ORDER)], index % UNLISTED_EVERY != UNLISTED_EVERY - 1


class ArkitScenesFormat:
    dataset = "arkitscenes"
    revision = REVISION
    default_frames = 180  # 18 s at 10 fps

    def scene_id(self, index: int) -> str:
        return str(FIRST_ID + index)

    def scene_folder(self, root: Path, scene_id: str, split: str) -> Path:
        return root / "3dod" / FOLDER_OF_SPLIT[split] / scene_id

    def prepare(self, root: Path, splits: dict[str, list[str]], seed: int) -> None:
        """`3dod/metadata.csv` and the split CSV next to `3dod/`, listing every video."""
        (root / "3dod").mkdir(parents=True, exist_ok=True)
        videos = sorted((video_id, split) for split, ids in splits.items() for video_id in ids)
        visit = {video_id: str(int(video_id) // 10) for video_id, _ in videos}
        formats.write_split_csv(root / formats.SPLIT_CSV_NAMES[0], [(v, visit[v], s) for v, s in videos])
        rows = []
        for video_id, split in videos:
            sky, listed = sky_of(video_id, seed)
            rows.append(
                {
                    "video_id": video_id,
                    "visit_id": visit[video_id],
                    "sky_direction": sky if listed else None,
                    "fold": FOLDER_OF_SPLIT[split],
                    "has_laser_scanner_point_clouds": False,
                    "is_in_upsampling": False,
                    "is_in_threedod": True,
                }
            )
        formats.write_metadata(root / "3dod" / formats.METADATA_NAME, rows)

    def write_scene(self, root: Path, scene_id: str, split: str, seed: int, num_frames: int) -> SyntheticScene:
        return write_scene(self.scene_folder(root, scene_id, split), scene_id, seed, num_frames)

    def reader(self, root: Path) -> ArkitScenesSource:
        return ArkitScenesSource(ArkitScenesConfig(root=root))


def write_scene(folder: Path, video_id: str, seed: int, num_frames: int) -> SyntheticScene:
    """Generate video `video_id` deterministically from `seed` and write its 3DOD files into `folder`."""
    files = formats.video_files(folder, video_id, flat=False)
    begin_scene(folder)
    shutil.rmtree(files.color_dir.parent, ignore_errors=True)  # frames of an earlier write
    geometry = synthesize(video_id, seed, num_frames, room_types=ROOM_TYPES)
    to_world = random_rigid_z(geometry.vertices, rng_for(seed, "synthetic-alignment", video_id))
    formats.write_mesh(files.mesh, apply(to_world, geometry.vertices), geometry.colors, geometry.faces)
    uid_rng = rng_for(seed, "synthetic-uids", video_id)
    annotated = [
        (str(uuid.UUID(bytes=uid_rng.bytes(16), version=4)), ARKIT_LABELS[obj.raw_label], obj.box.transformed(to_world))
        for obj in geometry.layout.objects
        if obj.raw_label in ARKIT_LABELS
    ]
    formats.write_annotation(files.annotation, video_id, annotated)
    if num_frames > 0:
        sky, _ = sky_of(video_id, seed)
        _write_frames(
            files, video_id, geometry, to_world, CLOCKWISE_TURNS[sky], rng_for(seed, "synthetic-time", video_id)
        )
    finish_scene(folder, seed, num_frames, REVISION)
    return SyntheticScene(geometry.layout, folder, files_from_layout=to_world)


def _write_frames(
    files: formats.VideoFiles,
    video_id: str,
    geometry: SyntheticGeometry,
    to_world: np.ndarray,
    turns: int,
    rng: np.random.Generator,
) -> None:
    """The device is held turned about its optical axis: the camera path's upright poses times the inverse
    of the turn the parser applies, so the parser's upright frames look along the path again."""
    cameras = Cameras.iphone_like()
    width, height = cameras.color_size
    turn, *_ = upright_camera(turns, width, height, cameras.color_intrinsics)
    raw_poses = geometry.poses @ np.linalg.inv(turn)
    timestamps = round(float(rng.uniform(100.0, 5000.0)), 3) + np.arange(len(raw_poses)) / FRAME_RATE
    for folder in (files.color_dir, files.depth_dir, files.intrinsics_dir):
        folder.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(geometry.vertices, geometry.faces, geometry.colors, cameras)
    for timestamp, (rgb, depth) in zip(timestamps, renderer.frames(raw_poses), strict=True):
        frame_id = f"{timestamp:.3f}"
        depth_mm = np.clip(np.round(depth * DEPTH_SHIFT), 0, 65535).astype(np.uint16)
        for folder, image in ((files.color_dir, rgb[..., ::-1]), (files.depth_dir, depth_mm)):
            if not cv2.imwrite(str(folder / formats.frame_name(video_id, frame_id, ".png")), image):
                raise OSError(f"{folder}: PNG encoding failed")
        formats.write_pincam(
            files.intrinsics_dir / formats.frame_name(video_id, frame_id, ".pincam"),
            width,
            height,
            cameras.color_intrinsics,
        )
    late = (np.arange(len(timestamps)) % LATE_POSE_EVERY == LATE_POSE_EVERY - 1) * 0.002
    formats.write_traj(files.traj, timestamps + late, to_world @ raw_poses)

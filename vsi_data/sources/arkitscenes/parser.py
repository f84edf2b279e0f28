"""ARKitScenes parser: one video folder of the 3DOD (or raw) release → one `Scene` in the ARKit world frame.

The world is gravity-aligned with +z up and the session origin where the device started; the annotation's
`obbAligned` boxes and the mesh are already in it, so nothing is re-aligned. Objects are the annotated
boxes as released (no fitting); `instance_id` is the object's index in the annotation's `data` list (uids
are strings; the file maps the index back to one). Labels go through ARKit's own normalisation and then
the recipe's vocabulary. The room is measured from every mesh vertex. Frames are turned upright by the
video's `sky_direction` (metadata.csv, or worked out from the poses when absent), with the intrinsics and
poses turned to match, so `read_color` returns what a viewer of the benchmark's rotated videos sees.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from vsi_data.geometry.visibility import scale_intrinsics
from vsi_data.scene import DepthStream, FrameStream, Scene, SceneObject
from vsi_data.sources.arkitscenes import SPEC, ArkitScenesConfig, formats
from vsi_data.sources.arkitscenes.formats import CLOCKWISE_TURNS, FOLDER_OF_SPLIT, SPLIT_FOLDERS
from vsi_data.sources.base import ParseOptions, SceneError, SceneRef, SceneSource
from vsi_data.sources.common import LeftOut, checked_stream, measure_scene_room, require_files, screen_objects

VIDEO_ID = re.compile(r"^\d+$")
POSE_TOLERANCE_S = 0.005  # the release's loader takes the nearest pose within this when no exact one exists
INTRINSICS_STEP_S = 0.001  # ... and looks for a frame's .pincam one millisecond either side
MIN_POSED_FRACTION = 0.5  # fewer frames with a pose than this: the trajectory belongs to something else
DEFAULT_FPS = 10.0  # 3DOD's lowres_wide rate, for a video of one frame
# One quarter turn clockwise of the image turns the camera by -90° about its optical axis (new x = old -y,
# new y = old x); as a camera-to-world right factor it is this matrix.
_QUARTER_TURN = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def arkit_label(label: str) -> str:
    """ARKit's own normalisation before its taxonomy lookup (' ', '-' and '/' become '_'), lower-cased."""
    return re.sub(r"[ \-/]", "_", label.strip().lower())


def upright_camera(turns: int, width: int, height: int, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """What turning the image `turns` quarter turns clockwise does to its camera: the 4×4 to right-multiply
    a camera-to-world pose with, and the turned image's intrinsics, width and height.

    One clockwise turn sends pixel (u, v) of a w×h image to (h-1-v, u) (pixel centres at integers, as
    `np.rot90` and OpenCV move them): fx and fy swap, cx' = h-1-cy and cy' = cx.
    """
    k = np.asarray(k, dtype=np.float64)
    for _ in range(turns % 4):
        k = np.array([[k[1, 1], 0.0, height - 1 - k[1, 2]], [0.0, k[0, 0], k[0, 2]], [0.0, 0.0, 1.0]])
        width, height = height, width
    turn = np.eye(4)
    turn[:3, :3] = np.linalg.matrix_power(_QUARTER_TURN, turns % 4)
    return turn, k, width, height


def sky_from_poses(poses: np.ndarray) -> str:
    """Which side of the raw image the sky is on, from camera-to-world poses: the device's mean up (-y)
    and right (+x) directions against world +z (the recipe dust3r uses for 3DOD videos)."""
    up, right = -poses[:, :3, 1].mean(axis=0), poses[:, :3, 0].mean(axis=0)
    up_angle, right_angle = (np.degrees(np.arccos(np.clip(v[2] / np.linalg.norm(v), -1, 1))) for v in (up, right))
    if abs(up_angle - 90) < abs(right_angle - 90):  # the device's up is level: it was held sideways
        return "Left" if right_angle > 90 else "Right"
    return "Down" if up_angle > 90 else "Up"


class ArkitScenesSource(SceneSource):
    name = SPEC.name
    label_namespace = SPEC.label_namespace

    def __init__(self, config: ArkitScenesConfig) -> None:
        self.config = config
        root = Path(config.root)
        self.data_dir = next((d for d in (root / "3dod", root / "raw") if d.is_dir()), root)
        if not any((self.data_dir / folder).is_dir() for folder in SPLIT_FOLDERS):
            raise SceneError(
                root, "ARKitScenes root not found (expected a folder holding 3dod/ or raw/ with Training/, Validation/)"
            )
        self._search_dirs = [self.data_dir, self.data_dir.parent, self.data_dir.parent / "meta"]

    def _find(self, *names: str) -> Path | None:
        return next((d / n for d in self._search_dirs for n in names if (d / n).is_file()), None)

    @cached_property
    def split_csv_path(self) -> Path | None:
        return self._find(*formats.SPLIT_CSV_NAMES)

    @cached_property
    def split_csv(self) -> dict[str, str]:
        return formats.read_split_csv(self.split_csv_path) if self.split_csv_path else {}

    @cached_property
    def metadata_path(self) -> Path | None:
        return self._find(formats.METADATA_NAME)

    @cached_property
    def metadata(self) -> dict[str, dict[str, str]]:
        return formats.read_metadata(self.metadata_path) if self.metadata_path else {}

    def list_scenes(self) -> list[SceneRef]:
        """Every video folder under Training/ and Validation/; the folder gives the split."""
        refs = []
        for folder, split in SPLIT_FOLDERS.items():
            split_dir = self.data_dir / folder
            if split_dir.is_dir():
                videos = sorted(p for p in split_dir.iterdir() if p.is_dir() and VIDEO_ID.match(p.name))
                refs += [SceneRef(p.name, split, p, self.name) for p in videos]
        return refs

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        video_id = ref.scene_id
        listed = self.split_csv.get(video_id)
        if listed is not None and listed != ref.split:
            raise SceneError(
                ref.path,
                f"the video is in {FOLDER_OF_SPLIT[ref.split]}/ but {self.split_csv_path} lists it as "
                f"{FOLDER_OF_SPLIT[listed]}",
            )
        files = formats.video_files(ref.path, video_id)
        require_files(ref.path, files.annotation, files.mesh)
        annotation = formats.read_annotation(files.annotation)
        if annotation.skipped:
            raise SceneError(files.annotation, "the annotators skipped this video (`skipped: true`)")
        vertices = formats.read_mesh(files.mesh)
        room = measure_scene_room(vertices, video_id, options, files.mesh)
        stats: Counter[str] = Counter()
        left_out = LeftOut(stats)
        objects = screen_objects(
            self._objects(annotation, vertices, options, stats), options.bounds, files.annotation, left_out
        )
        left_out.log()
        frames = self._frames(files, video_id, stats) if options.frames else None
        return Scene(
            scene_id=video_id,
            dataset=self.name,
            split=ref.split,
            objects=objects,
            room=room,
            frames=None if frames is None else checked_stream(frames, options.bounds, files.traj.parent, stats),
            unreliable_categories=left_out.unreliable,
            stats=stats,
        )

    def _objects(
        self, annotation: formats.Annotation, vertices: np.ndarray, options: ParseOptions, stats: Counter[str]
    ) -> list[SceneObject]:
        objects = []
        for index, item in enumerate(annotation.objects):
            category = options.vocabulary.categorize(self.label_namespace, arkit_label(item.label))
            if category is None:
                stats["objects_outside_vocabulary"] += 1
                continue
            inside = vertices[item.box.contains(vertices)].astype(np.float32)
            stats["objects_without_mesh_vertices"] += not len(inside)
            objects.append(SceneObject(index, category, item.label, item.box, inside if len(inside) else None))
        return objects

    def _frames(self, files: formats.VideoFiles, video_id: str, stats: Counter[str]) -> FrameStream | None:
        paths = sorted(files.color_dir.glob(f"{video_id}_*.png")) if files.color_dir.is_dir() else []
        if not paths:
            return None
        frame_ids = [p.stem.rsplit("_", 1)[1] for p in paths]
        timestamps = np.array([_timestamp(p, i) for p, i in zip(paths, frame_ids, strict=True)])
        order = np.argsort(timestamps, kind="stable")
        paths, frame_ids, timestamps = [paths[i] for i in order], [frame_ids[i] for i in order], timestamps[order]
        width, height, k = _intrinsics(files.intrinsics_dir, video_id, frame_ids)
        poses = _poses(files.traj, timestamps, stats)
        sky = None
        if self.metadata_path is not None:
            sky = formats.sky_direction(self.metadata.get(video_id), self.metadata_path, video_id)
        from_poses = sky_from_poses(poses[np.isfinite(poses[:, 0, 0])])
        if sky is None:
            sky = from_poses
            stats["sky_direction_from_poses"] += 1
        stats["sky_direction_disagrees_with_poses"] += sky != from_poses
        turns = CLOCKWISE_TURNS[sky]
        turn, k_upright, width_upright, height_upright = upright_camera(turns, width, height, k)
        depth = _depth(files.depth_dir, video_id, frame_ids, turns, (width, height), k)
        stats["videos_without_depth"] += depth is None
        return FrameStream(
            poses=poses @ turn,
            timestamps=timestamps,
            intrinsics=k_upright,
            width=width_upright,
            height=height_upright,
            read_color=functools.partial(_read_upright, tuple(paths), turns, (width, height), cv2.IMREAD_COLOR),
            fps=_frame_rate(timestamps),
            depth=depth,
        )


def _timestamp(path: Path, frame_id: str) -> float:
    try:
        return float(frame_id)
    except ValueError:
        raise SceneError(path, "frame name does not end in a timestamp (<video_id>_<seconds>.png)") from None


def _intrinsics(folder: Path, video_id: str, frame_ids: list[str]) -> tuple[int, int, np.ndarray]:
    """Every frame's `.pincam` (or the one a millisecond either side); one size for all, the median K."""
    sizes, ks = set(), []
    for frame_id in frame_ids:
        near = (f"{float(frame_id) + d:.3f}" for d in (-INTRINSICS_STEP_S, INTRINSICS_STEP_S))
        candidates = [folder / formats.frame_name(video_id, i, ".pincam") for i in (frame_id, *near)]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise SceneError(candidates[0], f"intrinsics of frame {frame_id} are missing (also ±1 ms)")
        width, height, k = formats.read_pincam(path)
        sizes.add((width, height))
        ks.append(k)
    if len(sizes) > 1:
        raise SceneError(folder, f"frames of different sizes: {sorted(sizes)}")
    ((width, height),) = sizes
    return width, height, np.median(np.stack(ks), axis=0)


def _poses(traj_path: Path, timestamps: np.ndarray, stats: Counter[str]) -> np.ndarray:
    """Each frame's camera-to-world: the trajectory pose whose timestamp rounds to the frame's millisecond,
    else the nearest within `POSE_TOLERANCE_S`, else NaN (the frame stays, marked invalid)."""
    traj_ts, traj_poses = formats.read_traj(traj_path)
    order = np.argsort(traj_ts, kind="stable")
    traj_ts, traj_poses = traj_ts[order], traj_poses[order]
    traj_ms, frame_ms = np.round(traj_ts * 1000).astype(np.int64), np.round(timestamps * 1000).astype(np.int64)
    exact = np.clip(np.searchsorted(traj_ms, frame_ms), 0, len(traj_ms) - 1)
    is_exact = traj_ms[exact] == frame_ms
    right = np.clip(np.searchsorted(traj_ts, timestamps), 0, len(traj_ts) - 1)
    left = np.clip(right - 1, 0, len(traj_ts) - 1)
    nearest = np.where(np.abs(traj_ts[left] - timestamps) <= np.abs(traj_ts[right] - timestamps), left, right)
    pick = np.where(is_exact, exact, nearest)
    posed = is_exact | (np.abs(traj_ts[nearest] - timestamps) <= POSE_TOLERANCE_S + 1e-9)
    if posed.sum() < MIN_POSED_FRACTION * len(timestamps):
        raise SceneError(
            traj_path, f"only {int(posed.sum())} of {len(timestamps)} frames have a pose within {POSE_TOLERANCE_S} s"
        )
    stats["frames_without_pose"] += int((~posed).sum())
    poses = np.full((len(timestamps), 4, 4), np.nan)
    poses[posed] = traj_poses[pick[posed]]
    return poses


def _frame_rate(timestamps: np.ndarray) -> float:
    """The stream's real rate: one over the median spacing of its frames, to the millihertz."""
    steps = np.diff(timestamps)
    steps = steps[steps > 0]
    return round(1.0 / float(np.median(steps)), 3) if len(steps) else DEFAULT_FPS


def _depth(
    folder: Path, video_id: str, frame_ids: list[str], turns: int, color_size: tuple[int, int], k: np.ndarray
) -> DepthStream | None:
    """`lowres_depth/` (uint16 millimetres, registered to `lowres_wide`) turned upright like the colour frames;
    None unless every frame has one."""
    paths = tuple(folder / formats.frame_name(video_id, i, ".png") for i in frame_ids)
    if not all(p.is_file() for p in paths):
        return None
    first = cv2.imread(str(paths[0]), cv2.IMREAD_UNCHANGED)
    if first is None or first.ndim != 2 or first.dtype != np.uint16:
        raise SceneError(paths[0], "depth is not a 16-bit single-channel PNG")
    size = (first.shape[1], first.shape[0])
    _, k_depth, width, height = upright_camera(turns, *size, scale_intrinsics(k, color_size, size))
    read = functools.partial(_read_upright, paths, turns, size, cv2.IMREAD_UNCHANGED)
    return DepthStream(k_depth, width, height, lambda i: read(i).astype(np.float32) / np.float32(1000.0))


def _read_upright(paths: tuple[Path, ...], turns: int, size: tuple[int, int], flags: int, index: int) -> np.ndarray:
    """Frame `index` turned upright: RGB for colour, the raw values for depth."""
    path = paths[index]
    image = cv2.imread(str(path), flags)
    if image is None:
        raise SceneError(path, "unreadable image")
    if (image.shape[1], image.shape[0]) != size:
        raise SceneError(path, f"image is {image.shape[1]}×{image.shape[0]}, expected {size[0]}×{size[1]}")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(np.rot90(image, k=-turns))

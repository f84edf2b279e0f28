"""The sidecar of a scene video, `videos/<dataset>/<scene_id>.frames.parquet`: what the video alone cannot say.

One row per video frame: `frame` (index in the video), `timestamp` (the capture's clock, seconds),
`video_time` (frame / fps, the clock a question about the video uses), `valid` (finite pose) and `pose`
(camera-to-world in the scene frame, 16 floats row-major, NaN where invalid). The schema metadata holds the
colour intrinsics at the stream's `width`×`height`, the video's own size and its frame rate, so a consumer
(training, inspection, a resumed build) can project scene geometry into any frame without the source scans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vsi_data.io import write_atomic
from vsi_data.scene import FrameStream

SIDECAR_SUFFIX = ".frames.parquet"
_META_KEY = b"vsi_data.frames"
_COLUMNS = {"frame", "timestamp", "video_time", "valid", "pose"}


class FrameTableError(ValueError):
    """A sidecar that cannot be read; the message names the file."""


@dataclass(frozen=True, eq=False)
class FrameTable:
    poses: np.ndarray  # (N, 4, 4) camera-to-world, NaN where invalid
    timestamps: np.ndarray  # (N,) capture seconds
    video_times: np.ndarray  # (N,) seconds into the video
    valid: np.ndarray  # (N,) bool
    intrinsics: np.ndarray  # (3, 3) at width × height
    width: int
    height: int
    fps: float
    video_size: tuple[int, int]  # the video's width, height

    def __len__(self) -> int:
        return len(self.poses)

    def matches(self, frames: FrameStream) -> bool:
        """Does this table describe `frames` (same count, clock, rate and poses)? Then its video can be kept."""
        if len(frames) != len(self) or not np.isclose(frames.fps, self.fps):
            return False
        poses = np.where(frames.valid[:, None, None], frames.poses, np.nan)
        return bool(
            np.array_equal(frames.valid, self.valid)
            and np.allclose(poses, self.poses, atol=1e-9, equal_nan=True)
            and np.allclose(frames.timestamps, self.timestamps, atol=1e-9)
        )


def sidecar_path(video: Path) -> Path:
    return video.with_name(video.name.removesuffix(".mp4") + SIDECAR_SUFFIX)


def write_frame_table(path: Path, frames: FrameStream, video_size: tuple[int, int]) -> None:
    """Write the sidecar of `frames` atomically."""
    valid = frames.valid
    poses = np.where(valid[:, None, None], frames.poses, np.nan).reshape(len(frames), 16)
    index = np.arange(len(frames))
    table = pa.table(
        {
            "frame": pa.array(index, pa.int32()),
            "timestamp": pa.array(np.asarray(frames.timestamps, dtype=np.float64)),
            "video_time": pa.array(np.asarray(frames.video_time(index), dtype=np.float64)),
            "valid": pa.array(valid),
            "pose": pa.FixedSizeListArray.from_arrays(pa.array(poses.ravel(), pa.float64()), 16),
        }
    )
    meta = {
        "fps": float(frames.fps),
        "intrinsics": np.asarray(frames.intrinsics, dtype=np.float64).tolist(),
        "width": int(frames.width),
        "height": int(frames.height),
        "video_width": int(video_size[0]),
        "video_height": int(video_size[1]),
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_frame_table(path: Path) -> FrameTable:
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise FrameTableError(f"{path}: file is missing") from None
    except (OSError, pa.ArrowException) as exc:
        raise FrameTableError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = _COLUMNS - set(table.column_names)
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if missing or raw is None:
        raise FrameTableError(f"{path}: not a frame table (missing {sorted(missing) or 'its metadata'})")
    try:
        meta = json.loads(raw)
        intrinsics = np.asarray(meta["intrinsics"], dtype=np.float64).reshape(3, 3)
        fps, width, height = float(meta["fps"]), int(meta["width"]), int(meta["height"])
        video_size = (int(meta["video_width"]), int(meta["video_height"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise FrameTableError(f"{path}: unreadable frame-table metadata ({exc})") from exc
    frame = table.column("frame").to_numpy()
    if not np.array_equal(frame, np.arange(len(frame))):
        raise FrameTableError(f"{path}: frame indices are not 0..{len(frame) - 1} in order")
    poses = table.column("pose").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, 4, 4)
    return FrameTable(
        poses=poses,
        timestamps=table.column("timestamp").to_numpy(),
        video_times=table.column("video_time").to_numpy(),
        valid=table.column("valid").to_numpy(zero_copy_only=False),
        intrinsics=intrinsics,
        width=width,
        height=height,
        fps=fps,
        video_size=video_size,
    )

"""A scene's video and its frame-table sidecar, written together (and kept when a re-run finds them intact)."""

from __future__ import annotations

from pathlib import Path

from vsi_data.errors import SceneError
from vsi_data.scene import FrameStream
from vsi_data.video.encode import DEFAULT_VIDEO_PRESET, copy_video, encode_stream, video_size
from vsi_data.video.frame_table import FrameTableError, read_frame_table, sidecar_path, write_frame_table


def write_scene_video(
    frames: FrameStream, path: Path, reencode: bool = False, preset: str = DEFAULT_VIDEO_PRESET
) -> bool:
    """Write `path` (mp4) and its sidecar for `frames`; returns False when both were already there for this
    very stream (a scene redone after its part file was lost), so nothing was encoded again.

    A stream backed by a video file is copied as is when its codec fits an mp4 and `reencode` is off;
    otherwise every colour frame is encoded (640×480 at the stream's rate) with x264's `preset`."""
    sidecar = sidecar_path(path)
    if path.is_file() and sidecar.is_file():
        try:
            if read_frame_table(sidecar).matches(frames):
                return False
        except FrameTableError:
            pass  # unreadable: written again below
    copied = None
    if frames.source_video is not None and not reencode:
        copied = copy_video(frames.source_video, path)
        if copied is not None and copied != len(frames):
            raise SceneError(frames.source_video, f"{copied} video frames, but the stream has {len(frames)} poses")
    if copied is None:
        encode_stream(frames, path, preset=preset)
    write_frame_table(sidecar, frames, video_size(path))
    return True

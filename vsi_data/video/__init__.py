"""Scan streams to video, the frame-table sidecar, and frame sampling for training."""

from vsi_data.video.encode import (
    DEFAULT_VIDEO_PRESET,
    ENCODER_THREADS,
    VIDEO_FPS,
    VIDEO_PRESETS,
    VIDEO_SIZE,
    copy_video,
    encode_stream,
)
from vsi_data.video.frame_table import FrameTable, FrameTableError, read_frame_table, sidecar_path
from vsi_data.video.scene_video import write_scene_video

__all__ = [
    "DEFAULT_VIDEO_PRESET",
    "ENCODER_THREADS",
    "VIDEO_FPS",
    "VIDEO_PRESETS",
    "VIDEO_SIZE",
    "FrameTable",
    "FrameTableError",
    "copy_video",
    "encode_stream",
    "read_frame_table",
    "sidecar_path",
    "write_scene_video",
]

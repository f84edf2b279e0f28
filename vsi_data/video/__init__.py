"""Scan streams to video."""

from vsi_data.video.encode import VIDEO_FPS, VIDEO_SIZE, encode_stream

__all__ = ["VIDEO_FPS", "VIDEO_SIZE", "encode_stream"]

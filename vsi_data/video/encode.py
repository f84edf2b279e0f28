"""Encode a scan's colour stream as the mp4 a question refers to: every frame, 640×480, 24 fps (the
VSI-Bench convention for ScanNet), H.264 where the codec exists. Frames are decoded and encoded one at a
time, so memory does not grow with the length of the scan; the file appears only when complete.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2

from vsi_data.output.shards import write_atomic
from vsi_data.scene import FrameStream

VIDEO_FPS = 24
VIDEO_SIZE = (640, 480)


def video_codec() -> str:
    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
    raise RuntimeError("no H.264 or MPEG-4 encoder in this PyAV build")


def encode_stream(frames: FrameStream, path: Path, fps: int = VIDEO_FPS, size: tuple[int, int] | None = None) -> int:
    """Write every colour frame of `frames` to `path`; returns the number of frames written.

    The default size is 640×480, or 480×640 for a portrait stream (an ARKitScenes video turned upright),
    so frames are never stretched."""
    if frames.read_color is None:
        raise ValueError("this frame stream has no colour images")
    if size is None:
        size = VIDEO_SIZE if frames.width >= frames.height else VIDEO_SIZE[::-1]
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(video_codec(), rate=fps)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            for i in range(len(frames)):
                rgb = cv2.resize(frames.read_color(i), size, interpolation=cv2.INTER_AREA)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode())

    write_atomic(path, write)
    return len(frames)

"""Encode a scan's colour stream as the mp4 a question refers to: every frame, 640×480 (480×640 for a portrait
stream), at the stream's video rate (24 fps for ScanNet, the VSI-Bench convention), H.264 where the codec
exists. Frames are decoded and encoded one at a time, so memory does not grow with the length of the scan; the
file appears only when complete. A stream that already is a video (ScanNet++'s iPhone capture) is copied into
an mp4 as is, packets untouched, unless re-encoding is asked for.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2

from vsi_data.output.shards import write_atomic
from vsi_data.scene import FrameStream

VIDEO_FPS = 24
VIDEO_SIZE = (640, 480)
MP4_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1"})  # what an mp4 can carry without re-encoding


def video_codec() -> str:
    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
    raise RuntimeError("no H.264 or MPEG-4 encoder in this PyAV build")


def video_rate(fps: float) -> Fraction:
    """The container's frame rate for `fps`: exact for whole rates, NTSC-style (30000/1001) where close."""
    return Fraction(fps).limit_denominator(1001)


def default_size(frames: FrameStream) -> tuple[int, int]:
    return VIDEO_SIZE if frames.width >= frames.height else VIDEO_SIZE[::-1]


def encode_stream(
    frames: FrameStream, path: Path, fps: float | None = None, size: tuple[int, int] | None = None
) -> int:
    """Write every colour frame of `frames` to `path` at `fps` (default: the stream's); returns the number of
    frames written. The default size is 640×480, or 480×640 for a portrait stream (an ARKitScenes video turned
    upright), so frames are never stretched."""
    if frames.read_color is None:
        raise ValueError("this frame stream has no colour images")
    size = size or default_size(frames)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(video_codec(), rate=video_rate(fps or frames.fps))
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            for i in range(len(frames)):
                rgb = cv2.resize(frames.read_color(i), size, interpolation=cv2.INTER_AREA)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode())

    write_atomic(path, write)
    return len(frames)


def copy_video(source: Path, path: Path) -> int | None:
    """Remux the first video stream of `source` into the mp4 `path` without decoding; returns the number of
    frames copied, or None when its codec cannot go into an mp4 as is (the caller then re-encodes)."""
    with av.open(str(source)) as probe:
        if probe.streams.video[0].codec_context.name not in MP4_CODECS:
            return None
    copied = 0

    def write(tmp: Path) -> None:
        nonlocal copied
        with av.open(str(source)) as src, av.open(str(tmp), mode="w", format="mp4") as dst:
            in_stream = src.streams.video[0]
            out_stream = dst.add_stream_from_template(in_stream)
            for packet in src.demux(in_stream):
                if not packet.size:  # the demuxer's end-of-stream flush packet
                    continue
                packet.stream = out_stream
                dst.mux(packet)
                copied += 1

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, write)
    return copied


def video_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height

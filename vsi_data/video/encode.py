"""Encode a scan's colour stream as the mp4 a question refers to: every frame, 640×480 (480×640 for a portrait
stream), at the stream's video rate (24 fps for ScanNet, the VSI-Bench convention), H.264 where the codec
exists. Frames are decoded and encoded one at a time, so memory does not grow with the length of the scan; the
file appears only when complete. A stream that already is a video (ScanNet++'s iPhone capture) is copied into
an mp4 as is, packets untouched, unless re-encoding is asked for.

Encoding costs about what decoding the source JPEGs costs (docs/performance.md): frames are decoded at the
smallest JPEG scale that still covers 640×480, converted to the encoder's 4:2:0 planes before the last small
resize, and x264 runs at a fast preset (`--video-preset`). Its thread count is fixed, never taken from the
machine, so a scene gives the same mp4 bytes on any number of cores.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vsi_data.io import write_atomic
from vsi_data.scene import FrameStream

VIDEO_FPS = 24
VIDEO_SIZE = (640, 480)
MP4_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1"})  # what an mp4 can carry without re-encoding
# x264's presets, fastest first. The default keeps encoding within about 1.5x of decoding the frames; `medium`
# (x264's own default, what builds used before) gives files about half the size for about 4x the CPU.
VIDEO_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEFAULT_VIDEO_PRESET = "ultrafast"
# x264's bitstream depends on its thread count, so the count is fixed rather than taken from the machine. One
# thread is also the cheapest per frame; a build runs scenes in parallel instead (one worker per core).
ENCODER_THREADS = 1
# A frame no more than this much larger than the video (a JPEG decoded at 1/2 scale: 648×484 for 640×480) is
# resized bilinearly on its 4:2:0 planes; a larger one is area-averaged first, which does not alias.
_NEAR_SIZE = 1.25


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
    frames: FrameStream,
    path: Path,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    preset: str = DEFAULT_VIDEO_PRESET,
) -> int:
    """Write every colour frame of `frames` to `path` at `fps` (default: the stream's); returns the number of
    frames written. The default size is 640×480, or 480×640 for a portrait stream (an ARKitScenes video turned
    upright), so frames are never stretched. `preset` is x264's speed/size trade-off (ignored by other codecs)."""
    if preset not in VIDEO_PRESETS:
        raise ValueError(f"unknown video preset {preset!r}; expected one of {', '.join(VIDEO_PRESETS)}")
    size = size or default_size(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(video_codec(), rate=video_rate(fps or frames.fps))
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.thread_count = ENCODER_THREADS
            if stream.codec_context.name == "libx264":
                stream.options = {"preset": preset}
            for rgb in frames.colors(size):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(yuv420(rgb, size), format="yuv420p")))
                written += 1
            container.mux(stream.encode())

    write_atomic(path, write)
    return written


def yuv420(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB frame as `size` (width, height) 4:2:0 planes (I420: Y, then U, then V; BT.601 limited range, what
    decoders assume for an untagged H.264 stream). Resizing the planes rather than the RGB moves half the bytes;
    the exact bilinear kernel gives the same bytes on every CPU."""
    height, width = rgb.shape[:2]
    if (width, height) == size:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    near = width <= _NEAR_SIZE * size[0] and height <= _NEAR_SIZE * size[1]
    if not near or width % 2 or height % 2:
        interpolation = cv2.INTER_LINEAR_EXACT if near else cv2.INTER_AREA
        return cv2.cvtColor(cv2.resize(rgb, size, interpolation=interpolation), cv2.COLOR_RGB2YUV_I420)
    planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    out = np.empty((size[1] * 3 // 2, size[0]), np.uint8)
    cv2.resize(planes[:height], size, dst=out[: size[1]], interpolation=cv2.INTER_LINEAR_EXACT)
    chroma_in = planes[height:].reshape(2, height // 2, width // 2)
    chroma_out = out[size[1] :].reshape(2, size[1] // 2, size[0] // 2)
    for plane, target in zip(chroma_in, chroma_out, strict=True):
        cv2.resize(plane, (size[0] // 2, size[1] // 2), dst=target, interpolation=cv2.INTER_LINEAR_EXACT)
    return out


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

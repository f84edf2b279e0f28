"""Sample frames from a question's video for training, prediction and `inspect`.

Qwen-VL models cut images into 28-pixel cells, and TRL hands every frame to the processor as an image.
If our resize and the processor's disagree, image-token counts drift between the HF and vLLM paths
(trl#6401), so every frame of a video gets one size here: sides that are multiples of 28, inside a pixel
budget, aspect ratio kept. Frame choice is uniform (`np.linspace` over the decoded frames, as VSI-Bench
does) so the same call always returns the same frames.

decord reads by index without decoding the whole stream; PyAV is the fallback and decodes sequentially,
keeping only the chosen frames, so memory is bounded by the frames returned, not the video's length.
"""

from __future__ import annotations

import functools
import logging
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np

from vsi_data.io import Store, given_location, is_file

log = logging.getLogger(__name__)

PATCH = 28  # Qwen-VL: 14-pixel patches merged 2×2
# Per-frame defaults: ~0.2 Mpx keeps 16 frames near 4k visual tokens per video when passed as images.
DEFAULT_MIN_PIXELS = 4 * PATCH * PATCH
DEFAULT_MAX_PIXELS = 256 * PATCH * PATCH


class VideoReadError(RuntimeError):
    """A video file that cannot be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class SampledFrames:
    images: list[np.ndarray]  # H×W×3 uint8 RGB, all the same size
    indices: np.ndarray  # frame numbers in the video
    timestamps: np.ndarray  # seconds from the start
    fps: float  # the video's frame rate
    total_frames: int


def fit_to_patches(
    height: int,
    width: int,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    factor: int = PATCH,
) -> tuple[int, int]:
    """The (height, width) nearest the input's aspect ratio with both sides multiples of `factor` and
    an area in [min_pixels, max_pixels] (the rounding rule of Qwen's `smart_resize`). The maximum is a
    hard limit (it bounds tokens and memory) unless a side is already one cell; the minimum is met when
    the budget leaves room for it."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}×{width}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of {height}×{width} is above 200")
    if not 0 < min_pixels <= max_pixels:
        raise ValueError(f"need 0 < min_pixels <= max_pixels, got {min_pixels}, {max_pixels}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
        if h * w > max_pixels:  # a tight budget: the maximum wins, the minimum is best effort
            h = max(factor, math.floor(height * beta / factor) * factor)
            w = max(factor, math.floor(width * beta / factor) * factor)
    return h, w


def uniform_indices(
    total: int,
    num_frames: int | None = None,
    fps: float | None = None,
    video_fps: float = 0.0,
    truncate: bool = False,
):
    """Frame numbers to keep: `num_frames` spread evenly over [0, total − 1] (VSI-Bench's linspace), or
    one every 1/`fps` seconds. Never more frames than the video has, never a repeated index. Positions
    round to the nearest frame, or with `truncate` toward zero, as lmms-eval's
    `np.linspace(0, total - 1, n, dtype=int)` does for Qwen2-VL (the last frame is kept either way)."""
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    if (num_frames is None) == (fps is None):
        raise ValueError("give exactly one of num_frames or fps")
    if fps is not None:
        if fps <= 0 or video_fps <= 0:
            raise ValueError(f"fps sampling needs positive rates, got fps={fps}, video fps={video_fps}")
        duration = total / video_fps
        num_frames = max(1, math.floor(duration * fps))
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    positions = np.linspace(0, total - 1, min(num_frames, total))
    return np.unique((positions if truncate else np.round(positions)).astype(np.int64))


def sample_frames(
    path: Path | str,
    num_frames: int | None = None,
    fps: float | None = None,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    backend: str = "auto",
    truncate: bool = False,
) -> SampledFrames:
    """Uniformly sampled, patch-aligned RGB frames of the video at `path`.

    `path` is a local file or an fsspec URL (a build's video in a bucket), read through fsspec: PyAV streams it,
    decord takes it whole into memory. backend: "decord", "pyav", or "auto" (decord when importable, PyAV
    otherwise); truncate: frame positions as `uniform_indices` takes them."""
    path = given_location(path)
    try:
        found = is_file(path)
    except OSError as exc:  # an unknown protocol, a host that does not answer
        raise VideoReadError(f"{path}: cannot read ({exc})") from None
    if not found:
        raise VideoReadError(f"{path}: video file not found")
    if backend not in {"auto", "decord", "pyav"}:
        raise ValueError(f"unknown video backend {backend!r} (auto, decord, pyav)")
    reader = _read_pyav
    if backend in {"auto", "decord"}:
        try:
            import decord  # noqa: F401

            reader = _read_decord
        except ImportError:
            if backend == "decord":
                raise
    try:
        with Store.at(path).open() if isinstance(path, str) else nullcontext(str(path)) as source:
            frames, indices, fps_video, total = reader(
                source, functools.partial(uniform_indices, num_frames=num_frames, fps=fps, truncate=truncate)
            )
    except VideoReadError as exc:
        raise VideoReadError(f"{path}: {exc}") from None
    except Exception as exc:  # decoders raise their own types; the caller needs the file and the reason
        raise VideoReadError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise VideoReadError(f"{path}: no frames decoded")
    height, width = frames[0].shape[:2]
    target_h, target_w = fit_to_patches(height, width, min_pixels, max_pixels)
    resized = [_resize(frame, target_w, target_h) for frame in frames]
    return SampledFrames(resized, indices, indices / fps_video, fps_video, total)


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    shrinking = width * height < frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _read_decord(source: str | BinaryIO, choose):
    import decord

    reader = decord.VideoReader(source, ctx=decord.cpu(0), num_threads=1)
    total, video_fps = len(reader), float(reader.get_avg_fps())
    indices = choose(total, video_fps=video_fps)
    batch = reader.get_batch(indices.tolist()).asnumpy()
    return list(batch), indices, video_fps, total


def _read_pyav(source: str | BinaryIO, choose):
    with av.open(source) as container:
        stream = container.streams.video[0]
        video_fps = float(stream.average_rate or stream.guessed_rate or 0)
        total = stream.frames or _count_frames(container)
        indices = choose(total, video_fps=video_fps)
        wanted = set(indices.tolist())
        container.seek(0)
        frames: list[np.ndarray] = []
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if i >= indices[-1]:
                break
    if len(frames) != len(indices):
        raise VideoReadError(f"the container claims {total} frames but only {len(frames)} were decodable")
    return frames, indices, video_fps, total


def _count_frames(container: av.container.InputContainer) -> int:
    """Containers without a frame count in their header (some mkv) are counted by demuxing."""
    return sum(1 for packet in container.demux(video=0) if packet.size)

"""A dataset's own video files (ScanNet++'s iPhone `rgb.mkv`): probing, reading frame by frame, and writing
them (for the synthetic generator). Bad files raise `SceneError` naming the file, as a parser's readers do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vsi_data.errors import SceneError
from vsi_data.io import write_atomic
from vsi_data.video.encode import video_codec


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float


def probe_video(path: Path) -> VideoInfo:
    """Frame count and size. Matroska stores no frame count, so packets are counted (demuxed, not decoded)."""
    if not path.is_file():
        raise SceneError(path, "file is missing")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SceneError(path, "no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:  # corrupt metadata fails to decode as text
        raise SceneError(path, f"unreadable video ({exc})") from exc
    if frames == 0 or width <= 0 or height <= 0 or not rate:
        raise SceneError(path, f"video has {frames} frames of {width}x{height} at {rate} fps")
    return VideoInfo(frames, width, height, float(rate))


class VideoReader:
    """Frame i of a video as H×W×3 RGB. Reading forward keeps one open decoder and a cursor, so a whole pass
    decodes each frame once; only a step backwards reopens the file and decodes from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._container = None
        self._frames = None
        self._next = 0  # the index of the frame the decoder yields next

    def __call__(self, index: int) -> np.ndarray:
        if self._frames is None or index < self._next:
            self._open()
        try:
            for frame in self._frames:
                self._next += 1
                if self._next - 1 == index:
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise SceneError(self.path, f"cannot decode frame {index} ({exc})") from exc
        self.close()
        raise SceneError(self.path, f"video ends before frame {index}")

    def _open(self) -> None:
        self.close()
        self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._frames = self._container.decode(stream)
        self._next = 0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames = None, None


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int) -> int:
    """RGB frames (all the same size) as a Matroska H.264 video (MPEG-4 where no H.264 encoder exists); the file
    appears only when complete. Returns the number of frames written."""
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with av.open(str(tmp), mode="w", format="matroska") as container:
            stream = None
            for rgb in frames:
                if stream is None:
                    stream = container.add_stream(video_codec(), rate=fps)
                    stream.height, stream.width = rgb.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": "18"} if stream.codec_context.name in {"libx264", "h264"} else {}
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                written += 1
            if stream is not None:
                container.mux(stream.encode())

    write_atomic(path, write)
    return written

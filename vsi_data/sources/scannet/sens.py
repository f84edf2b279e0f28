"""ScanNet `.sens` (version 4): the RGB-D stream with per-frame camera-to-world poses.

Layout (little-endian): version u32, name length u64 + name, four 4×4 f32 matrices (colour intrinsic,
colour extrinsic, depth intrinsic, depth extrinsic), colour and depth compression i32, colour w/h and
depth w/h u32, depth shift f32, frame count u64; then per frame a 4×4 f32 pose, colour and depth
timestamps u64 (µs), colour and depth byte sizes u64, the JPEG bytes and the zlib'd uint16 depth; then
an IMU block. Opening indexes the frames (offsets and poses) without decoding any image.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vsi_data.errors import SceneError
from vsi_data.sources.handles import handle_for_life

SENS_VERSION = 4
COLOR_JPEG = 2
DEPTH_ZLIB_USHORT = 1
_FRAME_HEADER = struct.Struct("<16f4Q")  # pose, timestamp colour/depth, size colour/depth
_FRAME_HEADER_DTYPE = np.dtype(
    [
        ("pose", "<f4", 16),
        ("timestamp_color", "<u8"),
        ("timestamp_depth", "<u8"),
        ("color_size", "<u8"),
        ("depth_size", "<u8"),
    ]
)
_FRAME_SIZES = struct.Struct("<2Q")
_FRAME_SIZES_AT = 16 * 4 + 2 * 8  # the colour and depth byte sizes follow the pose and the two timestamps


@dataclass(frozen=True)
class SensHeader:
    sensor_name: str
    intrinsic_color: np.ndarray  # 4×4
    extrinsic_color: np.ndarray
    intrinsic_depth: np.ndarray
    extrinsic_depth: np.ndarray
    color_compression: int
    depth_compression: int
    color_width: int
    color_height: int
    depth_width: int
    depth_height: int
    depth_shift: float
    num_frames: int


@dataclass(frozen=True)
class SensFrame:
    pose: np.ndarray  # 4×4 camera-to-world (raw frame)
    timestamp_color_us: int
    timestamp_depth_us: int
    color_jpeg: bytes
    depth_mm: np.ndarray  # depth_height × depth_width uint16, value = metres × depth_shift


class SensFile:
    """An indexed `.sens`: header, poses, timestamps, and frame decoding on demand.

    One handle, opened here and kept for the file's life, serves the index and every frame: a build reads a
    scan's frames in order (`iter_color`), so the file is read front to back, never reopened."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SceneError(self.path, "file is missing")
        size = self.path.stat().st_size
        self._handle = handle = handle_for_life(self, self.path)
        self.header = _read_header(handle, self.path)
        count = self.header.num_frames
        if count == 0:
            raise SceneError(self.path, "holds no frames (its header's frame count is 0)")
        offset = handle.tell()
        if count * _FRAME_HEADER.size > size - offset:
            raise SceneError(self.path, f"truncated: the header promises {count} frames, more than the file holds")
        # Each frame header says where the next one starts, so the index is a walk: one read of the 96 header
        # bytes per frame, straight into one table that numpy then parses in a single pass.
        headers = bytearray(count * _FRAME_HEADER.size)
        view = memoryview(headers)
        starts = np.empty(count, dtype=np.int64)
        for i in range(count):
            at = i * _FRAME_HEADER.size
            handle.seek(offset)
            if handle.readinto(view[at : at + _FRAME_HEADER.size]) != _FRAME_HEADER.size:
                raise SceneError(self.path, f"truncated: frame {i} of {count} is cut short")
            color_size, depth_size = _FRAME_SIZES.unpack_from(headers, at + _FRAME_SIZES_AT)
            starts[i] = offset = offset + _FRAME_HEADER.size
            if offset + color_size + depth_size > size:
                raise SceneError(self.path, f"truncated: frame {i} of {count} claims more bytes than the file has")
            offset += color_size + depth_size
        table = np.frombuffer(headers, dtype=_FRAME_HEADER_DTYPE)
        self.poses = table["pose"].reshape(count, 4, 4).astype(np.float64)
        self.timestamps_us = table["timestamp_color"].astype(np.int64)
        color_size, depth_size = table["color_size"].astype(np.int64), table["depth_size"].astype(np.int64)
        self._color_at = np.stack([starts, color_size], axis=1)  # offset, size
        self._depth_at = np.stack([starts + color_size, depth_size], axis=1)

    def __len__(self) -> int:
        return self.header.num_frames

    def _read(self, at: np.ndarray, into: bytearray | None = None) -> memoryview:
        """The bytes at (offset, size), read into the start of `into` (large enough) or a new buffer."""
        size = int(at[1])
        view = memoryview(into if into is not None else bytearray(size))[:size]
        self._handle.seek(int(at[0]))
        if self._handle.readinto(view) != size:
            raise SceneError(self.path, f"the file ends inside a frame at byte {int(at[0])} (changed since opened?)")
        return view

    def read_color(self, index: int) -> np.ndarray:
        """H×W×3 uint8 RGB of frame `index`."""
        return self._decode_color(index, self._read(self._color_at[index]), cv2.IMREAD_COLOR)

    def iter_color(self, at_least: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        """Every frame's colour image in file order (RGB), each decoded at the smallest JPEG scale (1/2, 1/4, 1/8:
        libjpeg scales in the inverse DCT, at a fraction of the full decode's cost) no smaller than `at_least`
        (width, height). One buffer is reused for the compressed bytes."""
        flags = _reduced_decode_flags((self.header.color_width, self.header.color_height), at_least)
        buffer = bytearray(int(self._color_at[:, 1].max(initial=0)))
        for index in range(len(self)):
            yield self._decode_color(index, self._read(self._color_at[index], buffer), flags)

    def _decode_color(self, index: int, data: memoryview, flags: int) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        if image is None:
            raise SceneError(self.path, f"frame {index}: colour image is not a decodable JPEG")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def read_depth(self, index: int) -> np.ndarray:
        """depth_height × depth_width float32 metres of frame `index` (0 = no measurement)."""
        h = self.header
        try:
            raw = zlib.decompress(self._read(self._depth_at[index]))
        except zlib.error as exc:
            raise SceneError(self.path, f"frame {index}: depth is not a zlib stream ({exc})") from exc
        if len(raw) != h.depth_width * h.depth_height * 2:
            raise SceneError(
                self.path,
                f"frame {index}: depth has {len(raw)} bytes, expected {h.depth_width * h.depth_height * 2}",
            )
        depth = np.frombuffer(raw, dtype="<u2").reshape(h.depth_height, h.depth_width)
        return depth.astype(np.float32) / np.float32(h.depth_shift)


_REDUCED_COLOR = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def _reduced_decode_flags(size: tuple[int, int], at_least: tuple[int, int] | None) -> int:
    """The imdecode flags for the largest JPEG scale-down whose output (each side rounded up) still covers
    `at_least`; full size when none does."""
    if at_least is None:
        return cv2.IMREAD_COLOR
    for factor in (8, 4, 2):
        if all(-(-side // factor) >= wanted for side, wanted in zip(size, at_least, strict=True)):
            return _REDUCED_COLOR[factor]
    return cv2.IMREAD_COLOR


def _read_exact(handle, count: int, path: Path, what: str) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise SceneError(path, f"truncated in the header ({what})")
    return data


def _read_header(handle, path: Path) -> SensHeader:
    (version,) = struct.unpack("<I", _read_exact(handle, 4, path, "version"))
    if version != SENS_VERSION:
        raise SceneError(path, f"unsupported .sens version {version} (expected {SENS_VERSION})")
    (name_len,) = struct.unpack("<Q", _read_exact(handle, 8, path, "sensor name length"))
    if name_len > 4096:
        raise SceneError(path, f"implausible sensor name length {name_len}: not a .sens file")
    name = _read_exact(handle, name_len, path, "sensor name").decode("utf-8", errors="replace")
    matrices = np.frombuffer(_read_exact(handle, 256, path, "calibration"), dtype="<f4").reshape(4, 4, 4)
    color_comp, depth_comp = struct.unpack("<ii", _read_exact(handle, 8, path, "compression"))
    cw, ch, dw, dh = struct.unpack("<4I", _read_exact(handle, 16, path, "image sizes"))
    (shift,) = struct.unpack("<f", _read_exact(handle, 4, path, "depth shift"))
    (num_frames,) = struct.unpack("<Q", _read_exact(handle, 8, path, "frame count"))
    if color_comp != COLOR_JPEG or depth_comp != DEPTH_ZLIB_USHORT:
        raise SceneError(
            path,
            f"unsupported compression (colour {color_comp}, depth {depth_comp}); ScanNet uses jpeg + zlib",
        )
    if not (cw and ch and dw and dh) or not shift > 0:
        raise SceneError(path, f"invalid header (colour {cw}×{ch}, depth {dw}×{dh}, depth shift {shift})")
    return SensHeader(
        sensor_name=name,
        intrinsic_color=matrices[0].astype(np.float64),
        extrinsic_color=matrices[1].astype(np.float64),
        intrinsic_depth=matrices[2].astype(np.float64),
        extrinsic_depth=matrices[3].astype(np.float64),
        color_compression=color_comp,
        depth_compression=depth_comp,
        color_width=cw,
        color_height=ch,
        depth_width=dw,
        depth_height=dh,
        depth_shift=float(shift),
        num_frames=int(num_frames),
    )


def write_sens(path: Path, header: SensHeader, frames: Iterable[SensFrame]) -> int:
    """Stream frames into a `.sens`; the frame count is patched into the header at the end."""
    with open(path, "wb") as handle:
        name = header.sensor_name.encode()
        handle.write(struct.pack("<IQ", SENS_VERSION, len(name)) + name)
        for matrix in (
            header.intrinsic_color,
            header.extrinsic_color,
            header.intrinsic_depth,
            header.extrinsic_depth,
        ):
            handle.write(np.asarray(matrix, dtype="<f4").reshape(16).tobytes())
        handle.write(
            struct.pack(
                "<ii4If",
                COLOR_JPEG,
                DEPTH_ZLIB_USHORT,
                header.color_width,
                header.color_height,
                header.depth_width,
                header.depth_height,
                header.depth_shift,
            )
        )
        count_at = handle.tell()
        handle.write(struct.pack("<Q", 0))
        count = 0
        for frame in frames:
            depth = zlib.compress(np.ascontiguousarray(frame.depth_mm, dtype="<u2").tobytes(), 1)
            pose = np.asarray(frame.pose, dtype="<f4").reshape(16)
            handle.write(
                _FRAME_HEADER.pack(
                    *pose, frame.timestamp_color_us, frame.timestamp_depth_us, len(frame.color_jpeg), len(depth)
                )
            )
            handle.write(frame.color_jpeg)
            handle.write(depth)
            count += 1
        handle.write(struct.pack("<Q", 0))  # no IMU records
        handle.seek(count_at)
        handle.write(struct.pack("<Q", count))
    return count

"""ScanNet++ `iphone/depth.bin`: the iPhone's LiDAR depth, one 256×192 map per frame of the RGB video.

The release has two layouts (docs/sources.md, as the toolkit's `prepare_iphone_data.py` reads them):
(a) the whole file is one raw-deflate stream of little-endian float32 metres, the frames back to back;
(b) per frame, a uint32 LE byte length and that many bytes: an lz4 block of uint16 millimetres or, where that is
not lz4, a raw-deflate stream of float32 metres. Either way a frame comes out as float32 metres, 0 where
nothing was measured (0 mm, or a non-finite or non-positive float).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import lz4.block
import numpy as np

from vsi_data.errors import SceneError
from vsi_data.io import write_atomic
from vsi_data.sources.handles import handle_for_life

DEPTH_WIDTH, DEPTH_HEIGHT = 256, 192
_PIXELS = DEPTH_WIDTH * DEPTH_HEIGHT
_MM_BYTES, _FLOAT_BYTES = 2 * _PIXELS, 4 * _PIXELS  # one frame as uint16 millimetres / float32 metres
_LENGTH = struct.Struct("<I")
_READ_CHUNK = 1 << 20  # compressed bytes read at a time from layout (a)
_SKIP_CHUNK = 1 << 22  # decoded bytes produced (and dropped) per step when passing over frames


class DepthReader:
    """Frame i of a `depth.bin` as DEPTH_HEIGHT × DEPTH_WIDTH float32 metres, for a stream of `count` frames.

    Nothing is read until a frame is asked for, so builds that never test visibility pay nothing. Then the
    file is opened once, for the reader's life, and the layout found and the frames counted: (b) by walking the
    length prefixes (a read per frame), (a) by decoding the whole stream, since a deflate stream says nothing of
    its length; a count other than `count` fails, since frame i would no longer be seen from pose i. Afterwards
    (b) reads one block per frame; (a) keeps its decoder's position, so increasing indices (how visibility walks
    a video) cost one pass and only a step backwards decodes from the start again.
    """

    def __init__(self, path: Path, count: int, video: Path) -> None:
        self.path, self.count, self.video = Path(path), count, video  # `video` only names the other file in errors
        self._blocks: np.ndarray | None = None  # layout (b): (offset, size) of each frame's block
        self._stream: _Inflater | None = None  # layout (a): where its decoder stands
        self._handle: BinaryIO | None = None
        self._checked = False

    def __call__(self, index: int) -> np.ndarray:
        if not self._checked:
            self._check()
        if not 0 <= index < self.count:
            raise IndexError(f"depth frame {index} of {self.count}")
        return self._read_block(index) if self._blocks is not None else self._read_streamed(index)

    def _check(self) -> None:
        if not self.path.is_file():
            raise SceneError(self.path, "file is missing")
        size = self.path.stat().st_size
        if size == 0:
            raise SceneError(self.path, "file is empty")
        self._handle = handle_for_life(self, self.path)
        self._blocks, not_blocks = _frame_blocks(self._handle, size)
        if self._blocks is not None:
            found, layout = len(self._blocks), "length-prefixed frames"
        else:
            try:
                decoded = _stream_length(self._handle, size)
            except _Undecodable as exc:
                raise SceneError(
                    self.path, f"neither one raw-deflate stream ({exc}) nor length-prefixed frames ({not_blocks})"
                ) from None
            if decoded % _FLOAT_BYTES:
                raise SceneError(
                    self.path,
                    f"its raw-deflate stream decodes to {decoded} bytes, not whole "
                    f"{DEPTH_WIDTH}×{DEPTH_HEIGHT} float32 frames ({_FLOAT_BYTES} bytes each)",
                )
            found, layout = decoded // _FLOAT_BYTES, "one raw-deflate stream"
        if found != self.count:
            raise SceneError(
                self.path, f"holds {found} depth frames ({layout}), but {self.video} has {self.count} frames"
            )
        self._checked = True

    def _read_block(self, index: int) -> np.ndarray:
        offset, size = (int(v) for v in self._blocks[index])
        self._handle.seek(offset)
        data = self._handle.read(size)
        if len(data) != size:
            raise SceneError(self.path, f"frame {index}: the file ends inside its block (changed since it was opened?)")
        try:
            millimetres = lz4.block.decompress(data, uncompressed_size=_MM_BYTES)
            if len(millimetres) == _MM_BYTES:
                depth = np.frombuffer(millimetres, "<u2").reshape(DEPTH_HEIGHT, DEPTH_WIDTH)
                return depth.astype(np.float32) / np.float32(1000.0)
            as_lz4 = f"lz4 gives {len(millimetres)} bytes, not {_MM_BYTES}"
        except lz4.block.LZ4BlockError:
            as_lz4 = "not an lz4 block"
        decoder = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        try:
            metres = decoder.decompress(data, _FLOAT_BYTES + 1)
        except zlib.error as exc:
            as_deflate = f"not raw deflate: {exc}"
        else:
            if len(metres) == _FLOAT_BYTES and decoder.eof and not decoder.unused_data:
                return _metres(metres)
            as_deflate = f"raw deflate gives {len(metres)} bytes, not one {_FLOAT_BYTES}-byte float32 frame"
        raise SceneError(self.path, f"frame {index}: its {size}-byte block is undecodable ({as_lz4}; {as_deflate})")

    def _read_streamed(self, index: int) -> np.ndarray:
        start = index * _FLOAT_BYTES
        if self._stream is None or self._stream.produced > start:
            self._stream = _Inflater()
        stream = self._stream
        handle = self._handle
        try:
            handle.seek(stream.read_at)
            while stream.produced < start:
                stream.step(handle, min(_SKIP_CHUNK, start - stream.produced))
            parts = []
            while stream.produced < start + _FLOAT_BYTES:
                parts.append(stream.step(handle, start + _FLOAT_BYTES - stream.produced))
        except _Undecodable as exc:
            self._stream = None
            raise SceneError(self.path, f"frame {index}: {exc} (changed since it was opened?)") from None
        return _metres(b"".join(parts))


class _Undecodable(Exception):
    """Why layout (a)'s stream cannot be decoded (a message for a `SceneError`)."""


class _Inflater:
    """A position in layout (a)'s deflate stream: its decoder, the file offset of the next compressed bytes, and
    how many bytes it has decoded."""

    def __init__(self) -> None:
        self.decoder = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        self.read_at = 0
        self.produced = 0

    def step(self, handle: BinaryIO, limit: int) -> bytes:
        """Up to `limit` more decoded bytes (possibly none) from `handle`, which stands at `read_at`."""
        if self.decoder.eof:
            raise _Undecodable(f"the stream ends after {self.produced} bytes")
        data = self.decoder.unconsumed_tail
        if not data:
            data = handle.read(_READ_CHUNK)
            self.read_at += len(data)
            if not data:
                raise _Undecodable(f"the file ends inside the stream, after {self.produced} decoded bytes (truncated)")
        try:
            out = self.decoder.decompress(data, limit)
        except zlib.error as exc:
            raise _Undecodable(f"undecodable after {self.produced} decoded bytes: {exc}") from None
        self.produced += len(out)
        return out


def _stream_length(handle: BinaryIO, size: int) -> int:
    """How many bytes layout (a)'s stream decodes to: one pass that keeps nothing. Bytes after the stream's end
    make it undecodable too, since they are no frame of either layout."""
    stream = _Inflater()
    handle.seek(0)
    while not stream.decoder.eof:
        stream.step(handle, _SKIP_CHUNK)
    trailing = len(stream.decoder.unused_data) + size - stream.read_at
    if trailing:
        raise _Undecodable(f"{trailing} bytes follow the end of the stream")
    return stream.produced


def _frame_blocks(handle: BinaryIO, size: int) -> tuple[np.ndarray | None, str]:
    """Layout (b)'s blocks as (offset, size) rows, when the length prefixes tile the file exactly; otherwise None
    and where the tiling breaks. One small read and a seek per frame, nothing decoded."""
    blocks: list[tuple[int, int]] = []
    position = 0
    while position < size:
        handle.seek(position)
        head = handle.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return None, f"{len(head)} bytes at byte {position} are too few for a frame length"
        (length,) = _LENGTH.unpack(head)
        if not 0 < length <= size - position - _LENGTH.size:
            left = size - position - _LENGTH.size
            return None, f"frame {len(blocks)} at byte {position} claims {length} bytes, but {left} follow"
        blocks.append((position + _LENGTH.size, length))
        position += _LENGTH.size + length
    return np.array(blocks, dtype=np.int64), ""


def _metres(raw: bytes) -> np.ndarray:
    """A float32 frame as the DepthStream contract has it: metres, 0 where nothing was measured (NaN, ±inf, ≤ 0)."""
    depth = np.frombuffer(raw, "<f4").reshape(DEPTH_HEIGHT, DEPTH_WIDTH)
    return np.where((depth > 0) & (depth < np.inf), depth, np.float32(0.0))


def write_depth(path: Path, frames_mm: Iterable[np.ndarray]) -> int:
    """Layout (b) with every frame an lz4 block of DEPTH_HEIGHT × DEPTH_WIDTH uint16 millimetres; the file appears
    only when complete. Returns the number of frames written."""
    written, shape = 0, (DEPTH_HEIGHT, DEPTH_WIDTH)

    def write(tmp: Path) -> None:
        nonlocal written
        with open(tmp, "wb") as handle:
            for depth in frames_mm:
                if depth.shape != shape or depth.dtype != np.uint16:
                    raise ValueError(f"depth frame {written} is {depth.dtype} {depth.shape}, not uint16 {shape}")
                block = lz4.block.compress(np.ascontiguousarray(depth, dtype="<u2").tobytes(), store_size=False)
                handle.write(_LENGTH.pack(len(block)) + block)
                written += 1

    write_atomic(path, write)
    return written

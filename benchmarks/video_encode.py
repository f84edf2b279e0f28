"""Video encoding speed and memory: frames per second of `encode_stream` and its peak memory for a short and a
long stream, to show memory does not grow with the length of the scan.

Each run encodes a stream of N ScanNet-sized colour frames (1296×968 JPEGs, decoded per frame as from a `.sens`)
to a 640×480 H.264 mp4, in a fresh process so its peak RSS is its own. Frames per second is wall time (with
all the cores the encoder gets); CPU milliseconds per frame are less sensitive to other load on the machine.
Run from the repository root:

    .venv/bin/python benchmarks/video_encode.py [--frames 500 2000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vsi_data.scene import FrameStream
from vsi_data.video.encode import encode_stream, video_codec

SIZE = (1296, 968)
DISTINCT = 48  # distinct JPEGs cycled through, so frames differ as a moving camera's do


def jpegs() -> list[bytes]:
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (121, 162, 3), dtype=np.uint8), SIZE, interpolation=cv2.INTER_CUBIC)
    out = []
    for i in range(DISTINCT):
        frame = np.roll(base, 27 * i, axis=1)
        out.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out


def one_run(frames: int, out: Path) -> dict:
    data = jpegs()

    def read_color(i: int) -> np.ndarray:
        bgr = cv2.imdecode(np.frombuffer(data[i % DISTINCT], np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    stream = FrameStream(np.repeat(np.eye(4)[None], frames, 0), np.arange(frames) / 30, np.eye(3), *SIZE, read_color)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    encode_stream(stream, out)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"frames": frames, "wall_s": round(seconds, 2), "fps": round(frames / seconds, 1),
            "cpu_ms_per_frame": round(1000 * cpu / frames, 1), "peak_rss_mib": round(after.ru_maxrss / 1024),
            "mp4_mib": round(out.stat().st_size / 2**20, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_run(args.child, args.out)))
        return
    print(f"codec {video_codec()}, {SIZE[0]}×{SIZE[1]} JPEG frames → 640×480 mp4 at 24 fps")
    with tempfile.TemporaryDirectory() as tmp:
        for frames in args.frames:
            cmd = [sys.executable, __file__, "--child", str(frames), "--out", str(Path(tmp) / f"{frames}.mp4")]
            print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()

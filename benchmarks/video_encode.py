"""Video encoding cost per frame against the floor of decoding the frames' JPEGs, and the quality it buys.

Two ScanNet `.sens` streams of 1296×968 JPEGs are written once (not timed): a rendered synthetic scene (smooth
shaded surfaces, as `vsi-data build --source synthetic` makes) and a "camera" stream (a textured surface with
detail at every scale, panned with sub-pixel motion under sensor noise, JPEG quality 90: about 155 KiB a frame,
like ScanNet's). For each, in one process and interleaved over `--repeats` rounds (medians reported):

- the floor: decoding every frame's JPEG at full size (`cv2.imdecode`, bytes already in memory);
- `encode_stream` end to end (read from the `.sens`, decode, convert, encode, write the mp4) at several x264
  presets, and the levers taken one at a time: full-size decoding instead of 1/2 scale, and a decode-ahead
  thread (pipelining) that overlaps decoding with encoding;
- the encoder as builds ran it before (full-size decode, area resize of RGB, swscale conversion, x264 medium
  with its thread count taken from the machine).

Costs are CPU time of this process (all its threads: `time.process_time`), so other load on the machine shifts
them less than wall time; wall time is printed for the pipelining lever, which exists to save wall time.
Quality is PSNR and SSIM of the luma plane against a lossless x264 encode of the ideal frames (full-size decode,
area-averaged to 640×480). Run from the repository root:

    .venv/bin/python benchmarks/video_encode.py [--frames 240] [--repeats 5]
"""

from __future__ import annotations

import argparse
import queue
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from vsi_data.scene import FrameStream
from vsi_data.sources.scannet.sens import SensFile, SensFrame, write_sens
from vsi_data.synthetic.scannet_writer import write_scene
from vsi_data.video.encode import VIDEO_SIZE, encode_stream, video_codec

SIZE = (1296, 968)
PRESETS = ("ultrafast", "superfast", "veryfast", "medium")


def camera_sens(path: Path, template: SensFile, frames: int) -> None:
    """A panned, noisy, textured stream in `template`'s header (ScanNet's cameras)."""
    rng = np.random.default_rng(0)
    width, height = SIZE[0] + 4 * frames + 64, SIZE[1] + 96
    texture = np.full((height, width, 3), 128, np.float32)
    for cells in (8, 24, 72, 216, 648):  # octaves of smooth noise: structure at every scale, as in a room
        noise = rng.standard_normal((max(2, cells * height // width), cells, 3)).astype(np.float32)
        texture += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * (60 / cells**0.5)
    depth = np.zeros((template.header.depth_height, template.header.depth_width), np.uint16)

    def records() -> Iterator[SensFrame]:
        for i in range(frames):
            pan = np.float32([[1, 0, -3.7 * i - 8], [0, 1, -40 - 30 * np.sin(i / 20)]])
            frame = cv2.warpAffine(texture, pan, SIZE, flags=cv2.INTER_LINEAR)
            frame = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
            jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            yield SensFrame(np.eye(4), 33_333 * i, 33_333 * i, jpeg, depth)

    write_sens(path, template.header, records())


def synthetic_sens(folder: Path, frames: int) -> Path:
    written = write_scene(folder / "scans", "scene0001_00", seed=0, num_frames=frames)
    return written.folder / "scene0001_00.sens"


def stream(sens: SensFile, reduced: bool = True, ahead: bool = False) -> FrameStream:
    """The `.sens` as the ScanNet parser exposes it; `reduced=False` drops the 1/2-scale pass (every frame
    decoded at full size), `ahead` decodes in a second thread while the encoder works."""
    color_pass = sens.iter_color if reduced else None
    if ahead:
        color_pass = decoded_ahead(color_pass or (lambda _size: (sens.read_color(i) for i in range(len(sens)))))
    times = sens.timestamps_us / 1e6
    k = sens.header.intrinsic_color[:3, :3]
    return FrameStream(sens.poses, times, k, *SIZE, read_color=sens.read_color, color_pass=color_pass)


def decoded_ahead(
    color_pass: Callable[[tuple[int, int]], Iterator[np.ndarray]], depth: int = 4
) -> Callable[[tuple[int, int]], Iterator[np.ndarray]]:
    """Pipelining: frames decoded by a thread into a bounded queue while the caller encodes."""

    def run(size: tuple[int, int]) -> Iterator[np.ndarray]:
        frames: queue.Queue = queue.Queue(depth)
        thread = threading.Thread(target=lambda: [*map(frames.put, color_pass(size)), frames.put(None)], daemon=True)
        thread.start()
        while (frame := frames.get()) is not None:
            yield frame
        thread.join()

    return run


def encode_as_before(sens: SensFile, path: Path) -> None:
    """The encoder as builds ran it until 2026-12: full decode, RGB area resize, swscale to 4:2:0, x264 medium,
    the thread count left to the machine."""
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream(video_codec(), rate=24)
        video.width, video.height = VIDEO_SIZE
        video.pix_fmt = "yuv420p"
        for i in range(len(sens)):
            rgb = cv2.resize(sens.read_color(i), VIDEO_SIZE, interpolation=cv2.INTER_AREA)
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode())


def reference(sens: SensFile, path: Path) -> list[np.ndarray]:
    """Luma planes of a lossless encode of the ideal frames: the quality a perfect encoder would keep."""
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream(video_codec(), rate=24)
        video.width, video.height = VIDEO_SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"qp": "0", "preset": "ultrafast"}
        for i in range(len(sens)):
            rgb = cv2.resize(sens.read_color(i), VIDEO_SIZE, interpolation=cv2.INTER_AREA)
            planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
            container.mux(video.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")))
        container.mux(video.encode())
    return luma(path)


def luma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p")[: f.height].astype(np.float64) for f in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004): 11-tap Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mean_a, mean_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mean_a**2, blur(b * b) - mean_b**2
    cov = blur(a * b) - mean_a * mean_b
    score = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    return float(score.mean())


def measure(sens: SensFile, out: Path, repeats: int) -> None:
    jpegs = [bytes(sens._read(sens._color_at[i])) for i in range(len(sens))]
    frames = len(jpegs)

    def floor(_: Path) -> None:
        for data in jpegs:
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    cases: dict[str, Callable[[Path], object]] = {"decode floor (full-size JPEG)": floor}
    for preset in PRESETS:
        cases[f"encode_stream, {preset}"] = lambda p, preset=preset: encode_stream(stream(sens), p, preset=preset)
    cases["  lever off: full-size decode"] = lambda p: encode_stream(stream(sens, reduced=False), p)
    cases["  lever on: decode-ahead thread"] = lambda p: encode_stream(stream(sens, ahead=True), p)
    cases["as before (medium, auto threads)"] = lambda p: encode_as_before(sens, p)
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for i, (name, run) in enumerate(cases.items()):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            run(out / f"{i}.mp4")
            cpu[name].append((time.process_time() - start_cpu) / frames * 1000)
            wall[name].append((time.perf_counter() - start_wall) / frames * 1000)
    ideal = reference(sens, out / "reference.mp4")
    floor_ms = statistics.median(cpu["decode floor (full-size JPEG)"])
    print(f"{'':34} {'CPU ms':>7} {'/ floor':>8} {'wall ms':>8} {'KiB/frame':>9} {'PSNR-Y dB':>9} {'SSIM-Y':>7}")
    for i, name in enumerate(cases):
        ms = statistics.median(cpu[name])
        line = f"{name:34} {ms:>7.2f} {ms / floor_ms:>7.2f}x {statistics.median(wall[name]):>8.2f}"
        video = out / f"{i}.mp4"
        if video.exists():
            decoded = luma(video)
            quality = np.median([psnr(a, b) for a, b in zip(decoded, ideal, strict=True)])
            similarity = np.mean([ssim(a, b) for a, b in zip(decoded[::4], ideal[::4], strict=True)])
            line += f" {video.stat().st_size / frames / 1024:>9.1f} {quality:>9.2f} {similarity:>7.4f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        synthetic = SensFile(synthetic_sens(tmp_path / "synthetic", args.frames))
        camera_sens(tmp_path / "camera.sens", synthetic, args.frames)
        for name, sens in (("synthetic scene", synthetic), ("camera-like", SensFile(tmp_path / "camera.sens"))):
            jpeg_kib = np.median(sens._color_at[:, 1]) / 1024
            print(f"\n{name}: {len(sens)} frames of {SIZE[0]}×{SIZE[1]} JPEG ({jpeg_kib:.0f} KiB median) → 640×480")
            measure(sens, tmp_path, args.repeats)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

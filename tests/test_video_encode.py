"""Encoding a colour stream: the same mp4 bytes whatever cores the encoder may use, reduced-scale JPEG decoding
that stays faithful to the full-size frame, the 4:2:0 conversion, the x264 preset choice, and the `.sens`
sequential pass. The stream here is a hand-built `.sens` of camera-sized (1296×968) textured JPEGs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vsi_data.cli import VideoPreset, app
from vsi_data.scene import FrameStream
from vsi_data.sources.scannet.sens import SensFile, SensFrame, SensHeader, write_sens
from vsi_data.video import DEFAULT_VIDEO_PRESET, VIDEO_PRESETS, encode_stream
from vsi_data.video.encode import yuv420

SIZE = (1296, 968)  # ScanNet's colour camera
FRAMES = 36


def camera_like(count: int, seed: int = 0) -> list[np.ndarray]:
    """RGB frames of a textured surface panned under a noisy sensor: detail at every scale, sub-pixel motion."""
    rng = np.random.default_rng(seed)
    base = np.zeros((1100, 1800, 3), np.float32)
    for cells in (6, 24, 96, 384):
        noise = rng.standard_normal((cells * 11 // 18 + 1, cells, 3)).astype(np.float32)
        base += cv2.resize(noise, (1800, 1100), interpolation=cv2.INTER_CUBIC) * (60 / cells**0.5)
    frames = []
    for i in range(count):
        shift = np.float32([[1, 0, -20 - 3.3 * i], [0, 1, -30 - 1.1 * i]])
        frame = cv2.warpAffine(base + 128, shift, SIZE, flags=cv2.INTER_LINEAR)
        frames.append(np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8))
    return frames


def write_camera_sens(path: Path, frames: list[np.ndarray]) -> None:
    k = np.array([[1170.2, 0, 647.8, 0], [0, 1170.2, 483.8, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    header = SensHeader("StructureSensor", k, np.eye(4), k, np.eye(4), 2, 1, *SIZE, 32, 24, 1000.0, len(frames))
    depth = np.full((24, 32), 1500, np.uint16)
    records = (
        SensFrame(np.eye(4), 33_333 * i, 33_333 * i, cv2.imencode(".jpg", rgb[..., ::-1])[1].tobytes(), depth)
        for i, rgb in enumerate(frames)
    )
    write_sens(path, header, records)


def sens_stream(path: Path) -> FrameStream:
    sens = SensFile(path)
    k = sens.header.intrinsic_color[:3, :3]
    return FrameStream(sens.poses, sens.timestamps_us / 1e6, k, *SIZE, sens.read_color, color_pass=sens.iter_color)


@pytest.fixture(scope="module")
def sens_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sens") / "scene.sens"
    write_camera_sens(path, camera_like(FRAMES))
    return path


def decoded_luma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.float64) for f in container.decode(video=0)]


def area_grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(rgb, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


_ENCODE_ON_CPUS = """
import os, sys
from pathlib import Path
os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(",")})  # before the encoder counts the cores
sys.path.insert(0, sys.argv[4])
from test_video_encode import sens_stream
from vsi_data.video import encode_stream
encode_stream(sens_stream(Path(sys.argv[2])), Path(sys.argv[3]))
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs and affinity"
)
def test_the_same_scene_encodes_to_the_same_bytes_on_one_core_and_on_all(sens_path, tmp_path):
    every = sorted(os.sched_getaffinity(0))
    outputs = {}
    for name, cpus in (("one", every[:1]), ("all", every)):
        out = tmp_path / f"{name}.mp4"
        args = [",".join(map(str, cpus)), str(sens_path), str(out), str(Path(__file__).parent)]
        subprocess.run([sys.executable, "-c", _ENCODE_ON_CPUS, *args], check=True, capture_output=True, text=True)
        outputs[name] = out.read_bytes()
    assert len(outputs["one"]) > 10_000
    assert outputs["one"] == outputs["all"]


def test_every_frame_is_encoded_at_640x480_close_to_the_full_size_frames(sens_path, tmp_path):
    stream = sens_stream(sens_path)
    out = tmp_path / "v.mp4"
    assert encode_stream(stream, out) == FRAMES
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height, video.average_rate) == ("h264", 640, 480, 24)
    # Against the ideal frames (full-size decode, area-averaged to 640×480): an encode's loss, not a wrong frame.
    ideal = [area_grey(stream.read_color(i)) for i in range(FRAMES)]
    decoded = decoded_luma(out)
    scores = [psnr(a, b) for a, b in zip(decoded, ideal, strict=True)]
    assert len(scores) == FRAMES
    assert min(scores) > 35, scores
    for i in (2, 17, FRAMES - 3):  # each frame in its place: its neighbours, 3 px along the pan, match worse
        assert np.argmax([psnr(decoded[i], ideal[j]) for j in range(i - 2, i + 3)]) == 2


def test_the_sens_pass_decodes_at_the_smallest_jpeg_scale_that_covers_the_video(sens_path):
    sens = SensFile(sens_path)
    full = list(sens.iter_color())
    assert len(full) == FRAMES
    assert all(np.array_equal(frame, sens.read_color(i)) for i, frame in enumerate(full))
    assert next(sens.iter_color((640, 480))).shape == (484, 648, 3)  # 1/2 scale: 1296×968 → 648×484
    assert next(sens.iter_color((324, 242))).shape == (242, 324, 3)  # 1/4 still covers this
    assert next(sens.iter_color((325, 242))).shape == (484, 648, 3)  # one pixel too wide for 1/4
    assert next(sens.iter_color((1000, 500))).shape == (968, 1296, 3)  # no reduction covers it
    reduced = list(sens.iter_color((640, 480)))
    for frame, whole in zip(reduced[::9], full[::9], strict=True):  # the DCT-scaled decode is an area average
        assert psnr(frame.astype(float), cv2.resize(whole, (648, 484), interpolation=cv2.INTER_AREA)) > 40


def test_yuv420_planes_match_a_plain_conversion():
    rng = np.random.default_rng(1)
    rgb = cv2.resize(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), (648, 484), interpolation=cv2.INTER_CUBIC)
    exact = yuv420(rgb[:480, :640].copy(), (640, 480))
    assert exact.shape == (720, 640)
    assert np.array_equal(exact, cv2.cvtColor(rgb[:480, :640], cv2.COLOR_RGB2YUV_I420))
    planes = yuv420(rgb, (640, 480))  # resized on the planes
    reference = cv2.cvtColor(cv2.resize(rgb, (640, 480), interpolation=cv2.INTER_LINEAR_EXACT), cv2.COLOR_RGB2YUV_I420)
    assert planes.shape == (720, 640)
    assert psnr(planes[:480].astype(float), reference[:480].astype(float)) > 45  # luma
    assert psnr(planes[480:].astype(float), reference[480:].astype(float)) > 40  # chroma
    grey = np.full((968, 1296, 3), 128, np.uint8)  # far larger: area-averaged first
    y, u, v = yuv420(grey, (640, 480))[[0, 480, 600], 0]
    assert (y, u, v) == (126, 128, 128)  # BT.601 limited range: 16 + 219 × 128 / 255 ≈ 126


def test_presets(sens_path, tmp_path):
    assert [p.value for p in VideoPreset] == list(VIDEO_PRESETS)
    assert DEFAULT_VIDEO_PRESET in VIDEO_PRESETS
    with pytest.raises(ValueError, match="unknown video preset 'quick'"):
        encode_stream(sens_stream(sens_path), tmp_path / "x.mp4", preset="quick")
    assert not (tmp_path / "x.mp4").exists()
    fast, slow = tmp_path / "fast.mp4", tmp_path / "slow.mp4"
    encode_stream(sens_stream(sens_path), fast, preset="ultrafast")
    encode_stream(sens_stream(sens_path), slow, preset="medium")
    assert fast.read_bytes() != slow.read_bytes()
    with av.open(str(slow)) as container:  # x264 writes its settings into the stream
        packet = next(p for p in container.demux(video=0) if p.size)
        assert b"threads=1 " in bytes(packet)


def test_a_rerun_with_another_preset_is_refused(tmp_path):
    runner = CliRunner()
    args = ["build", "--source", "synthetic", "--out", str(tmp_path / "out"), "--scenes", "1", "--frames", "4"]
    first = runner.invoke(app, [*args, "--workers", "1", "--quiet", "--video-preset", "superfast"])
    assert first.exit_code == 0, first.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["video_preset"] == "superfast"
    again = runner.invoke(app, [*args, "--workers", "1", "--quiet"])
    assert again.exit_code == 1
    assert "--video-preset: superfast there, ultrafast here" in again.output

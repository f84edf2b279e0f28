"""Frame sampling: uniform indices, patch-aligned sizes, both decoders, clear errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsi_data.video.sampler import VideoReadError, fit_to_patches, sample_frames, uniform_indices


def write_counter_video(path: Path, frames: int, size: tuple[int, int] = (640, 480), fps: int = 24) -> Path:
    """Frame i is a flat grey of level 4·i, so a decoded frame tells which frame it was."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "1"}
        for i in range(frames):
            image = np.full((size[1], size[0], 3), 4 * i, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_uniform_indices_match_vsibench_linspace():
    assert uniform_indices(100, num_frames=5).tolist() == [0, 25, 50, 74, 99]
    assert uniform_indices(3, num_frames=8).tolist() == [0, 1, 2]  # never more frames than the video has
    # 2 fps over a 10 s video at 24 fps: 20 frames spread over the 240
    assert len(uniform_indices(240, fps=2.0, video_fps=24.0)) == 20
    assert uniform_indices(0, num_frames=4).size == 0
    with pytest.raises(ValueError, match="exactly one"):
        uniform_indices(10, num_frames=2, fps=1.0)


def test_fit_to_patches_hand_values():
    assert fit_to_patches(480, 640) == (364, 504)  # 480·640 > 256·28² → scaled by √(307200/200704), floored
    assert fit_to_patches(56, 84) == (56, 84)  # already aligned and inside the budget
    assert fit_to_patches(20, 20) == (56, 56)  # below 4 cells: scaled up to the minimum
    with pytest.raises(ValueError, match="200"):
        fit_to_patches(10, 5000)


@given(st.integers(28, 4000), st.integers(28, 4000), st.integers(4, 64).map(lambda c: c * 784), st.integers(1, 4))
def test_fit_to_patches_invariants(height, width, max_pixels, min_cells):
    min_pixels = min(min_cells * 784, max_pixels)
    if max(height, width) / min(height, width) > 200:
        return
    h, w = fit_to_patches(height, width, min_pixels, max_pixels)
    assert h % 28 == 0
    assert w % 28 == 0
    if min_pixels * 4 <= max_pixels:  # room to meet the minimum at the cell rounding
        assert h * w >= min_pixels
    if min(h, w) > 28:  # a side held at one cell cannot keep the aspect ratio or the budget
        assert h * w <= max_pixels
        # the aspect ratio survives up to one cell of rounding on each side
        assert abs(h / w - height / width) <= (height / width) * (28 / min(h, w) + 28 / max(h, w)) + 1e-9


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_sample_frames_reads_the_chosen_frames(tmp_path, backend):
    video = write_counter_video(tmp_path / "v.mp4", frames=30)
    sampled = sample_frames(video, num_frames=4, backend=backend)
    assert sampled.indices.tolist() == [0, 10, 19, 29]
    assert sampled.total_frames == 30
    assert sampled.fps == pytest.approx(24.0)
    assert sampled.timestamps == pytest.approx(np.array([0, 10, 19, 29]) / 24.0)
    assert {image.shape for image in sampled.images} == {(364, 504, 3)}
    levels = [float(image.mean()) for image in sampled.images]
    assert levels == pytest.approx([0, 40, 76, 116], abs=3)


def test_both_backends_agree(tmp_path):
    video = write_counter_video(tmp_path / "v.mp4", frames=12, size=(320, 240))
    a = sample_frames(video, fps=6.0, backend="decord", max_pixels=64 * 784)
    b = sample_frames(video, fps=6.0, backend="pyav", max_pixels=64 * 784)
    assert a.indices.tolist() == b.indices.tolist() == [0, 6, 11]  # 0.5 s at 6 fps: 3 frames over 0..11
    for x, y in zip(a.images, b.images, strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).mean() < 2


def test_sample_frames_errors_name_the_file(tmp_path):
    with pytest.raises(VideoReadError, match=r"missing\.mp4: video file not found"):
        sample_frames(tmp_path / "missing.mp4", num_frames=4)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    for backend in ("decord", "pyav"):
        with pytest.raises(VideoReadError, match=r"broken\.mp4: cannot decode"):
            sample_frames(broken, num_frames=4, backend=backend)

"""Shared fixtures: the real ScanNet / VSI-Bench files in ../shared/realdata (its 291 questions also as a
VSI-Bench test file), hand-made ScanNet scenes, one small synthetic build with video, and a tiny local
Qwen2-VL (both built once per test session, read-only for tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import settings

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table

REPO = Path(__file__).resolve().parents[1]

# Property tests explore new examples on every local run; CI (`.ci/run`) replays the same ones, so that a
# landing is never decided by a draw. A failure found locally prints the example to add with `@example`.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _realdata() -> Path | None:
    candidates = [os.environ.get("VSI_DATA_REALDATA"), REPO.parent / "shared" / "realdata"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def realdata() -> Path:
    path = _realdata()
    if path is None:
        pytest.skip("real data not found (set VSI_DATA_REALDATA or place it at ../shared/realdata)")
    return path


@pytest.fixture(scope="session")
def real_questions(realdata, tmp_path_factory) -> Path:
    """VSI-Bench's 291 real questions for 5 ScanNet scenes, as a test.parquet-layout file."""
    rows = []
    for path in sorted((realdata / "vsibench/questions").glob("*_questions.json")):
        rows += json.loads(path.read_text())["questions"]
    columns = ("dataset", "scene_name", "question_type", "question", "options", "ground_truth")
    table = pa.Table.from_pylist([{"id": k, **{key: row.get(key) for key in columns}} for k, row in enumerate(rows)])
    path = tmp_path_factory.mktemp("vsibench") / "test.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture
def handmade_root(tmp_path: Path) -> Path:
    """A ScanNet root with one hand-made scene (scene0001_00) and a label table."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    write_handmade_scene(tmp_path / "scans", "scene0001_00", HANDMADE_ROOM)
    return tmp_path


@pytest.fixture(scope="session")
def vsibench_video_build(tmp_path_factory) -> Path:
    """A one-scene synthetic `vsibench` build with video (24 frames); tests copy it before changing anything."""
    from typer.testing import CliRunner

    from vsi_data.cli import app

    out = tmp_path_factory.mktemp("vsibench-build") / "out"
    args = ["build", "--source", "synthetic", "--scenes", "1", "--frames", "24", "--recipe", "vsibench"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny random Qwen2-VL checkpoint folder (seed 0)."""
    from vsi_data.models import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def video_processor_stub(monkeypatch):
    """Processors get a CPU stand-in for transformers' video processor (it needs torchvision, which has no CPU
    build here), so native-video training and prediction run end to end; see video_stub.py."""
    import vsi_data.models
    import vsi_data.train.trainer
    from video_stub import with_video_stub

    load = with_video_stub(vsi_data.models.load_processor)
    monkeypatch.setattr(vsi_data.models, "load_processor", load)
    monkeypatch.setattr(vsi_data.train.trainer, "load_processor", load)
    return load

"""Every reader of a build takes its URL: `export`, `inspect`, `eval`, `predict` and `train-grpo` (and `stats`,
test_any_filesystem.py) on a build in `memory://` give exactly what they give on the same build in a local folder,
through the same manifest-checked shard reading; bad URLs are one line naming them, and an export that fails
leaves no folder behind."""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import uuid
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.export.run import ExportConfig, run_export
from vsi_data.output.shards import read_rows

runner = CliRunner()
MEMORY = fsspec.filesystem("memory")


@pytest.fixture(scope="module")
def remote_build(vsibench_video_build) -> str:
    """The session's synthetic build, copied byte for byte into memory:// under the same folder name."""
    root = f"/remote-{uuid.uuid4().hex}"
    MEMORY.put(str(vsibench_video_build), f"{root}/{vsibench_video_build.name}", recursive=True)
    yield f"memory://{root}/{vsibench_video_build.name}"
    MEMORY.rm(root, recursive=True)


@pytest.fixture
def local_scans(tmp_path, monkeypatch) -> None:
    """The synthetic scans `inspect` copies down from a URL go to this test's folder, not the machine's temp."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture
def scratch_build(remote_build) -> str:
    """A copy of the remote build this test may damage."""
    copy = f"/scratch-{uuid.uuid4().hex}/out"
    MEMORY.copy(remote_build.removeprefix("memory://"), copy, recursive=True)
    yield f"memory://{copy}"
    MEMORY.rm(copy.rsplit("/", 1)[0], recursive=True)


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _export(build: Path | str, out: Path, fmt: str, *options: str) -> Path:
    result = _invoke("export", build, "--format", fmt, "--out", out, "--quiet", *options)
    assert result.exit_code == 0, result.output
    return out


def _contents(out: Path, replace: dict[str, str]) -> dict[str, object]:
    """Every file of an export: text (Parquet as its rows) with the `replace` substitutions, others as bytes."""
    found: dict[str, object] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        if path.suffix == ".parquet":
            text = json.dumps(pq.read_table(path).to_pylist())
        elif path.suffix in {".json", ".jsonl", ".yaml", ".py"}:
            text = path.read_text(encoding="utf-8")
        else:
            found[name] = path.read_bytes()
            continue
        for old, new in replace.items():
            text = text.replace(old, new)
        found[name] = text
    return found


EXPORTS = {
    "llava, videos named by URL": ("llava",),
    "llamafactory, videos copied, relative paths": ("llamafactory", "--copy-videos", "--video-path", "relative"),
    "swift, videos copied": ("swift", "--copy-videos"),
    "verl, frames cut from the URL's video": ("verl", "--frames", "4"),
    "lmms-eval, videos copied": ("lmms-eval", "--copy-videos", "--video-path", "relative"),
}


@pytest.mark.parametrize("options", EXPORTS.values(), ids=EXPORTS.keys())
def test_an_export_of_a_build_at_a_url_equals_the_export_of_the_same_build_in_a_folder(
    options, vsibench_video_build, remote_build, tmp_path
):
    fmt, *flags = options
    local = _export(vsibench_video_build, tmp_path / "local" / "export", fmt, *flags)
    remote = _export(remote_build, tmp_path / "remote" / "export", fmt, *flags)
    expected = _contents(local, {str(vsibench_video_build): remote_build, str(local): str(remote)})
    got = _contents(remote, {})
    assert got.keys() == expected.keys()
    assert got == expected
    manifest = json.loads((remote / "export.json").read_text())
    assert manifest["build"] == remote_build
    assert sum(manifest["rows"].values()) == read_rows(remote_build).num_rows > 20
    if "--copy-videos" in flags:
        assert any(name.endswith(".mp4") for name in got)  # the bytes of the build's videos, streamed down
    if "--frames" in flags:
        assert sum(name.endswith(".jpg") for name in got) == 4  # decoded from the URL: the same JPEG bytes


def test_rows_name_the_videos_by_their_url_without_a_copy_and_say_so_once(remote_build, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vsi_data.export.run"):
        result = run_export(ExportConfig(build=remote_build, format="llamafactory", out=tmp_path / "e"))
    videos = {video for record in json.loads((result.out / "train.json").read_text()) for video in record["videos"]}
    assert videos == {f"{remote_build}/{v}" for v in set(read_rows(remote_build).column("video").to_pylist())}
    assert all(MEMORY.isfile(v) for v in videos)
    (warning,) = caplog.messages
    assert warning.startswith(f"{remote_build}: the rows name the build's videos by URL; most trainers open local")


def _fails(args: list, *expected: str, out: Path | None = None) -> str:
    result = _invoke(*args)
    assert result.exit_code == 1, result.output
    line = " ".join(result.output.split())
    for text in expected:
        assert text in line, line
    assert "Traceback" not in result.output
    if out is not None:
        assert not out.exists()
        assert [p.name for p in out.parent.iterdir()] == []  # no temp folder either
    return line


def _closed_port() -> int:
    """A port of this machine where nothing listens: a host that does not answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_relative_paths_without_a_copy_cannot_link_to_a_url(remote_build, tmp_path):
    out = tmp_path / "parent" / "e"
    out.parent.mkdir()
    args = ["export", remote_build, "--format", "llava", "--out", out, "--video-path", "relative"]
    _fails(args, f"{remote_build}: --video-path relative links", "add --copy-videos", out=out)


def test_export_from_a_bad_url_is_one_line_naming_it_and_writes_nothing(scratch_build, tmp_path):
    out = tmp_path / "parent" / "e"
    out.parent.mkdir()
    export = ["--format", "llava", "--out", out]
    _fails(["export", "memory://no-build-here", *export], "memory:///no-build-here: no manifest.json there", out=out)
    _fails(["export", "nosuchfs://bucket/build", *export], "nosuchfs://bucket/build: cannot open", out=out)
    closed = f"http://127.0.0.1:{_closed_port()}/build"
    _fails(["export", closed, *export], f"{closed}: cannot read manifest.json (Cannot connect to host", out=out)
    _fails(["export", scratch_build, "--format", "llava", "--out", "memory://e"], "memory://e: --out is a local folder")
    shard = sorted(MEMORY.find(scratch_build.removeprefix("memory://") + "/data"))[0]
    video = read_rows(scratch_build).column("video")[0].as_py()
    MEMORY.rm(f"{scratch_build.removeprefix('memory://')}/{video}")
    _fails(["export", scratch_build, *export, "--copy-videos"], f"{scratch_build}/{video}: video file missing", out=out)
    _fails(["export", scratch_build, *export, "--frames", "2"], f"{scratch_build}/{video}: video file missing", out=out)
    MEMORY.rm(shard)
    _fails(["export", scratch_build, *export], "data/train-00000-of-00001.parquet: missing, but manifest.json lists it")


# ---------------------------------------------------------------- inspect


@pytest.mark.usefixtures("local_scans")
def test_inspect_draws_a_question_of_a_build_at_a_url_as_of_the_same_build_in_a_folder(
    vsibench_video_build, remote_build, tmp_path
):
    rows = read_rows(vsibench_video_build).to_pylist()
    question = next(row["id"] for row in rows if row["question_type"] == "object_rel_distance")
    local = _invoke("inspect", vsibench_video_build, "--id", question, "--out", tmp_path / "local.png")
    assert local.exit_code == 0, local.output
    remote = _invoke("inspect", remote_build, "--id", question, "--out", tmp_path / "remote.png")
    assert remote.exit_code == 0, remote.output
    assert (tmp_path / "remote.png").read_bytes() == (tmp_path / "local.png").read_bytes()


@pytest.mark.usefixtures("local_scans")
def test_inspect_of_a_bad_url_is_one_line_naming_it(scratch_build, tmp_path):
    png = tmp_path / "q.png"
    _fails(["inspect", "memory://no-build-here", "--id", "x", "--out", png], "memory:///no-build-here: no manifest")
    _fails(["inspect", "nosuchfs://b/x", "--id", "x", "--out", png], "nosuchfs://b/x: cannot open (Protocol not known")
    _fails(["inspect", scratch_build, "--id", "nope", "--out", png], "no question with id 'nope'")
    MEMORY.rm(sorted(MEMORY.find(scratch_build.removeprefix("memory://") + "/data"))[0])
    _fails(["inspect", scratch_build, "--id", "x", "--out", png], "missing, but manifest.json lists it")
    assert not png.exists()


def test_stats_of_an_unknown_protocol_is_one_line_naming_the_url():
    _fails(["stats", "nosuchfs://bucket/build"], "nosuchfs://bucket/build: cannot open (Protocol not known: nosuchfs)")


# ---------------------------------------------------------------- eval, predict


def _predictions(build: Path, path: Path) -> Path:
    """Right, wrong and missing answers, so every score is between 0 and 100."""
    rows = read_rows(build).to_pylist()
    answers = [row["answer"] if k % 3 == 0 else "A" for k, row in enumerate(rows) if k % 5]
    ids = [row["id"] for k, row in enumerate(rows) if k % 5]
    path.write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in zip(ids, answers, strict=True)))
    return path


def test_eval_scores_a_build_at_a_url_as_the_same_build_in_a_folder(vsibench_video_build, remote_build, tmp_path):
    predictions = _predictions(vsibench_video_build, tmp_path / "p.jsonl")
    local = _invoke("eval", "--data", vsibench_video_build, "--predictions", predictions, "--json")
    remote = _invoke("eval", "--data", remote_build, "--predictions", predictions, "--json")
    assert remote.exit_code == local.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert 0 < json.loads(local.stdout)["overall"] < 100
    _fails(["eval", "--data", "nosuchfs://b/x", "--predictions", predictions], "nosuchfs://b/x: cannot open")


def test_predict_answers_a_build_at_a_url_as_the_same_build_in_a_folder(
    vsibench_video_build, remote_build, tiny_model_dir, tmp_path
):
    pytest.importorskip("transformers")
    fast = ["--frames", "4", "--input", "images", "--max-pixels", str(4 * 28 * 28), "--device", "cpu", "--quiet"]
    for build, out in ((vsibench_video_build, tmp_path / "local.jsonl"), (remote_build, tmp_path / "remote.jsonl")):
        result = _invoke("predict", "--model", tiny_model_dir, "--data", build, "--out", out, "--limit", "6", *fast)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "remote.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    assert len((tmp_path / "local.jsonl").read_text().splitlines()) == 6


def test_predict_names_a_video_missing_at_the_url(scratch_build, tiny_model_dir, tmp_path):
    video = read_rows(scratch_build).column("video")[0].as_py()
    MEMORY.rm(f"{scratch_build.removeprefix('memory://')}/{video}")
    args = ["predict", "--model", tiny_model_dir, "--data", scratch_build, "--out", tmp_path / "p.jsonl", "--quiet"]
    _fails(args, f"{scratch_build}/{video}: video not found")


# ---------------------------------------------------------------- train-grpo


def test_training_rows_of_a_build_at_a_url_are_those_of_the_same_build_in_a_folder(vsibench_video_build, remote_build):
    from vsi_data.models import FrameInput
    from vsi_data.train.data import training_dataset
    from vsi_data.train.recipe import FrameSettings

    frames = FrameSettings(num_frames=3, min_pixels=4 * 28 * 28, max_pixels=8 * 28 * 28, input=FrameInput.images)
    local, remote = training_dataset(vsibench_video_build, frames), training_dataset(remote_build, frames)
    assert len(remote) == len(local) > 20
    for k in (0, len(local) - 1):
        got, expected = remote[k], local[k]
        assert [image.tobytes() for image in got.pop("images")] == [i.tobytes() for i in expected.pop("images")]
        assert got == expected


def test_train_grpo_of_a_bad_url_is_one_line_naming_it(scratch_build, tmp_path):
    train = ["train-grpo", "--recipe", "tiny-cpu", "--output", tmp_path / "run", "--data"]
    _fails([*train, "nosuchfs://b/x"], "nosuchfs://b/x: cannot open (Protocol not known: nosuchfs)")
    _fails([*train, "memory://no-build-here"], "memory:///no-build-here: no manifest.json there")
    video = read_rows(scratch_build).column("video")[0].as_py()
    MEMORY.rm(f"{scratch_build.removeprefix('memory://')}/{video}")
    _fails([*train, scratch_build], f"{scratch_build}/{video}: video file missing (needed by row")


@pytest.mark.slow
def test_train_grpo_on_a_build_at_a_url_trains_as_on_the_same_build_in_a_folder(
    vsibench_video_build, remote_build, tmp_path
):
    """Two steps of the tiny recipe (seeded): the same losses, rewards and KL from either copy of the build."""
    logged = {}
    for name, build in (("local", vsibench_video_build), ("remote", remote_build)):
        args = ["train-grpo", "--recipe", "tiny-cpu", "--data", build, "--output", tmp_path / name, "--max-steps", "2"]
        result = _invoke(*args, "--quiet")
        assert result.exit_code == 0, result.output
        history = json.loads((tmp_path / name / "trainer_state.json").read_text())["log_history"]
        logged[name] = [{k: v for k, v in e.items() if "time" not in k and "per_second" not in k} for e in history]
    assert logged["remote"] == logged["local"]
    assert [e["step"] for e in logged["local"] if "loss" in e] == [1, 2]
    assert json.loads((tmp_path / "remote" / "run.json").read_text())["data"] == remote_build
    assert f"`{remote_build}`" in (tmp_path / "remote" / "final" / "README.md").read_text()


# ---------------------------------------------------------------- videos, and a build into a bad URL


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_frames_sampled_from_a_video_at_a_url_are_those_of_the_same_file(backend, vsibench_video_build, remote_build):
    from vsi_data.video.sampler import VideoReadError, sample_frames

    video = read_rows(vsibench_video_build).column("video")[0].as_py()
    local = sample_frames(vsibench_video_build / video, num_frames=5, backend=backend)
    remote = sample_frames(f"{remote_build}/{video}", num_frames=5, backend=backend)
    assert remote.indices.tolist() == local.indices.tolist()
    assert (remote.fps, remote.total_frames) == (local.fps, local.total_frames)
    assert all((a == b).all() for a, b in zip(remote.images, local.images, strict=True))
    with pytest.raises(VideoReadError, match=f"^{remote_build}/videos/none.mp4: video file not found$"):
        sample_frames(f"{remote_build}/videos/none.mp4", num_frames=5, backend=backend)


def test_a_build_into_an_unknown_protocol_is_one_line(tmp_path):
    build = ["build", "--source", "synthetic", "--scenes", "1", "--workers", "0", "--quiet", "--out"]
    _fails([*build, "nosuchfs://bucket/build"], "nosuchfs://bucket/build: cannot open (Protocol not known: nosuchfs)")

"""A build never loses, shrinks or clobbers a dataset: --overwrite swaps only a finished build in, a full disk or a
read-only folder is one line and loses nothing, only what a build wrote is ever deleted, settings that change
the rows protect a finished build, one build per folder at a time, and paths work from any directory."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data import pipeline
from vsi_data.cli import app
from vsi_data.output.shards import read_rows
from vsi_data.pipeline import BuildConfig, run_build

runner = CliRunner()
LOCK = ".vsi-data.lock"
FOUR_FRAMES = {"source": "synthetic", "source_options": {"frames": 4}}  # the settings of the synthetic scans


def build(*args: str):
    return runner.invoke(app, ["build", *args, "--workers", "0"])


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    """Three synthetic ScanNet scenes (4 frames each) rendered once; builds read them with --root."""
    root = tmp_path_factory.mktemp("scans")
    run_build(BuildConfig(**FOUR_FRAMES, root=root, out=root / "warm", scenes=3, quiet=True))
    return root


def synthetic_args(scans: Path, out: Path, *extra: str) -> list[str]:
    """Two scenes with video, in shards of at most 20 rows (so a build has several)."""
    base = ["--source", "synthetic", "--root", str(scans), "--out", str(out), "--frames", "4", "--scenes", "2"]
    return [*base, "--shard-rows", "20", "--quiet", *extra]


@pytest.fixture(scope="module")
def finished(scans, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "out"
    result = build(*synthetic_args(scans, out))
    assert result.exit_code == 0, result.output
    assert len(list((out / "data").glob("*.parquet"))) > 2
    return out


@pytest.fixture
def out(finished, tmp_path) -> Path:
    """A copy of the finished build, for a test to change."""
    shutil.copytree(finished, tmp_path / "out")
    return tmp_path / "out"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


# ------------------------------------------------------------------ 1. --overwrite builds beside, then swaps


def test_an_interrupted_overwrite_leaves_the_earlier_build_untouched(out, scans, monkeypatch):
    before, rows = snapshot(out), read_rows(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "build_scene", interrupted)
    config = BuildConfig(**FOUR_FRAMES, root=scans, out=out, scenes=2, seed=7, overwrite=True, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        run_build(config)
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k in before} == before
    assert all(name.startswith(".overwrite/") for name in after.keys() - before.keys())  # the new build, beside
    assert read_rows(out).equals(rows)

    monkeypatch.undo()
    result = run_build(config)
    assert result.exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7
    assert not read_rows(out).equals(rows)
    finished = [".parts", "README.md", "data", "failures.jsonl", "manifest.json", "videos"]
    assert sorted(p.name for p in out.iterdir()) == finished


def test_overwrite_replaces_every_file_of_the_earlier_build(out, scans):
    result = build(*synthetic_args(scans, out, "--overwrite", "--scenes", "1", "--shard-rows", "1000"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / ".parts").iterdir()) == [
        "build.json",
        "synthetic__scene9000_00.json",
        "synthetic__scene9000_00.parquet",
    ]
    assert sorted(p.name for p in (out / "videos/synthetic").iterdir()) == [
        "scene9000_00.frames.parquet",
        "scene9000_00.mp4",
    ]
    assert [p.name for p in (out / "data").iterdir()] == ["train-00000-of-00001.parquet"]
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene9000_00"}


def test_a_crash_in_the_middle_of_the_swap_is_finished_by_the_next_run(out, scans, monkeypatch):
    """The commit is a journal of renames: a run killed half-way through it leaves the next run to complete it."""
    clean = out.parent / "clean"
    assert build(*synthetic_args(scans, clean, "--seed", "5")).exit_code == 0
    rename, moved = os.replace, []

    def dies_after_three(src, dst):
        if ".overwrite" in str(src) and ".overwrite" not in str(dst):  # a staged file moving into place
            if len(moved) == 3:
                raise KeyboardInterrupt
            moved.append(dst)
        rename(src, dst)

    monkeypatch.setattr(os, "replace", dies_after_three)
    config = BuildConfig(**FOUR_FRAMES, root=scans, out=out, scenes=2, seed=5, overwrite=True, shard_rows=20)
    with pytest.raises(KeyboardInterrupt):
        run_build(replace(config, quiet=True))
    assert len(moved) == 3
    monkeypatch.undo()
    result = build(*synthetic_args(scans, out, "--seed", "5"))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == 2
    assert read_rows(out).equals(read_rows(clean))
    assert snapshot(out).keys() == snapshot(clean).keys()


# ------------------------------------------------------------------ 2. a full disk loses nothing


def _full_disk_at(monkeypatch, which: str, nth: int) -> None:
    """Parquet writes (parts and shards alike go through ParquetWriter) into files whose name contains `which`
    fail with ENOSPC from the `nth` one on."""
    write_table, seen = pq.ParquetWriter.write_table, []

    def write(self, table, *args, **kwargs):
        if which in Path(str(self.where)).name:
            seen.append(self.where)
            if len(seen) >= nth:
                raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
        return write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write)


def test_a_full_disk_while_resharding_keeps_the_finished_dataset(out, scans, monkeypatch):
    before, rows = snapshot(out), read_rows(out)
    _full_disk_at(monkeypatch, "train-", 2)  # the second shard
    result = build(*synthetic_args(scans, out, "--shard-rows", "10"))
    assert result.exit_code == 1
    assert "No space left on device" in one_line(result)
    assert snapshot(out) == before
    monkeypatch.undo()
    result = build(*synthetic_args(scans, out, "--shard-rows", "10"))
    assert result.exit_code == 0, result.output
    assert read_rows(out).equals(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(str(p.relative_to(out)) for p in (out / "data").iterdir()) == sorted(manifest["shards"]["train"])
    assert len(manifest["shards"]["train"]) == -(-rows.num_rows // 10)


@pytest.mark.slow
def test_a_full_disk_while_building_scenes_stops_with_one_line_and_resumes(scans, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _full_disk_at(monkeypatch, "__scene", 2)  # the second scene's part file
    result = build(*synthetic_args(scans, out))
    assert result.exit_code == 1
    line = one_line(result)
    assert "No space left on device" in line
    assert "re-run" in line
    assert [p.name for p in (out / ".parts").glob("*.parquet")] == ["synthetic__scene9000_00.parquet"]
    assert not (out / "failures.jsonl").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    monkeypatch.undo()
    result = build(*synthetic_args(scans, out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == 1


def test_stats_refuses_shards_that_do_not_match_the_manifest(out):
    shard = sorted((out / "data").glob("*.parquet"))[1]
    shard.unlink()
    result = runner.invoke(app, ["stats", str(out)])
    assert result.exit_code == 1
    assert shard.name in one_line(result)


# ------------------------------------------------------------------ 3. only what the build wrote is deleted


def test_a_rerun_and_an_overwrite_keep_files_the_build_did_not_write(out, scans):
    mine = {
        "data/my_extra.parquet": b"",
        "videos/holiday.mp4": b"my holiday",
        "videos/synthetic/holiday.mp4": b"my other holiday",
        ".parts/keep.txt": b"keep me",
        "notes.txt": b"my notes",
    }
    pq.write_table(pa.table({"x": [1, 2]}), out / "data/my_extra.parquet")
    mine["data/my_extra.parquet"] = (out / "data/my_extra.parquet").read_bytes()
    for name, data in mine.items():
        (out / name).write_bytes(data)
    for extra in ([], ["--overwrite", "--seed", "3"]):
        result = build(*synthetic_args(scans, out, *extra))
        assert result.exit_code == 0, result.output
        assert {name: (out / name).read_bytes() for name in mine} == mine
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3


def test_a_hand_edited_record_or_manifest_never_deletes_outside_the_folder(out, scans):
    victims = [out.parent / "victim-1.txt", out.parent / "victim-2.txt", out.parent / "victim-3"]
    victims[0].write_text("mine")
    victims[1].write_text("mine")
    (victims[2] / "inside").mkdir(parents=True)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"]["train"].append("../victim-1.txt")
    (out / "manifest.json").write_text(json.dumps(manifest))
    record = json.loads((out / ".parts/build.json").read_text())
    record["scenes"]["synthetic__scene9000_00"].append(str(victims[1]))
    record["folders"].append("../victim-3")
    (out / ".parts/build.json").write_text(json.dumps(record))
    result = build(*synthetic_args(scans, out, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert [v.exists() for v in victims] == [True, True, True]


def test_a_folder_that_only_holds_an_empty_parts_folder_is_not_a_build(tmp_path):
    out = tmp_path / "out"
    (out / ".parts").mkdir(parents=True)
    (out / "README.md").write_text("my notes")
    result = build("--source", "synthetic", "--out", str(out), "--frames", "0", "--scenes", "1", "--quiet")
    assert result.exit_code == 1
    assert "holds no vsi-data build" in one_line(result)
    assert snapshot(out) == {"README.md": hashlib.sha256(b"my notes").hexdigest()}
    assert sorted(p.name for p in out.iterdir()) == [".parts", "README.md"]


def test_a_refused_build_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = build("--source", "synthetic", "--out", str(out), "--frames", "0", "--scenes", "1", "--overwrite")
    assert result.exit_code == 1
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


# ------------------------------------------------------------------ 4. settings that change the rows


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--scenes", "1"], "--scenes: 2 there, 1 here"),
        (["--split", "val"], "--split: train there, val here"),
        (["--seed", "3"], "--seed: 0 there, 3 here"),
        (["--scene-list", "{list}"], "--scene-list"),
        (["--allow-benchmark-scenes"], "--allow-benchmark-scenes"),
        (["--recipe", "vsibench"], "--recipe"),
        (["--frames", "6"], "--frames: 4 there, 6 here"),
        (["--synthetic-format", "arkitscenes"], "--synthetic-format: scannet there, arkitscenes here"),
    ],
)
def test_settings_that_change_the_rows_protect_a_finished_build(out, scans, tmp_path, extra, named):
    (tmp_path / "ids.txt").write_text("scene9000_00\n")
    before = snapshot(out)
    args = synthetic_args(scans, out, *[a.format(list=tmp_path / "ids.txt") for a in extra])
    if "--scenes" in extra:  # the later --scenes wins
        args = args[: args.index("--scenes")] + args[args.index("--scenes") + 2 :]
    result = build(*args)
    assert result.exit_code == 1
    line = one_line(result)
    assert "holds a build with different settings" in line
    assert named in line
    assert snapshot(out) == before


# ------------------------------------------------------------------ 5. --scene-list


def test_scene_list_ids_that_do_not_exist_are_an_error(scans, tmp_path):
    ids = tmp_path / "ids.txt"
    unknown = [f"scene{n}_00" for n in range(100, 112)]
    ids.write_text("\n".join(["scene9000_00", *unknown]) + "\n")
    result = build(*synthetic_args(scans, tmp_path / "out", "--scene-list", str(ids)))
    assert result.exit_code == 1
    line = one_line(result)
    assert "12 scene ids of" in line
    assert str(ids) in line
    assert ", ".join(unknown[:10]) in line
    assert unknown[10] not in line
    assert not (tmp_path / "out").exists()


def test_scene_list_ids_of_another_split_are_reported(scans, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("scene9000_00\nscene9004_00\nscene9001_00\n")  # every fifth synthetic scene is val
    out = tmp_path / "out"
    result = build(*synthetic_args(scans, out, "--scene-list", str(ids)))
    assert result.exit_code == 0, result.output
    assert "1 scene of" in result.output
    assert "scene9004_00 (val)" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["other_split"] == 1
    assert manifest["other_split_scenes"] == {"scene9004_00": "val"}
    assert manifest["scene_list"] == str(ids)
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene9000_00", "scene9001_00"}


# ------------------------------------------------------------------ 6. one build per folder


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vsi_data.cli", "build", *args, "--workers", "1"]


@pytest.mark.slow
def test_a_second_build_into_the_same_folder_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    out = tmp_path / "out"
    args = ["--source", "synthetic", "--out", str(out), "--frames", "24", "--scenes", "2", "--quiet"]
    first = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out / ".parts").is_dir():
            time.sleep(0.05)
        assert first.poll() is None, "the first build ended before the second one started"
        second = build(*args)
        assert first.poll() is None, "the first build ended while the second one ran"
        assert second.exit_code == 1
        line = one_line(second)
        assert f"pid {first.pid} on {socket.gethostname()}" in line
    finally:
        first.kill()
        first.wait()
    assert (out / LOCK).is_file()  # a build killed with SIGKILL leaves its lock
    third = build(*args)
    assert third.exit_code == 0, third.output
    assert not (out / LOCK).exists()


def test_a_lock_from_another_host_is_refused_and_says_how_to_clear_it(out, scans):
    (out / LOCK).write_text(json.dumps({"pid": 4242, "host": "elsewhere", "started": "2024-01-01T00:00:00"}))
    before = snapshot(out)
    result = build(*synthetic_args(scans, out))
    assert result.exit_code == 1
    line = one_line(result)
    assert "pid 4242 on elsewhere" in line
    assert str(out / LOCK) in line
    assert snapshot(out) == before


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(out, scans):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "2024-01-01"}))
    result = build(*synthetic_args(scans, out))
    assert result.exit_code == 0, result.output
    assert not (out / LOCK).exists()


# ------------------------------------------------------------------ 7. no temp file survives a resume


def test_no_temp_file_survives_a_resume(tmp_path):
    out = tmp_path / "out"
    args = ["--source", "synthetic", "--out", str(out), "--frames", "0", "--scenes", "1", "--quiet"]
    assert build(*args).exit_code == 0
    left = [
        "data/.train-00000-of-00001.parquet.4242.tmp",
        ".parts/.synthetic__scene9000_00.parquet.4242.tmp",
        "videos/synthetic/.scene9000_00.mp4.4242.tmp",
        ".manifest.json.4242.tmp",
        ".synthetic/scans/scene9000_00/.scene9000_00_vh_clean_2.ply.4242.tmp",
        ".synthetic/scans/scene9000_00/scene9000_00.sens.partial",
    ]
    for name in left:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"half written")
    assert build(*args).exit_code == 0
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".partial"))]


# ------------------------------------------------------------------ 8. paths


def test_inspect_and_resume_work_from_any_directory(tmp_path, monkeypatch):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    write_label_table(here / "scannet/scannetv2-labels.combined.tsv")
    write_handmade_scene(here / "scannet/scans", "scene0001_00", HANDMADE_ROOM)
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    assert build("--source", "scannet", "--root", "scannet", "--out", "out", "--quiet").exit_code == 0
    manifest = json.loads((here / "out/manifest.json").read_text())
    assert manifest["root"] == str(here / "scannet")
    assert manifest["config"]["root"] == str(here / "scannet")
    monkeypatch.chdir(elsewhere)
    question = read_rows(here / "out").column("id")[0].as_py()
    shown = runner.invoke(app, ["inspect", str(here / "out"), "--id", question, "--out", "q.png"])
    assert shown.exit_code == 0, shown.output
    again = build("--source", "scannet", "--root", "../here/scannet", "--out", "../here/out", "--quiet")
    assert again.exit_code == 0, again.output
    assert json.loads((here / "out/manifest.json").read_text())["scenes"]["resumed"] == 1


def _read_only(monkeypatch, folder: Path) -> None:
    """What a read-only mount does to every write under `folder` (chmod does not stop root)."""

    def inside(path) -> bool:
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(folder)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def guard(function, writes=lambda *a, **k: True):
        def guarded(path, *args, **kwargs):
            if inside(path) and writes(*args, **kwargs):
                refuse(path)
            return function(path, *args, **kwargs)

        return guarded

    def opens_for_writing(*args, **kwargs):
        how = args[0] if args else kwargs.get("flags", kwargs.get("mode", "r"))
        if isinstance(how, int):
            return bool(how & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        return any(c in how for c in "wax+")

    monkeypatch.setattr(os, "open", guard(os.open, opens_for_writing))
    monkeypatch.setattr(io, "open", guard(io.open, opens_for_writing))
    monkeypatch.setattr("builtins.open", guard(open, opens_for_writing))
    for name in ("mkdir", "unlink", "rmdir", "replace", "rename"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))


@pytest.mark.parametrize("how", ["chmod", "read-only mount"])
def test_a_read_only_output_is_one_line(out, scans, tmp_path, monkeypatch, how):
    if how == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root writes through chmod 0o555; the simulated read-only mount covers this")
        for folder in [out, *[p for p in out.rglob("*") if p.is_dir()], tmp_path]:
            folder.chmod(0o555)
    else:
        _read_only(monkeypatch, tmp_path)
    try:
        for target in (out, tmp_path / "new"):
            result = build(*synthetic_args(scans, target))
            assert result.exit_code == 1
            line = one_line(result)
            assert "cannot write" in line
            assert str(target) in line
    finally:
        for folder in [out, *[p for p in out.rglob("*") if p.is_dir()], tmp_path]:
            folder.chmod(0o755)

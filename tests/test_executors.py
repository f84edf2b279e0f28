"""Executors: 1 or 2 local workers and Ray give identical rows; a build killed with SIGKILL and re-run
ends identical to an uninterrupted one; broken scenes are reported whatever the schedule."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from handmade import HANDMADE_ROOM, write_handmade_scene
from vsi_data.executors import InProcess, ProcessPool, make_executor
from vsi_data.output.shards import read_rows
from vsi_data.pipeline import BuildConfig, run_build


def _square(x: int) -> int:
    return x * x


def test_executors_return_every_result_once():
    assert sorted(ProcessPool(2).map_unordered(_square, list(range(9)))) == [x * x for x in range(9)]
    assert list(InProcess().map_unordered(_square, [3, 1])) == [9, 1]
    assert isinstance(make_executor("local", 1), InProcess)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Four synthetic ScanNet scenes written once, plus a broken one."""
    root = tmp_path_factory.mktemp("scans")
    run_build(BuildConfig(source="synthetic", root=root, out=root / "warm", scenes=4, synthetic_frames=4, quiet=True))
    write_handmade_scene(root / "scans", "scene0001_00", HANDMADE_ROOM)
    (root / "scans/scene0001_00/scene0001_00.aggregation.json").write_text("{not json")
    return root


def _build(scans, out, **kw):
    config = BuildConfig(source="scannet", root=scans, out=out, recipe="vsibench", split="all", quiet=True, **kw)
    return run_build(config)


def test_one_and_two_workers_give_identical_rows(scans, tmp_path):
    one = _build(scans, tmp_path / "one", workers=1)
    two = _build(scans, tmp_path / "two", workers=2)
    assert one.exit_code == two.exit_code == 2  # the broken scene
    assert one.failures == two.failures
    assert "scene0001_00.aggregation.json" in one.failures[0]["error"]
    rows = read_rows(tmp_path / "one")
    assert rows.num_rows > 50
    assert rows.equals(read_rows(tmp_path / "two"))
    assert len(set(rows.column("scene_id").to_pylist())) == 4


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra")
def test_ray_gives_the_same_rows_as_local(scans, tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    local = _build(scans, tmp_path / "local", workers=1)
    ray = _build(scans, tmp_path / "ray", workers=2, executor="ray")
    assert ray.failures == local.failures
    assert read_rows(tmp_path / "ray").equals(read_rows(tmp_path / "local"))


def test_a_build_killed_with_sigkill_resumes_to_the_clean_result(scans, tmp_path):
    def command(out):
        return [sys.executable, "-m", "vsi_data.cli", "build", "--source", "synthetic", "--root", str(scans),
                "--out", str(out), "--scenes", "4", "--frames", "4", "--workers", "1", "--quiet"]  # fmt: skip

    # Each scene encodes its video, so there is time to kill the build between committed scenes.
    out = tmp_path / "killed"
    process = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / ".parts").glob("*.parquet"))) < 2:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = len(list((out / ".parts").glob("*.parquet")))
    assert 2 <= committed < 4, "the build was not interrupted mid-way"
    assert not (out / "manifest.json").exists()
    resumed = subprocess.run(command(out), capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == committed
    clean = subprocess.run(command(tmp_path / "clean"), check=False)
    assert clean.returncode == 0
    assert read_rows(out).equals(read_rows(tmp_path / "clean"))
    videos = sorted(p.relative_to(out) for p in (out / "videos").rglob("*"))
    assert videos == sorted(p.relative_to(tmp_path / "clean") for p in (tmp_path / "clean" / "videos").rglob("*"))

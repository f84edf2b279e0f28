"""Executors: any worker count and Ray give identical rows; one scene never takes a build down (a crashed,
killed or hanging worker is recorded in failures.jsonl or retried, and the rest is built); Ctrl-C stops at once
and a re-run resumes; a killed build leaves no worker behind and resumes to the clean result.

Scenes misbehave through `scene_faults.Faulty`, put in place of `run_scene` by monkeypatch. Ray runs on a
two-node cluster of this machine, on 127.0.0.1 only, stopped when the module's tests are done.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import object_store
import psutil
import pytest
import scene_faults

from handmade import HANDMADE_ROOM, write_handmade_scene
from vsi_data import pipeline
from vsi_data.executors import ExecutorUnavailable, InProcess, Limits, Lost, ProcessPool, RayTasks, make_executor
from vsi_data.executors import version_mismatch as mismatch
from vsi_data.io import Store
from vsi_data.output.shards import read_rows
from vsi_data.pipeline import BuildConfig, run_build
from vsi_data.registry import open_source


def _square(x: int) -> int:
    return x * x


def test_executors_return_every_result_once():
    assert sorted(ProcessPool(2).map_unordered(_square, list(range(9)))) == [(x, x * x) for x in range(9)]
    assert list(InProcess().map_unordered(_square, [3, 1])) == [(3, 9), (1, 1)]
    assert isinstance(make_executor("local", 0), InProcess)
    assert isinstance(make_executor("local", 1), ProcessPool)  # one worker is still a separate process


def test_the_pool_outlives_crashing_and_hanging_items():
    items = [(0, ""), (1, "segfault"), (2, ""), (3, "exit"), (4, "hang"), (5, "")]
    started = time.monotonic()
    results = dict(ProcessPool(2, Limits(seconds=5)).map_unordered(scene_faults.faulty_square, items))
    assert {item[0]: result for item, result in results.items() if not isinstance(result, Lost)} == {
        0: 0,
        2: 4,
        5: 25,
    }
    assert results[(1, "segfault")] == Lost(
        "its worker process was killed by SIGSEGV (a segmentation fault), on each of 2 tries"
    )
    assert results[(3, "exit")] == Lost("its worker process exited with status 3, on each of 2 tries")
    assert results[(4, "hang")] == Lost("no result after 5 s (the time limit); its worker was stopped")
    assert time.monotonic() - started < 60  # the hanging item (signals blocked) did not hold the pool


def test_a_bug_in_the_function_is_raised_with_the_workers_traceback():
    with pytest.raises(ZeroDivisionError) as raised:
        list(ProcessPool(1).map_unordered(_reciprocal, [0]))
    assert "in worker process" in "".join(raised.value.__notes__)


def _reciprocal(x: int) -> float:
    return 1 / x


def test_version_mismatch_names_the_node_and_what_differs():
    driver = {"vsi-data": "0.1.0", "numpy": "2.3.1"}
    assert mismatch(driver, {"10.0.0.1": dict(driver), "10.0.0.2": dict(driver)}) is None
    line = mismatch(driver, {"10.0.0.1": dict(driver), "10.0.0.2": {"vsi-data": "0.0.9", "numpy": "2.3.1"}})
    assert line == (
        "Ray node 10.0.0.2 runs vsi-data 0.0.9 (driver: 0.1.0) (1 other nodes checked); install the same "
        "versions on every node so that every scene is built by the same code"
    )
    assert "\n" not in line


# --- builds ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Four synthetic ScanNet scenes written once, plus a broken one."""
    root = tmp_path_factory.mktemp("scans")
    run_build(
        BuildConfig(
            source="synthetic", root=root, out=root / "warm", scenes=4, source_options={"frames": 4}, quiet=True
        )
    )
    write_handmade_scene(root / "scans", "scene0001_00", HANDMADE_ROOM)
    (root / "scans/scene0001_00/scene0001_00.aggregation.json").write_text("{not json")
    return root


def _build(scans, out, **kw):
    config = BuildConfig(source="scannet", root=scans, out=out, recipe="vsibench", split="all", quiet=True, **kw)
    return run_build(config)


@pytest.fixture(scope="module")
def reference(scans, tmp_path_factory):
    """The clean in-process build every other build must equal."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = _build(scans, out)
    assert result.exit_code == 2  # the broken scene
    assert "scene0001_00.aggregation.json" in result.failures[0]["error"]
    return out, result


def _scene_ids(scans: Path) -> list[str]:
    return sorted(p.name for p in (scans / "scans").iterdir() if p.name != "scene0001_00")


def _kill_when_waiting(markers: Path, stop: threading.Event) -> threading.Thread:
    """Kill (SIGKILL) each worker that a `killed-once` scene leaves waiting, as an OOM killer or a lost node would."""

    def run() -> None:
        killed = set()
        while not stop.is_set():
            for marker in markers.glob("*.pid"):
                if marker not in killed and marker.read_text():
                    os.kill(int(marker.read_text()), signal.SIGKILL)
                    killed.add(marker)
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_two_workers_give_the_in_process_rows(scans, reference, tmp_path):
    two = _build(scans, tmp_path / "two", workers=2)
    assert two.exit_code == 2
    assert two.failures == reference[1].failures
    rows = read_rows(tmp_path / "two")
    assert rows.num_rows > 50
    assert rows.equals(read_rows(reference[0]))
    assert len(set(rows.column("scene_id").to_pylist())) == 4


@pytest.mark.slow
def test_local_pool_records_a_crashing_scene_and_retries_a_killed_worker(scans, reference, tmp_path, monkeypatch):
    crashing, killed = _scene_ids(scans)[:2]
    markers = tmp_path / "markers"
    markers.mkdir()
    faults = {crashing: "segfault", killed: f"killed-once:{markers}"}
    monkeypatch.setattr(pipeline, "run_scene", scene_faults.Faulty(faults))
    stop = threading.Event()
    killer = _kill_when_waiting(markers, stop)
    out = tmp_path / "out"
    try:
        result = _build(scans, out, workers=2)
    finally:
        stop.set()
        killer.join()
    assert (markers / f"{killed}.pid").exists()  # its worker was killed once; the second try built it
    assert result.exit_code == 2
    assert (out / "manifest.json").is_file()
    failures = {f["scene_id"]: f for f in map(json.loads, (out / "failures.jsonl").read_text().splitlines())}
    assert sorted(failures) == ["scene0001_00", crashing]
    assert failures[crashing] == {
        "scene_id": crashing,
        "source": "scannet",
        "error": f"{scans / 'scans' / crashing}: its worker process was killed by SIGSEGV (a segmentation fault), "
        "on each of 2 tries",
    }
    assert set(read_rows(out).column("scene_id").to_pylist()) == set(_scene_ids(scans)) - {crashing}
    # Without the fault, a re-run builds just the failed scene and equals the clean build.
    monkeypatch.undo()
    rerun = _build(scans, out, workers=2)
    assert rerun.manifest["scenes"]["resumed"] == 3
    assert read_rows(out).equals(read_rows(reference[0]))


def test_pool_workers_build_into_an_object_store_and_give_the_in_process_rows(scans, reference, tmp_path, monkeypatch):
    object_store.register()
    monkeypatch.setattr(pipeline, "run_scene", object_store.WithObjectStore())
    out = f"objstore://{tmp_path / 'bucket' / 'build'}"
    result = _build(scans, out, workers=2)
    assert result.failures == reference[1].failures
    assert read_rows(out).equals(read_rows(reference[0]))
    assert Store.at(out).files() == [n for n in Store.at(reference[0]).files() if n != ".vsi-data.lock"]


def test_a_scene_that_hangs_with_signals_blocked_is_stopped_at_the_time_limit(scans, tmp_path, monkeypatch):
    hanging = _scene_ids(scans)[0]
    out = tmp_path / "out"
    faults = {hanging: f"hang-mid-write:{out / 'videos' / 'scannet'}"}
    monkeypatch.setattr(pipeline, "run_scene", scene_faults.Faulty(faults))
    (tmp_path / "scenes.txt").write_text(f"{hanging}\n")
    # Alone in its build, so that no other scene on a busy machine can run into the short limit.
    result = _build(scans, out, workers=1, scene_timeout_s=5, scene_list=tmp_path / "scenes.txt")
    assert result.exit_code == 1  # nothing else to build
    assert result.failures == [
        {
            "scene_id": hanging,
            "source": "scannet",
            "error": f"{scans / 'scans' / hanging}: no result after 5 s (the time limit); its worker was stopped",
        }
    ]
    assert json.loads((out / "manifest.json").read_text())["scenes"]["failed"] == 1
    assert list(out.rglob("*.tmp")) == []  # the stopped worker's half-written video is gone


def test_scenes_are_handed_out_longest_first(scans, tmp_path, monkeypatch):
    handed: list[str] = []

    def record(job):
        handed.append(job.ref.scene_id)
        return pipeline.SceneOutcome(job.ref, failure={"scene_id": job.ref.scene_id, "source": "x", "error": "x"})

    monkeypatch.setattr(pipeline, "run_scene", record)
    _build(scans, tmp_path / "out")
    source = open_source("scannet", scans)
    sizes = {ref.scene_id: source.size_hint(ref) for ref in source.list_scenes()}
    assert len(set(sizes.values())) == len(sizes)  # the scenes differ in size, so the order says something
    assert handed == sorted(sizes, key=lambda scene: -sizes[scene])
    assert sizes[handed[0]] == sum(p.stat().st_size for p in (scans / "scans" / handed[0]).iterdir() if p.is_file())


# --- the command line: Ctrl-C and kill -9 ------------------------------------------------------------------


def _command(scans: Path, out: Path, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "vsi_data.cli", "build", "--source", "synthetic", "--root", str(scans),
            "--out", str(out), "--scenes", "4", "--frames", "4", "--workers", str(workers), "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def clean_cli_build(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "out"
    assert subprocess.run(_command(scans, out, workers=0), check=False).returncode == 0
    return out


def _start_and_wait_for_parts(command: list[str], out: Path, parts: int) -> tuple[subprocess.Popen, list[int]]:
    """Start a CLI build; once `parts` scenes are committed, return it with the pids of its worker processes."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list((out / ".parts").glob("*.parquet"))) < parts:
        time.sleep(0.02)
    workers = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    return process, workers


def _alive(pids: list[int], grace_s: float = 10.0) -> list[int]:
    """The pids still running after a short grace (a killed process needs a moment to be reaped)."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_at_once_exits_130_and_a_rerun_resumes(scans, clean_cli_build, tmp_path):
    out = tmp_path / "interrupted"
    process, workers = _start_and_wait_for_parts(_command(scans, out), out, parts=1)
    assert len(workers) >= 2, "the build has no worker processes to stop"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)  # promptly: no waiting for the scenes in flight
    committed = len(list((out / ".parts").glob("*.parquet")))
    assert process.returncode == 130
    assert stderr.strip().splitlines() == [
        f"interrupted: {committed} of 4 scenes are committed in {out}; run the same command again to resume"
    ]
    assert 1 <= committed < 4
    assert _alive(workers) == []
    assert list(out.rglob("*.tmp")) == []
    assert not (out / "manifest.json").exists()
    resumed = subprocess.run(_command(scans, out), capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == committed
    assert read_rows(out).equals(read_rows(clean_cli_build))


@pytest.mark.slow
def test_a_build_killed_with_sigkill_takes_its_workers_along_and_resumes_to_the_clean_result(
    scans, clean_cli_build, tmp_path
):
    # Each scene encodes its video, so there is time to kill the build between committed scenes.
    out = tmp_path / "killed"
    process, workers = _start_and_wait_for_parts(_command(scans, out), out, parts=2)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)  # workers left alive would hold its pipes open
    committed = len(list((out / ".parts").glob("*.parquet")))
    assert 2 <= committed < 4, "the build was not interrupted mid-way"
    assert len(workers) >= 2
    assert _alive(workers) == []  # the workers went with it (they would hold ~400 MB each and the caller's pipes)
    assert not (out / "manifest.json").exists()
    resumed = subprocess.run(_command(scans, out), capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == committed
    assert read_rows(out).equals(read_rows(clean_cli_build))
    videos = sorted(p.relative_to(out) for p in (out / "videos").rglob("*"))
    assert videos == sorted(p.relative_to(clean_cli_build) for p in (clean_cli_build / "videos").rglob("*"))


# --- Ray -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """Two Ray nodes of one CPU each on 127.0.0.1 only, stopped when the module's tests are done. Its sessions,
    sockets and the file where a running cluster advertises itself to `ray.init()` (ray_current_cluster) go to
    a private RAY_TMPDIR, so no other Ray user of this machine joins it. A driver on Linux takes 127.0.0.1 to
    mean this machine's network address, where nothing listens: it is told to keep loopback (what Ray does on
    macOS and Windows), which also keeps a local cluster that a test starts on loopback."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    private = Path(tempfile.mkdtemp(prefix="vsi-ray-"))  # short: Ray's socket paths live under it
    loopback = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", str(private))
        patch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
        cluster = Cluster(initialize_head=True, head_node_args={**loopback, "include_dashboard": False})
        try:
            cluster.add_node(**loopback)
            scene_faults.ray_by_value()
            yield cluster
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(private, ignore_errors=True)


@pytest.mark.slow
def test_ray_joins_a_running_cluster_from_ray_address_and_gives_the_same_rows(
    scans, reference, ray_cluster, tmp_path, monkeypatch
):
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    result = _build(scans, tmp_path / "ray", workers=5, executor="ray")  # the cluster's CPUs decide, not 5
    assert result.failures == reference[1].failures
    assert read_rows(tmp_path / "ray").equals(read_rows(reference[0]))


@pytest.mark.slow
def test_ray_without_an_address_starts_its_own_cluster_and_auto_joins_the_running_one(
    scans, reference, ray_cluster, tmp_path, monkeypatch
):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert (Path(os.environ["RAY_TMPDIR"]) / "ray" / "ray_current_cluster").read_text() == ray_cluster.address
    # A plain ray.init(num_cpus=...) would join the advertised cluster and refuse the CPU count (ValueError).
    own = _build(scans, tmp_path / "own", workers=1, executor="ray")
    joined = _build(scans, tmp_path / "auto", executor="ray", ray_address="auto")
    assert own.failures == joined.failures == reference[1].failures
    assert read_rows(tmp_path / "own").equals(read_rows(reference[0]))
    assert read_rows(tmp_path / "auto").equals(read_rows(reference[0]))


@pytest.mark.slow
def test_ray_records_crashed_and_hanging_scenes_and_retries_a_killed_worker(
    scans, reference, ray_cluster, tmp_path, monkeypatch
):
    crashing, hanging, killed = _scene_ids(scans)[:3]
    markers = tmp_path / "markers"
    markers.mkdir()
    faults = {crashing: "exit", hanging: "hang", killed: f"killed-once:{markers}"}
    monkeypatch.setattr(pipeline, "run_scene", scene_faults.Faulty(faults))
    stop = threading.Event()
    killer = _kill_when_waiting(markers, stop)
    out = tmp_path / "out"
    try:
        # On Ray the limit counts from submission, Ray's retry of the killed worker's scene included.
        result = _build(scans, out, executor="ray", ray_address=ray_cluster.address, scene_timeout_s=60)
    finally:
        stop.set()
        killer.join()
    assert (markers / f"{killed}.pid").exists()
    assert result.exit_code == 2
    assert (out / "manifest.json").is_file()
    failures = {f["scene_id"]: f["error"] for f in result.failures}
    assert sorted(failures) == sorted(["scene0001_00", crashing, hanging]), failures
    assert failures[crashing].startswith(f"{scans / 'scans' / crashing}: its Ray worker was lost, on each of 2 tries (")
    assert failures[hanging] == (
        f"{scans / 'scans' / hanging}: no result after 60 s (the time limit); its Ray task was cancelled"
    )
    monkeypatch.undo()
    rerun = _build(scans, out, executor="ray", ray_address=ray_cluster.address)
    assert rerun.manifest["scenes"]["resumed"] == 2
    assert read_rows(out).equals(read_rows(reference[0]))


def test_ray_workers_build_into_an_object_store_that_is_not_the_drivers_folder(
    scans, reference, ray_cluster, tmp_path, monkeypatch
):
    """Two Ray workers commit parts and videos into `objstore://` (no renames, no flock: an object store's rules),
    from a driver working in an unrelated folder; a scene that always crashes its worker is recorded, a killed
    worker's scene is retried, the build completes with exit 2, and a re-run equals the clean local build."""
    from ray import cloudpickle

    object_store.register()
    cloudpickle.register_pickle_by_value(object_store)
    crashing, killed = _scene_ids(scans)[:2]
    markers = tmp_path / "markers"
    markers.mkdir()
    faults = scene_faults.Faulty({crashing: "exit", killed: f"killed-once:{markers}"})
    monkeypatch.setattr(pipeline, "run_scene", object_store.WithObjectStore(faults))
    (tmp_path / "driver").mkdir()
    monkeypatch.chdir(tmp_path / "driver")
    out = f"objstore://{tmp_path / 'bucket' / 'build'}"
    copies = object_store.ObjectStoreFS.copies
    stop = threading.Event()
    killer = _kill_when_waiting(markers, stop)
    try:
        result = _build(scans, out, executor="ray", ray_address=ray_cluster.address)
    finally:
        stop.set()
        killer.join()
    assert (markers / f"{killed}.pid").exists()
    assert result.exit_code == 2
    store = Store.at(out)
    assert store.is_file("manifest.json")
    failures = [json.loads(line)["scene_id"] for line in store.read_text("failures.jsonl").splitlines()]
    assert failures == sorted(["scene0001_00", crashing])
    assert set(read_rows(out).column("scene_id").to_pylist()) == set(_scene_ids(scans)) - {crashing}
    assert object_store.ObjectStoreFS.copies > copies  # the swap copied and deleted (the store has no rename)
    assert sorted(os.listdir(tmp_path / "driver")) == []
    monkeypatch.setattr(pipeline, "run_scene", object_store.WithObjectStore())
    rerun = _build(scans, out, executor="ray", ray_address=ray_cluster.address)
    assert rerun.manifest["scenes"]["resumed"] == 3
    assert read_rows(out).equals(read_rows(reference[0]))
    clean = {n for n in Store.at(reference[0]).files() if n != ".vsi-data.lock"}
    assert set(store.files()) == clean


def test_ray_refuses_nodes_that_run_other_code_or_have_too_little_memory(ray_cluster):
    driver = os.getpid()

    def role() -> dict[str, str]:  # pickled by value: a Ray worker is never the driver
        return {"process": "driver" if os.getpid() == driver else "worker"}

    other_code = RayTasks(1, address=ray_cluster.address, environment=role)
    with pytest.raises(ExecutorUnavailable, match=r"^Ray node 127\.0\.0\.1 \(\w{8}\) runs process worker"), other_code:
        pass
    too_big = RayTasks(1, Limits(memory_gib=4096), address=ray_cluster.address)
    with pytest.raises(ExecutorUnavailable, match=r"^no Ray node has 1 CPU and 4096 GiB of memory"), too_big:
        pass


def test_a_local_ray_cluster_of_no_cpus_is_refused(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ExecutorUnavailable, match=r"give it --workers 1 or more$"):
        make_executor("ray", 0)


def test_an_address_where_no_cluster_answers_is_one_line_at_once():
    pytest.importorskip("ray")
    started = time.monotonic()
    nowhere = RayTasks(1, address="127.0.0.1:1")
    refused = r"^cannot reach the Ray cluster at 127\.0\.0\.1:1: Connection refused$"
    with pytest.raises(ExecutorUnavailable, match=refused):
        nowhere.__enter__()
    assert time.monotonic() - started < 60  # Ray itself retries such an address for about 14 minutes

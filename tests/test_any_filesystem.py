"""Builds into any filesystem fsspec reaches: the same rows, files and videos as a local build, resumed and
overwritten the same way, and read back by `stats` and `read_rows` from the URL. `memory://` lives in this
process only, so it is built with `--workers 0`; builds by worker processes and Ray into an object-store-like
filesystem are in test_executors.py (`objstore://`, tests/object_store.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import uuid
from typing import ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.io import Store, location
from vsi_data.output import folder
from vsi_data.output.folder import JOURNAL, LOCK_FILE, FolderRefused, OutputFolder
from vsi_data.output.shards import read_rows
from vsi_data.pipeline import SYNTHETIC_DIR, BuildConfig, run_build
from vsi_data.stats import dataset_stats

SETTINGS = {"source": "synthetic", "scenes": 2, "source_options": {"frames": 4}, "quiet": True}


@pytest.fixture
def memory():
    root = f"memory://vsi-{uuid.uuid4().hex}"
    yield root
    fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The driver runs in an unrelated folder, and the synthetic scans' local cache is in this test's folder."""
    (tmp_path / "cwd").mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path


def _files(where, folder: str = "") -> dict[str, bytes]:
    """The files of a build (or of one of its folders), but its synthetic scans."""
    store = Store.at(where)
    names = store.files(folder)
    return {n: store.read_bytes(n) for n in names if folder or not n.startswith(SYNTHETIC_DIR)}


def test_a_build_into_memory_holds_what_a_local_build_holds_and_stats_reads_it(elsewhere, memory):
    local = run_build(BuildConfig(out=elsewhere / "local", **SETTINGS))
    remote = run_build(BuildConfig(out=memory, **SETTINGS))
    assert remote.exit_code == local.exit_code == 0
    assert read_rows(memory).equals(read_rows(elsewhere / "local"))
    assert read_rows(memory).num_rows > 20
    files, local_files = _files(memory), _files(elsewhere / "local")
    assert sorted(files) == sorted(local_files)  # no lock, journal, staging or temp file left
    assert any(name.endswith(".mp4") for name in files)
    differ = [n for n in files if files[n] != local_files[n] and n not in ("manifest.json", "README.md")]
    assert [n for n in differ if not n.startswith(".parts/") or not n.endswith(".json")] == [], differ
    kept = {n: d for n, d in _files(memory, SYNTHETIC_DIR).items() if "/scans/" in n or n.endswith(".txt")}
    assert len(kept) > 10
    assert kept == {n: d for n, d in _files(elsewhere / "local", SYNTHETIC_DIR).items() if n in kept}
    assert json.loads(files["manifest.json"])["config"]["out"] == memory
    assert dataset_stats(memory)["rows"] == dataset_stats(elsewhere / "local")["rows"]
    rerun = run_build(BuildConfig(out=memory, **SETTINGS))
    assert rerun.manifest["scenes"]["resumed"] == 2
    assert read_rows(memory).equals(read_rows(elsewhere / "local"))


def test_a_worker_without_the_scans_copies_them_from_the_url_instead_of_rendering(elsewhere, memory, monkeypatch):
    from vsi_data.synthetic.scannet_writer import ScanNetFormat

    first = run_build(BuildConfig(out=memory, **SETTINGS))
    shutil.rmtree(elsewhere / "tmp")  # a new machine: no local copy
    (elsewhere / "tmp").mkdir()

    def no_rendering(*args: object) -> None:
        raise AssertionError("rendered a scene kept at the URL")

    monkeypatch.setattr(ScanNetFormat, "write_scene", no_rendering)
    again = run_build(BuildConfig(out=memory, overwrite=True, **SETTINGS))  # every scene loaded again
    assert again.exit_code == 0
    assert again.manifest["scenes"]["resumed"] == 0
    assert again.manifest["rows"] == first.manifest["rows"]


def test_overwrite_on_an_object_store_swaps_in_the_new_build_and_keeps_a_users_file(elsewhere, memory):
    run_build(BuildConfig(out=memory, **SETTINGS))
    Store.at(memory).write_text("notes.txt", "mine")
    other = run_build(BuildConfig(out=elsewhere / "seed1", seed=1, **SETTINGS))
    replaced = run_build(BuildConfig(out=memory, seed=1, overwrite=True, **SETTINGS))
    assert replaced.exit_code == other.exit_code == 0
    assert read_rows(memory).equals(read_rows(elsewhere / "seed1"))
    assert Store.at(memory).read_text("notes.txt") == "mine"
    assert sorted(_files(memory)) == sorted([*_files(elsewhere / "seed1"), "notes.txt"])


def test_a_swap_cut_short_on_an_object_store_is_completed_by_the_next_build(elsewhere, memory):
    """A move there is a copy and a delete: a build killed between them leaves the source and the copy, and
    the journal's replay finishes the move (and the rest of the swap) before anything else happens."""
    run_build(BuildConfig(out=memory, **SETTINGS))
    store = Store.at(memory)
    store.move("manifest.json", ".finishing/manifest.json")
    store.fs.copy(store.path(".finishing/manifest.json"), store.path("manifest.json"))  # killed after the copy
    store.write_text(JOURNAL, json.dumps({"moves": [[".finishing/manifest.json", "manifest.json"]], "delete": [],
                                          "delete_folders": [], "prune": [".finishing"]}))  # fmt: skip
    rerun = run_build(BuildConfig(out=memory, **SETTINGS))
    assert rerun.exit_code == 0
    assert rerun.manifest["scenes"]["resumed"] == 2
    assert not store.exists(JOURNAL)
    assert not store.exists(".finishing")


def test_a_second_build_into_a_running_ones_object_store_folder_is_refused(memory):
    """There is no flock on an object store: the lock is a marker naming its holder, removed only by it."""
    store = Store.at(memory)
    with OutputFolder(memory).locked():
        assert json.loads(store.read_text(LOCK_FILE))["pid"] == os.getpid()
    assert not store.exists(LOCK_FILE)
    store.write_text(LOCK_FILE, json.dumps({"pid": 1, "host": "elsewhere", "started": "then"}))
    refused = r"locked by a build of pid 1 on elsewhere \(since then\); .* delete memory:///vsi-\w+/\.vsi-data\.lock"
    with pytest.raises(FolderRefused, match=refused), OutputFolder(memory).locked():
        pass
    assert json.loads(store.read_text(LOCK_FILE))["host"] == "elsewhere"  # another's marker stays
    store.write_text(LOCK_FILE, json.dumps({"pid": 2**22 + 1, "host": socket.gethostname()}))  # a dead build's
    with OutputFolder(memory).locked():
        assert json.loads(store.read_text(LOCK_FILE))["pid"] == os.getpid()


class RacingFS(MemoryFileSystem):
    """`racing://`: memory where another build's lock marker (`rival`) lands at the worst moment, just before
    this process's first write of its own marker or just before it reads its marker back; `honors_x` False is a
    store that takes fsspec's exclusive mode "xb" as "wb" (as s3fs did for small objects until mid-2025)."""

    protocol = ("racing",)
    store: ClassVar[dict] = {}
    pseudo_dirs: ClassVar[list] = [""]
    honors_x = True
    rival: bytes | None = None
    lands = "before-write"  # or "before-read-back"
    wrote = False

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("racing://"))

    def _land(self, path: str) -> None:
        rival, type(self).rival = type(self).rival, None
        if rival is not None:
            super()._open(path, "wb").write(rival)

    def _open(self, path, mode="rb", **kwargs):
        mode = "wb" if mode == "xb" and not self.honors_x else mode
        if not (path.endswith(LOCK_FILE) and mode in ("wb", "xb")):
            return super()._open(path, mode, **kwargs)
        if self.lands == "before-write":
            self._land(path)
        file = super()._open(path, mode, **kwargs)
        type(self).wrote = True
        return file

    def cat_file(self, path, *args, **kwargs):
        if path.endswith(LOCK_FILE) and self.wrote and self.lands == "before-read-back":
            self._land(path)
        return super().cat_file(path, *args, **kwargs)


@pytest.fixture
def racing(monkeypatch):
    fsspec.register_implementation("racing", RacingFS, clobber=True)
    monkeypatch.setattr(RacingFS, "store", {})
    monkeypatch.setattr(RacingFS, "pseudo_dirs", [""])
    for name, value in {"honors_x": True, "rival": None, "lands": "before-write", "wrote": False}.items():
        monkeypatch.setattr(RacingFS, name, value)
    monkeypatch.setattr(folder, "MARKER_SETTLE_S", 0.01)
    return f"racing://vsi-{uuid.uuid4().hex}"


def _rival(host: str = socket.gethostname(), pid: int = os.getppid()) -> bytes:
    """Another build's marker: by default a live process of this machine (the one that started pytest)."""
    return json.dumps({"pid": pid, "host": host, "started": "now", "token": "theirs"}).encode()


@pytest.mark.parametrize(
    ("honors_x", "lands", "stale", "message"),
    [
        # exclusive create (local O_EXCL, s3fs/gcsfs/adlfs conditional writes): the rival's marker, written
        # between this build's look and its write, makes this build's create fail, naming the rival
        (True, "before-write", False, "another build is writing into this folder"),
        # a store without exclusive create: both write, and the one whose marker did not stay stops
        (False, "before-read-back", False, "another build took the lock at the same moment"),
        # two builds taking over a dead build's marker: the one whose marker did not stay stops
        (True, "before-read-back", True, "another build took the lock at the same moment"),
    ],
)
def test_two_builds_taking_an_object_store_lock_at_once_do_not_both_hold_it(racing, honors_x, lands, stale, message):
    RacingFS.honors_x, RacingFS.lands, RacingFS.wrote = honors_x, lands, False
    store = Store.at(racing)
    if stale:
        store.write_text(LOCK_FILE, json.dumps({"pid": 2**22 + 1, "host": socket.gethostname()}))
        RacingFS.wrote = False
    RacingFS.rival = _rival()
    with pytest.raises(FolderRefused, match=f"{message} \\(pid {os.getppid()} on "), OutputFolder(racing).locked():
        pass
    assert store.read_bytes(LOCK_FILE) == _rival()  # the rival's marker stays, untouched
    store.remove(LOCK_FILE)
    RacingFS.wrote = False
    with OutputFolder(racing).locked():  # no rival: taken, then released
        assert json.loads(store.read_text(LOCK_FILE))["pid"] == os.getpid()
    assert not store.exists(LOCK_FILE)


def test_a_lock_taken_while_held_is_reported_and_left_to_its_holder(racing, caplog):
    store = Store.at(racing)
    with OutputFolder(racing).locked():
        store.write_text(LOCK_FILE, _rival().decode())  # what no check rules out: a rival's marker over ours
    assert store.read_bytes(LOCK_FILE) == _rival()
    assert f"another build (pid {os.getppid()} on {socket.gethostname()} (since now)) took the lock" in caplog.text


@pytest.mark.parametrize(("url", "honors_x", "exclusive"), [("racing", True, True), ("racing", False, False),
                                                            ("objstore", True, True)])  # fmt: skip
def test_store_create_writes_only_where_nothing_is_and_says_if_that_was_one_step(
    racing, tmp_path, url, honors_x, exclusive
):
    """fsspec's "xb": memory and a local folder (objstore://) create exclusively; a store taking it as "wb" is
    told apart by a second exclusive create that succeeds."""
    import object_store

    object_store.register()
    where = racing if url == "racing" else f"objstore://{tmp_path}"
    RacingFS.honors_x = honors_x
    store = Store.at(where)
    assert store.create("a/lock", b"first") is exclusive
    with pytest.raises(FileExistsError):
        store.create("a/lock", b"second")
    assert store.read_bytes("a/lock") == b"first"


def test_the_cli_builds_into_a_url_and_stats_reads_it(elsewhere):
    out = f"file://{elsewhere / 'shared' / 'build'}"
    runner = CliRunner()
    build = runner.invoke(app, ["build", "--source", "synthetic", "--out", out, "--scenes", "1", "--frames", "4",
                                "--workers", "0", "--quiet"])  # fmt: skip
    assert build.exit_code == 0, build.output
    assert (elsewhere / "shared/build/manifest.json").is_file()  # file:// is the local folder, renames and all
    assert location(out) == elsewhere / "shared" / "build"
    stats = runner.invoke(app, ["stats", out, "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["rows"] == len(read_rows(elsewhere / "shared/build"))
    missing = runner.invoke(app, ["stats", "memory://no-such-build"])
    assert missing.exit_code == 1
    assert "memory:///no-such-build: no manifest.json there" in missing.output

"""A build's output folder: what the build owns in it, one build at a time, and a commit that never loses the
build it replaces.

    .parts/build.json      the record: the build's settings (its fingerprint) and the files each scene writes
    .parts/<part>.*        committed scenes          videos/<dataset>/[<bucket>/]<scene>.*   their videos
    data/, manifest.json, failures.jsonl, README.md    the finished build
    .vsi-data.lock         the running build (pid, host), flock-ed while it runs
    .overwrite/            a build started with --overwrite, built beside the one it replaces
    .finishing/            the next shards, manifest and card, written before anything is replaced
    .swap.json             the swap in progress: renames, then deletions; a later run completes it

Only files a record names are ever deleted, so a user's own files in the folder survive every build; a folder
that holds anything but no record is refused. The swap journal is written before the first rename, so a build
killed at any moment leaves the old build, or the new one once the next run has replayed the journal.

The folder is a `Store`: a local folder (renames are atomic, the lock is an flock) or any fsspec URL such as an
object store, where a move is a copy and a delete that the journal redoes when cut short, and the lock is a
marker object (docs/architecture.md says what that guarantees).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vsi_data.io import OutputError, Store, is_temp_file, output_error, process_alive
from vsi_data.output.shards import DATA_DIR, MANIFEST, PARTS_DIR, shard_names

RECORD = f"{PARTS_DIR}/build.json"
VIDEOS_DIR = "videos"
FLAT_VIDEOS_MAX = 4096  # scenes of one dataset whose videos share a folder; more go into 256 buckets
log = logging.getLogger(__name__)

LOCK_FILE = ".vsi-data.lock"
OVERWRITE_DIR = ".overwrite"
STAGE_DIR = ".finishing"
JOURNAL = ".swap.json"
FINISHED = ("failures.jsonl", "README.md", MANIFEST)  # in the order they are swapped in: the manifest last
_NO_FLOCK = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


class FolderRefused(Exception):
    """The folder cannot take this build (it holds something else, or another build is running in it)."""


@dataclass
class BuildRecord:
    """What a build owns in its folder: per scene (by part name), the files besides its part it writes; and
    folders it owns whole (a synthetic source's scans kept in the output)."""

    fingerprint: dict[str, Any]
    scenes: dict[str, list[str]] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    bucketed_videos: bool = False  # videos in `scene_video`'s buckets (builds recorded before buckets: flat)

    @classmethod
    def read(cls, tree: Store) -> BuildRecord | None:
        try:
            data = json.loads(tree.read_text(RECORD))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise FolderRefused(f"{tree}/{RECORD}: unreadable build record ({exc}); use another --out") from None
        if "fingerprint" not in data:  # written before records listed files: the settings alone
            parts = [name for name in tree.files(PARTS_DIR) if name.endswith(".parquet") and "__" in name]
            return cls(data, {posixpath.basename(part).removesuffix(".parquet"): [] for part in parts})
        folders = [name for name in data["folders"] if _in_folder(name)]
        return cls(data["fingerprint"], data["scenes"], folders, data.get("bucketed_videos", False))

    def write(self, tree: Store) -> None:
        record = {"fingerprint": self.fingerprint, "scenes": self.scenes, "folders": self.folders}
        text = json.dumps(record | {"bucketed_videos": self.bucketed_videos}, indent=1)
        _output_errors(tree, lambda: tree.makedirs(PARTS_DIR))
        tree.write_text(RECORD, text)

    def scene_files(self) -> list[str]:
        return [
            name
            for part, files in sorted(self.scenes.items())
            for name in (f"{PARTS_DIR}/{part}.json", f"{PARTS_DIR}/{part}.parquet", *files)
            if _in_folder(name)
        ]

    def files(self, tree: Store) -> list[str]:
        """Every file of this build (scenes, shards, the finished files, the record)."""
        return [*self.scene_files(), *finished_files(tree), RECORD]


def scene_video(dataset: str, scene_id: str, bucketed: bool) -> str:
    """Where a scene's video goes, relative to the output folder: `videos/<dataset>/<scene>.mp4`, or in big builds
    `videos/<dataset>/<bucket>/<scene>.mp4` with one of 256 buckets named by a hash of the scene id (a folder
    then holds a 256th of the videos and sidecars: under 10,000 files up to about a million scenes)."""
    if not bucketed:
        return f"{VIDEOS_DIR}/{dataset}/{scene_id}.mp4"
    bucket = hashlib.blake2b(scene_id.encode(), digest_size=1).hexdigest()
    return f"{VIDEOS_DIR}/{dataset}/{bucket}/{scene_id}.mp4"


def finished_files(tree: Store) -> list[str]:
    """The shards the manifest in `tree` lists, then the manifest's companions and the manifest itself."""
    try:
        shards = json.loads(tree.read_text(MANIFEST))["shards"]
        names = [name for split in sorted(shards) for name in shards[split] if _in_folder(name)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a manifest edited into another shape
        names = []
    return [*names, *FINISHED]


def _in_folder(name: str) -> bool:
    """A path a record or manifest may name for deletion: relative, and inside the folder (a hand-edited file
    can never make a build delete anything elsewhere)."""
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


class OutputFolder:
    def __init__(self, out: Path | str | Store) -> None:
        self.out = Store.at(out)

    def record(self) -> BuildRecord | None:
        """The record of the build in the folder (None: no build, an empty or new folder)."""
        return BuildRecord.read(self.out) if self.out.is_dir() else None

    def staged_record(self) -> BuildRecord | None:
        """The record of an unfinished --overwrite build beside it."""
        return BuildRecord.read(self.out / OVERWRITE_DIR) if self.out.is_dir() else None

    def swap_pending(self) -> bool:
        """A build was killed while swapping its result in; the next build into the folder completes it."""
        return self.out.is_file(JOURNAL)

    def refuse_unless_build(self) -> BuildRecord | None:
        """The folder's build record; refused when the folder holds anything but a build (or nothing)."""
        if self.out.exists() and not self.out.is_dir():
            raise FolderRefused(f"{self.out}: a file, not a folder; choose another --out")
        record = self.record()
        if record is None and any(name != LOCK_FILE for name in self.out.names()):
            raise FolderRefused(f"{self.out}: folder is not empty and holds no vsi-data build; choose another --out")
        return record

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock; on entry, complete a swap a killed build left and delete temp files."""
        _output_errors(self.out, self.out.makedirs)
        lock = _Lock(self.out.local_path(LOCK_FILE), self.out.local_path()) if self.out.local else _MarkerLock(self.out)
        with lock:
            if self.swap_pending():
                _replay(self.out)
            for tree in (self.out, self.out / OVERWRITE_DIR):
                tree.remove_tree(STAGE_DIR)  # a finish that never reached its swap
                _delete_temp_files(tree, BuildRecord.read(tree) if tree.is_dir() else None)
            yield

    def tree(self, fingerprint: dict[str, Any], overwrite: bool) -> BuildTree:
        """Where this build's scenes go: the folder itself, or beside the build an --overwrite replaces (an
        unfinished --overwrite with the same settings is resumed there, one with other settings is deleted)."""
        if not overwrite or self.record() is None:
            return BuildTree(self, self.out, fingerprint)
        staged = self.out / OVERWRITE_DIR
        previous = self.staged_record()
        if previous is not None and previous.fingerprint != fingerprint:
            for name in previous.scene_files():
                staged.remove(name)
            staged.prune("")
        return BuildTree(self, staged, fingerprint)


@dataclass
class BuildTree:
    """The folder a build's scenes are written to, and the swap that makes its result the folder's build."""

    folder: OutputFolder
    path: Store
    fingerprint: dict[str, Any]

    def resumed(self) -> BuildRecord | None:
        """The record of the build this one resumes (same settings), if any."""
        previous = BuildRecord.read(self.path)
        return previous if previous is not None and previous.fingerprint == self.fingerprint else None

    def bucketed_videos(self, scenes_per_dataset: int) -> bool:
        """Whether this build's videos go into buckets: as the build it resumes decided, else when one dataset
        has more than FLAT_VIDEOS_MAX scenes (a folder of 10,000 files is slow to list on most filesystems)."""
        previous = self.resumed()
        return previous.bucketed_videos if previous is not None else scenes_per_dataset > FLAT_VIDEOS_MAX

    def record(self, scenes: dict[str, list[str]], folders: list[str], bucketed_videos: bool) -> None:
        """Record what this build's scenes may write before any is built (a resume adds to the record)."""
        previous = self.resumed()
        if previous is not None:
            scenes = {**previous.scenes, **scenes}
        BuildRecord(self.fingerprint, dict(sorted(scenes.items())), folders, bucketed_videos).write(self.path)

    def remove_temp_files(self) -> None:
        """What writers stopped mid-write left (a worker killed with its scene, or Ctrl-C): the scene is redone."""
        _delete_temp_files(self.path, BuildRecord.read(self.path))

    @contextmanager
    def finishing(self) -> Iterator[Store]:
        """A fresh staging folder for the shards, manifest and card; removed when writing them fails."""
        stage = self.path / STAGE_DIR
        stage.remove_tree("")
        try:
            stage.makedirs()
            yield stage
        except BaseException as exc:
            stage.remove_tree("")
            error = exc if isinstance(exc, OutputError) else None
            if isinstance(exc, OSError) and stage.local:
                error = output_error(exc, stage.local_path())
            if error is None:
                raise
            raise OutputError(error.errno, error.strerror, str(self.folder.out)) from exc  # not the staging name

    def commit(self) -> None:
        """Swap the staged result in: for --overwrite every file of the new build, else the finished files;
        then delete what the replaced build owned and the new one does not, and check the shards."""
        out = self.folder.out
        here = OVERWRITE_DIR if self.path != out else ""
        new = BuildRecord.read(self.path)
        old = self.folder.record()
        stage = posixpath.join(here, STAGE_DIR)
        moves = [(posixpath.join(stage, name), name) for name in finished_files(self.path / STAGE_DIR)]
        replaced = finished_files(out)
        if here:
            moves = [(posixpath.join(here, n), n) for n in new.scene_files() if self.path.exists(n)] + moves
            moves.insert(len(moves) - len(FINISHED), (posixpath.join(here, RECORD), RECORD))
            replaced = old.files(out) if old is not None else []
        kept = {target for _, target in moves}
        journal = {
            "moves": moves,
            "delete": [name for name in replaced if name not in kept],
            "delete_folders": [name for name in (old.folders if old else []) if name not in new.folders],
            "prune": [stage, *([here] if here else [])],
        }
        out.write_text(JOURNAL, json.dumps(journal, indent=0))
        _replay(out)
        shard_names(out)  # the manifest and the files agree, or this says which does not


def _replay(out: Store) -> None:
    """Carry out the swap journal; every step may already have been done by a run killed half-way (on an object
    store a move is a copy then a delete: one cut short between them still has its source, and is redone)."""
    journal = json.loads(out.read_text(JOURNAL))

    def replay() -> None:
        for source, target in journal["moves"]:
            if out.exists(source):
                out.move(source, target)
        for name in journal["delete"]:
            out.remove(name)
            folder = posixpath.dirname(name)
            while folder and out.remove_if_empty(out.path(folder)):  # the folders it leaves empty (data/, ...)
                folder = posixpath.dirname(folder)
        for name in journal["delete_folders"]:
            out.remove_tree(name)
        for name in journal["prune"]:
            out.prune(name)
        out.remove(JOURNAL)

    _output_errors(out, replay, JOURNAL)


def _output_errors(store: Store, action: Callable[[], object], name: str = "") -> None:
    """`action()`, a local write it makes that the folder cannot take raised as `OutputError` naming `name`
    (a remote store's writes raise it themselves)."""
    try:
        action()
    except OSError as exc:
        if not store.local:
            raise
        raise output_error(exc, store.local_path(name) if name else store.local_path()) or exc from None


def _delete_temp_files(tree: Store, record: BuildRecord | None) -> None:
    """Files a killed write left: in the build's own folders, and beside the finished files."""
    if record is None:
        return
    for folder in (PARTS_DIR, DATA_DIR, VIDEOS_DIR, *record.folders):
        for name in tree.files(folder):
            if is_temp_file(posixpath.basename(name)):
                tree.remove(name)
    for name in tree.names():
        if any(name.startswith(f".{finished}.") and name.endswith(".tmp") for finished in (*FINISHED, JOURNAL)):
            tree.remove(name)


MARKER_SETTLE_S = 2.0  # longer than another build takes from its look at the marker to its write of one


class _MarkerLock:
    """One build per folder where there is no flock (an object store): a marker object holding the holder's pid,
    host, start time and a token of its own. It is created exclusively (`Store.create`: fsspec's "xb", a
    conditional write on S3, GCS and Azure), so of two builds starting at once only one creates it. Where the
    filesystem cannot create exclusively, and when a dead build's marker is taken over (its deletion and the new
    marker are two steps), the build waits `MARKER_SETTLE_S` and reads the marker back: whoever's token did not
    stay stops, naming the other. A marker left by a dead build on this host is taken over; one from another
    host is left to the user, as with the flock."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mine = _mine()

    def __enter__(self) -> _MarkerLock:
        where = f"{self.store}/{LOCK_FILE}"
        settle = False
        for _ in range(3):  # a dead build's marker removed, then created again
            try:
                exclusive = self.store.create(LOCK_FILE, self.mine.encode())
            except FileExistsError:
                text = self._read()
                holder = _parse_holder(text)
                if holder.get("host", socket.gethostname()) != socket.gethostname():
                    raise FolderRefused(_held_by(self.store, where, holder, running=False)) from None
                if holder.get("pid") != os.getpid() and process_alive(holder.get("pid")):
                    raise FolderRefused(_held_by(self.store, where, holder, running=True)) from None
                if text is not None and self._read() == text:  # still the dead build's: ours to replace
                    self.store.remove(LOCK_FILE)
                settle = True
                continue
            if settle or not exclusive:
                time.sleep(MARKER_SETTLE_S)
                text = self._read()
                if text != self.mine:
                    holder = _parse_holder(text)
                    raise FolderRefused(
                        f"{self.store}: another build took the lock at the same moment "
                        f"({_who(holder) if holder else 'and is gone again'}); wait for it or use another --out"
                    )
            return self
        raise FolderRefused(f"{where}: builds keep taking this lock over; wait for them or use another --out")

    def _read(self) -> str | None:
        try:
            return self.store.read_text(LOCK_FILE)
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def __exit__(self, *exc_info: object) -> None:
        text = self._read()
        if text == self.mine:
            self.store.remove(LOCK_FILE)
        elif text is not None:  # what no check can rule out (three builds at once over a dead one's marker)
            log.warning(
                "%s/%s: another build (%s) took the lock while this one held it; both may have written here",
                self.store,
                LOCK_FILE,
                _who(_parse_holder(text)),
            )


def _parse_holder(text: str | bytes | None) -> dict[str, Any]:
    """A marker's holder; {} for none or an unreadable one (a dead build's at worst: markers appear whole)."""
    try:
        holder = json.loads(text or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _who(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')})"


def _held_by(folder: object, lock: object, holder: dict[str, Any], running: bool) -> str:
    who = _who(holder)
    if running:
        return f"{folder}: another build is writing into this folder ({who}); wait for it or use another --out"
    return f"{folder}: locked by a build of {who}; if it is no longer running, delete {lock} and re-run to resume"


class _Lock:
    """One build per folder: an flock on the lock file (the kernel drops it when its holder dies, however it
    dies), holding the holder's pid, host and start time for the message a second build gets. A lock file whose
    holder is gone is taken over when it was on this host; one from another host is left to the user."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path, self.folder = path, folder
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise output_error(exc, self.folder) or exc from None
            try:
                self._take(fd)
            except BaseException:
                os.close(fd)
                raise
        return self

    def _take(self, fd: int) -> None:
        flocked = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderRefused(_held_by(self.folder, self.path, _holder(fd), running=True)) from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                raise
            flocked = False
        try:
            if os.stat(self.path).st_ino != os.fstat(fd).st_ino:
                os.close(fd)  # its holder finished and removed it while we waited: try the new file
                return
        except FileNotFoundError:
            os.close(fd)
            return
        holder = _holder(fd)
        if holder:
            if holder.get("host") != socket.gethostname():
                raise FolderRefused(_held_by(self.folder, self.path, holder, running=False))
            if not flocked and process_alive(holder.get("pid")):
                raise FolderRefused(_held_by(self.folder, self.path, holder, running=True))
        mine = _mine().encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, mine, 0)
        except OSError as exc:
            raise output_error(exc, self.folder) or exc from None
        self.fd = fd

    def __exit__(self, *exc_info: object) -> None:
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:  # not a lock someone made after deleting ours
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            os.close(self.fd)
            self.fd = None


def _holder(fd: int) -> dict[str, Any]:
    return _parse_holder(os.pread(fd, 4096, 0))


def _mine() -> str:
    """What a lock says of its holder: this process, and a token no other lock taking has."""
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now(), "token": uuid.uuid4().hex})


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")

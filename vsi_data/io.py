"""Writing files so that a reader never sees half of one, and a full disk or a read-only folder is one line.

Every file is written under a temp name beside its target (`.<name>.<pid>.tmp`) and renamed into place, so a
process killed at any moment leaves either the old file, the new one, or a temp file that the next build of
that folder deletes (`is_temp_file`). A write that fails because the output cannot take it (no space, a quota,
a read-only mount, no permission) raises `OutputError`, which says so in one line, naming the file.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

# The output cannot take the write whatever is written: these end a build instead of failing one scene.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_TEMP = re.compile(r"^\..+\.\d+\.tmp$")
PARTIAL_SUFFIX = ".partial"  # what writers that stream into a file of their own name (a `.sens`) leave when killed


class OutputError(OSError):
    """The output folder cannot be written: one line naming the file and the reason."""

    def __str__(self) -> str:
        return f"{self.filename}: cannot write ({self.strerror})"

    @property
    def full(self) -> bool:
        """No space (or quota) left, rather than a folder that takes no writes at all."""
        return self.errno in _FULL


def output_error(exc: OSError, path: Path) -> OutputError | None:
    """`exc`, raised while writing `path` (a file, or a folder being written into), as an `OutputError` when it
    says the output cannot take writes; else None (a write may also fail reading its input: not the output's
    problem, and told apart by the file the error names)."""
    if isinstance(exc, OutputError):
        return exc
    named = exc.filename is None or Path(os.fsdecode(exc.filename)).is_relative_to(path.parent)
    if exc.errno in _FULL or (exc.errno in _NOT_WRITABLE and named):
        return OutputError(exc.errno, os.strerror(exc.errno), str(path))
    return None


def check_output_path(path: Path, folder: bool = False) -> None:
    """Refuse, before any work is done, an output file (or `folder`) that cannot be one: a folder where a file goes,
    a file where a folder goes, or a file among its parents. Found only at the write, each would be an OS error
    after the work, and a file in the way is the user's own."""
    if path.exists() and path.is_dir() != folder:
        why = "a file, not a folder" if folder else "a folder, not a file"
        raise OutputError(errno.ENOTDIR if folder else errno.EISDIR, why, str(path))
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(errno.ENOTDIR, f"{parent} is a file, not a folder", str(path))
            return


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp_file(name: str) -> bool:
    """A file left by a write that never finished (`write_atomic`'s temp names, a streaming writer's partial)."""
    return bool(_TEMP.match(name)) or name.endswith(PARTIAL_SUFFIX)


def process_alive(pid: object) -> bool:
    """Whether `pid` is a running process of this machine (a temp name's or a lock's pid: one that is gone leaves
    only what the kernel released)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or past any pid
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Run `write(tmp_path)`, then move the result into place in one rename."""
    tmp = temp_path(path)
    try:
        write(tmp)
        tmp.replace(path)
    except OSError as exc:
        error = output_error(exc, path)
        if error is None or error is exc:
            raise
        raise error from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_text_if_changed(path: Path, text: str) -> None:
    """For files every worker of a parallel build may (re)write, such as split lists: an unchanged file is
    left alone and a changed one replaced atomically, so no reader ever sees it half-written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def is_url(location: str | os.PathLike) -> bool:
    """A location fsspec reads by protocol (`s3://b/x`, `memory://x`, `file:///x`), rather than a plain path."""
    return "://" in str(location) or "::" in str(location)


def given_location(text: str | os.PathLike) -> Path | str:
    """A build a reader was given: a URL as `location` makes it, a plain path as given (messages name it so)."""
    return location(text) if is_url(text) else Path(text)


def child(folder: Path | str, name: str) -> Path | str:
    """`name` inside `folder`: a path in a local folder, a URL in a URL's."""
    return f"{folder}/{name}" if is_url(folder) else Path(folder) / name


def is_file(where: Path | str) -> bool:
    """Whether a local path or an fsspec URL names a file."""
    return Store.at(where).is_file() if is_url(where) else Path(where).is_file()


def copy_file(where: Path | str, target: Path) -> None:
    """The file at a local path or an fsspec URL copied to the local `target`, streamed in blocks."""
    if not is_url(where):
        shutil.copy2(where, target)
        return
    store = Store.at(where)
    store.fs.get_file(store.root, str(target))


def location(text: str | os.PathLike) -> Path | str:
    """A build folder as a user gave it: a plain path (or `file://` URL) as an absolute `Path`, so the local
    folder keeps its rename and flock; any other URL as the URL, read and written through fsspec."""
    text = str(text)
    if text.startswith("file://"):
        return Path(text.removeprefix("file://")).resolve()
    return text.rstrip("/") if is_url(text) else Path(text).resolve()


class StoreUnavailable(OutputError):
    """A URL whose filesystem fsspec cannot open: an unknown protocol, its package not installed. Readers name it;
    a build into it stops as for any output it cannot write."""

    def __str__(self) -> str:
        return f"{self.filename}: cannot open ({self.strerror})"


class Store:
    """A folder on any filesystem fsspec reaches (a local path, a shared mount, an object store), named by
    paths relative to it.

    On the local filesystem every write is a temp file renamed into place (`write_atomic`) and a move is a
    rename; elsewhere a file is written under its own name in one upload, which an object store shows whole or
    not at all, and a move is a copy then a delete, which the build's swap journal (`output.folder`) redoes
    when it was cut short. What a build holds is decided by its record and manifest, never by a listing.
    """

    def __init__(self, fs: AbstractFileSystem, root: str) -> None:
        self.fs, self.root = fs, root.rstrip("/") or "/"

    @classmethod
    def at(cls, where: str | os.PathLike | Store) -> Store:
        if isinstance(where, Store):
            return where
        where = os.fspath(where)
        return _store_at(where) if is_url(where) or os.path.isabs(where) else _store_at.__wrapped__(where)

    @property
    def local(self) -> bool:
        """The machine's own filesystem (a shared mount included): atomic renames and flock."""
        protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else self.fs.protocol
        return "file" in protocols

    def __str__(self) -> str:
        return self.root if self.local else self.fs.unstrip_protocol(self.root)

    @property
    def location(self) -> Path | str:
        """What `Store.at` opens again, in another process or on another machine: a path, or the URL."""
        return self.local_path() if self.local else str(self)

    def __repr__(self) -> str:
        return f"Store({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, name: str) -> Store:
        return Store(self.fs, self.path(name))

    def path(self, name: str = "") -> str:
        """`name` as the filesystem's own path."""
        name = str(name).strip("/")
        return f"{self.root}/{name}" if name else self.root

    def local_path(self, name: str = "") -> Path:
        return Path(self.path(name))

    def exists(self, name: str = "") -> bool:
        return self.fs.exists(self.path(name))

    def is_file(self, name: str = "") -> bool:
        return self.fs.isfile(self.path(name))

    def is_dir(self, name: str = "") -> bool:
        return self.fs.isdir(self.path(name))

    def read_bytes(self, name: str) -> bytes:
        return self.fs.cat_file(self.path(name))

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def open(self, name: str = "") -> BinaryIO:
        """`name` open for reading, streamed (a remote file is fetched in blocks as it is read)."""
        return self.fs.open(self.path(name), "rb")

    def write(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        """`write(file)` into `name`, which readers see whole or not at all (see the class)."""
        if self.local:
            return write_atomic(self.local_path(name), lambda tmp: _write_file(tmp, write))
        target = self.path(name)
        with _as_output_error(target):
            self.fs.makedirs(self.fs._parent(target), exist_ok=True)
            with self.fs.open(target, "wb") as file:
                write(file)
        return None

    def write_text(self, name: str, text: str) -> None:
        self.write(name, lambda file: file.write(text.encode("utf-8")))

    def create(self, name: str, data: bytes) -> bool:
        """Write `name` only where nothing is yet (`FileExistsError` otherwise), and say whether the filesystem
        checked and wrote in one step. That is fsspec's exclusive mode "xb": `O_EXCL` on a local disk, a
        conditional write (S3's `If-None-Match: *`) in s3fs, gcsfs and adlfs. A filesystem without it either
        refuses the mode (then: look, then write) or takes it as "wb" (s3fs for small objects until mid-2025, s3fs
        issue 973), which a second exclusive create of the same name tells: it must fail. Either way a name seen
        to exist is never written."""
        target = self.path(name)
        with _as_output_error(target):
            if self.fs.exists(target):  # the look, for a filesystem that would write anyway
                raise FileExistsError(target)
            self.fs.makedirs(self.fs._parent(target), exist_ok=True)
            try:
                _put(self.fs, target, data, "xb")
            except (ValueError, NotImplementedError):  # no exclusive mode at all
                _put(self.fs, target, data, "wb")
                return False
            try:
                _put(self.fs, target, data, "xb")
            except FileExistsError:
                return True
            return False

    def upload(self, local: Path, name: str) -> None:
        """A copy of the finished local file `local` as `name`, whole or not at all."""
        if self.local:
            self.local_path(name).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.local_path(name), lambda tmp: shutil.copyfile(local, tmp))
            return
        with _as_output_error(self.path(name)):
            self.fs.put_file(str(local), self.path(name))

    @contextmanager
    def local_folder(self, name: str) -> Iterator[Path]:
        """A local folder standing for `name`, for writers that take only local paths (PyAV, open3d, Parquet
        writers of other libraries): the store's own folder when local, else a temp folder whose files are
        uploaded once the block ends without error (so the store never holds a half-written file)."""
        if self.local:
            folder = self.local_path(name)
            folder.mkdir(parents=True, exist_ok=True)
            yield folder
            return
        with tempfile.TemporaryDirectory(prefix="vsi-data-") as scratch:
            yield Path(scratch)
            for file in sorted(Path(scratch).rglob("*")):
                if file.is_file() and not is_temp_file(file.name):
                    self.upload(file, f"{name}/{file.relative_to(scratch).as_posix()}")

    def files(self, folder: str = "") -> list[str]:
        """Every file under `folder`, as names relative to the store."""
        base = self.path(folder)
        if not self.fs.isdir(base):
            return []
        found = self.fs.find(base)
        root = self.fs._strip_protocol(self.root)
        return sorted(_relative(self.fs._strip_protocol(p), root) for p in found)

    def names(self, folder: str = "") -> list[str]:
        """The entries directly in `folder` (files and folders), by name."""
        base = self.path(folder)
        if not self.fs.isdir(base):
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False))

    def remove(self, name: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def remove_tree(self, name: str) -> None:
        if self.fs.isdir(self.path(name)):
            self.fs.rm(self.path(name), recursive=True)

    def move(self, source: str, target: str) -> None:
        """Locally one rename (atomic); elsewhere a copy then a delete, so a move stopped half-way leaves the
        source whole and is simply done again."""
        if self.local:
            self.local_path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.local_path(source), self.local_path(target))
        else:
            self.fs.copy(self.path(source), self.path(target))
            self.fs.rm_file(self.path(source))

    def makedirs(self, name: str = "") -> None:
        with _as_output_error(self.path(name)):
            self.fs.makedirs(self.path(name), exist_ok=True)

    def prune(self, name: str) -> None:
        """Remove the empty folders under and including `name` (never a file; an object store has none)."""
        if not self.fs.isdir(self.path(name)):
            return
        folders = [p for p, _, _ in self.fs.walk(self.path(name))]
        for folder in sorted(folders, key=lambda p: p.count("/"), reverse=True):
            self.remove_if_empty(folder)

    def remove_if_empty(self, path: str) -> bool:
        """Remove the folder at the filesystem path `path` when it holds nothing; whether it did."""
        try:
            if self.fs.ls(path, detail=False):
                return False
            self.fs.rmdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or not self.local:  # object stores: no folders to remove
                return False
            raise
        return True


@lru_cache(maxsize=256)
def _store_at(where: str) -> Store:
    """The store at an absolute path or URL, opened once (finishing opens the build's folder per part)."""
    try:
        fs, root = url_to_fs(str(location(where)))
    except (ImportError, ValueError) as exc:  # fsspec's "Protocol not known", "Install s3fs to access S3"
        raise StoreUnavailable(errno.EPROTONOSUPPORT, str(exc), where) from None
    return Store(fs, root)


def _put(fs: AbstractFileSystem, path: str, data: bytes, mode: str) -> None:
    with fs.open(path, mode) as file:
        file.write(data)


def _write_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with open(path, "wb") as file:
        write(file)


def _relative(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/") if root != "/" else path.lstrip("/")


@contextmanager
def _as_output_error(target: str) -> Iterator[None]:
    """A write the store refuses, as `OutputError` where it says the output cannot take writes (an object
    store's access denied is a PermissionError, often without an errno)."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        if not isinstance(exc, PermissionError) and exc.errno not in _FULL | _NOT_WRITABLE:
            raise
        code = exc.errno if exc.errno in _FULL | _NOT_WRITABLE else errno.EACCES
        raise OutputError(code, os.strerror(code), target) from exc

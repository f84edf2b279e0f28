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
from collections.abc import Callable
from pathlib import Path

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


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp_file(name: str) -> bool:
    """A file left by a write that never finished (`write_atomic`'s temp names, a streaming writer's partial)."""
    return bool(_TEMP.match(name)) or name.endswith(PARTIAL_SUFFIX)


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

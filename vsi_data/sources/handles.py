"""One read handle per stream file, kept for the reader's life: a scan's frames are read through it in order,
instead of opening the file again for every frame."""

from __future__ import annotations

import io
import weakref
from pathlib import Path


def handle_for_life(owner: object, path: Path) -> io.FileIO:
    """An unbuffered read handle on `path` (each read is exactly the bytes asked for, nothing read ahead into a
    buffer a seek would throw away), closed when `owner` is garbage-collected."""
    handle = open(path, "rb", buffering=0)  # noqa: SIM115  (closed by the finalizer)
    weakref.finalize(owner, handle.close)
    return handle

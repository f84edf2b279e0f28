"""A test filesystem that behaves as an object store but is a folder of this machine, so worker processes and Ray
workers reach it: `objstore:///abs/path`. It has no rename (`mv` fails: a move must be a copy and a delete, as
on S3), and vsi-data treats it as any non-local fsspec filesystem (no flock, no temp-file renames).

A worker learns the protocol from `WithObjectStore`, put in place of `run_scene` by monkeypatch; Ray workers get
that by value and import this module from tests/ by its path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
from fsspec.implementations.local import LocalFileSystem

if TYPE_CHECKING:
    from vsi_data.pipeline import SceneJob, SceneOutcome

PROTOCOL = "objstore"


class ObjectStoreFS(LocalFileSystem):
    protocol = (PROTOCOL,)
    copies = 0  # files copied in this process (class-wide: fsspec caches the instance)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(auto_mkdir=True)

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(str(path).removeprefix(f"{PROTOCOL}://"))

    def cp_file(self, path1: str, path2: str, **kwargs: object) -> None:
        type(self).copies += 1
        super().cp_file(path1, path2, **kwargs)

    def mv(self, path1: str, path2: str, **kwargs: object) -> None:
        raise NotImplementedError("an object store has no rename")


def register() -> None:
    """By name, so that a class pickled by value never carries fsspec's instance cache along."""
    fsspec.register_implementation(PROTOCOL, f"{ObjectStoreFS.__module__}.ObjectStoreFS", clobber=True)


@dataclass(frozen=True)
class WithObjectStore:
    """`run_scene` (or `inner`, e.g. a `scene_faults.Faulty`) in a worker that knows `objstore://`."""

    inner: object = None
    tests: str = field(default_factory=lambda: str(Path(__file__).parent))

    def __call__(self, job: SceneJob) -> SceneOutcome:
        from vsi_data.pipeline import run_scene  # in a worker: the real one, not the test's replacement

        if self.tests not in sys.path:
            sys.path.append(self.tests)
        fsspec.register_implementation(PROTOCOL, "object_store.ObjectStoreFS", clobber=True)
        return (self.inner or run_scene)(job)

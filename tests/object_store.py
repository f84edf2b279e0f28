"""A test filesystem that behaves as an object store but is a folder of this machine, so worker processes and Ray
workers reach it: `objstore:///abs/path`. It has no rename (`mv` is a copy then a delete, as on S3), and vsi-data
treats it as it treats any non-local fsspec filesystem (no flock, no temp-file renames).

A worker learns the protocol from `WithObjectStore`, put in place of `run_scene` by monkeypatch (Ray workers get
this module by value, `scene_faults.ray_by_value`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import fsspec
from fsspec.implementations.local import LocalFileSystem

if TYPE_CHECKING:
    from vsi_data.pipeline import SceneJob, SceneOutcome

PROTOCOL = "objstore"


class ObjectStoreFS(LocalFileSystem):
    protocol = (PROTOCOL,)
    moves = 0  # how many moves were copies and deletes (class-wide: the instance is cached)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(auto_mkdir=True)

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(str(path).removeprefix(f"{PROTOCOL}://"))

    def mv(self, path1: str, path2: str, **kwargs: object) -> None:
        type(self).moves += 1
        self.copy(path1, path2)
        self.rm_file(path1)


def register() -> None:
    fsspec.register_implementation(PROTOCOL, ObjectStoreFS, clobber=True)


@dataclass(frozen=True)
class WithObjectStore:
    """`run_scene` (or `inner`, e.g. a `scene_faults.Faulty`) in a worker that knows `objstore://`."""

    inner: object = None

    def __call__(self, job: SceneJob) -> SceneOutcome:
        from vsi_data.pipeline import run_scene  # in a worker: the real one, not the test's replacement

        register()
        return (self.inner or run_scene)(job)

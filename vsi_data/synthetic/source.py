"""`--source synthetic`: furnished rooms written as genuine files of a real dataset's format (ScanNet v2
by default; `--synthetic-format` picks another), then read back through that dataset's own parser, so the
embedded default exercises exactly the path real scans take.

Scenes are written on first use (in `load`, so a parallel build renders them in parallel; opening the source
writes nothing, so a build that is refused leaves no files) and reused
while their seed, frame count and the format writer's revision are unchanged. Every fifth scene is in the
`val` split, listed in the format's own split files.

The root may be any fsspec URL (a build into `s3://...` keeps its scans in `s3://.../.synthetic`): each process
then works in a local copy (the parsers read local files) that it fills from the URL, or renders and uploads
with the done-marker last, so a scene there is whole or absent.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Protocol

from vsi_data.io import Store, is_url, location
from vsi_data.scene import Scene
from vsi_data.sources.base import ParseOptions, SceneRef, SceneSource
from vsi_data.sources.registry import synthetic_writers
from vsi_data.sources.spec import load_target
from vsi_data.synthetic import SPEC, SyntheticConfig
from vsi_data.synthetic.writer import DONE_MARKER, SyntheticScene, done_marker, is_written

# format name → "module:class" of its writer (each dataset's spec names it); imported on use, so a format's
# dependencies load only when asked.
FORMATS = synthetic_writers()


class SyntheticFormat(Protocol):
    """How one dataset's files are written: ids, folders, release-level files, one scene, its reader."""

    dataset: str  # the source whose parser reads the files back (its vocabulary rules apply)
    # Frames rendered when the build does not say: a video long enough (about 15 s) for the first appearances of
    # four categories to lie the appearance-order rule's 2 whole seconds apart.
    default_frames: int
    revision: int  # of the files it writes: bumped when they change, so scenes written before are rewritten

    def scene_id(self, index: int) -> str: ...

    def scene_folder(self, root: Path, scene_id: str, split: str) -> Path: ...

    def prepare(self, root: Path, splits: dict[str, list[str]], seed: int) -> None: ...

    def write_scene(self, root: Path, scene_id: str, split: str, seed: int, num_frames: int) -> SyntheticScene: ...

    def reader(self, root: Path) -> SceneSource: ...


def synthetic_format(name: str) -> SyntheticFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown synthetic format {name!r}; expected one of {', '.join(FORMATS)}")
    return load_target(FORMATS[name])()


def split_of(index: int) -> str:
    return "val" if index % 5 == 4 else "train"


class SyntheticSource(SceneSource):
    name = SPEC.name

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        self.format = synthetic_format(config.format)
        self.label_namespace = self.format.dataset
        self.frames = self.format.default_frames if config.frames is None else config.frames
        where = location(config.root) if is_url(config.root) else Path(config.root)
        self.mirror = Store.at(where) if isinstance(where, str) else None  # scans kept at a URL
        self.root = local_copy(where) if self.mirror is not None else where
        self.refs = [
            SceneRef(scene_id, split, self.format.scene_folder(self.root, scene_id, split), self.name)
            for scene_id, split in ((self.format.scene_id(i), split_of(i)) for i in range(config.count))
        ]

    @cached_property
    def release_files(self) -> Path:
        """The root, with its release-level files (split lists, label tables) written: on first use like the
        scenes, so opening and listing the source writes nothing."""
        splits = {split: [r.scene_id for r in self.refs if r.split == split] for split in ("train", "val")}
        self.format.prepare(self.root, splits, self.config.seed)
        if self.mirror is not None:
            scenes = {r.path for r in self.refs}
            for file in sorted(self.root.rglob("*")):
                name = file.relative_to(self.root).as_posix()
                if file.is_file() and scenes.isdisjoint(file.parents) and not self.mirror.exists(name):
                    self.mirror.upload(file, name)
        return self.root

    @cached_property
    def reader(self) -> SceneSource:
        return self.format.reader(self.release_files)

    def list_scenes(self) -> list[SceneRef]:
        return list(self.refs)

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        # This process's own folder: a ref listed on another machine names that machine's local copy.
        ref = replace(ref, path=self.format.scene_folder(self.root, ref.scene_id, ref.split))
        if not is_written(ref.path, self.config.seed, self.frames, self.format.revision) and not self._fetched(ref):
            self.format.write_scene(self.release_files, ref.scene_id, ref.split, self.config.seed, self.frames)
            self._keep(ref)
        scene = self.reader.load(ref, options)
        scene.dataset = self.name
        return scene

    def _fetched(self, ref: SceneRef) -> bool:
        """The scene copied from the URL the scans are kept at, when it is there whole (its marker matches)."""
        if self.mirror is None:
            return False
        folder = ref.path.relative_to(self.root).as_posix()
        marker = f"{folder}/{DONE_MARKER}"
        expected = done_marker(self.config.seed, self.frames, self.format.revision)
        if not self.mirror.is_file(marker) or self.mirror.read_text(marker) != expected:
            return False
        for name in self.mirror.files(folder):
            target = self.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.mirror.fs.get_file(self.mirror.path(name), str(target))
        return is_written(ref.path, self.config.seed, self.frames, self.format.revision)

    def _keep(self, ref: SceneRef) -> None:
        """A scene just written, uploaded to the URL the scans are kept at, its done-marker last."""
        if self.mirror is None:
            return
        files = sorted(p for p in ref.path.rglob("*") if p.is_file())
        for file in sorted(files, key=lambda p: p.name == DONE_MARKER):
            self.mirror.upload(file, file.relative_to(self.root).as_posix())


def local_copy(url: str) -> Path:
    """Where this process keeps its copy of scans kept at `url` (its own temp folder, whatever the machine)."""
    return Path(tempfile.gettempdir()) / "vsi-data-synthetic" / hashlib.sha256(url.encode()).hexdigest()[:16]

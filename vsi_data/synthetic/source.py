"""`--source synthetic`: furnished rooms written as genuine files of a real dataset's format (ScanNet v2
by default; `--synthetic-format` picks another), then read back through that dataset's own parser, so the
embedded default exercises exactly the path real scans take.

Scenes are written on first use (in `load`, so a parallel build renders them in parallel; opening the source
writes nothing, so a build that is refused leaves no files) and reused
while their seed, frame count and the format writer's revision are unchanged. Every fifth scene is in the
`val` split, listed in the format's own split files.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Protocol

from vsi_data.scene import Scene
from vsi_data.sources.base import ParseOptions, SceneRef, SceneSource
from vsi_data.sources.registry import synthetic_writers
from vsi_data.sources.spec import load_target
from vsi_data.synthetic import SPEC, SyntheticConfig
from vsi_data.synthetic.writer import SyntheticScene, is_written

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
        self.root = Path(config.root)
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
        return self.root

    @cached_property
    def reader(self) -> SceneSource:
        return self.format.reader(self.release_files)

    def list_scenes(self) -> list[SceneRef]:
        return list(self.refs)

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        if not is_written(ref.path, self.config.seed, self.frames, self.format.revision):
            self.format.write_scene(self.release_files, ref.scene_id, ref.split, self.config.seed, self.frames)
        scene = self.reader.load(ref, options)
        scene.dataset = self.name
        return scene

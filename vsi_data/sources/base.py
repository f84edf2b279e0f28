"""What every source parser shares: scene references, parse options, and the error a bad scene raises.

A source lists its scenes cheaply (`SceneRef`: id, split, folder) and loads one at a time into the
common `Scene` model. Loading may be slow and may fail; a failure is a `SceneError` whose message is a
single line naming the offending file, so a build can report it and go on.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from pathlib import Path

from vsi_data.errors import SceneError
from vsi_data.scene import ParseOptions, Scene

__all__ = ["ParseOptions", "SceneError", "SceneRef", "SceneSource", "SplitInfo"]


@dataclass(frozen=True)
class SceneRef:
    scene_id: str
    split: str
    path: Path  # the scene's folder (or file, for sources that keep many scenes in one file)
    dataset: str = ""  # the scan dataset the scene comes from (scannet, arkitscenes, ...), for exclusion lists


@dataclass
class SplitInfo:
    """Which split each scene belongs to, when the source ships split lists."""

    by_scene: dict[str, str] = field(default_factory=dict)

    def split_of(self, scene_id: str, default: str = "train") -> str:
        return self.by_scene.get(scene_id, default)


class SceneSource(abc.ABC):
    """One parser per source. `name` names the source in file names and failure reports; `label_namespace`
    is the key of this source's rules in a vocabulary file."""

    name: str
    label_namespace: str = "scannet"

    @abc.abstractmethod
    def list_scenes(self) -> list[SceneRef]: ...

    @abc.abstractmethod
    def load(self, ref: SceneRef, options: ParseOptions) -> Scene: ...

    def check(self, options: ParseOptions) -> None:  # noqa: B027 (optional: most sources share no file)
        """Check what every scene reads alike (a label table), raising `SceneError` naming the file: a build calls
        this once before any scene, so a bad shared file is one error rather than every scene failing alike."""

    def size_hint(self, ref: SceneRef) -> int:
        """A cheap guess at how long a scene takes, so a build can start the longest first: the bytes of the
        files directly in its folder (one directory read, no recursion). 0 when there is nothing to go by."""
        try:
            with os.scandir(ref.path) as entries:
                return sum(entry.stat().st_size for entry in entries if entry.is_file())
        except OSError:  # a file rather than a folder, or unreadable: the scene's own load reports it
            return 0

"""`--source synthetic`: furnished rooms written as genuine ScanNet v2 files, then read back through the
ScanNet parser, so the embedded default exercises exactly the path real scans take.

Scenes are written on first use (in `load`, so a parallel build renders them in parallel) and reused
while their seed and frame count are unchanged. Every fifth scene is in the `val` split, listed in the
root's `scannetv2_val.txt` like the real split files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.scene import Scene
from vsi_data.sources.base import ParseOptions, SceneRef, SceneSource
from vsi_data.sources.scannet import formats
from vsi_data.sources.scannet.parser import LABEL_TABLE_NAME, ScanNetConfig, ScanNetSource
from vsi_data.synthetic.catalog import label_table_rows
from vsi_data.synthetic.writer import is_written, write_scene

FIRST_ID = 9000  # real ScanNet ids stop at scene0806; synthetic ones never collide with them


def synthetic_scene_id(index: int) -> str:
    return f"scene{FIRST_ID + index:04d}_00"


def split_of(index: int) -> str:
    return "val" if index % 5 == 4 else "train"


@dataclass(frozen=True)
class SyntheticConfig:
    root: Path  # where the ScanNet-format files go
    count: int = 4  # scenes in the universe the build selects from
    seed: int = 0
    frames: int = 180  # rendered frames per scene (0: no .sens)


class SyntheticSource(SceneSource):
    name = "synthetic"

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        root = Path(config.root)
        self.scans_dir = root / "scans"
        self.scans_dir.mkdir(parents=True, exist_ok=True)
        table = root / LABEL_TABLE_NAME
        if not table.is_file():
            formats.write_label_table(table, label_table_rows())
        for split in ("train", "val"):
            ids = [synthetic_scene_id(i) for i in range(config.count) if split_of(i) == split]
            (root / f"scannetv2_{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        self.scannet = ScanNetSource(ScanNetConfig(root=root, dataset=self.name))

    def list_scenes(self) -> list[SceneRef]:
        return [
            SceneRef(synthetic_scene_id(i), split_of(i), self.scans_dir / synthetic_scene_id(i), self.name)
            for i in range(self.config.count)
        ]

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        if not is_written(self.scans_dir, ref.scene_id, self.config.seed, self.config.frames):
            write_scene(self.scans_dir, ref.scene_id, self.config.seed, self.config.frames)
        return self.scannet.load(ref, options)

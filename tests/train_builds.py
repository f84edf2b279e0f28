"""Build-shaped folders for the training tests: a train shard with the rows a test needs and small videos."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vsi_data.output.shards import SCHEMA

ROOM_VIDEO = "videos/synthetic/room.mp4"


def write_video(path: Path, frames: int = 4, size: tuple[int, int] = (56, 84)) -> None:
    """Random frames of `size` (height, width); the content is seeded by the file name, so two videos differ."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 4, (size[1], size[0]))
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    writer.release()


def write_build(root: Path, rows: list[dict], sizes: dict[str, tuple[int, int]] | None = None) -> Path:
    """A build-shaped folder: one train shard with `rows` (missing columns filled) and the videos they name
    (56×84 unless `sizes` says otherwise)."""
    defaults = {
        "dataset": "synthetic",
        "scene_id": "room",
        "split": "train",
        "options": None,
        "answer_value": None,
        "objects": [],
        "meta": "{}",
    }
    full = [{**defaults, **row} for row in rows]
    for video in {row["video"] for row in full if row["video"]}:
        write_video(root / video, size=(sizes or {}).get(video, (56, 84)))
    (root / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(full, schema=SCHEMA), root / "data" / "train-00000-of-00001.parquet")
    return root


def counting_rows(n: int, answer: str = "2", video: str | None = ROOM_VIDEO) -> list[dict]:
    categories = ["chair", "table", "lamp", "sofa", "bed", "door", "window", "plant"]
    return [
        {
            "id": f"q{i}",
            "question_type": "object_counting",
            "question": f"How many {categories[i % len(categories)]}(s) are in the room?",
            "answer": answer,
            "video": video,
        }
        for i in range(n)
    ]

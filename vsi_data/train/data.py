"""A build's shards as GRPO prompts: chat messages, the video's sampled frames, and the answer columns.

Each question's video reaches the model as `frames.num_frames` uniformly sampled frames, all one size
(sides multiples of 28, inside the recipe's pixel budget), in the recipe's `frames.as` mode:
- `images`: an `images` column, which TRL 1.16 takes as is; message contents stay plain strings and TRL
  inserts one image slot per frame before the user text.
- `video`: a `video_frames` column and a `{"type": "video"}` block before the user text, which
  `vsi_data.train.grpo.VsiGRPOTrainer` turns into Qwen's video inputs (TRL 1.16 passes images only).
  Frames are chosen as lmms-eval chooses them for Qwen2-VL (positions truncated, not rounded).

Frames are decoded lazily (`set_transform`) when the trainer asks for a row, never up front, so memory does
not grow with the dataset. TRL fetches every question once per generation and neighbouring questions share a
scene's video, so the last few videos' frames are cached.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vsi_data.io import child, given_location
from vsi_data.metrics import find_number
from vsi_data.models import FrameInput
from vsi_data.output.shards import open_build, read_rows
from vsi_data.prompts import NUMERIC_TYPES, PromptMode, training_prompt
from vsi_data.train.recipe import FrameSettings
from vsi_data.video.sampler import VideoReadError, sample_frames

# The columns reward functions receive (TRL passes every column but `prompt` to them).
PASS_THROUGH = ("id", "answer", "question_type", "options")
# Where a row's frames go: TRL's own column for images, ours for one video.
FRAME_COLUMNS = {FrameInput.images: "images", FrameInput.video: "video_frames"}
_CACHED_VIDEOS = 8


class TrainDataError(ValueError):
    """A build that cannot be trained on; the message names the folder, file or row."""


def training_messages(
    question: str,
    options: Sequence[str] | None,
    mode: PromptMode,
    system_prompt: str | None,
    frames: FrameInput = FrameInput.images,
) -> list[dict[str, Any]]:
    """The conversation for one row: an optional system message and the user's question with the options
    and the answer instruction of the prompt mode, after a video block in video mode (TRL adds the image
    blocks of image mode itself)."""
    text = training_prompt(question, options, mode)
    content = [{"type": "video"}, {"type": "text", "text": text}] if frames is FrameInput.video else text
    user = {"role": "user", "content": content}
    return [{"role": "system", "content": system_prompt}, user] if system_prompt else [user]


def load_training_rows(data_dir: Path | str) -> pa.Table:
    """The train-split rows of the build (a folder or a URL), refused with a clear message when a row has no
    video or its file is missing (GRPO on these questions needs what the question is about: the video)."""
    data_dir = given_location(data_dir)
    try:
        build = open_build(data_dir)
        table = read_rows(build)
    except FileNotFoundError as exc:  # not a build (`NotABuild`), a shard the manifest lists is missing, no shard
        raise TrainDataError(str(exc)) from None
    splits = set(table.column("split").to_pylist())
    if "train" not in splits:
        raise TrainDataError(
            f"{data_dir}: no train-split rows (splits found: {sorted(splits)}); build with --split train"
        )
    table = table.filter(pc.equal(table.column("split"), "train"))
    no_video = pc.is_null(table.column("video"))
    if pc.any(no_video).as_py():
        ids = table.filter(no_video).column("id").to_pylist()
        raise TrainDataError(
            f"{data_dir}: {len(ids)} of {table.num_rows} train rows have no video (first: {ids[0]}); "
            "GRPO trains on the frames, so build with --video from a source with colour streams"
        )
    numeric = table.filter(pc.is_in(table.column("question_type"), pa.array(sorted(NUMERIC_TYPES))))
    for row_id, answer in zip(numeric.column("id").to_pylist(), numeric.column("answer").to_pylist(), strict=True):
        value = find_number(answer)
        if value is None or not math.isfinite(value):  # the accuracy reward would fail mid-run; say so now
            raise TrainDataError(f"{data_dir}: row {row_id} is a numeric question whose answer {answer!r} is no number")
    for video in sorted(set(table.column("video").to_pylist())):
        if not build.is_file(video):
            first = table.filter(pc.equal(table.column("video"), video)).column("id")[0].as_py()
            raise TrainDataError(f"{child(data_dir, video)}: video file missing (needed by row {first} and others)")
    return table


def training_dataset(
    data_dir: Path | str, frames: FrameSettings, mode: PromptMode = PromptMode.vanilla, system_prompt: str | None = None
):
    """A `datasets.Dataset` whose rows read as {"prompt", "images" or "video_frames", "id", "answer",
    "question_type", "options"}, the frames decoded on access."""
    from datasets import Dataset

    data_dir = given_location(data_dir)
    table = load_training_rows(data_dir).select(["question", "video", *PASS_THROUGH])
    dataset = Dataset(table)
    read_video = _frame_reader(data_dir, frames)
    frame_column = FRAME_COLUMNS[frames.input]

    def to_prompts(batch: dict[str, list]) -> dict[str, list]:
        prompts = [
            training_messages(q, o, mode, system_prompt, frames.input)
            for q, o in zip(batch["question"], batch["options"], strict=True)
        ]
        sampled = [read_video(video) for video in batch["video"]]
        return {"prompt": prompts, frame_column: sampled, **{key: batch[key] for key in PASS_THROUGH}}

    dataset.set_transform(to_prompts)
    return dataset


def _frame_reader(data_dir: Path | str, frames: FrameSettings):
    @functools.lru_cache(maxsize=_CACHED_VIDEOS)
    def decode(video: str) -> tuple[Any, ...]:
        try:
            sampled = sample_frames(
                child(data_dir, video),
                num_frames=frames.num_frames,
                min_pixels=frames.min_pixels,
                max_pixels=frames.max_pixels,
                truncate=frames.input is FrameInput.video,
            )
        except VideoReadError as exc:
            raise TrainDataError(str(exc)) from None
        return tuple(sampled.images)

    def read(video: str) -> list:
        from PIL import Image

        return [Image.fromarray(frame) for frame in decode(video)]

    return read

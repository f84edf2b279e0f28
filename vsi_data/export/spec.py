"""What an export format is: one `ExportFormat` spec per target tool, and the rows and files it is given.

A format says how one question becomes one record of its file (`record`), which container holds the
records (`container`: a JSON array, JSON lines or Parquet with a fixed schema), what it writes once every
split is done (`finish`: LLaMA-Factory's dataset_info.json, lmms-eval's task folder) and what it accepts
(prompt modes, pre-extracted frames, rows without video). `vsi_data.export.formats.FORMATS` is the one
registry; the CLI's choices and the docs' list are read from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vsi_data.prompts import PromptMode, benchmark_prompt, training_prompt

if TYPE_CHECKING:
    import pyarrow as pa


class ExportError(ValueError):
    """An export that cannot be written; the message names the file or folder and the problem."""


class PromptChoice(StrEnum):
    """vsGRPO's three training prompts, or VSI-Bench's evaluation prompt (pre-prompt, options, the
    letter / short-answer instruction) for SFT on the benchmark's wording."""

    vanilla = "vanilla"
    think = "think"
    observe = "observe"
    vsibench = "vsibench"


class VideoPath(StrEnum):
    absolute = "absolute"  # paths into the build (or into the export with --copy-videos): work from anywhere
    relative = "relative"  # paths relative to the export folder, videos linked (or copied) into it


TAGGED_PROMPTS = frozenset({PromptChoice.think, PromptChoice.observe})


def prompter(prompt: PromptChoice) -> Callable[[str, Sequence[str] | None, str], str]:
    """The user's text for a question, its options and its type: exactly what `predict` (vsibench) or
    `train-grpo` (the others) asks."""
    if prompt is PromptChoice.vsibench:
        return benchmark_prompt
    mode = PromptMode(prompt.value)
    return lambda question, options, _question_type: training_prompt(question, options, mode)


def target_text(answer: str, prompt: PromptChoice) -> str:
    """The assistant's turn for SFT: the build's answer, inside <answer> tags where the prompt asks for them."""
    return f"<answer>{answer}</answer>" if prompt in TAGGED_PROMPTS else answer


@dataclass(frozen=True)
class Media:
    """Where a row's visual input is, as written into the export (absolute, or relative to the export)."""

    video: str | None  # the video file
    frames: tuple[str, ...] | None = None  # pre-extracted JPEGs, in time order, when --frames is asked


@dataclass(frozen=True)
class ExportRow:
    """One question as every format sees it: the build's columns plus the prompt and the media paths."""

    id: str
    dataset: str
    scene_id: str
    split: str
    question_type: str
    question: str
    options: list[str] | None
    answer: str
    prompt: str  # the user's text, without a media placeholder
    target: str  # the assistant's turn for SFT formats
    media: Media


class RecordWriter(Protocol):
    def write(self, records: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class Container(Protocol):
    """A file kind: its suffix and a writer that takes records batch by batch (flat memory)."""

    suffix: str

    def open(self, path: Path, frames: bool) -> RecordWriter: ...


_ENCODE = json.JSONEncoder(
    ensure_ascii=False
).encode  # one encoder: json.dumps(…, ensure_ascii=False) builds one per call


class _JsonArrayWriter:
    """A JSON list written batch by batch: `[`, records joined by `,`, `]`."""

    def __init__(self, path: Path):
        self.handle = path.open("w", encoding="utf-8")
        self.handle.write("[")
        self.separator = "\n"

    def write(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.handle.write(self.separator + ",\n".join(map(_ENCODE, records)))
            self.separator = ",\n"

    def close(self) -> None:
        self.handle.write("\n]\n")
        self.handle.close()


class _JsonLinesWriter:
    def __init__(self, path: Path):
        self.handle = path.open("w", encoding="utf-8")

    def write(self, records: list[dict[str, Any]]) -> None:
        self.handle.write("".join(_ENCODE(record) + "\n" for record in records))

    def close(self) -> None:
        self.handle.close()


class _ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema):
        import pyarrow.parquet as pq  # here, not at import: the CLI reads the registry at start-up

        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, records: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        self.writer.write_table(pa.Table.from_pylist(records, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class JsonArray:
    suffix: str = ".json"

    def open(self, path: Path, frames: bool) -> RecordWriter:
        return _JsonArrayWriter(path)


@dataclass(frozen=True)
class JsonLines:
    suffix: str = ".jsonl"

    def open(self, path: Path, frames: bool) -> RecordWriter:
        return _JsonLinesWriter(path)


@dataclass(frozen=True)
class Parquet:
    """zstd Parquet with a fixed schema, so every batch (and every split) has the same column types;
    `schema(frames)` because a video is a path but pre-extracted frames are a list of paths."""

    schema: Callable[[bool], pa.Schema]
    suffix: str = ".parquet"

    def open(self, path: Path, frames: bool) -> RecordWriter:
        return _ParquetWriter(path, self.schema(frames))


@dataclass(frozen=True)
class Finished:
    """What `finish` knows: where the files are being written, where they will end up, and what was written."""

    staging: Path  # the temp folder, renamed to `out` after `finish`
    out: Path  # the final folder (absolute)
    name: str  # a short name for the data set (task names, dataset_info keys)
    files: dict[str, str]  # split → file name inside the folder
    question_types: dict[str, list[str]]  # split → question types present


@dataclass(frozen=True)
class ExportFormat:
    """One target tool's layout; see the module docstring."""

    name: str
    summary: str  # one line: what is written, for --help and the docs
    container: Container
    record: Callable[[ExportRow], dict[str, Any]]
    finish: Callable[[Finished], None] | None = None
    prompts: tuple[PromptChoice, ...] = tuple(PromptChoice)
    default_prompt: PromptChoice = PromptChoice.vanilla
    video_dir: str = "videos"  # where --video-path relative places videos inside the export
    frames: bool = True  # accepts --frames (pre-extracted JPEGs instead of the video)
    video_optional: bool = False  # a build row without video is kept (null path) instead of refused


def video_media(row: ExportRow) -> str | list[str]:
    """The row's one video as the chat trainers take it: the file, or its frames as one list of images."""
    return list(row.media.frames) if row.media.frames is not None else row.media.video


def chat_messages(row: ExportRow, role_key: str = "role", content_key: str = "content") -> list[dict[str, str]]:
    """User turn (one `<video>` placeholder, then the prompt) and the assistant's answer."""
    return [
        {role_key: "user", content_key: "<video>" + row.prompt},
        {role_key: "assistant", content_key: row.target},
    ]

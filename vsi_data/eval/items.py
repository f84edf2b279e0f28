"""Questions to evaluate, from a `build` output or VSI-Bench's own test file, in one form.

VSI-Bench's test set (nyu-visionx/VSI-Bench `test.parquet`) and our shards name the same things
differently (ground_truth vs answer, scene_name vs scene_id, integer vs string ids, videos beside the
file vs paths relative to the build). `load_items` reads either and returns `EvalItem`s, so scoring and
prediction never ask where a question came from. Ids are strings everywhere: VSI-Bench's 17 and "17" in
a predictions file are the same question.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vsi_data.benchmark import VSIBENCH_COLUMNS
from vsi_data.metrics import parse_number
from vsi_data.output.shards import DATA_DIR, read_rows
from vsi_data.prompts import MULTIPLE_CHOICE_TYPES, NUMERIC_TYPES

BUILD_COLUMNS = ("id", "dataset", "scene_id", "question_type", "question", "options", "answer", "video")


class DataError(ValueError):
    """Evaluation data that cannot be read or is inconsistent; the message names the file."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    question_type: str
    question: str
    options: tuple[str, ...] | None  # "A. chair" entries; None where the question has none
    answer: str  # the letter, the word(s) or the number as text
    dataset: str
    scene: str
    video: Path | None  # absolute; None where the build has no video for the row


def load_items(data: Path, video_root: Path | None = None) -> list[EvalItem]:
    """Every question of `data`: a build folder, one of its shard files, or a VSI-Bench test file
    (.parquet or .jsonl). `video_root` replaces where videos are looked up: VSI-Bench's are
    `{root}/{dataset}/{scene_name}.mp4` (default root: the file's folder, unless a `video` column names
    them), a build's are relative to it, and a build's rows without video are `{root}/{dataset}/{scene_id}.mp4`."""
    data = Path(data)
    if data.is_dir():
        try:
            table = read_rows(data)
        except FileNotFoundError as exc:
            raise DataError(str(exc)) from None
        items = _build_items(table, data, video_root)
    elif data.is_file():
        table = read_table(data)
        columns = set(table.column_names)
        if columns.issuperset(VSIBENCH_COLUMNS):
            items = _vsibench_items(table, data.parent, video_root)
        elif columns.issuperset(BUILD_COLUMNS):
            build_root = data.parent.parent if data.parent.name == DATA_DIR else data.parent
            items = _build_items(table, build_root, video_root)
        else:
            missing = sorted(set(VSIBENCH_COLUMNS) - columns)
            raise DataError(
                f"{data}: neither a VSI-Bench test file nor a vsi-data shard (no column {', '.join(missing)})"
            )
    else:
        raise DataError(f"{data}: no such file or folder")
    _check(data, items)
    return items


def read_table(path: Path) -> pa.Table:
    """A question file as a table: Parquet, or JSON Lines (one question per line, as VSI-Bench's test set is
    also shipped); unreadable, a `DataError` naming it."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix in {".jsonl", ".json"}:
            lines = path.read_text(encoding="utf-8").splitlines()
            return pa.Table.from_pylist([json.loads(line) for line in lines if line.strip()])
    except (pa.ArrowException, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    raise DataError(f"{path}: expected a .parquet or .jsonl file or a build folder")


def _options(value) -> tuple[str, ...] | None:
    return tuple(value) if value else None


def _vsibench_items(table: pa.Table, file_dir: Path, video_root: Path | None) -> list[EvalItem]:
    """A `video` column (as `vsi-data export --format vsibench` writes: absolute, or relative to the file)
    names each row's video; without one, or with `video_root`, VSI-Bench's `<root>/<dataset>/<scene_name>.mp4`."""
    columns = [*VSIBENCH_COLUMNS, *(["video"] if "video" in table.column_names else [])]

    def video_of(row: dict) -> Path:
        if video_root is None and row.get("video"):
            return file_dir / row["video"]  # an absolute path replaces file_dir
        return (video_root or file_dir) / row["dataset"] / f"{row['scene_name']}.mp4"

    return _items(table.select(columns), answer="ground_truth", scene="scene_name", video_of=video_of)


def _build_items(table: pa.Table, build_root: Path, video_root: Path | None) -> list[EvalItem]:
    """Videos relative to the build (or to `video_root`); rows built without video look for
    `<video_root>/<dataset>/<scene_id>.mp4` (VSI-Bench's layout, e.g. a `--source vsibench-meta` build)."""

    def video_of(row: dict) -> Path | None:
        if row["video"]:
            return (video_root or build_root) / row["video"]
        return video_root / row["dataset"] / f"{row['scene_id']}.mp4" if video_root else None

    return _items(table.select(list(BUILD_COLUMNS)), answer="answer", scene="scene_id", video_of=video_of)


def _items(table: pa.Table, answer: str, scene: str, video_of: Callable[[dict], Path | None]) -> list[EvalItem]:
    """EvalItems from rows whose answer and scene columns are named `answer` and `scene`."""
    return [
        EvalItem(
            id=str(row["id"]),
            question_type=row["question_type"],
            question=row["question"],
            options=_options(row["options"]),
            answer=str(row[answer]),
            dataset=row["dataset"],
            scene=row[scene],
            video=video_of(row),
        )
        for row in table.to_pylist()
    ]


def _check(data: Path, items: list[EvalItem]) -> None:
    """Problems that would make a score silently wrong: unknown types, non-numeric numeric answers,
    two questions under one id."""
    if not items:
        raise DataError(f"{data}: no questions")
    known = MULTIPLE_CHOICE_TYPES | NUMERIC_TYPES
    for item in items:
        if item.question_type not in known:
            raise DataError(f"{data}: question {item.id} has unknown question_type {item.question_type!r}")
        if item.question_type in NUMERIC_TYPES and parse_number(item.answer) is None:
            raise DataError(
                f"{data}: question {item.id} ({item.question_type}) has a non-numeric answer {item.answer!r}"
            )
    duplicated = [qid for qid, count in Counter(item.id for item in items).items() if count > 1]
    if duplicated:
        raise DataError(f"{data}: {len(duplicated)} ids occur more than once (e.g. {duplicated[0]})")

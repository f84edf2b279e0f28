"""Questions to evaluate, from a `build` output or VSI-Bench's own test file, in one form.

VSI-Bench's test set (nyu-visionx/VSI-Bench `test.parquet`) and our shards name the same things
differently; `vsi_data.questions` reads either into the build's columns, and `load_items` turns them into
`EvalItem`s with their videos (beside a VSI-Bench file, relative to a build), so scoring and prediction never
ask where a question came from.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vsi_data.io import child
from vsi_data.metrics import parse_number
from vsi_data.prompts import MULTIPLE_CHOICE_TYPES, NUMERIC_TYPES
from vsi_data.questions import BUILD_COLUMNS, NotQuestions, read_questions


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
    video: Path | str | None  # absolute, or a URL in a build at a URL; None where the build has no video for the row


def load_items(data: Path | str, video_root: Path | None = None) -> list[EvalItem]:
    """Every question of `data`: a build folder or URL, one of its shard files, or a VSI-Bench test file
    (.parquet or .jsonl), as `vsi_data.questions` reads them. `video_root` replaces where videos are looked up:
    VSI-Bench's are `{root}/{dataset}/{scene_name}.mp4` (default root: the file's folder, unless a `video`
    column names them), a build's are relative to it, and a build's rows without video are
    `{root}/{dataset}/{scene_id}.mp4`."""
    try:
        questions = read_questions(data)
    except NotQuestions as exc:
        raise DataError(str(exc)) from None
    root, vsibench = questions.root, questions.kind == "vsibench"

    def video_of(row: dict) -> Path | str | None:
        if vsibench:
            if video_root is None and row["video"]:  # an absolute path replaces the file's folder
                return root / row["video"]
            return (video_root or root) / row["dataset"] / f"{row['scene_id']}.mp4"
        if row["video"]:
            return child(video_root or root, row["video"])
        return video_root / row["dataset"] / f"{row['scene_id']}.mp4" if video_root else None

    items = [
        EvalItem(
            id=str(row["id"]),
            question_type=row["question_type"],
            question=row["question"],
            options=tuple(row["options"]) if row["options"] else None,
            answer=str(row["answer"]),
            dataset=row["dataset"],
            scene=row["scene_id"],
            video=video_of(row),
        )
        for row in questions.table.select(list(BUILD_COLUMNS)).to_pylist()
    ]
    _check(data, items)
    return items


def _check(data: Path | str, items: list[EvalItem]) -> None:
    """Problems that would make a score silently wrong: unknown types, non-numeric numeric answers,
    two questions under one id."""
    if not items:
        raise DataError(f"{data}: no questions")
    known = MULTIPLE_CHOICE_TYPES | NUMERIC_TYPES
    for item in items:
        if item.question_type not in known:
            raise DataError(f"{data}: question {item.id} has unknown question_type {item.question_type!r}")
        number = parse_number(item.answer) if item.question_type in NUMERIC_TYPES else 0.0
        if number is None or not math.isfinite(number):
            raise DataError(
                f"{data}: question {item.id} ({item.question_type}) has a non-numeric answer {item.answer!r}"
            )
        if item.question_type in MULTIPLE_CHOICE_TYPES:
            _check_choice(data, item)
    duplicated = [qid for qid, count in Counter(item.id for item in items).items() if count > 1]
    if duplicated:
        raise DataError(f"{data}: {len(duplicated)} ids occur more than once (e.g. {duplicated[0]})")


def _check_choice(data: Path, item: EvalItem) -> None:
    """A lettered question's answer is one of its option letters, a word question's answer is words: anything else
    is a question no prediction can get right, which would lower its type's score without a word."""
    where = f"{data}: question {item.id} ({item.question_type}) has the answer {item.answer!r}"
    if item.options:
        letters = [option.split(".", 1)[0].strip() for option in item.options]
        if item.answer.strip().lower() not in {letter.lower() for letter in letters}:
            raise DataError(f"{where}, not one of its option letters {', '.join(letters)}")
    elif not item.answer.strip():
        raise DataError(f"{where}: no words and no options")

"""The predictions file: JSON Lines, one `{"id": str, "prediction": str, ...}` per answered question.

`predict` appends a batch at a time, so a killed run leaves whole lines plus at most one cut-off last
line. Readers therefore accept a broken *last* line without a newline (it is the interrupted write, and
its question simply counts as unanswered), while a broken line anywhere else is an error: that file was
damaged some other way. An id may occur twice only with the same prediction; two different answers to
one question would make any score arbitrary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from vsi_data.io import OutputError, check_output_path

log = logging.getLogger(__name__)


class PredictionsError(ValueError):
    """A predictions file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Predictions:
    answers: dict[str, str | None]  # id → prediction text (None: the model gave no answer)
    cut_tail_bytes: int  # length of an interrupted last line that was ignored (0: none)


def read_predictions(path: Path) -> Predictions:
    """Parse a predictions file; ids are normalised to strings."""
    path = Path(path)
    if path.is_dir():
        raise PredictionsError(f"{path}: a folder, not a predictions file")
    if not path.is_file():
        raise PredictionsError(f"{path}: predictions file not found")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # text after the last newline: empty for a complete file
    answers: dict[str, str | None] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if line.strip():
            _add(path, number, _parse(path, number, line), answers, first_line)
    cut = 0
    if tail.strip():
        try:
            _add(path, len(lines) + 1, _parse(path, len(lines) + 1, tail), answers, first_line)
        except PredictionsError as exc:
            log.warning("%s (an interrupted write?); ignoring the last line", exc)
            cut = len(tail)
    return Predictions(answers, cut)


def answers_for(path: Path, data: Path, question_ids: Collection[str]) -> dict[str, str | None]:
    """The predictions of `path` for scoring the questions of `data`. A file that answers none of them is the wrong
    file (or the wrong --data, or a `predict` that wrote nothing yet): scored, it would be a plausible 0."""
    answers = read_predictions(path).answers
    if not answers:
        raise PredictionsError(f"{path}: no predictions in it (has `vsi-data predict` written any yet?)")
    if not any(qid in answers for qid in question_ids):
        theirs, ours = next(iter(answers)), next(iter(question_ids), None)
        raise PredictionsError(
            f"{path}: none of its {len(answers)} predictions is for a question of {data} "
            f"(its ids look like {theirs!r}, the data's like {ours!r}): predictions of other questions?"
        )
    return answers


def _parse(path: Path, number: int, line: bytes) -> tuple[str, str | None]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PredictionsError(f"{path}:{number}: not a JSON line ({exc})") from None
    if not isinstance(record, dict) or "id" not in record or "prediction" not in record:
        raise PredictionsError(f'{path}:{number}: expected an object with "id" and "prediction"')
    qid, prediction = record["id"], record["prediction"]
    if isinstance(qid, bool) or not isinstance(qid, str | int):
        raise PredictionsError(f"{path}:{number}: id must be a string or an integer, got {qid!r}")
    if prediction is not None and not isinstance(prediction, str):
        raise PredictionsError(f"{path}:{number}: prediction must be a string or null, got {prediction!r}")
    return str(qid), prediction


def _add(path: Path, number: int, entry: tuple[str, str | None], answers: dict, first_line: dict) -> None:
    qid, prediction = entry
    if qid in answers and answers[qid] != prediction:
        raise PredictionsError(
            f"{path}:{number}: question {qid} was already answered differently on line {first_line[qid]}"
        )
    answers.setdefault(qid, prediction)
    first_line.setdefault(qid, number)


def open_for_append(path: Path) -> set[str]:
    """Prepare `path` for `predict` to append to and return the ids it already answers. An interrupted
    last line is cut off (so new lines do not run into it); a complete last line missing only its
    newline gets one."""
    path = Path(path)
    try:
        check_output_path(path)
    except OutputError as exc:
        raise PredictionsError(str(exc)) from None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return set()
    existing = read_predictions(path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        if existing.cut_tail_bytes:
            handle.truncate(size - existing.cut_tail_bytes)
        elif size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    return set(existing.answers)


def prediction_line(qid: str, prediction: str, **extra) -> str:
    return json.dumps({"id": qid, "prediction": prediction, **extra}, ensure_ascii=False) + "\n"

"""lmms-eval task functions for a `vsi-data export --format lmms-eval` folder: VSI-Bench's prompt, answer
extraction and scoring, the numbers `vsi-data eval` gives for the same predictions.

This file is copied as is into the export (`vsi_data_<name>/utils.py`) and imports nothing but numpy, so the
lmms-eval environment needs no vsi-data. Its rules are those of VSI-Bench's evaluation code
(thinking-in-space `lmms_eval/tasks/vsibench/utils.py`), as `vsi_data.metrics` and `vsi_data.eval.scoring`
apply them; vsi-data's tests score the same predictions through both and require equal numbers:

- prompt: "These are frames of a video.", the question, then "Options:" with one "A. …" per line and the
  letter instruction, or, for a question without options, the short-answer instruction;
- answer: the prediction's text before the first space, trailing dots stripped, then whitespace
  (current lmms-eval reads numbers more leniently, with `extract_number`; this task keeps VSI-Bench's rule);
- multiple choice: case-insensitive match with the letter (or, for a vsi100k build's word answers, with
  as many leading words as the answer has); numbers: `float()` of the token scored by MRA over the ten
  thresholds 0.50..0.95 with `<=`; unparsable scores 0;
- per question type: the mean ×100; the three relative-direction levels average into one task; overall is
  the mean of the tasks present.

Videos: the row's `video` column, absolute or relative to the export folder (this file's parent's parent);
rows without one look for `$VSI_DATA_VIDEO_ROOT/<dataset>/<scene_name>.mp4`, VSI-Bench's own layout.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MULTIPLE_CHOICE_TYPES = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
    "object_rel_distance",
    "route_planning",
    "obj_appearance_order",
)
NUMERIC_TYPES = ("object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation")
REL_DIRECTION = "object_rel_direction"
REL_DIRECTION_LEVELS = tuple(f"{REL_DIRECTION}_{level}" for level in ("easy", "medium", "hard"))
TASKS = (
    "object_counting",
    "object_abs_distance",
    "object_size_estimation",
    "room_size_estimation",
    "object_rel_distance",
    REL_DIRECTION,
    "route_planning",
    "obj_appearance_order",
)
# One lmms-eval metric per task, per relative-direction level, and overall.
METRICS = ("overall", *TASKS, *REL_DIRECTION_LEVELS)

PRE_PROMPT = "These are frames of a video."
NUMERIC_POST_PROMPT = "Please answer the question using a single word or phrase."
LETTER_POST_PROMPT = "Answer with the option's letter from the given choices directly."
MRA_THRESHOLDS = np.linspace(0.5, 0.95, 10)
EXPORT_DIR = Path(__file__).resolve().parent.parent
VIDEO_ROOT_ENV = "VSI_DATA_VIDEO_ROOT"


def video_path(doc: dict) -> Path:
    """The question's video; an error naming the file (or the question) when it cannot be found."""
    video = doc.get("video")
    if video:
        path = Path(video) if Path(video).is_absolute() else EXPORT_DIR / video
    else:
        root = os.environ.get(VIDEO_ROOT_ENV)
        if not root:
            raise FileNotFoundError(
                f"question {doc['id']} has no video; set {VIDEO_ROOT_ENV} to the folder holding "
                "<dataset>/<scene_name>.mp4"
            )
        path = Path(root) / doc["dataset"] / f"{doc['scene_name']}.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: video not found (question {doc['id']})")
    return path


def doc_to_visual(doc: dict) -> list[str]:
    return [str(video_path(doc))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    pre_prompt = kwargs.get("pre_prompt") or PRE_PROMPT
    options = doc.get("options")
    if options is None or len(options) == 0:
        return "\n".join([pre_prompt, doc["question"], kwargs.get("na_post_prompt") or NUMERIC_POST_PROMPT])
    block = "Options:\n" + "\n".join(options)
    return "\n".join([pre_prompt, doc["question"], block, kwargs.get("mca_post_prompt") or LETTER_POST_PROMPT])


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    content = [{"type": "video", "url": path} for path in doc_to_visual(doc)]
    content.append({"type": "text", "text": doc_to_text(doc, lmms_eval_specific_kwargs)})
    return [{"role": "user", "content": content}]


def leading_words(prediction: str, count: int) -> str:
    return " ".join(prediction.split(" ")[:count]).rstrip(".").strip()


def to_number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def mean_relative_accuracy(pred: float, gt: float) -> float:
    if not (np.isfinite(pred) and np.isfinite(gt)):
        return 0.0
    if gt == 0:
        return 1.0 if pred == 0 else 0.0
    return float(np.mean(abs(pred - gt) / abs(gt) <= 1 - MRA_THRESHOLDS))


def score(question_type: str, prediction: str | None, ground_truth: str) -> float:
    """One prediction's score in [0, 1]."""
    if prediction is None:
        return 0.0
    if question_type in NUMERIC_TYPES:
        pred, gt = to_number(leading_words(prediction, 1)), to_number(ground_truth)
        return 0.0 if pred is None or gt is None else mean_relative_accuracy(pred, gt)
    if question_type in MULTIPLE_CHOICE_TYPES:
        answer = ground_truth.strip()
        return 1.0 if leading_words(prediction, len(answer.split(" "))).lower() == answer.lower() else 0.0
    raise ValueError(f"unknown question type {question_type!r}")


def process_results(doc: dict, results: list) -> dict:
    entry = {
        "question_type": doc["question_type"],
        "score": score(doc["question_type"], results[0], doc["ground_truth"]),
    }
    return dict.fromkeys(METRICS, entry)


def scores(items: list[dict]) -> dict[str, float]:
    """Every metric present in `items`: per question type and per task (0..100), and overall."""
    by_type: dict[str, list[float]] = {}
    for item in items:
        by_type.setdefault(item["question_type"], []).append(item["score"])
    per_type = {t: float(np.mean(values)) * 100 for t, values in by_type.items()}
    tasks = {}
    for task in TASKS:
        members = REL_DIRECTION_LEVELS if task == REL_DIRECTION else (task,)
        present = [per_type[t] for t in members if t in per_type]
        if present:
            tasks[task] = float(np.mean(present))
    overall = float(np.mean(list(tasks.values()))) if tasks else 0.0
    return {**per_type, **tasks, "overall": overall}


def _aggregation(metric: str):
    def aggregate(items: list[dict]) -> float | None:
        return scores(items).get(metric)

    aggregate.__name__ = aggregate.__qualname__ = f"aggregate_{metric}"
    return aggregate


# The YAML's `aggregation: !function utils.aggregate_<metric>` for every metric in METRICS.
globals().update({f"aggregate_{metric}": _aggregation(metric) for metric in METRICS})

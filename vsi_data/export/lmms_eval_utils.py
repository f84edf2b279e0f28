"""lmms-eval task functions for a `vsi-data export --format lmms-eval` folder: VSI-Bench's prompt, answer
extraction and scoring, the numbers `vsi-data eval` gives for the same predictions.

The export writes this file as the task's `utils.py` with the block between the two `vsi-data:` marker
lines replaced by the source of what it imports and of what that uses (constants' values, functions' code),
so the written file needs only numpy (no vsi-data in the lmms-eval environment) while its prompt and
per-answer scoring are `vsi_data.prompts` and `vsi_data.metrics` themselves: VSI-Bench's evaluation code
(thinking-in-space `lmms_eval/tasks/vsibench/utils.py`) as `vsi-data eval` applies it:

- prompt: "These are frames of a video.", the question, then "Options:" with one "A. …" per line and the
  letter instruction, or, for a question without options, the short-answer instruction;
- answer: the prediction's text before the first space, trailing dots stripped, then whitespace
  (current lmms-eval reads numbers more leniently, with `extract_number`; this task keeps VSI-Bench's rule);
- multiple choice: case-insensitive match with the letter (or, for a vsi100k build's word answers, with
  as many leading words as the answer has); numbers: `float()` of the token scored by MRA over the ten
  thresholds 0.50..0.95 with `<=`; unparsable scores 0;
- per question type: the mean ×100; the three relative-direction levels average into one task; overall is
  the mean of the tasks present (this aggregation is written here; a test holds it to `vsi-data eval`'s).

Videos: the row's `video` column, absolute or relative to the export folder (this file's parent's parent);
rows without one look for `$VSI_DATA_VIDEO_ROOT/<dataset>/<scene_name>.mp4`, VSI-Bench's own layout.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# vsi-data: inline begin
from vsi_data.eval.scoring import REL_DIRECTION_TASK, TASK_ORDER
from vsi_data.metrics import score_prediction
from vsi_data.prompts import PRE_PROMPT, benchmark_prompt

# vsi-data: inline end
REL_DIRECTION_LEVELS = tuple(f"{REL_DIRECTION_TASK}_{level}" for level in ("easy", "medium", "hard"))
# One lmms-eval metric per task, per relative-direction level, and overall.
METRICS = ("overall", *TASK_ORDER, *REL_DIRECTION_LEVELS)
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
    """VSI-Bench's prompt; a task YAML may set another `pre_prompt`."""
    pre_prompt = (lmms_eval_specific_kwargs or {}).get("pre_prompt") or PRE_PROMPT
    return benchmark_prompt(doc["question"], doc.get("options"), doc.get("question_type"), pre_prompt)


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    content = [{"type": "video", "url": path} for path in doc_to_visual(doc)]
    content.append({"type": "text", "text": doc_to_text(doc, lmms_eval_specific_kwargs)})
    return [{"role": "user", "content": content}]


def process_results(doc: dict, results: list) -> dict:
    entry = {
        "question_type": doc["question_type"],
        "score": score_prediction(doc["question_type"], results[0], doc["ground_truth"]),
    }
    return dict.fromkeys(METRICS, entry)


def scores(items: list[dict]) -> dict[str, float]:
    """Every metric present in `items`: per question type and per task (0..100), and overall."""
    by_type: dict[str, list[float]] = {}
    for item in items:
        by_type.setdefault(item["question_type"], []).append(item["score"])
    per_type = {t: float(np.mean(values)) * 100 for t, values in by_type.items()}
    tasks = {}
    for task in TASK_ORDER:
        members = REL_DIRECTION_LEVELS if task == REL_DIRECTION_TASK else (task,)
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

"""VSI-Bench aggregation: item scores → per question type → eight tasks → overall.

VSI-Bench averages within each question type, merges the three relative-direction levels into one task
by an unweighted mean of the levels, and reports the unweighted mean of the tasks ×100. With a subset
(our shards rarely have every type) the same rules apply to the types present: a level or task that has
no question is left out of its mean rather than counted as 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from vsi_data.eval.items import EvalItem
from vsi_data.metrics import first_token, parse_number, score_prediction
from vsi_data.prompts import NUMERIC_TYPES
from vsi_data.question_types import QUESTION_TYPES, task_order

REL_DIRECTION_TASK = QUESTION_TYPES["object_rel_direction_easy"].task  # one task of three levels
# VSI-Bench's table order (each type's `place`): numeric tasks first, then the multiple-choice ones.
TASK_ORDER = task_order()


def task_of(question_type: str) -> str:
    """The VSI-Bench task a question type is scored under (a type the table does not know: its own)."""
    spec = QUESTION_TYPES.get(question_type)
    return question_type if spec is None else spec.task


@dataclass(frozen=True)
class ItemScore:
    item: EvalItem
    prediction: str | None
    score: float  # 0..1
    parsed: bool  # the prediction yields a number / one of the option letters


@dataclass(frozen=True)
class EvalReport:
    overall: float
    per_type: dict[str, float]  # 0..100
    tasks: dict[str, float]  # 0..100
    n: int
    missing: int
    unparsable: int
    unknown_ids: int  # predictions for ids the data does not have
    per_type_n: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "overall": self.overall,
            "per_type": self.per_type,
            "tasks": self.tasks,
            "n": self.n,
            "missing": self.missing,
            "unparsable": self.unparsable,
            "unknown_ids": self.unknown_ids,
            "per_type_n": self.per_type_n,
        }


def _parsed(item: EvalItem, prediction: str | None) -> bool:
    if prediction is None:
        return False
    token = first_token(prediction)
    if item.question_type in NUMERIC_TYPES:
        return parse_number(token) is not None
    if item.options:
        letters = {option.split(".", 1)[0].strip().lower() for option in item.options}
        return token.lower() in letters
    return bool(token)


def score_items(items: Iterable[EvalItem], predictions: Mapping[str, str | None]) -> list[ItemScore]:
    """One score per item; an item without a prediction scores 0."""
    return [
        ItemScore(
            item,
            predictions.get(item.id),
            score_prediction(item.question_type, predictions.get(item.id), item.answer),
            _parsed(item, predictions.get(item.id)),
        )
        for item in items
    ]


def _ordered(types: Iterable[str]) -> list[str]:
    """Question types in VSI-Bench's task order, levels easy, medium, hard."""
    levels = {"easy": 0, "medium": 1, "hard": 2}
    return sorted(types, key=lambda t: (TASK_ORDER.index(task_of(t)), levels.get(t.rsplit("_", 1)[-1], 0)))


def aggregate(scores: list[ItemScore], predictions: Mapping[str, str | None]) -> EvalReport:
    by_type: dict[str, list[float]] = {}
    for entry in scores:
        by_type.setdefault(entry.item.question_type, []).append(entry.score)
    types = _ordered(by_type)
    per_type = {t: float(np.mean(by_type[t])) * 100 for t in types}
    by_task: dict[str, list[float]] = {}
    for question_type in types:
        by_task.setdefault(task_of(question_type), []).append(per_type[question_type])
    tasks = {task: float(np.mean(values)) for task, values in by_task.items()}
    ids = {entry.item.id for entry in scores}
    return EvalReport(
        overall=float(np.mean(list(tasks.values()))) if tasks else 0.0,
        per_type=per_type,
        tasks=tasks,
        n=len(scores),
        missing=sum(entry.prediction is None for entry in scores),
        unparsable=sum(entry.prediction is not None and not entry.parsed for entry in scores),
        unknown_ids=sum(qid not in ids for qid in predictions),
        per_type_n={t: len(by_type[t]) for t in types},
    )


def evaluate(items: list[EvalItem], predictions: Mapping[str, str | None]) -> EvalReport:
    """VSI-Bench's scores of `predictions` (id → text) on `items`."""
    return aggregate(score_items(items, predictions), predictions)


def compare(baseline: EvalReport, candidate: EvalReport) -> dict:
    """Per task, per question type and overall: both scores and candidate − baseline (None where only
    one of them has the task)."""

    def rows(a: Mapping[str, float], b: Mapping[str, float], order: list[str]) -> dict:
        return {
            key: {
                "baseline": a.get(key),
                "candidate": b.get(key),
                "delta": b[key] - a[key] if key in a and key in b else None,
            }
            for key in order
        }

    task_order = [t for t in TASK_ORDER if t in baseline.tasks or t in candidate.tasks]
    types = _ordered(set(baseline.per_type) | set(candidate.per_type))
    return {
        "overall": rows({"overall": baseline.overall}, {"overall": candidate.overall}, ["overall"])["overall"],
        "tasks": rows(baseline.tasks, candidate.tasks, task_order),
        "per_type": rows(baseline.per_type, candidate.per_type, types),
    }

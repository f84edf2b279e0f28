"""A generated question and its output row (the public row schema: README.md, "Output")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Question:
    question_type: str
    question: str
    answer: str
    objects: list[str]
    options: list[str] | None = None
    answer_value: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self, qid: str, dataset: str, scene_id: str, split: str, video: str | None) -> dict[str, Any]:
        return {
            "id": qid,
            "dataset": dataset,
            "scene_id": scene_id,
            "split": split,
            "question_type": self.question_type,
            "question": self.question,
            "options": self.options,
            "answer": self.answer,
            "answer_value": self.answer_value,
            "objects": self.objects,
            "video": video,
            "meta": json.dumps(self.meta, sort_keys=True, separators=(",", ":")),
        }


def format_number(value: float, decimals: int) -> tuple[str, float]:
    """The answer text and value at the recipe's precision (Python's round, as VSI-Bench used)."""
    rounded = round(float(value), decimals) if decimals > 0 else float(round(float(value)))
    text = f"{rounded:.{decimals}f}" if decimals > 0 else str(int(rounded))
    return text, rounded

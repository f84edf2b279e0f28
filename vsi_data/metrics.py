"""VSI-Bench scoring primitives: MRA, its answer parsing, and the score of one prediction.

Everything here follows VSI-Bench's evaluation code (lmms_eval/tasks/vsibench/utils.py) to the bit, so
our numbers can be put next to published ones: the first token is cut at a single space (not any
whitespace), a trailing "." is stripped before surrounding whitespace, and MRA compares with `≤` and no
tolerance. Training rewards (vsi_data/train/rewards.py) are lenient on purpose; this module is not.
"""

from __future__ import annotations

import numpy as np

from vsi_data.prompts import MULTIPLE_CHOICE_TYPES, NUMERIC_TYPES

# VSI-Bench builds its thresholds with np.linspace(.5, .95, int((.95 - .5) / .05 + 2)); the float
# expression is 10.999..., so there are 10 of them: 0.50, 0.55, ..., 0.95.
MRA_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def mean_relative_accuracy(pred: float, gt: float) -> float:
    """Fraction of thresholds θ with |pred − gt| / gt ≤ 1 − θ (VSI-Bench's MRA; ≤ as in its code).

    No tolerance is added: VSI-Bench's float comparison decides edge cases (pred 0.3 for gt 0.4 is a
    relative error of 0.25000000000000006, which misses θ = 0.75). A zero ground truth (never in
    VSI-Bench, where it would divide by zero) has no relative error: exact scores 1, anything else 0.
    """
    pred, gt = float(pred), float(gt)
    if not (np.isfinite(pred) and np.isfinite(gt)):
        return 0.0
    if gt == 0:
        return 1.0 if pred == 0 else 0.0
    relative_error = abs(pred - gt) / abs(gt)
    return float(np.mean(relative_error <= 1 - MRA_THRESHOLDS))


def first_token(prediction: str) -> str:
    """VSI-Bench's answer extraction: text before the first space, trailing dots removed, then
    whitespace trimmed. "B. sofa" → "B", "3.5 meters" → "3.5", "4." → "4", but "(B)" stays "(B)"
    and "B.\\n" stays "B." (the dot is not trailing until the newline is gone)."""
    return leading_words(prediction, 1)


def leading_words(prediction: str, count: int) -> str:
    """The first `count` space-separated tokens, extracted as `first_token` extracts one."""
    return " ".join(prediction.split(" ")[:count]).rstrip(".").strip()


def parse_number(token: str) -> float | None:
    """Python's float() of the token, as VSI-Bench does; None where it is not a number."""
    try:
        return float(token)
    except (TypeError, ValueError):
        return None


def score_prediction(question_type: str, prediction: str | None, ground_truth: str) -> float:
    """VSI-Bench's score in [0, 1] of one prediction: case-insensitive match of the first token against
    the letter (or word) for multiple-choice types, MRA of its number for numeric types; a missing or
    unparsable prediction scores 0.

    Rows without options (the vsi100k recipe) answer in words, some of them several ("trash bin"); there
    the prediction's first as many space-separated tokens as the answer has are compared, which is
    VSI-Bench's rule whenever the answer is one word."""
    if prediction is None:
        return 0.0
    if question_type in NUMERIC_TYPES:
        pred, gt = parse_number(first_token(prediction)), parse_number(ground_truth)
        if pred is None or gt is None:
            return 0.0
        return mean_relative_accuracy(pred, gt)
    if question_type in MULTIPLE_CHOICE_TYPES:
        answer = ground_truth.strip()
        head = leading_words(prediction, len(answer.split(" ")))
        return 1.0 if head.lower() == answer.lower() else 0.0
    raise ValueError(f"unknown question type {question_type!r}")

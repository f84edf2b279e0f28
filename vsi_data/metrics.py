"""VSI-Bench scoring primitives: MRA, its answer parsing, and the score of one prediction; and the one
number reader that training shares with it.

Everything VSI-Bench does follows its evaluation code (lmms_eval/tasks/vsibench/utils.py) to the bit, so
our numbers can be put next to published ones: the first token is cut at a single space (not any
whitespace), a trailing "." is stripped before surrounding whitespace, `parse_number` is Python's
float() of that token, and MRA compares with `≤` and no tolerance.

Training rewards (vsi_data/train/rewards.py) read answers leniently on purpose ("about 2,5 m",
"twenty-one"), through `find_number`. It starts with `parse_number(first_token(text))`, so wherever
`eval` can read a number, training reads the same one ("1e2" is 100 for both); only where `eval` scores 0
for want of a number does it look further.
"""

from __future__ import annotations

import re

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


# A number as written in prose: "1,250" (thousands), "2,5" (decimal comma), "1.5e3", ".5".
_DIGITS = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+")
_UNITS = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"),
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS = {
    **{word: (value, "unit") for value, word in enumerate(_UNITS)},
    **{word: (20 + 10 * k, "ten") for k, word in enumerate(_TENS)},
    "hundred": (100, "scale"),
    "thousand": (1000, "scale"),
}
# Words of one number are joined by a space, a hyphen or " and " ("two hundred and five", "twenty-one").
_WORD = re.compile(r"[a-z]+")
_JOINER = re.compile(r"(?:\s+and\s+|\s*-\s*|\s+)")


def find_number(text: str) -> float | None:
    """The number a free-text answer gives, or None.

    First VSI-Bench's own reading (`parse_number` of the first token), so that training and `eval` agree
    wherever `eval` finds a number; otherwise the first number anywhere in the text: digits ("about 2.5 m",
    "1,250", "2,5", "3e2") or English number words up to the thousands ("twenty-one" is 21, "two hundred
    and five" 205), whichever comes first. Units are not converted: the question fixes them."""
    strict = parse_number(first_token(text))
    if strict is not None:
        return strict
    digits = _DIGITS.search(text)
    words = _first_number_words(text)
    if digits and (words is None or digits.start() <= words[0]):
        number = digits.group()
        number = number.replace(",", "") if _THOUSANDS.fullmatch(number) else number.replace(",", ".")
        return float(number)
    return None if words is None else float(words[1])


def _first_number_words(text: str) -> tuple[int, int] | None:
    """(position, value) of the first run of English number words in `text`."""
    lower = text.lower()
    for word in _WORD.finditer(lower):
        if word.group() in _NUMBER_WORDS:
            return word.start(), _number_word_value(lower, word)
    return None


def _number_word_value(text: str, first: re.Match) -> int:
    """The value of the number-word run starting at `first`: a ten may take a unit ("twenty-one"), a scale
    multiplies what precedes it ("two hundred"), and a unit after a unit ends the run ("one two" is 1)."""
    total, current, previous = 0, 0, None
    word, end = first, first.start()
    while word is not None and word.group() in _NUMBER_WORDS:
        value, kind = _NUMBER_WORDS[word.group()]
        if kind == "scale":
            if value == 1000:
                total, current = total + max(current, 1) * 1000, 0
            else:
                current = max(current, 1) * 100
        elif previous == "unit" or (previous == "ten" and (kind == "ten" or value >= 10)):
            break
        else:
            current += value
        previous, end = kind, word.end()
        joiner = _JOINER.match(text, end)
        word = _WORD.match(text, joiner.end()) if joiner else None
    return total + current


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

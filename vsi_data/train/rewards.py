"""vsGRPO's rewards, with TRL's reward-function signature.

- `format_reward`: 1 when the completion is `<think>…</think>` (or `<observe>…</observe>`) followed by
  `<answer>…</answer>` and nothing else, 0 otherwise. The paper uses it for the think and observe prompts
  only; the vanilla recipes leave it out.
- `accuracy_reward`: per row (never one row's type for the whole batch), on the text inside
  `<answer>…</answer>` when present, else the whole completion:
  - numeric question types: the first number in the text (digits or a number word; units ignored, never
    converted, because the benchmark reads the number in the question's unit) scored with VSI-Bench's MRA;
  - lettered options: the option letter ("B", "b", "B.", "(B)", "B. sofa", or the option's text alone),
    1 for the right letter;
  - word answers (vsi100k removes the options): 1 when the text equals the answer up to case, surrounding
    punctuation, spaces and a leading article. Extra words score 0, so listing every candidate never pays.
  - Anything unparsable scores 0.

These are training rewards, lenient on the surface form; `vsi-data eval` scores strictly, as VSI-Bench does.
Both use `vsi_data.metrics.mean_relative_accuracy`. With TRL, both functions also report their mean per
question type through the `log_metric` callback TRL passes (`rewards/<function>/<question_type>`).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from vsi_data.metrics import mean_relative_accuracy
from vsi_data.prompts import NUMERIC_TYPES

_FORMAT = re.compile(r"\s*<(think|observe)>.*?</\1>\s*<answer>.*?</answer>\s*", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# "B", "B.", "B)", "(B)", "B: sofa", "B. sofa": one letter, alone or followed by punctuation or a space.
_LETTER = re.compile(r"\(?([A-Za-z])\)?(?=$|[\s.:)])")
_OPTION = re.compile(r"\s*([A-Za-z])[.:)]\s*(.*)", re.DOTALL)
# A decimal number; "1,250" is one thousand two hundred and fifty, "2,5" is two and a half.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:[.,]\d+)?|\.\d+)")
_NUMBER_WORD_TEXT = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty"
)
_NUMBER_WORDS = {word: value for value, word in enumerate(_NUMBER_WORD_TEXT.split())}
_WORD = re.compile(r"[a-z]+")
_ARTICLES = ("the ", "a ", "an ")
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]"


def completion_text(completion: str | Sequence[Any]) -> str:
    """The text of one completion: a string, or TRL's conversational form (a list of messages whose last
    one is the assistant's; its content a string or a list of {"type": "text"} parts)."""
    if isinstance(completion, str):
        return completion
    if not completion:
        return ""
    content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else completion[-1]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def answer_span(text: str) -> str:
    """The text inside the first `<answer>…</answer>`, or the whole text when there is none."""
    match = _ANSWER.search(text)
    return match.group(1) if match else text


def parse_number(text: str) -> float | None:
    """The first number in `text` (digits, or an English number word up to twenty); None if there is none."""
    match = _NUMBER.search(text)
    word_position, word_value = len(text), None
    for word in _WORD.finditer(text.lower()):
        if word.group() in _NUMBER_WORDS:
            word_position, word_value = word.start(), float(_NUMBER_WORDS[word.group()])
            break
    if match and match.start() <= word_position:
        digits = match.group()
        digits = digits.replace(",", "") if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+", digits) else digits
        value = float(digits.replace(",", "."))
        return value if math.isfinite(value) else None
    return word_value


def parse_letter(text: str, options: Sequence[str] | None = None) -> str | None:
    """The option letter a text names, upper case: a leading letter ("B", "(b)", "B. sofa"), or else the
    letter of the option whose text the answer repeats ("sofa" → the letter of "B. sofa")."""
    stripped = text.strip()
    match = _LETTER.match(stripped)
    if match:
        return match.group(1).upper()
    wanted = normalise_words(stripped)
    for option in options or ():
        parsed = _OPTION.match(option)
        if parsed and normalise_words(parsed.group(2)) == wanted:
            return parsed.group(1).upper()
    return None


def normalise_words(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation, no leading article."""
    words = " ".join(text.lower().split()).strip(_EDGE_PUNCTUATION)
    for article in _ARTICLES:
        if words.startswith(article):
            return words[len(article) :].strip()
    return words


def score_answer(text: str, answer: str, question_type: str, options: Sequence[str] | None = None) -> float:
    """One row's accuracy in [0, 1]; `text` is the model's answer (already cut out of its tags)."""
    if question_type in NUMERIC_TYPES:
        truth = parse_number(answer)
        if truth is None:
            raise ValueError(f"ground truth {answer!r} of a {question_type} question is not a number")
        predicted = parse_number(text)
        return 0.0 if predicted is None else mean_relative_accuracy(predicted, truth)
    if options is not None and len(options) > 0:
        return float(parse_letter(text, options) == answer.strip().upper())
    wanted = normalise_words(answer)
    return float(bool(wanted) and normalise_words(text) == wanted)


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 for `<think>…</think><answer>…</answer>` (or `<observe>` instead of `<think>`), else 0.0."""
    rewards = [float(_FORMAT.fullmatch(completion_text(c)) is not None) for c in completions]
    _log_per_type("format_reward", rewards, kwargs.get("question_type"), kwargs.get("log_metric"))
    return rewards


def accuracy_reward(
    completions: Sequence[Any],
    answer: Sequence[str],
    question_type: Sequence[str],
    options: Sequence[Sequence[str] | None] | None = None,
    **kwargs: Any,
) -> list[float]:
    """Per row: MRA for numbers, letter match for lettered options, normalised word match otherwise."""
    if options is None:
        options = [None] * len(completions)
    if not len(completions) == len(answer) == len(question_type) == len(options):
        raise ValueError(
            f"accuracy_reward needs one answer, question type and options entry per completion; got "
            f"{len(completions)} completions, {len(answer)} answers, {len(question_type)} types, {len(options)} options"
        )
    rewards = [
        score_answer(answer_span(completion_text(c)), a, t, o)
        for c, a, t, o in zip(completions, answer, question_type, options, strict=True)
    ]
    _log_per_type("accuracy_reward", rewards, question_type, kwargs.get("log_metric"))
    return rewards


def _log_per_type(
    name: str,
    rewards: list[float],
    question_types: Sequence[str] | None,
    log_metric: Callable[[str, float], None] | None,
) -> None:
    """Report the batch's mean reward per question type through TRL's `log_metric`, when both are given."""
    if log_metric is None or question_types is None:
        return
    by_type: dict[str, list[float]] = defaultdict(list)
    for question_type, reward in zip(question_types, rewards, strict=True):
        by_type[question_type].append(reward)
    for question_type, values in sorted(by_type.items()):
        log_metric(f"rewards/{name}/{question_type}", sum(values) / len(values))


REWARD_FUNCTIONS: dict[str, Callable[..., list[float]]] = {"accuracy": accuracy_reward, "format": format_reward}

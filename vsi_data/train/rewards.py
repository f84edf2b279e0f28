"""vsGRPO's rewards, with TRL's reward-function signature.

- `format_reward`: 1 when the completion is `<think>…</think>` (or `<observe>…</observe>`, the tag of the
  prompt mode) followed by `<answer>…</answer>` and nothing else, 0 otherwise. The paper names the reward
  hack this invites, so empty or blank blocks, nested or repeated tags and the other mode's tag score 0.
  The paper uses it for the think and observe prompts only; the vanilla recipes leave it out.
- `accuracy_reward`: per row (never one row's type for the whole batch), on the text inside
  `<answer>…</answer>` when present, else the whole completion:
  - numeric question types: the number the answer gives (`vsi_data.metrics.find_number`: VSI-Bench's own
    reading of the first token where that is a number, else the first number in digits or words; units
    ignored, never converted, because the benchmark reads the number in the question's unit), scored by
    `numeric`: `mra` (VSI-Bench's mean relative accuracy) or `relative`, the paper's relative error
    e = |gt − pred| / min(gt, pred) mapped to max(0, 1 − e) (the paper does not state the mapping);
  - lettered options: the option whose text the answer repeats ("sofa", "a sofa"), else a leading letter
    ("B", "b", "B.", "(B)", "B. sofa"); 1 for the right letter;
  - word answers (vsi100k removes the options): 1 when the text equals the answer up to case, surrounding
    punctuation, spaces, hyphens between words and a leading article. Extra words score 0, so listing every
    candidate never pays.
  - Anything unparsable scores 0.

These are training rewards, lenient on the surface form; `vsi-data eval` scores strictly, as VSI-Bench does,
and reads the same number wherever it can read one. With TRL, both functions also report their mean per
question type through the `log_metric` callback TRL passes (`rewards/<function>/<question_type>`).
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from vsi_data.metrics import find_number, mean_relative_accuracy
from vsi_data.prompts import NUMERIC_TYPES, PromptMode

_REASONING_TAG = {PromptMode.think: "think", PromptMode.observe: "observe"}
_ANY_TAG = re.compile(r"</?\s*(?:think|observe|answer)\s*>", re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# "B", "B.", "B)", "(B)", "B: sofa", "B. sofa": one letter, alone or followed by punctuation or a space.
_LETTER = re.compile(r"\(?([A-Za-z])\)?(?=$|[\s.:)])")
_OPTION = re.compile(r"\s*([A-Za-z])[.:)]\s*(.*)", re.DOTALL)
_ARTICLES = ("the ", "a ", "an ")
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]"


class NumericRule(StrEnum):
    """How a numeric answer is scored in training (`rewards.numeric` in a recipe)."""

    mra = "mra"  # VSI-Bench's mean relative accuracy
    relative = "relative"  # vsGRPO's relative error e = |gt − pred| / min(gt, pred), as max(0, 1 − e)


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


def parse_letter(text: str, options: Sequence[str] | None = None) -> str | None:
    """The option letter a text names, upper case: the letter of the option whose text the answer repeats
    ("sofa" or "a sofa" → the letter of "B. sofa"; an article is not the letter A), or else a leading
    letter ("B", "(b)", "B. sofa")."""
    wanted = normalise_words(text)
    for option in options or ():
        parsed = _OPTION.match(option)
        if parsed and normalise_words(parsed.group(2)) == wanted:
            return parsed.group(1).upper()
    match = _LETTER.match(text.strip())
    return match.group(1).upper() if match else None


def normalise_words(text: str) -> str:
    """Lower case, single spaces (a hyphen joins words as a space does: "front left" is "front-left"), no
    surrounding punctuation, no leading article."""
    words = " ".join(text.lower().replace("-", " ").split()).strip(_EDGE_PUNCTUATION)
    for article in _ARTICLES:
        if words.startswith(article):
            return words[len(article) :].strip()
    return words


def relative_accuracy(pred: float, gt: float) -> float:
    """vsGRPO's numeric reward: max(0, 1 − e) with e = |gt − pred| / min(gt, pred). The paper defines e and
    not its mapping to a reward; this is the plain one (gt 2: pred 3 → 0.5, pred 1 → 0). Where min(gt,
    pred) is not positive, e is undefined: an exact answer scores 1, anything else 0."""
    pred, gt = float(pred), float(gt)
    if not (math.isfinite(pred) and math.isfinite(gt)):
        return 0.0
    if min(gt, pred) <= 0:
        return 1.0 if pred == gt else 0.0
    return max(0.0, 1.0 - abs(gt - pred) / min(gt, pred))


NUMERIC_SCORES: dict[NumericRule, Callable[[float, float], float]] = {
    NumericRule.mra: mean_relative_accuracy,
    NumericRule.relative: relative_accuracy,
}


def score_answer(
    text: str,
    answer: str,
    question_type: str,
    options: Sequence[str] | None = None,
    numeric: NumericRule | str = NumericRule.mra,
) -> float:
    """One row's accuracy in [0, 1]; `text` is the model's answer (already cut out of its tags)."""
    if question_type in NUMERIC_TYPES:
        truth = find_number(answer)
        if truth is None or not math.isfinite(truth):
            raise ValueError(f"ground truth {answer!r} of a {question_type} question is not a number")
        predicted = find_number(text)
        return 0.0 if predicted is None else NUMERIC_SCORES[NumericRule(numeric)](predicted, truth)
    if options is not None and len(options) > 0:
        return float(parse_letter(text, options) == answer.strip().upper())
    wanted = normalise_words(answer)
    return float(bool(wanted) and normalise_words(text) == wanted)


def follows_format(text: str, mode: PromptMode | str | None = None) -> bool:
    """`<tag>reasoning</tag><answer>answer</answer>` and nothing else, the tag being the prompt mode's
    (`think` or `observe`; either when `mode` is None), both blocks holding text and no tag of their own."""
    tags = [_REASONING_TAG[PromptMode(mode)]] if mode is not None else list(_REASONING_TAG.values())
    for tag in tags:
        match = re.fullmatch(rf"\s*<{tag}>(.*)</{tag}>\s*<answer>(.*)</answer>\s*", text, re.DOTALL)
        if match:
            return all(block.strip() and not _ANY_TAG.search(block) for block in match.groups())
    return False


def format_reward(completions: Sequence[Any], mode: PromptMode | str | None = None, **kwargs: Any) -> list[float]:
    """1.0 for `<think>…</think><answer>…</answer>` (`<observe>` for the observe prompt), else 0.0."""
    if mode == PromptMode.vanilla:
        raise ValueError("the format reward needs the think or observe prompt; the vanilla prompt asks for no tags")
    rewards = [float(follows_format(completion_text(c), mode)) for c in completions]
    _log_per_type("format_reward", rewards, kwargs.get("question_type"), kwargs.get("log_metric"))
    return rewards


def accuracy_reward(
    completions: Sequence[Any],
    answer: Sequence[str],
    question_type: Sequence[str],
    options: Sequence[Sequence[str] | None] | None = None,
    numeric: NumericRule | str = NumericRule.mra,
    **kwargs: Any,
) -> list[float]:
    """Per row: `numeric` (MRA or the paper's relative rule) for numbers, letter match for lettered options,
    normalised word match otherwise."""
    if options is None:
        options = [None] * len(completions)
    if not len(completions) == len(answer) == len(question_type) == len(options):
        raise ValueError(
            f"accuracy_reward needs one answer, question type and options entry per completion; got "
            f"{len(completions)} completions, {len(answer)} answers, {len(question_type)} types, {len(options)} options"
        )
    rewards = [
        score_answer(answer_span(completion_text(c)), a, t, o, numeric)
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


def configured_rewards(
    names: Sequence[str], mode: PromptMode, numeric: NumericRule
) -> list[Callable[..., list[float]]]:
    """The reward functions a recipe names, bound to its prompt mode and numeric rule (TRL logs a
    `functools.partial` under the wrapped function's name)."""
    settings = {"accuracy": {"numeric": numeric}, "format": {"mode": mode}}
    return [functools.partial(REWARD_FUNCTIONS[name], **settings[name]) for name in names]

"""The text a model sees for one row: VSI-Bench's evaluation prompt and vsGRPO's training prompts.

Training (`train-grpo`) and prediction (`predict`) both build prompts here, so a model is trained and
measured on the same wording. The strings are VSI-Bench's and the vsGRPO paper's
(../docs/answer-rules.md cites them); they are data a user may want to vary, hence the `mode` switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from vsi_data.question_types import choice_types, numeric_types, post_prompts

# VSI-Bench: lettered answers (`MCA_QUESTION_TYPES`) versus numbers scored with MRA (`NA_QUESTION_TYPES`), from
# each type's answer kind.
MULTIPLE_CHOICE_TYPES = choice_types()
NUMERIC_TYPES = numeric_types()

PRE_PROMPT = "These are frames of a video."
BENCH_NUMERIC_INSTRUCTION = "Please answer the question using a single word or phrase."
BENCH_LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly."
# A question type's own instruction for a row without letters, where it declares one (none of VSI-Bench's do).
POST_PROMPTS = post_prompts()


class PromptMode(StrEnum):
    """vsGRPO's three training prompts; the released vsGRPO models use `vanilla`."""

    think = "think"
    observe = "observe"
    vanilla = "vanilla"


TRAINING_INSTRUCTIONS = {
    PromptMode.think: (
        "Please think step by step and enclose your thinking process in <think> </think> tags and then provide "
        "the short answer with one or two words or a number in <answer> </answer>."
    ),
    PromptMode.observe: (
        "Please observe carefully and analyze what you see that helps you to solve the question in the video and "
        "enclose it in <observe> </observe> tag, and then provide the short answer with one or two words or a "
        "number in <answer> </answer>."
    ),
    PromptMode.vanilla: "Please provide the short answer with one or two words or a number.",
}


def is_multiple_choice(question_type: str) -> bool:
    return question_type in MULTIPLE_CHOICE_TYPES


def options_block(options: Sequence[str] | None) -> str | None:
    """VSI-Bench's options text: "Options:" then one "A. …" entry per line; None without options."""
    if options is None or len(options) == 0:
        return None
    return "Options:\n" + "\n".join(options)


def benchmark_prompt(
    question: str, options: Sequence[str] | None, question_type: str | None = None, pre_prompt: str = PRE_PROMPT
) -> str:
    """VSI-Bench's evaluation prompt: lettered questions ask for the letter, the others for a short answer (or
    for what their question type's `post_prompt` asks)."""
    block = options_block(options)
    if block is None:
        return "\n".join([pre_prompt, question, POST_PROMPTS.get(question_type or "", BENCH_NUMERIC_INSTRUCTION)])
    return "\n".join([pre_prompt, question, block, BENCH_LETTER_INSTRUCTION])


def training_prompt(question: str, options: Sequence[str] | None, mode: PromptMode | str = PromptMode.vanilla) -> str:
    """vsGRPO's training prompt: the question (with its options, when the row has them) and the
    answer instruction of the prompt mode."""
    instruction = TRAINING_INSTRUCTIONS[PromptMode(mode)]
    parts = [question, options_block(options), instruction]
    return "\n".join(part for part in parts if part)

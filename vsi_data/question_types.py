"""Every question type, one entry each: what its answer is, where VSI-Bench scores it, how `inspect` draws it,
and which generator (if any) asks it. Prompts, metrics, scoring, training rewards and `inspect` read this table
instead of keeping their own lists; a new type is a generator module under `qa/generators/` plus one entry here
(and its templates and recipe settings, which are data).

Light on purpose (no generator is imported here): the CLI, eval and training read it without loading geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Answer = Literal["number", "word", "order"]
# How `vsi_data.viz.inspect` draws a row's evidence; "named" highlights the categories the question names.
Drawing = Literal["count", "size", "room", "abs_distance", "rel_distance", "direction", "named"]


@dataclass(frozen=True)
class QuestionType:
    # What the answer is without lettered options: a number (scored by mean relative accuracy), or a word or
    # an order among choices (scored by exact match; a recipe with `options: letters` asks for the letter).
    answer: Answer
    task: str  # VSI-Bench's task, a column of its score table; the levels of one task share it
    place: int  # the task's column, from the left (VSI-Bench's order: numeric tasks first)
    generator: str | None = None  # "module:Class" of its `Generator`; None: scored, never generated
    drawing: Drawing = "named"
    # The evaluation prompt's last line for a row without lettered options (`vsi_data.prompts.benchmark_prompt`);
    # None: VSI-Bench's "single word or phrase" post-prompt, which every VSI-Bench type uses. A lettered row always
    # asks for the letter.
    post_prompt: str | None = None

    @property
    def numeric(self) -> bool:
        return self.answer == "number"


_QA = "vsi_data.qa.generators"
QUESTION_TYPES: dict[str, QuestionType] = {
    "object_counting": QuestionType(
        answer="number", task="object_counting", place=0, generator=f"{_QA}.counting:ObjectCounting", drawing="count"
    ),
    "object_size_estimation": QuestionType(
        answer="number", task="object_size_estimation", place=2, generator=f"{_QA}.measures:ObjectSize", drawing="size"
    ),
    "room_size_estimation": QuestionType(
        answer="number", task="room_size_estimation", place=3, generator=f"{_QA}.measures:RoomSize", drawing="room"
    ),
    "object_abs_distance": QuestionType(
        answer="number",
        task="object_abs_distance",
        place=1,
        generator=f"{_QA}.distances:AbsoluteDistance",
        drawing="abs_distance",
    ),
    "object_rel_distance": QuestionType(
        answer="word",
        task="object_rel_distance",
        place=4,
        generator=f"{_QA}.distances:RelativeDistance",
        drawing="rel_distance",
    ),
    **{
        f"object_rel_direction_{level}": QuestionType(
            answer="word",
            task="object_rel_direction",
            place=5,
            generator=f"{_QA}.direction:RelativeDirection",
            drawing="direction",
        )
        for level in ("easy", "medium", "hard")
    },
    "obj_appearance_order": QuestionType(
        answer="order", task="obj_appearance_order", place=7, generator=f"{_QA}.appearance:AppearanceOrder"
    ),
    "route_planning": QuestionType(answer="word", task="route_planning", place=6),  # VSI-Bench's; not generated here
}


def post_prompts() -> dict[str, str]:
    """The types that declare their own answer instruction, and it."""
    return {name: spec.post_prompt for name, spec in QUESTION_TYPES.items() if spec.post_prompt is not None}


def numeric_types() -> frozenset[str]:
    return frozenset(name for name, spec in QUESTION_TYPES.items() if spec.numeric)


def choice_types() -> frozenset[str]:
    return frozenset(name for name, spec in QUESTION_TYPES.items() if not spec.numeric)


def task_order() -> tuple[str, ...]:
    """VSI-Bench's tasks in score-table order."""
    places = {spec.task: spec.place for spec in QUESTION_TYPES.values()}
    return tuple(sorted(places, key=places.__getitem__))

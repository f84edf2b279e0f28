"""The shared shape of a question generator.

A generator enumerates every candidate question of its type that passes its ambiguity filters, in a
deterministic order; the base class then samples up to the recipe's per-scene cap (all of them with
`--exhaustive`), picks a paraphrase, arranges options with balanced letters and renders the text.
Generators see only the `SceneContext`, never files or sources.
"""

from __future__ import annotations

import abc
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.options import LetterBalancer, lettered
from vsi_data.qa.question import Question
from vsi_data.qa.templates import Template

T = TypeVar("T")


def _union_options(annotation: Any) -> tuple[Any, ...]:
    """The members of `A | B` (or `Optional[A]`); empty for any other annotation."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in (types.UnionType, typing.Union) else ()


def _matches(value: Any, annotation: Any) -> bool:
    """Does a YAML value fit a Params annotation (int, float, str, bool, list, dict, or Optional of one)?"""
    if annotation is Any:
        return True
    options = _union_options(annotation)
    if options:
        return any(_matches(value, option) for option in options)
    if annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation) or annotation
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin)


def _describe(annotation: Any) -> str:
    """int, float or null, list, ...: the YAML-facing name of an annotation."""
    options = _union_options(annotation)
    if options:
        return " or ".join(_describe(option) for option in options)
    if annotation is type(None):
        return "null"
    return getattr(typing.get_origin(annotation) or annotation, "__name__", str(annotation))


def parse_params(cls: type[T], where: str, values: dict[str, Any]) -> T:
    """A settings dataclass (a generator's `Params`, the recipe's physical bounds) from YAML values: an unknown
    key or a value of the wrong type is an error naming `where`; the dataclass checks the ranges."""
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise ValueError(f"{where}: unknown settings {sorted(unknown)}; known: {sorted(hints)}")
    for name, value in values.items():
        if not _matches(value, hints[name]):
            raise ValueError(f"{where}.{name} must be {_describe(hints[name])}, not {value!r}")
    return cls(**values)


# Where a rule's value comes from, as the rules table in docs/answer-rules.md prints it.
VSIBENCH_CODE = "VSI-Bench code"
VSIBENCH_PAPER = "VSI-Bench paper"
VSGRPO_PAPER = "vsGRPO paper"
OURS = "ours"


_NO_OFF = object()


def documented(*, help: str, source: str, off: Any = _NO_OFF) -> dict[str, Any]:
    """The metadata of a recipe setting: what it does, where its value comes from (VSI-Bench code, a paper, or
    ours: VSI-Bench's value, and vsi100k's where it differs), and for a filter of ours the value that switches it
    off (the `vsibench` recipe keeps every such filter off). docs/answer-rules.md's rules table is generated from
    it (`vsi_data.qa.rules_table`), so no filter exists without a documented row."""
    return {"help": help, "source": source} | ({} if off is _NO_OFF else {"off": off})


def setting(default: Any, *, help: str, source: str, off: Any = _NO_OFF) -> Any:
    """A documented recipe setting with an immutable default (`field(metadata=documented(...))` otherwise)."""
    return field(default=default, metadata=documented(help=help, source=source, off=off))


@dataclass(frozen=True)
class Params:
    per_scene: int = setting(
        6,
        help="questions of this type per scene, at most, sampled with the scene's seed; `--exhaustive` keeps all",
        source=f"{VSIBENCH_CODE} (`num_subsample` 6, room size 1); vsi100k: ours, from the paper's per-type totals",
    )

    def __post_init__(self) -> None:
        if self.per_scene < 0:
            raise ValueError(f"per_scene must not be negative, not {self.per_scene}")


@dataclass(frozen=True)
class ChoiceParams(Params):
    option_order: str = setting(
        "balanced",
        help="balanced: the answer goes to the scene's least-used letter so far, other options shuffled; "
        "fixed: choices in the listed order",
        source=f"{VSIBENCH_CODE} (`from_options_to_mc_answer`)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.option_order not in ("balanced", "fixed"):
            raise ValueError(f"option_order must be 'balanced' or 'fixed', not {self.option_order!r}")


def unique_shortfall(ctx: SceneContext, needed: int) -> str | None:
    """The reason a type that names `needed` uniquely present categories has nothing to ask, or None."""
    if len(ctx.unique) >= needed:
        return None
    if needed == 1:
        return "no category appears exactly once"
    return f"fewer than {needed} categories appear exactly once"


@dataclass
class Candidate:
    objects: list[str]  # categories in the row's slot order
    answer: str  # the answer text: a number, or the correct choice
    fields: dict[str, str]  # template fields, except `choices` (filled once choices are ordered)
    meta: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    choices: list[str] | None = None  # multiple-choice types: every choice, answer included


class Generator(abc.ABC):
    Params: ClassVar[type[Params]] = Params
    fields: ClassVar[frozenset[str]] = frozenset()  # template fields this type fills
    needs_video: ClassVar[bool] = False  # asks about the scene's video: not generated by a --no-video build

    def __init__(self, question_type: str, params: Params, templates: tuple[Template, ...], lettered: bool) -> None:
        self.question_type = question_type
        self.params = params
        self.templates = templates
        self.lettered = lettered

    @classmethod
    def make_params(cls, question_type: str, values: dict[str, Any]) -> Params:
        return parse_params(cls.Params, question_type, values)

    @abc.abstractmethod
    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> Sequence[Candidate]:
        """Every question of this type the scene supports, filters applied, in a deterministic order.

        A sequence, not necessarily a list: a type with combinatorially many candidates can build each
        one on access, so sampling a few from millions costs only those few.
        """

    def why_none(self, ctx: SceneContext) -> str:
        """Why this scene gave no question of this type, in words that add up across scenes (no scene's own
        numbers), for the build's account of missing types. Subclasses name what they lacked first."""
        if not ctx.askable:
            return "no object the recipe's vocabulary names (or every one unmeasured)"
        return "the type's filters rejected every candidate"

    def sampled_from(self, candidates: Sequence[Candidate]) -> Sequence[Candidate]:
        """The candidates the per-scene sample is drawn from (all of them, unless a type narrows it the way
        VSI-Bench did); `--exhaustive` emits every candidate regardless."""
        return candidates

    def generate(self, ctx: SceneContext, rng: np.random.Generator, exhaustive: bool) -> list[Question]:
        candidates = self.candidates(ctx, rng)
        if not exhaustive:
            candidates = self.sampled_from(candidates)
            if len(candidates) > self.params.per_scene:
                keep = np.sort(rng.choice(len(candidates), self.params.per_scene, replace=False))
                candidates = [candidates[int(i)] for i in keep]
        balancer = LetterBalancer(rng)
        return [self._render(candidate, rng, balancer) for candidate in candidates]

    def _render(self, candidate: Candidate, rng: np.random.Generator, balancer: LetterBalancer) -> Question:
        template = self.templates[int(rng.integers(len(self.templates)))]
        fields = dict(candidate.fields)
        options = None
        answer = candidate.answer
        meta = {**candidate.meta, "template": template.id}
        if candidate.choices is not None:
            fixed = getattr(self.params, "option_order", "balanced") == "fixed"
            ordered, index = balancer.arrange(candidate.answer, candidate.choices, fixed_order=fixed)
            fields["choices"] = ", ".join(ordered)
            meta["choices"] = ordered
            if self.lettered:
                options = lettered(ordered)
                answer = options[index].split(".", 1)[0]
        return Question(
            question_type=self.question_type,
            question=template.text.format(**fields),
            answer=answer,
            objects=candidate.objects,
            options=options,
            answer_value=candidate.value,
            meta=meta,
        )

"""object_abs_distance and object_rel_distance, under the recipe's distance metric."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, combinations

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import (
    OURS,
    VSIBENCH_CODE,
    Candidate,
    ChoiceParams,
    Generator,
    Params,
    setting,
    unique_shortfall,
)
from vsi_data.qa.question import format_number


@dataclass(frozen=True)
class AbsDistanceParams(Params):
    decimals: int = setting(1, help="answer rounding: metres, one decimal", source=VSIBENCH_CODE)
    min_distance: float = setting(
        0.2,
        help="pairs whose rounded answer is below this are not asked (they read as touching, not as a distance)",
        source=f"{VSIBENCH_CODE} (`get_obj_abs_distance_qa.py`: rounded answers < 0.2 skipped); vsi100k: not in "
        "the paper",
    )
    max_distance: float | None = setting(
        None, help="pairs farther apart are not asked; null: off", source=OURS, off=None
    )


class AbsoluteDistance(Generator):
    """The distance between two uniquely present objects.

    Pairs are read in the scene's category order. Which object is named first carries no information: VSI-Bench
    names the later-listed one first (in its meta info's category order), so a scene whose source lists an order
    is asked that way; otherwise each pair's order is drawn.
    """

    Params = AbsDistanceParams
    fields = frozenset({"a", "b"})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        p: AbsDistanceParams = self.params
        listed = bool(ctx.scene.category_order)
        out = []
        for a, b in combinations(ctx.scene.in_listed_order(ctx.unique), 2):
            distance, inst_a, inst_b = ctx.closest_pair(a, b)
            text, value = format_number(distance, p.decimals)
            # The floor applies to the answer as asked (VSI-Bench skips answers that round below 0.2 m).
            if value < p.min_distance or (p.max_distance is not None and distance > p.max_distance):
                continue
            if listed or rng.random() < 0.5:
                a, b, inst_a, inst_b = b, a, inst_b, inst_a
            meta = {"distance_m": distance, "metric": ctx.metric_note, "instances": [inst_a, inst_b]}
            out.append(Candidate([a, b], text, {"a": a, "b": b}, meta, value))
        return out

    def why_none(self, ctx: SceneContext) -> str:
        return unique_shortfall(ctx, 2) or super().why_none(ctx)


@dataclass(frozen=True)
class RelDistanceParams(ChoiceParams):
    num_choices: int = setting(
        4,
        help="categories offered as choices",
        source=f'{VSIBENCH_CODE} (`get_obj_rel_distance_v1_qa.py`); vsGRPO paper: "4 other objects"',
    )
    min_closest: float = setting(
        0.15,
        help="the nearest choice must be at least this far from the target (metres): not touching it",
        source=f"{VSIBENCH_CODE} (`distance_to_object_threshold`); vsi100k: not in the paper",
    )
    min_gap: float = setting(
        0.15,
        help="every two choices' distances to the target must differ by more than this (metres)",
        source=f"{VSIBENCH_CODE} (`ambiguous`: any two within 0.15 m skipped); vsi100k: not in the paper",
    )
    choices_unique_only: bool = setting(
        False,
        help="true: only single-instance categories are choices; false: any askable category, its nearest "
        "instance counts",
        source=f"{VSIBENCH_CODE} (choices from every listed category)",
    )


class _ChoiceSets(Sequence[Candidate]):
    """The relative-distance candidates of a scene, built on access from per-target index arrays."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.blocks: list[tuple[str, list[str], np.ndarray, np.ndarray]] = []  # target, others, distances, combos
        self.starts = [0]

    def add(self, target: str, others: list[str], distances: np.ndarray, combos: np.ndarray) -> None:
        if len(combos):
            self.blocks.append((target, others, distances, combos))
            self.starts.append(self.starts[-1] + len(combos))

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        block = bisect.bisect_right(self.starts, index) - 1
        target, others, distances, combos = self.blocks[block]
        combo = combos[index - self.starts[block]]
        names = [others[i] for i in combo]
        dists = distances[combo]
        meta = {"distances_m": dict(zip(names, np.round(dists, 4).tolist(), strict=True)), "metric": self.metric}
        answer = names[int(np.argmin(dists))]
        return Candidate([target, *names], answer, {"target": target}, meta, choices=names)


class RelativeDistance(Generator):
    """Which of several categories is closest to a uniquely present target."""

    Params = RelDistanceParams
    fields = frozenset({"target", "choices"})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> Sequence[Candidate]:
        p: RelDistanceParams = self.params
        out = _ChoiceSets(ctx.metric_note)
        pool = ctx.unique if p.choices_unique_only else ctx.askable
        for target in ctx.unique:
            others = [c for c in pool if c != target]
            if len(others) < p.num_choices:
                continue
            distances = np.array([ctx.distance(target, c) for c in others])
            combos = np.fromiter(
                chain.from_iterable(combinations(range(len(others)), p.num_choices)), dtype=np.int32
            ).reshape(-1, p.num_choices)
            chosen = np.sort(distances[combos], axis=1)
            ok = (chosen[:, 0] >= p.min_closest) & np.all(np.diff(chosen, axis=1) > p.min_gap, axis=1)
            out.add(target, others, distances, combos[ok])
        return out

    def why_none(self, ctx: SceneContext) -> str:
        pool = ctx.unique if self.params.choices_unique_only else ctx.askable
        if ctx.unique and len(pool) <= self.params.num_choices:
            return f"fewer than num_choices {self.params.num_choices} categories besides the target"
        return unique_shortfall(ctx, 1) or super().why_none(ctx)

    def _render(self, candidate, rng, balancer):
        question = super()._render(candidate, rng, balancer)
        question.objects = [candidate.objects[0], *question.meta["choices"]]  # slots follow the shown order
        return question

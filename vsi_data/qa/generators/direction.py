"""object_rel_direction_{easy,medium,hard}: where is Q for someone standing by P and facing O.

Levels differ only in data: their sectors (name → [start, end) degrees counter-clockwise from the
facing direction), the choices offered, and the option order. A question is kept only when the three
objects are pairwise within a distance band, the angle of Q's centre is at least `min_margin` degrees
from every sector boundary, and at most `max_corners_disagreeing` of Q's box corners fall in another
sector than its centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from vsi_data.geometry.direction import read_direction
from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import Candidate, ChoiceParams, Generator

_LEFT_RIGHT_BACK = {"left": (0.0, 135.0), "back": (135.0, 225.0), "right": (225.0, 360.0)}
LEVEL_DEFAULTS: dict[str, dict] = {
    "object_rel_direction_easy": {
        "sectors": _LEFT_RIGHT_BACK, "choices": ["left", "right"],
    },
    "object_rel_direction_medium": {
        "sectors": _LEFT_RIGHT_BACK, "choices": ["left", "right", "back"],
    },
    "object_rel_direction_hard": {
        "sectors": {"front-left": (0.0, 90.0), "back-left": (90.0, 180.0),
                    "back-right": (180.0, 270.0), "front-right": (270.0, 360.0)},
        "choices": ["front-left", "front-right", "back-left", "back-right"],
    },
}  # fmt: skip


@dataclass(frozen=True)
class DirectionParams(ChoiceParams):
    sectors: dict[str, tuple[float, float]] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)  # answers outside these (e.g. "back" for easy) are skipped
    min_pair_distance: float = 0.3
    max_pair_distance: float = 5.0
    # On the floor plane, the facing and queried objects must be at least this far from the standing one:
    # a lamp on a table is 0.3 m from it in 3-D, but "facing the table" from the lamp has no direction.
    min_floor_distance: float = 0.3
    min_margin: float = 10.0  # degrees from any sector boundary
    margin_side: str = "both"  # "ahead": only the next boundary counter-clockwise (VSI-Bench's hard level)
    max_corners_disagreeing: int = 2
    all_orientations: bool = False  # VSI-Bench asks 3 of a triple's 6 (P, O, Q) orderings

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.margin_side not in ("both", "ahead"):
            raise ValueError(f"margin_side must be 'both' or 'ahead', not {self.margin_side!r}")
        missing = set(self.choices) - set(self.sectors)
        if not self.choices or missing:
            raise ValueError(f"direction choices {self.choices} need sectors (missing {sorted(missing)})")


class RelativeDirection(Generator):
    Params = DirectionParams
    fields = frozenset({"standing", "facing", "queried", "choices"})

    @classmethod
    def make_params(cls, question_type, values):
        return super().make_params(question_type, {**LEVEL_DEFAULTS.get(question_type, {}), **values})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        p: DirectionParams = self.params
        sectors = {name: tuple(span) for name, span in p.sectors.items()}
        out = []
        for triple in combinations(ctx.unique, 3):
            pair_distances = [ctx.distance(x, y) for x, y in combinations(triple, 2)]
            if not all(p.min_pair_distance <= d <= p.max_pair_distance for d in pair_distances):
                continue
            a, b, c = triple
            orders = [(a, b, c), (a, c, b), (b, a, c)]
            if p.all_orientations:
                orders += [(b, c, a), (c, a, b), (c, b, a)]
            for standing, facing, queried in orders:
                box_p, box_o, box_q = (ctx.objects(name)[0].box for name in (standing, facing, queried))
                floor = np.linalg.norm(
                    [box_o.center[:2] - box_p.center[:2], box_q.center[:2] - box_p.center[:2]], axis=1
                )
                if floor.min() < p.min_floor_distance:
                    continue
                reading = read_direction(
                    box_p.center, box_o.center, box_q.center, box_q.corners(), sectors, p.margin_side
                )
                if (
                    reading.sector not in p.choices
                    or reading.margin < p.min_margin
                    or reading.corners_disagreeing > p.max_corners_disagreeing
                ):
                    continue
                meta = {
                    "angle_deg": round(reading.angle, 3),
                    "margin_deg": round(reading.margin, 3),
                    "corners_disagreeing": reading.corners_disagreeing,
                    "pair_distances_m": [round(d, 4) for d in pair_distances],
                    "metric": ctx.metric_note,
                }
                fields = {"standing": standing, "facing": facing, "queried": queried}
                out.append(
                    Candidate([standing, facing, queried], reading.sector, fields, meta, choices=list(p.choices))
                )
        return out

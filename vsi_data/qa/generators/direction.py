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

from vsi_data.geometry.direction import read_directions
from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import Candidate, ChoiceParams, Generator, unique_shortfall

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
# (standing, facing, queried) as positions in a triple: VSI-Bench's 3 orderings first, then the other 3.
_ORDERS = np.array([(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)])


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
        """Every (P, O, Q) of the unique objects, read in one numpy pass; listed triple by triple, then by ordering."""
        p: DirectionParams = self.params
        names = ctx.unique
        if len(names) < 3:
            return []
        distance = np.zeros((len(names), len(names)))
        for i, j in combinations(range(len(names)), 2):
            distance[i, j] = distance[j, i] = ctx.distance(names[i], names[j])
        in_band = (p.min_pair_distance <= distance) & (distance <= p.max_pair_distance)
        triples = np.array(list(combinations(range(len(names)), 3)))
        a, b, c = triples.T
        triples = triples[in_band[a, b] & in_band[a, c] & in_band[b, c]]
        roles = triples[:, _ORDERS if p.all_orientations else _ORDERS[:3]].reshape(-1, 3)
        boxes = [ctx.objects(name)[0].box for name in names]
        centers = np.array([box.center for box in boxes])
        floor = np.linalg.norm(centers[None, :, :2] - centers[:, None, :2], axis=-1)  # [i, j]: from i to j
        standing, facing, queried = roles.T
        apart = (floor[standing, facing] >= p.min_floor_distance) & (floor[standing, queried] >= p.min_floor_distance)
        roles = roles[apart]
        standing, facing, queried = roles.T
        corners = np.array([box.corners() for box in boxes])
        sectors = {name: tuple(span) for name, span in p.sectors.items()}
        readings = read_directions(
            centers[standing], centers[facing], centers[queried], corners[queried], sectors, p.margin_side
        )
        kept = np.flatnonzero(
            np.isin(readings.sectors, p.choices)
            & (readings.margins >= p.min_margin)
            & (readings.corners_disagreeing <= p.max_corners_disagreeing)
        )
        rounded = [[round(d, 4) for d in row] for row in distance.tolist()]  # Python floats, as in the rows
        metric = ctx.metric_note
        out = []
        for order, sector, angle, margin, disagreeing in zip(
            roles[kept].tolist(),
            readings.sectors[kept].tolist(),
            readings.angles[kept].tolist(),
            readings.margins[kept].tolist(),
            readings.corners_disagreeing[kept].tolist(),
            strict=True,
        ):
            a, b, c = sorted(order)  # the triple, in `combinations` order
            meta = {
                "angle_deg": round(angle, 3),
                "margin_deg": round(margin, 3),
                "corners_disagreeing": disagreeing,
                "pair_distances_m": [rounded[a][b], rounded[a][c], rounded[b][c]],
                "metric": metric,
            }
            objects = [names[i] for i in order]
            fields = dict(zip(("standing", "facing", "queried"), objects, strict=True))
            out.append(Candidate(objects, sector, fields, meta, choices=list(p.choices)))
        return out

    def why_none(self, ctx: SceneContext) -> str:
        return unique_shortfall(ctx, 3) or super().why_none(ctx)

"""object_rel_direction_{easy,medium,hard}: where is Q for someone standing by P and facing O.

Levels differ only in data: their sectors (name → [start, end) degrees counter-clockwise from the
facing direction), the choices offered, and the margin rule. A question is kept only when the three
objects are pairwise within a distance band, the angle of Q's centre is at least `min_margin` degrees
from a sector boundary (on one side or both), and at most `max_corners_disagreeing` of Q's box corners
fall in another sector than its centre. Every filter is a recipe setting (docs/answer-rules.md).

Of a triple's six (P, O, Q) orderings VSI-Bench asks three, (a, b, c), (a, c, b), (b, a, c) in its
category order (its meta info's); triples are read in the scene's category order (the source's where it
lists one, else alphabetical). The per-scene sample is drawn from those three unless `all_orientations`,
while `--exhaustive` emits every ordering that passes the filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np

from vsi_data.geometry.direction import read_directions
from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import (
    OURS,
    VSIBENCH_CODE,
    Candidate,
    ChoiceParams,
    Generator,
    documented,
    setting,
    unique_shortfall,
)

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
VSIBENCH_ORDERINGS = 3


@dataclass(frozen=True)
class DirectionParams(ChoiceParams):
    sectors: dict[str, tuple[float, float]] = field(
        default_factory=dict,
        metadata=documented(
            help="answer sectors: name → [start, end) degrees counter-clockwise from the facing direction, in the "
            "floor plane",
            source=f"{VSIBENCH_CODE} (hard: `angle // 90`; easy, medium: `np.digitize(angle, [0, 135, 225, 360])`); "
            'the medium wording\'s "turn at least 135 degrees"',
        ),
    )
    choices: list[str] = field(
        default_factory=list,
        metadata=documented(
            help="the sectors offered as options; an answer outside them is not asked (easy drops back)",
            source=f"{VSIBENCH_CODE} (`get_obj_rel_direction_v3_qa.py` skips back)",
        ),
    )
    min_pair_distance: float = setting(
        0.3,
        help="every two of the three objects at least this far apart (metres, the recipe's distance)",
        source=f"{VSIBENCH_CODE} (`ambiguous(min_dist=0.30, max_dist=5.0)`); vsi100k: not in the paper",
    )
    max_pair_distance: float = setting(
        5.0, help="every two of the three objects at most this far apart (metres)", source=f"{VSIBENCH_CODE}"
    )
    min_floor_distance: float = setting(
        0.0,
        help="in the floor plane, the facing and queried centres at least this far from the standing one: a lamp "
        "on a table is 0.3 m from it in 3-D, but facing the table from the lamp has no direction; 0: off",
        source=f"{OURS} (vsi100k); not a VSI-Bench rule (0 in vsibench)",
        off=0.0,
    )
    min_margin: float = setting(
        10.0,
        help="degrees between the queried centre's angle and a sector boundary, at least",
        source=f"{VSIBENCH_CODE} (`ambiguity_threshold = 10`); vsi100k: not in the paper",
    )
    margin_side: str = setting(
        "both",
        help="both: the nearest boundary either way; ahead: only the next boundary counter-clockwise",
        source=f"{VSIBENCH_CODE}: hard `90 - angle % 90 < 10` (ahead), easy and medium "
        "`abs(angle - [0, 135, 225, 360]).min() < 10` (both); vsi100k: ours, both at every level",
    )
    max_corners_disagreeing: int = setting(
        2,
        help="of the queried box's 8 corners, at most this many in another sector than its centre",
        source=f"{VSIBENCH_CODE} (more than 2 corners in another bin skipped); vsi100k: not in the paper",
    )
    all_orientations: bool = setting(
        False,
        help="sample from all 6 (standing, facing, queried) orderings of a triple; false: from VSI-Bench's 3. "
        "`--exhaustive` emits all 6 either way",
        source=f"{VSIBENCH_CODE} (orderings (a, b, c), (a, c, b), (b, a, c) of each triple)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.margin_side not in ("both", "ahead"):
            raise ValueError(f"margin_side must be 'both' or 'ahead', not {self.margin_side!r}")
        for name, span in self.sectors.items():
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in span)
                or not 0 <= span[0] < span[1] <= 360
            ):
                raise ValueError(
                    f"sector {name!r} must be [start, end] degrees with 0 <= start < end <= 360, not {span}"
                )
        object.__setattr__(self, "sectors", {name: (float(a), float(b)) for name, (a, b) in self.sectors.items()})
        spans = sorted(self.sectors.values())
        if any(later[0] < earlier[1] for earlier, later in pairwise(spans)):
            raise ValueError(f"sectors overlap: {self.sectors}")
        missing = set(self.choices) - set(self.sectors)
        if not self.choices or missing:
            raise ValueError(f"direction choices {self.choices} need sectors (missing {sorted(missing)})")


@dataclass
class _DirectionCandidate(Candidate):
    ordering: int = 0  # index into _ORDERS: below VSIBENCH_ORDERINGS, one VSI-Bench asks


class RelativeDirection(Generator):
    Params = DirectionParams
    fields = frozenset({"standing", "facing", "queried", "choices"})

    @classmethod
    def make_params(cls, question_type, values):
        return super().make_params(question_type, {**LEVEL_DEFAULTS.get(question_type, {}), **values})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[_DirectionCandidate]:
        """Every (P, O, Q) of the unique objects, read in one numpy pass; listed triple by triple, then by ordering."""
        p: DirectionParams = self.params
        names = ctx.scene.in_listed_order(ctx.unique)
        if len(names) < 3:
            return []
        distance = np.zeros((len(names), len(names)))
        for i, j in combinations(range(len(names)), 2):
            distance[i, j] = distance[j, i] = ctx.distance(names[i], names[j])
        in_band = (p.min_pair_distance <= distance) & (distance <= p.max_pair_distance)
        triples = np.array(list(combinations(range(len(names)), 3)))
        a, b, c = triples.T
        triples = triples[in_band[a, b] & in_band[a, c] & in_band[b, c]]
        roles = triples[:, _ORDERS].reshape(-1, 3)
        orderings = np.tile(np.arange(len(_ORDERS)), len(triples))
        boxes = [ctx.objects(name)[0].box for name in names]
        centers = np.array([box.center for box in boxes])
        floor = np.linalg.norm(centers[None, :, :2] - centers[:, None, :2], axis=-1)  # [i, j]: from i to j
        standing, facing, queried = roles.T
        apart = (floor[standing, facing] >= p.min_floor_distance) & (floor[standing, queried] >= p.min_floor_distance)
        roles, orderings = roles[apart], orderings[apart]
        standing, facing, queried = roles.T
        corners = np.array([box.corners() for box in boxes])
        readings = read_directions(
            centers[standing], centers[facing], centers[queried], corners[queried], p.sectors, p.margin_side
        )
        kept = np.flatnonzero(
            np.isin(readings.sectors, p.choices)
            & (readings.margins >= p.min_margin)
            & (readings.corners_disagreeing <= p.max_corners_disagreeing)
        )
        rounded = [[round(d, 4) for d in row] for row in distance.tolist()]  # Python floats, as in the rows
        metric = ctx.metric_note
        out = []
        for order, ordering, sector, angle, margin, disagreeing in zip(
            roles[kept].tolist(),
            orderings[kept].tolist(),
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
            out.append(_DirectionCandidate(objects, sector, fields, meta, choices=list(p.choices), ordering=ordering))
        return out

    def why_none(self, ctx: SceneContext) -> str:
        return unique_shortfall(ctx, 3) or super().why_none(ctx)

    def sampled_from(self, candidates: Sequence[_DirectionCandidate]) -> Sequence[_DirectionCandidate]:
        """VSI-Bench's three orderings of each triple, unless the recipe samples from all six."""
        if self.params.all_orientations:
            return candidates
        return [c for c in candidates if c.ordering < VSIBENCH_ORDERINGS]

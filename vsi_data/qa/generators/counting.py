"""object_counting: how many instances of a category the room holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import OURS, VSIBENCH_CODE, Candidate, Generator, Params, setting


@dataclass(frozen=True)
class CountingParams(Params):
    min_count: int = setting(
        2,
        help="categories with fewer instances are not asked (a count of 1 is asked by size and distance questions)",
        source=f"{VSIBENCH_CODE} (`get_obj_count_qa.py`: counts <= 1 skipped); vsi100k: not in the paper",
    )
    max_count: int | None = setting(
        None, help="categories with more instances are not asked; null: off", source=OURS, off=None
    )


class ObjectCounting(Generator):
    Params = CountingParams
    fields = frozenset({"category"})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        p: CountingParams = self.params
        out = []
        for category in ctx.askable:
            count = len(ctx.objects(category))
            if count < p.min_count or (p.max_count is not None and count > p.max_count):
                continue
            instances = sorted(obj.instance_id for obj in ctx.objects(category))
            out.append(
                Candidate(
                    objects=[category],
                    answer=str(count),
                    value=float(count),
                    fields={"category": category},
                    meta={"count": count, "instances": instances},
                )
            )
        return out

    def why_none(self, ctx: SceneContext) -> str:
        if ctx.askable and all(len(ctx.objects(c)) < self.params.min_count for c in ctx.askable):
            return f"no category has min_count {self.params.min_count} or more instances"
        return super().why_none(ctx)

"""object_counting: how many instances of a category the room holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import Candidate, Generator, Params


@dataclass(frozen=True)
class CountingParams(Params):
    min_count: int = 2  # VSI-Bench never asks about a category seen once
    max_count: int | None = None


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

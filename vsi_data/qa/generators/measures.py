"""object_size_estimation and room_size_estimation: one measured number each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import OURS, VSIBENCH_CODE, Candidate, Generator, Params, setting, unique_shortfall
from vsi_data.qa.question import format_number


@dataclass(frozen=True)
class SizeParams(Params):
    decimals: int = setting(
        0, help="answer rounding: whole centimetres", source=f"{VSIBENCH_CODE} (`round(max(axesLengths) * 100)`)"
    )
    min_size_cm: float = setting(
        0.0, help="objects whose longest side is shorter are not asked; 0: off", source=OURS, off=0.0
    )


class ObjectSize(Generator):
    """The longest side of a uniquely present object's box, in centimetres."""

    Params = SizeParams
    fields = frozenset({"category"})

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        p: SizeParams = self.params
        out = []
        for category in ctx.unique:
            obj = ctx.objects(category)[0]
            size_cm = obj.box.longest_side * 100.0
            if size_cm < p.min_size_cm:
                continue
            text, value = format_number(size_cm, p.decimals)
            meta = {
                "size_cm": size_cm,
                "extents_m": obj.box.extents.round(4).tolist(),
                "instance": obj.instance_id,
            }
            out.append(Candidate([category], text, {"category": category}, meta, value))
        return out

    def why_none(self, ctx: SceneContext) -> str:
        return unique_shortfall(ctx, 1) or super().why_none(ctx)


@dataclass(frozen=True)
class RoomParams(Params):
    per_scene: int = 1
    decimals: int = setting(1, help="answer rounding: square metres, one decimal", source=f"{VSIBENCH_CODE}")
    min_area: float = setting(
        1.0,
        help="rooms measuring less are not asked: such an area means a broken scan, not a tiny room; 0: off",
        source=f"{OURS} (vsi100k); VSI-Bench asks every scene (0 in vsibench)",
        off=0.0,
    )


class RoomSize(Generator):
    """The floor area of the scanned space (the alpha shape of the scene's points)."""

    Params = RoomParams

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        p: RoomParams = self.params
        room = ctx.scene.room
        if room is None or room.area < p.min_area:
            return []
        text, value = format_number(room.area, p.decimals)
        return [Candidate([], text, {}, {"area_m2": room.area, "method": room.method}, value)]

    def why_none(self, ctx: SceneContext) -> str:
        if ctx.scene.room is None:
            return "no room measurement"
        return f"room smaller than min_area {self.params.min_area:g} m²"

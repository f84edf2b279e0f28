"""obj_appearance_order: in which order do four categories first appear in the video?

A category's first appearance is the earliest video time (frame / fps) at which any of its instances is
visible (`vsi_data.geometry.visibility`: projected into the frame, not hidden behind nearer geometry per the
depth stream, covering a minimum area). As in VSI-Bench, times are rounded to whole seconds and a set of four
is asked only when every two of its categories' times differ by more than `min_gap_s`; the categories are
listed in the question in random order and the three distractors are other orders, drawn at random.
Scenes without frames or without depth are not asked about (counted in the scene's stats as
`appearance_order_no_frames` / `appearance_order_no_depth`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np

from vsi_data.geometry.visibility import VisibilityRule, first_visible_frames, object_samples
from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import OURS, VSIBENCH_CODE, Candidate, ChoiceParams, Generator, setting

_SEEN = f"{OURS}: VSI-Bench read first appearances from per-frame projected instance boxes of its frame metadata"


@dataclass(frozen=True)
class AppearanceParams(ChoiceParams):
    num_categories: int = setting(4, help="categories put in order", source=f"{VSIBENCH_CODE} (`combinations(..., 4)`)")
    num_choices: int = setting(
        4, help="options: the right order and this many minus one other orders, drawn at random", source=VSIBENCH_CODE
    )
    min_gap_s: float = setting(
        1.0,
        help="every two categories' first appearances differ by more than this (seconds)",
        source=f"{VSIBENCH_CODE} (`SAVE_MARGIN = 1`, a difference <= 1 s skipped)",
    )
    whole_seconds: bool = setting(
        True, help="compare times rounded to whole seconds", source=f"{VSIBENCH_CODE} (`round(frame_id / fps)`)"
    )
    depth_tolerance: float = setting(
        0.05, help="a point is seen unless the depth at its pixel is nearer by more than this (metres) …", source=_SEEN
    )
    depth_tolerance_rel: float = setting(0.02, help="… plus this fraction of the measured depth", source=_SEEN)
    min_visible_area: float = setting(
        0.005, help="an object is visible when its seen cells cover this fraction of the frame", source=_SEEN
    )
    cell_px: int = setting(8, help="the cell size (pixels) that visible area is measured in", source=_SEEN)
    samples_per_second: float = setting(4.0, help="frames evaluated per second of video", source=_SEEN)

    def __post_init__(self) -> None:
        super().__post_init__()
        orders = 1
        for k in range(2, self.num_categories + 1):
            orders *= k
        if self.num_categories < 2 or not 2 <= self.num_choices <= min(orders, 8):
            raise ValueError(
                f"num_categories must be at least 2 and num_choices between 2 and min({orders}, 8), "
                f"not {self.num_categories} and {self.num_choices}"
            )
        if self.cell_px < 1 or self.samples_per_second <= 0:
            raise ValueError("cell_px must be at least 1 and samples_per_second positive")

    @property
    def rule(self) -> VisibilityRule:
        names = {f.name for f in dataclasses.fields(VisibilityRule)} - {"near"}
        return VisibilityRule(**{name: getattr(self, name) for name in names})


class _OrderSets(Sequence[Candidate]):
    """The candidates of a scene, built on access; candidate i's shuffles come from its own seed, so which
    candidates a scene samples does not change the others."""

    def __init__(self, combos: np.ndarray, categories: list[str], meta: dict, p: AppearanceParams, seed: int) -> None:
        self.combos, self.categories, self.meta, self.p, self.seed = combos, categories, meta, p, seed

    def __len__(self) -> int:
        return len(self.combos)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        order = [self.categories[i] for i in self.combos[index]]  # categories are sorted by first appearance
        listed = [order[i] for i in rng.permutation(len(order))]
        others = [list(perm) for perm in permutations(order) if list(perm) != order]
        distractors = [others[i] for i in rng.choice(len(others), self.p.num_choices - 1, replace=False)]
        answer = ", ".join(order)
        meta = {
            "first_appearance_s": {c: self.meta["times"][c] for c in order},
            "first_frame": {c: self.meta["frames"][c] for c in order},
            "instances": {c: self.meta["instances"][c] for c in order},
            "fps": self.meta["fps"],
        }
        choices = [answer, *(", ".join(d) for d in distractors)]
        return Candidate(listed, answer, {"categories": ", ".join(listed)}, meta, choices=choices)


class AppearanceOrder(Generator):
    Params = AppearanceParams
    fields = frozenset({"categories", "choices"})
    needs_video = True

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> Sequence[Candidate]:
        p: AppearanceParams = self.params
        frames = ctx.scene.frames
        seed = int(rng.integers(2**63))
        if frames is None or frames.depth is None:  # said in the manifest's parse_stats, not silently skipped
            ctx.scene.stats["appearance_order_no_frames" if frames is None else "appearance_order_no_depth"] += 1
            return []
        objects = [obj for c in ctx.askable for obj in ctx.objects(c)]
        first = first_visible_frames(frames, [object_samples(o.points, o.box) for o in objects], p.rule)
        earliest: dict[str, tuple[int, int]] = {}  # category → (frame, instance id)
        for obj, frame in zip(objects, first.tolist(), strict=True):
            if frame >= 0 and (obj.category not in earliest or frame < earliest[obj.category][0]):
                earliest[obj.category] = (frame, obj.instance_id)
        categories = sorted(earliest, key=lambda c: (earliest[c][0], c))
        times = np.array([float(frames.video_time(earliest[c][0])) for c in categories])
        key = np.round(times) if p.whole_seconds else times
        combos = np.array(list(combinations(range(len(categories)), p.num_categories)), dtype=np.int64)
        combos = combos.reshape(-1, p.num_categories)
        combos = combos[np.all(np.diff(key[combos], axis=1) > p.min_gap_s, axis=1)]  # sorted: neighbours suffice
        meta = {
            "times": {c: round(t, 3) for c, t in zip(categories, times.tolist(), strict=True)},
            "frames": {c: earliest[c][0] for c in categories},
            "instances": {c: earliest[c][1] for c in categories},
            "fps": frames.fps,
        }
        return _OrderSets(combos, categories, meta, p, seed)

    def why_none(self, ctx: SceneContext) -> str:
        p: AppearanceParams = self.params
        frames = ctx.scene.frames
        if frames is None:
            return "no camera stream"
        if not frames.valid.any():
            return "no frame has a usable camera pose"
        if frames.depth is None:
            return "no depth stream (visibility is depth-tested)"
        needed = self.video_needed_s
        if float(frames.video_time(len(frames))) < needed:
            return (
                f"too little video: {p.num_categories} first appearances more than {p.min_gap_s:g} s apart "
                f"need about {needed:g} s"
            )
        return f"fewer than {p.num_categories} categories first appear far enough apart"

    @property
    def video_needed_s(self) -> float:
        """The shortest video that can hold a question: consecutive first appearances more than `min_gap_s` apart
        (in whole seconds, the next whole second beyond it), from the first one at 0 s."""
        p: AppearanceParams = self.params
        step = math.floor(p.min_gap_s) + 1 if p.whole_seconds else p.min_gap_s
        return (p.num_categories - 1) * step

"""Questions only about what the video shows: the recipe's `visibility:` section.

VSI-Bench and VSI-100k name any annotated object, seen in the video or not; ReVSI found that with the 16-64
frames a model is shown, queried objects are often never in view, so the answer cannot come from the input.
With `require_visible` listing a type, a question of that type names only categories *every* instance of which
is visible (`vsi_data.geometry.visibility`: depth-tested, covering `min_visible_area` of a frame) in at least
one of the frames the model sees: the whole video (its frames evaluated `samples_per_second` times a second),
or the `frames` a model is shown, spread uniformly as `predict` and VSI-Bench's lmms-eval sample them.
Every instance, because every answer may rest on any of them: a count counts them all, a distance is the
nearest pair's, a size or direction names a category that has one instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsi_data.geometry.visibility import VisibilityRule, evaluated_frames, first_visible_frames, object_samples
from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import OURS, Generator, setting
from vsi_data.scene import FrameStream, SceneObject
from vsi_data.video.sampler import uniform_indices

_REVSI = f"{OURS}: ReVSI's complaint (objects unseen in the sampled frames); VSI-Bench and VSI-100k filter nothing"


@dataclass(frozen=True)
class VisibilitySettings:
    """The recipe's `visibility:` section: which types ask only about categories the video shows."""

    require_visible: tuple[str, ...] = setting(
        (),
        help="question types that name only categories every instance of which is visible in the video "
        "(depth-tested; a source without depth is refused); empty: off",
        source=_REVSI,
        off=(),
    )
    frames: int | None = setting(
        None,
        help="visible in one of this many frames spread uniformly over the video (what a model shown that many "
        "sees); null: in any frame, evaluated `samples_per_second` (4) times a second",
        source=_REVSI,
    )
    min_visible_area: float = setting(
        0.005, help="an instance is visible when its seen cells cover this fraction of a frame", source=_REVSI
    )

    def __post_init__(self) -> None:
        if self.frames is not None and self.frames < 1:
            raise ValueError(f"frames must be at least 1 or null, not {self.frames}")
        if not 0 < self.min_visible_area <= 1:
            raise ValueError(f"min_visible_area must be in (0, 1], not {self.min_visible_area}")

    @property
    def on(self) -> bool:
        return bool(self.require_visible)

    @property
    def rule(self) -> VisibilityRule:
        return VisibilityRule(min_visible_area=self.min_visible_area)


def shown_frames(frames: FrameStream, settings: VisibilitySettings) -> np.ndarray:
    """The frame indices whose view counts as shown, valid poses only (a frame without one cannot be tested)."""
    if settings.frames is None:
        return evaluated_frames(frames.valid, frames.fps, settings.rule.samples_per_second)
    shown = uniform_indices(len(frames), settings.frames)
    return shown[frames.valid[shown]]


def visible_objects(frames: FrameStream, objects: list[SceneObject], settings: VisibilitySettings) -> np.ndarray:
    """(len(objects),) whether each object is visible in one of the shown frames; the stream must have depth."""
    samples = [object_samples(obj.points, obj.box) for obj in objects]
    return first_visible_frames(frames, samples, settings.rule, shown_frames(frames, settings)) >= 0


def unseen_categories(ctx: SceneContext, settings: VisibilitySettings) -> frozenset[str] | None:
    """The askable categories with an instance the video does not show, computed once per scene and settings;
    None when the scene has no depth stream to test visibility with."""
    key = (settings.frames, settings.min_visible_area)
    if key not in ctx.unseen:
        frames = ctx.scene.frames
        if frames is None or frames.depth is None:
            ctx.unseen[key] = None
        else:
            objects = [obj for category in ctx.askable for obj in ctx.objects(category)]
            seen = visible_objects(frames, objects, settings)
            ctx.unseen[key] = frozenset(obj.category for obj, ok in zip(objects, seen.tolist(), strict=True) if not ok)
    return ctx.unseen[key]


def visible_context(
    ctx: SceneContext, settings: VisibilitySettings, generator: Generator
) -> tuple[SceneContext, str | None]:
    """`ctx` with the categories the video does not show hidden from `generator`, and, when that drops any of
    its candidates, why (the reason the scene gives if the type is left with none). The candidates dropped are
    counted in the scene's stats (the manifest's `parse_stats`) as `visibility_dropped.<why>.<type>`."""
    unseen = unseen_categories(ctx, settings)
    why = "unseen" if unseen is not None else "no_depth"
    hidden = frozenset(ctx.askable) if unseen is None else unseen
    if not hidden:
        return ctx, None
    narrowed = ctx.hiding(hidden)
    counting = np.random.default_rng(0)  # which candidates exist never depends on the generator's rng
    dropped = len(generator.candidates(ctx, counting)) - len(generator.candidates(narrowed, counting))
    if not dropped:
        return narrowed, None
    ctx.scene.stats[f"visibility_dropped.{why}.{generator.question_type}"] += dropped
    return narrowed, WHY_NONE[why]


WHY_NONE = {
    "unseen": "every question names a category with an instance the video does not show",
    "no_depth": "no depth stream to test what the video shows (the recipe's visibility)",
}

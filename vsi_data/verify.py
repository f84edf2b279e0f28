"""`vsi-data verify`: does a build's (or a raw scan's) geometry agree with VSI-Bench's released meta info?

For every scene present in both, the objects and answers we derive are set against the benchmark's own
annotations (`*_meta_info_val.json`): per category the instance count; per category the boxes, paired by the
Hungarian method on centre distances (`scipy.optimize.linear_sum_assignment`) and compared by centre distance,
extents and rotation; the room area; and every question's answer recomputed on the released boxes with the
build's own rules. What agrees within the stated tolerances and what does not is reported per scene and in
total. Our scenes come from a build (re-opened from its manifest, as `inspect` does: a build holds questions,
not geometry) or from raw scans parsed now (`--root` + `--source`).

The meta info is read as `--source vsibench-meta` reads it (duplicate boxes dropped), so a category whose
released count disagrees with its released boxes is compared by its boxes, and its questions are reported as
not comparable rather than as differences.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.geometry.direction import read_direction
from vsi_data.qa import Recipe, RecipeError, SceneContext, generate_questions, load_recipe, question_id
from vsi_data.qa.question import format_number
from vsi_data.registry import open_source
from vsi_data.scene import Scene, SceneObject
from vsi_data.sources import SceneError, SceneSource, SourceUnavailable
from vsi_data.sources.vsibench_meta import VsiBenchMetaConfig, VsiBenchMetaSource

META_NAMESPACE = VsiBenchMetaSource.label_namespace


class VerifyError(ValueError):
    """Verification cannot run (a missing or foreign file, no scene in common); one line naming the file."""


@dataclass(frozen=True)
class Tolerances:
    centre_m: float = 0.05  # box centres at most this far apart
    extent_m: float = 0.05  # each side length within this (also the tolerance of size answers, in cm × 100)
    rotation_deg: float = 5.0  # the smallest rotation between the boxes (up to their symmetry); yaw when upright
    room_rel: float = 0.02  # room areas within this fraction of the released one: VSI-Bench's area is of an
    # unseeded 10,000-point sample, which moves it by 0.3% (30 draws on the real scene0470_00 mesh)
    distance_m: float = 0.1  # distance answers within one rounding step: box_grid follows the boxes' last bits
    match_m: float = 1.0  # a box farther than this from every released box of its category has no partner


# The 24 proper rotations that map a box onto itself: its axes permuted and flipped, determinant +1.
_SYMMETRIES = np.array(
    [
        turn
        for order in itertools.permutations(range(3))
        for signs in itertools.product((1.0, -1.0), repeat=3)
        if np.linalg.det(turn := np.eye(3)[:, order] * signs) > 0
    ]
)


def box_difference(ours: OrientedBox, meta: OrientedBox) -> tuple[float, float, float]:
    """(centre distance m, largest side-length difference m, rotation degrees) between two boxes.

    A box is the same box under any of its 24 symmetries (its axes relabelled or flipped), so the rotation is the
    smallest angle between our axes and the released box's axes under one of them, and the sides are compared
    under that relabelling. For boxes standing upright it is the difference in yaw, modulo 90°.
    """
    turns = np.einsum("ji,kjl->kil", ours.rotation, meta.rotation @ _SYMMETRIES)  # ours → theirs, every labelling
    cosines = (np.trace(turns, axis1=1, axis2=2) - 1.0) / 2.0
    sines = np.linalg.norm(turns - np.swapaxes(turns, 1, 2), axis=(1, 2)) / (2.0 * math.sqrt(2.0))
    angles = np.degrees(np.arctan2(sines, cosines))  # exact near 0, where an arccos of the cosine is not
    best = int(np.argmin(angles))
    sides = np.abs(_SYMMETRIES[best]).T @ meta.extents  # the released sides in our axes' order
    centre = float(np.linalg.norm(ours.center - meta.center))
    return centre, float(np.max(np.abs(ours.extents - sides))), float(angles[best])


@dataclass
class BoxPair:
    ours: int  # instance id in our scene
    meta: int  # index among the released boxes of the category
    centre_m: float
    extent_m: float
    rotation_deg: float
    agrees: bool


@dataclass
class CategoryResult:
    category: str
    ours: int
    meta: int
    pairs: list[BoxPair] = field(default_factory=list)
    unmatched_ours: list[int] = field(default_factory=list)  # instance ids without a released partner
    unmatched_meta: list[int] = field(default_factory=list)  # released boxes without one of ours


@dataclass
class AnswerResult:
    id: str
    question_type: str
    objects: list[str]
    ours: str
    meta: str | None
    status: str  # agree, differ, not comparable
    note: str = ""


def _area(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f} m²"


@dataclass
class SceneResult:
    scene_id: str
    dataset: str
    categories: list[CategoryResult] = field(default_factory=list)
    room_ours: float | None = None
    room_meta: float | None = None
    room_agrees: bool = True
    answers: list[AnswerResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the meta info says of itself (disagreeing counts)
    error: str | None = None  # our scene could not be read

    @property
    def differences(self) -> list[str]:
        """One line per disagreement, readable on its own."""
        if self.error:
            return [f"could not be read: {self.error}"]
        lines = []
        for c in self.categories:
            if c.ours != c.meta:
                lines.append(f"{c.category}: {c.ours} instances, the meta info has {c.meta}")
            lines += [f"{c.category}: our instance {i} has no released box within reach" for i in c.unmatched_ours]
            lines += [f"{c.category}: released box {i} has no instance of ours within reach" for i in c.unmatched_meta]
            lines += [
                f"{c.category}: instance {p.ours} vs released box {p.meta}: centre {p.centre_m:.3f} m apart, sides "
                f"{p.extent_m:.3f} m off, turned {p.rotation_deg:.1f}°"
                for p in c.pairs
                if not p.agrees
            ]
        if not self.room_agrees:
            lines.append(f"room: {_area(self.room_ours)}, the meta info has {_area(self.room_meta)}")
        lines += [
            f"{a.id} ({a.question_type}, {', '.join(a.objects)}): ours {a.ours!r}, on the released boxes {a.meta!r}"
            for a in self.answers
            if a.status == "differ"
        ]
        return lines

    @property
    def agrees(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "agrees": self.agrees, "differences": self.differences}


def compare_objects(ours: Scene, meta: Scene, tolerances: Tolerances) -> list[CategoryResult]:
    """Per category (of either scene): counts, and the boxes paired by the Hungarian method on centre distance."""
    results = []
    for category in sorted(set(ours.by_category) | set(meta.by_category)):
        mine, theirs = ours.by_category.get(category, []), meta.by_category.get(category, [])
        result = CategoryResult(category, len(mine), len(theirs))
        if mine and theirs:
            centres = np.linalg.norm(
                np.array([o.box.center for o in mine])[:, None] - np.array([t.box.center for t in theirs])[None],
                axis=-1,
            )
            for i, j in zip(*linear_sum_assignment(centres), strict=True):
                if centres[i, j] > tolerances.match_m:
                    continue
                centre, sides, turn = box_difference(mine[i].box, theirs[j].box)
                agrees = centre <= tolerances.centre_m and sides <= tolerances.extent_m
                agrees = agrees and turn <= tolerances.rotation_deg
                result.pairs.append(BoxPair(int(mine[i].instance_id), int(j), centre, sides, turn, agrees))
        paired_ours, paired_meta = {p.ours for p in result.pairs}, {p.meta for p in result.pairs}
        result.unmatched_ours = [int(o.instance_id) for o in mine if o.instance_id not in paired_ours]
        result.unmatched_meta = [j for j in range(len(theirs)) if j not in paired_meta]
        results.append(result)
    return results


class _NotComparable(Exception):
    """A question the released boxes cannot answer as asked (a category missing, or no longer unique there)."""


def _only(ctx: SceneContext, category: str) -> SceneObject:
    found = ctx.scene.by_category.get(category, [])
    if len(found) != 1:
        raise _NotComparable(f"the meta info has {len(found)} {category}")
    return found[0]


def _present(ctx: SceneContext, categories: Iterable[str]) -> None:
    for category in categories:
        if category not in ctx.scene.by_category:
            raise _NotComparable(f"the meta info has no {category}")


def answer_on(ctx: SceneContext, recipe: Recipe, row: dict[str, Any]) -> str:
    """The answer the recipe's rules give on `ctx` (the released boxes) for the question a row asks."""
    question_type, objects = row["question_type"], list(row["objects"])
    params = next(g.params for g in recipe.generators if g.question_type == question_type)
    unreliable = set(objects) & ctx.scene.unreliable_categories
    if unreliable:
        raise _NotComparable(f"the meta info's count of {', '.join(sorted(unreliable))} disagrees with its boxes")
    if question_type == "object_counting":
        return str(len(ctx.scene.by_category.get(objects[0], [])))
    if question_type == "object_size_estimation":
        return format_number(_only(ctx, objects[0]).box.longest_side * 100.0, params.decimals)[0]
    if question_type == "room_size_estimation":
        if ctx.scene.room is None:
            raise _NotComparable("the meta info has no room size")
        return format_number(ctx.scene.room.area, params.decimals)[0]
    if question_type == "object_abs_distance":
        for category in objects:
            _only(ctx, category)
        return format_number(ctx.distance(*objects), params.decimals)[0]
    if question_type == "object_rel_distance":
        _only(ctx, objects[0])
        _present(ctx, objects[1:])
        return min(objects[1:], key=lambda c: ctx.distance(objects[0], c))
    if question_type.startswith("object_rel_direction"):
        standing, facing, queried = (_only(ctx, c).box for c in objects)
        reading = read_direction(
            standing.center, facing.center, queried.center, queried.corners(), params.sectors, params.margin_side
        )
        return reading.sector or "no direction"
    raise _NotComparable("the meta info holds no video")


def _answer_text(row: dict[str, Any]) -> str:
    options = row.get("options")
    if not options:
        return row["answer"]
    return next(o.split(". ", 1)[1] for o in options if o.startswith(row["answer"] + "."))


def _answers_agree(question_type: str, ours: str, meta: str, tolerances: Tolerances) -> bool:
    """Sizes, distances and rooms agree within the tolerance of their kind; counts and choices exactly."""
    if question_type == "object_size_estimation":
        limit = tolerances.extent_m * 100.0
    elif question_type == "object_abs_distance":
        limit = tolerances.distance_m
    elif question_type == "room_size_estimation":
        limit = tolerances.room_rel * abs(float(meta))
    else:
        return ours == meta
    return abs(float(ours) - float(meta)) <= limit + 1e-9


def compare_answers(
    rows: list[dict[str, Any]], meta_ctx: SceneContext, recipe: Recipe, tolerances: Tolerances
) -> list[AnswerResult]:
    results = []
    for row in rows:
        ours, meta, note = _answer_text(row), None, ""
        try:
            meta = answer_on(meta_ctx, recipe, row)
            status = "agree" if _answers_agree(row["question_type"], ours, meta, tolerances) else "differ"
        except _NotComparable as exc:
            status, note = "not comparable", str(exc)
        results.append(AnswerResult(row["id"], row["question_type"], list(row["objects"]), ours, meta, status, note))
    return results


def compare_scene(
    ours: Scene, meta: Scene, rows: list[dict[str, Any]], recipe: Recipe, tolerances: Tolerances
) -> SceneResult:
    result = SceneResult(ours.scene_id, ours.dataset, categories=compare_objects(ours, meta, tolerances))
    result.notes = [
        f"{c}: the meta info's count disagrees with its own boxes (compared by its boxes)"
        for c in sorted(meta.unreliable_categories)
    ]
    result.room_ours = None if ours.room is None else round(ours.room.area, 2)
    result.room_meta = None if meta.room is None else round(meta.room.area, 2)
    if ours.room is not None and meta.room is not None:
        result.room_agrees = abs(ours.room.area - meta.room.area) <= tolerances.room_rel * meta.room.area
    else:
        result.room_agrees = ours.room is None and meta.room is None
    meta_ctx = SceneContext(meta, recipe.geometry.distance, recipe.vocabulary)
    result.answers = compare_answers(rows, meta_ctx, recipe, tolerances)
    return result


# ---------------------------------------------------------------- where our scenes come from


@dataclass
class Ours:
    """Our side: a source to re-open scenes from, the recipe that parsed them, and each scene's questions."""

    source: SceneSource
    recipe: Recipe
    seed: int
    rows: dict[tuple[str, str], list[dict[str, Any]]] | None  # (dataset, scene) → the build's rows; None: generate

    def scene_rows(self, scene: Scene) -> list[dict[str, Any]]:
        if self.rows is not None:
            return self.rows.get((scene.dataset, scene.scene_id), [])
        index: dict[str, int] = {}
        rows = []
        for q in generate_questions(scene, self.recipe, self.seed, video=False):
            n = index[q.question_type] = index.get(q.question_type, -1) + 1
            qid = question_id(scene.dataset, scene.scene_id, q.question_type, n)
            rows.append(q.to_row(qid, scene.dataset, scene.scene_id, scene.split, None))
        return rows


def _recipe(name: str) -> Recipe:
    try:
        return load_recipe(name)
    except RecipeError as exc:
        raise VerifyError(str(exc)) from None


def from_build(build: Path) -> Ours:
    """A build's source, recipe and rows, from its manifest (the recipe must be unchanged since the build)."""
    from vsi_data.output.shards import read_rows
    from vsi_data.pipeline import open_build_source, recorded_build

    path = build / "manifest.json"
    try:
        recorded, seed, settings = recorded_build(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise VerifyError(f"{path}: missing; --build must be a vsi-data build output folder") from None
    except json.JSONDecodeError as exc:
        raise VerifyError(f"{path}: not a vsi-data manifest ({exc})") from None
    except ValueError as exc:
        raise VerifyError(f"{path}: {exc}") from None
    recipe = _recipe(recorded["source_file"] if Path(recorded["source_file"]).is_file() else recorded["name"])
    now = {k: v for k, v in recipe.resolved().items() if k != "source_file"}
    changed = sorted(k for k, v in now.items() if recorded.get(k) != v)
    if changed:
        raise VerifyError(f"{recipe.path}: the recipe changed since the build ({', '.join(changed)})")
    config = dataclasses.replace(settings, out=build)
    try:
        source = open_build_source(config)
        table = read_rows(build)
    except (SceneError, SourceUnavailable, FileNotFoundError) as exc:
        raise VerifyError(f"cannot re-open the build's source: {exc}") from None
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        rows.setdefault((row["dataset"], row["scene_id"]), []).append(row)
    return Ours(source, recipe, seed, rows)


def from_scans(source: str, root: Path, recipe: str, seed: int, options: Mapping[str, Any] | None = None) -> Ours:
    """Raw scans parsed now, with the source's options and the recipe a build would use; questions generated as
    a build would."""
    chosen = _recipe(recipe)
    try:
        opened = open_source(source, root, options, seed=seed)
        opened.check(chosen.parse_options(seed))  # what every scene reads (a label table): one error, not N findings
    except (SceneError, SourceUnavailable) as exc:
        raise VerifyError(str(exc)) from None
    return Ours(opened, chosen, seed, None)


def _meta_scenes(meta: Path, recipe: Recipe) -> tuple[VsiBenchMetaSource, dict[str, Any]]:
    if META_NAMESPACE not in recipe.vocabulary.rules:
        raise VerifyError(
            f"{recipe.vocabulary.path}: vocabulary {recipe.vocabulary.name!r} has no rules for VSI-Bench's category "
            "names; verify compares categories by name (use a build of the vsibench recipe)"
        )
    try:
        source = VsiBenchMetaSource(VsiBenchMetaConfig(meta))
        return source, {ref.scene_id: ref for ref in source.list_scenes()}
    except SceneError as exc:
        raise VerifyError(str(exc)) from None


@dataclass
class VerifyReport:
    scenes: list[SceneResult]
    tolerances: Tolerances
    not_in_meta: int  # scenes of ours the meta info does not list
    meta_only: int  # scenes of the meta info that we do not have

    @property
    def agrees(self) -> bool:
        return all(s.agrees for s in self.scenes)

    def totals(self) -> dict[str, Any]:
        categories = [c for s in self.scenes for c in s.categories]
        pairs = [p for c in categories for p in c.pairs]
        answers = [a for s in self.scenes for a in s.answers]
        return {
            "scenes": len(self.scenes),
            "scenes_agreeing": sum(s.agrees for s in self.scenes),
            "categories": len(categories),
            "category_counts_agreeing": sum(c.ours == c.meta for c in categories),
            "instances_ours": sum(c.ours for c in categories),
            "instances_meta": sum(c.meta for c in categories),
            "boxes_matched": len(pairs),
            "boxes_agreeing": sum(p.agrees for p in pairs),
            "boxes_unmatched_ours": sum(len(c.unmatched_ours) for c in categories),
            "boxes_unmatched_meta": sum(len(c.unmatched_meta) for c in categories),
            "rooms_agreeing": sum(s.room_agrees for s in self.scenes if not s.error),
            "answers_agreeing": sum(a.status == "agree" for a in answers),
            "answers_differing": sum(a.status == "differ" for a in answers),
            "answers_not_comparable": sum(a.status == "not comparable" for a in answers),
            "scenes_not_in_meta": self.not_in_meta,
            "meta_scenes_not_built": self.meta_only,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "agrees": self.agrees,
            "tolerances": dataclasses.asdict(self.tolerances),
            "totals": self.totals(),
            "scenes": [s.to_json() for s in self.scenes],
        }


def run_verify(
    ours: Ours,
    meta: Path,
    tolerances: Tolerances = Tolerances(),
    on_result: Callable[[SceneResult, Scene, Scene], None] | None = None,
    on_scene: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Compare every scene of ours that the meta info lists (a build: the scenes it built). `on_result` sees each
    compared scene with both scenes (the CLI draws them)."""
    meta_source, meta_refs = _meta_scenes(meta, ours.recipe)
    refs = ours.source.list_scenes()
    if ours.rows is not None:
        built = {scene_id for _, scene_id in ours.rows}
        refs = [r for r in refs if r.scene_id in built]
    common = [r for r in refs if r.scene_id in meta_refs]
    if not common:
        example = f" (ours: {refs[0].scene_id}, ...)" if refs else ""
        raise VerifyError(f"{meta}: none of our {len(refs)} scenes is among its {len(meta_refs)}{example}")
    options = ours.recipe.parse_options(ours.seed, frames=False)
    results = []
    for done, ref in enumerate(common):
        try:
            meta_scene = meta_source.load(meta_refs[ref.scene_id], options)
            scene = ours.source.load(ref, options)
        except SceneError as exc:  # one unreadable scene is a finding, not the end of the check
            results.append(SceneResult(ref.scene_id, ref.dataset, error=str(exc)))
        else:
            results.append(compare_scene(scene, meta_scene, ours.scene_rows(scene), ours.recipe, tolerances))
            if on_result is not None:
                on_result(results[-1], scene, meta_scene)
        if on_scene is not None:
            on_scene(done + 1, len(common))
    return VerifyReport(results, tolerances, len(refs) - len(common), len(meta_refs) - len(common))

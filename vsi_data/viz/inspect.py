"""`vsi-data inspect`: one question drawn over its scene, so a person can see why the answer is right.

The build output holds questions, not geometry, so the scene is re-opened from the source the manifest
records, with the recipe's parse options: the same parser and settings give the same boxes the question
was generated from. That keeps builds small and works on every existing build; its price is that the
source files must still be where the build read them (a clear error says so), and re-opening is checked
against the row (named instances present, distances and counts reproduced) so a changed source is
reported instead of drawn wrongly.

`explain` turns (row, scene) into `Evidence`: what to highlight and which quantity to draw, pure data
that tests can check; `draw_question` renders it with matplotlib (Agg).
"""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc
import shapely
from scipy.spatial import cKDTree

from vsi_data.geometry.distance import box_grid_points
from vsi_data.io import Store, child, given_location
from vsi_data.output.shards import (
    MANIFEST,
    NoQuestions,
    NotABuild,
    ShardsMismatch,
    open_build,
    read_rows,
    write_atomic,
)
from vsi_data.qa.context import SceneContext
from vsi_data.question_types import QUESTION_TYPES
from vsi_data.scene import Scene, SceneObject
from vsi_data.stats import answer_words

if TYPE_CHECKING:
    from vsi_data.pipeline import BuildConfig

log = logging.getLogger(__name__)

DISTANCE_TOLERANCE_M = 0.01  # a re-opened scene must reproduce the recorded distance this closely
STRIP_FRAMES = 5
BACKGROUND_POINTS = 4000  # object points drawn under the boxes, subsampled evenly
ROLE_COLOURS = {
    "named": "#1f77b4",
    "answer": "#d62728",
    "standing": "#2ca02c",
    "facing": "#9467bd",
    "queried": "#d62728",
    "target": "#2ca02c",
}


class InspectError(ValueError):
    """A question that cannot be drawn; the message is one line naming the file or id at fault."""


@dataclass
class Segment:
    start: np.ndarray  # (3,) metres
    end: np.ndarray
    label: str
    colour: str = "#d62728"


@dataclass
class Observer:
    """For direction questions: standing at `position` facing `facing`, the sectors drawn around it."""

    position: np.ndarray  # (2,)
    facing: np.ndarray  # (2,)
    sectors: dict[str, tuple[float, float]]
    queried: np.ndarray  # (2,)
    angle_deg: float
    answer: str  # the sector the answer names, shaded

    @property
    def radius(self) -> float:
        """Long enough for the rays to pass both named objects, so one sees which sector holds the query."""
        reach = max(np.linalg.norm(self.facing - self.position), np.linalg.norm(self.queried - self.position))
        return 1.3 * float(reach)


@dataclass
class Evidence:
    roles: dict[int, str] = field(default_factory=dict)  # instance id → role (colour and legend)
    segments: list[Segment] = field(default_factory=list)
    observer: Observer | None = None
    show_footprint_area: float | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- finding the row and its scene


def find_row(out_dir: Path | str, question_id: str) -> dict[str, Any]:
    """The question's row in the build (a folder or a URL), read as `stats` reads it."""
    try:
        table = read_rows(open_build(out_dir))
    except (NotABuild, NoQuestions, ShardsMismatch) as exc:
        raise InspectError(str(exc)) from None
    hits = table.filter(pc.equal(table.column("id"), question_id))
    if hits.num_rows == 0:
        example = table.column("id")[0].as_py() if table.num_rows else "none"
        raise InspectError(
            f"{out_dir}: no question with id {question_id!r} among {table.num_rows} (ids look like {example!r})"
        )
    row = hits.to_pylist()[0]
    row["meta"] = json.loads(row["meta"])
    return row


def _manifest(out_dir: Path | str) -> tuple[dict[str, Any], int, BuildConfig]:
    """The manifest's resolved recipe, seed and build config (`pipeline.recorded_build`)."""
    from vsi_data.pipeline import recorded_build

    path = child(out_dir, MANIFEST)
    try:
        return recorded_build(json.loads(Store.at(out_dir).read_text(MANIFEST)))
    except FileNotFoundError:
        raise InspectError(f"{path}: missing; inspect needs the build's manifest to re-open its scenes") from None
    except json.JSONDecodeError as exc:
        raise InspectError(f"{path}: not valid JSON ({exc.msg})") from None
    except ValueError as exc:
        raise InspectError(f"{path}: {exc}") from None


def reopen_scene(out_dir: Path | str, row: dict[str, Any]) -> tuple[SceneContext, dict[str, Any]]:
    """The row's scene as the build saw it (with the recipe's distance metric), and the type's settings."""
    from vsi_data.pipeline import open_build_source
    from vsi_data.qa import RecipeError, load_recipe
    from vsi_data.sources import SceneError, SourceUnavailable

    recorded, seed, built = _manifest(out_dir)
    try:
        recipe = load_recipe(recorded["source_file"])
    except RecipeError:
        recipe = load_recipe(recorded["name"])  # the build's recipe file moved; a bundled one of that name
    now = {k: v for k, v in recipe.resolved().items() if k != "source_file"}
    changed = sorted(k for k, v in now.items() if recorded.get(k) != v)
    if changed:
        raise InspectError(
            f"{recorded['source_file']}: the recipe changed since the build ({', '.join(changed)}); "
            "the scene would not be parsed as the build parsed it"
        )
    config = replace(built, out=out_dir)  # the folder may have moved since
    try:
        source = open_build_source(config)
        refs = [r for r in source.list_scenes() if r.scene_id == row["scene_id"]]
        if not refs:
            raise InspectError(
                f"{config.root or out_dir}: scene {row['scene_id']} is not there any more "
                "(were the source files moved since the build?)"
            )
        scene = source.load(refs[0], recipe.parse_options(seed))
    except (SceneError, SourceUnavailable, OSError) as exc:
        raise InspectError(
            f"cannot re-open scene {row['scene_id']} from the build's source: {exc} "
            "(were the source files moved since the build?)"
        ) from None
    context = SceneContext(scene, recipe.geometry.distance, recipe.vocabulary)
    return context, recorded["types"].get(row["question_type"], {})


# ---------------------------------------------------------------- what the answer rests on


def _instance(scene: Scene, instance_id: int, category: str, row: dict[str, Any]) -> SceneObject:
    for obj in scene.objects:
        if obj.instance_id == instance_id and obj.category == category:
            return obj
    raise InspectError(
        f"{row['id']}: the re-opened scene has no {category} with instance id {instance_id} "
        "(did the source files change since the build?)"
    )


def _only(scene: Scene, category: str, row: dict[str, Any]) -> SceneObject:
    found = scene.by_category.get(category, [])
    if len(found) != 1:
        raise InspectError(
            f"{row['id']}: the question names one {category}, the re-opened scene has {len(found)} "
            "(did the source files change since the build?)"
        )
    return found[0]


def _measured_points(obj: SceneObject, metric: str) -> np.ndarray:
    """The points the recipe's metric measures on (box_grid exactly; closest_box approximated by the grid)."""
    if metric == "center":
        return obj.box.center[None, :]
    if metric == "closest_points" and obj.points is not None:
        return np.asarray(obj.points, dtype=np.float64)
    return box_grid_points(obj.box)


def closest_segment(a: SceneObject, b: SceneObject, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The two points, one on each object, that the distance is measured between."""
    points_a, points_b = _measured_points(a, metric), _measured_points(b, metric)
    distances, nearest = cKDTree(points_b).query(points_a, k=1)
    i = int(np.argmin(distances))
    return points_a[i], points_b[nearest[i]]


def _check_distance(row: dict[str, Any], measured: float, recorded: float, what: str) -> None:
    """A re-opened scene must reproduce the distance the answer was computed from."""
    if abs(measured - recorded) > DISTANCE_TOLERANCE_M:
        raise InspectError(
            f"{row['id']}: {what} measures {measured:.3f} m in the re-opened scene, the question recorded "
            f"{recorded:.3f} m (did the source files change since the build?)"
        )


def _answer_text(row: dict[str, Any]) -> str:
    return answer_words(row["answer"], row["options"])


def _count(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    meta, objects, scene = row["meta"], row["objects"], context.scene
    instances = [_instance(scene, i, objects[0], row) for i in meta["instances"]]
    if len(scene.by_category.get(objects[0], [])) != meta["count"]:
        raise InspectError(f"{row['id']}: the re-opened scene no longer has {meta['count']} {objects[0]}")
    evidence.roles = {obj.instance_id: "answer" for obj in instances}
    evidence.notes.append(f"{len(instances)} × {objects[0]} (highlighted)")


def _size(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    meta = row["meta"]
    obj = _instance(context.scene, meta["instance"], row["objects"][0], row)
    evidence.roles = {obj.instance_id: "answer"}
    evidence.notes.append("box sides " + " × ".join(f"{e * 100:.0f}" for e in obj.box.extents) + " cm")
    axis = int(np.argmax(obj.box.extents))
    half = obj.box.rotation[:, axis] * obj.box.extents[axis] / 2
    if abs(obj.box.rotation[2, axis]) > 0.9:
        evidence.notes.append(f"longest side is the height: {meta['size_cm']:.0f} cm")
    else:
        evidence.segments.append(
            Segment(obj.box.center - half, obj.box.center + half, f"longest side {meta['size_cm']:.0f} cm")
        )


def _room(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    meta, scene = row["meta"], context.scene
    if scene.room is None:
        raise InspectError(f"{row['id']}: the re-opened scene has no room measurement")
    evidence.show_footprint_area = float(meta["area_m2"])
    evidence.notes.append(meta.get("method", ""))
    if scene.room.footprint is None:  # e.g. VSI-Bench's meta info: a released number, no geometry
        evidence.notes.append("no floor outline to draw: the source gives the area only")


def _abs_distance(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    meta, objects = row["meta"], row["objects"]
    a, b = (_instance(context.scene, i, c, row) for i, c in zip(meta["instances"], objects, strict=True))
    _check_distance(row, context.distance(*objects), meta["distance_m"], f"{objects[0]}–{objects[1]}")
    start, end = closest_segment(a, b, context.metric)
    evidence.roles = {a.instance_id: "named", b.instance_id: "named"}
    evidence.segments.append(Segment(start, end, f"{meta['distance_m']:.2f} m ({context.metric})"))


def _rel_distance(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    meta, objects, scene = row["meta"], row["objects"], context.scene
    target = _only(scene, objects[0], row)
    answer = _answer_text(row)
    evidence.roles = {target.instance_id: "target"}
    for choice in meta["choices"]:
        distance, _, instance_id = context.closest_pair(objects[0], choice)
        _check_distance(row, distance, meta["distances_m"][choice], f"{objects[0]}–{choice}")
        obj = _instance(scene, instance_id, choice, row)
        role = "answer" if choice == answer else "named"
        evidence.roles[obj.instance_id] = role
        start, end = closest_segment(target, obj, context.metric)
        evidence.segments.append(Segment(start, end, f"{choice} {distance:.2f} m", ROLE_COLOURS[role]))


def _direction(row: dict[str, Any], context: SceneContext, evidence: Evidence, type_settings: dict[str, Any]) -> None:
    meta, objects = row["meta"], row["objects"]
    standing, facing, queried = (_only(context.scene, c, row) for c in objects)
    evidence.roles = {
        standing.instance_id: "standing",
        facing.instance_id: "facing",
        queried.instance_id: "queried",
    }
    sectors = {name: (float(span[0]), float(span[1])) for name, span in type_settings["sectors"].items()}
    evidence.observer = Observer(
        standing.box.center[:2],
        facing.box.center[:2],
        sectors,
        queried.box.center[:2],
        meta["angle_deg"],
        _answer_text(row),
    )
    evidence.notes.append(f"{objects[2]} at {meta['angle_deg']:.0f}° counter-clockwise from facing")


def _named(row: dict[str, Any], context: SceneContext, evidence: Evidence, _: dict[str, Any]) -> None:
    named = set(row["objects"])
    evidence.roles = {o.instance_id: "named" for o in context.scene.objects if o.category in named}
    evidence.notes.append(f"no drawing for {row['question_type']}; the named categories are highlighted")


# What each `QuestionType.drawing` shows of a row.
DRAWINGS: dict[str, Callable[[dict[str, Any], SceneContext, Evidence, dict[str, Any]], None]] = {
    "count": _count,
    "size": _size,
    "room": _room,
    "abs_distance": _abs_distance,
    "rel_distance": _rel_distance,
    "direction": _direction,
    "named": _named,
}


def explain(row: dict[str, Any], context: SceneContext, type_settings: dict[str, Any]) -> Evidence:
    """What the picture must show for this row, as its question type's `drawing` says; raises InspectError where
    the scene does not match it."""
    spec = QUESTION_TYPES.get(row["question_type"])
    evidence = Evidence()
    DRAWINGS[spec.drawing if spec is not None else "named"](row, context, evidence, type_settings)
    return evidence


# ---------------------------------------------------------------- drawing


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _box_outline(obj: SceneObject) -> np.ndarray:
    """The box's top-down outline: the convex hull of its corners in the floor plane (closed ring)."""
    hull = shapely.convex_hull(shapely.multipoints(obj.box.corners()[:, :2]))
    return np.asarray(hull.exterior.coords)


def _draw_scene(ax, scene: Scene, evidence: Evidence) -> None:
    if scene.room is not None and scene.room.footprint is not None:
        for polygon in scene.room.footprint.geoms:
            x, y = polygon.exterior.xy
            highlight = evidence.show_footprint_area is not None
            ax.fill(x, y, color="#fde9c9" if highlight else "#eeeeee", zorder=0)
            ax.plot(x, y, color="#e08a00" if highlight else "#bbbbbb", lw=2 if highlight else 1, zorder=1)
    clouds = [o.points for o in scene.objects if o.points is not None and len(o.points)]
    if clouds:
        points = np.concatenate(clouds)
        step = max(1, len(points) // BACKGROUND_POINTS)
        ax.scatter(points[::step, 0], points[::step, 1], s=0.5, c="#9a9a9a", zorder=2, linewidths=0)
    for obj in sorted(scene.objects, key=lambda o: o.instance_id in evidence.roles):
        role = evidence.roles.get(obj.instance_id)
        outline = _box_outline(obj)
        colour = ROLE_COLOURS[role] if role else "#777777"
        ax.plot(outline[:, 0], outline[:, 1], color=colour, lw=2.2 if role else 0.8, zorder=4 if role else 3)
        if role:
            ax.fill(outline[:, 0], outline[:, 1], color=colour, alpha=0.18, zorder=3)
        ax.annotate(
            obj.category,
            obj.box.center[:2],
            ha="center",
            va="center",
            fontsize=8 if role else 6,
            fontweight="bold" if role else "normal",
            color=colour if role else "#555555",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6} if role else None,
        )


def _draw_segments(ax, segments: list[Segment]) -> None:
    for segment in segments:
        xs, ys = [segment.start[0], segment.end[0]], [segment.start[1], segment.end[1]]
        ax.plot(xs, ys, color=segment.colour, lw=2.2, marker="o", ms=4, zorder=7)
        ax.annotate(
            segment.label,
            ((xs[0] + xs[1]) / 2, (ys[0] + ys[1]) / 2),
            fontsize=8,
            color=segment.colour,
            fontweight="bold",
            zorder=8,
            xytext=(4, 4),
            textcoords="offset points",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": segment.colour, "alpha": 0.85},
        )


def _draw_observer(ax, observer: Observer) -> None:
    """The facing arrow, the sector boundaries as rays, each sector's name, and the answer's sector shaded."""
    from matplotlib.patches import Wedge

    forward = observer.facing - observer.position
    heading = np.arctan2(forward[1], forward[0])
    radius = observer.radius
    if observer.answer in observer.sectors:
        start, end = observer.sectors[observer.answer]
        ax.add_patch(
            Wedge(
                tuple(observer.position),
                radius,
                np.degrees(heading) + start,
                np.degrees(heading) + end,
                color=ROLE_COLOURS["queried"],
                alpha=0.1,
                zorder=2,
            )
        )
    ax.annotate(
        "",
        observer.facing,
        observer.position,
        arrowprops={"arrowstyle": "-|>", "color": ROLE_COLOURS["facing"], "lw": 2.5},
        zorder=9,
    )
    ax.plot(*observer.position, marker="o", ms=7, color=ROLE_COLOURS["standing"], zorder=5)  # under the labels
    for name, (start, end) in observer.sectors.items():
        edge = heading + np.radians(start)
        ax.plot(
            [observer.position[0], observer.position[0] + radius * np.cos(edge)],
            [observer.position[1], observer.position[1] + radius * np.sin(edge)],
            color="#444444",
            lw=1,
            ls="--",
            zorder=5,
        )
        middle = heading + np.radians((start + end) / 2)
        where = observer.position + 0.6 * radius * np.array([np.cos(middle), np.sin(middle)])
        ax.update_datalim(where[None, :])  # the view grows to show every sector's name; rays are clipped
        ax.annotate(
            name,
            where,
            ha="center",
            fontsize=10,
            style="italic",
            fontweight="bold" if name == observer.answer else "normal",
            color=ROLE_COLOURS["queried"] if name == observer.answer else "#444444",
            zorder=6,
        )
    ax.plot(*np.stack([observer.position, observer.queried]).T, color=ROLE_COLOURS["queried"], lw=1.5, ls=":", zorder=7)


def _caption(row: dict[str, Any], evidence: Evidence) -> str:
    lines = textwrap.wrap(row["question"].replace("\n", " "), 60)
    lines += [""] + [f"  {option}" for option in row["options"] or []]
    answer = row["answer"] if not row["options"] else f"{row['answer']} ({_answer_text(row)})"
    lines += ["", f"answer: {answer}"]
    lines += [line for note in evidence.notes if note for line in textwrap.wrap(note, 60)]
    lines += ["", f"{row['question_type']}", f"{row['dataset']}/{row['scene_id']}", row["id"]]
    return "\n".join(lines)


def _legend(ax, evidence: Evidence) -> None:
    """The roles' colours, in the caption panel so that nothing covers the scene."""
    from matplotlib.patches import Patch

    roles = sorted(set(evidence.roles.values()), key=list(ROLE_COLOURS).index)
    if roles:
        ax.legend(handles=[Patch(color=ROLE_COLOURS[r], label=r) for r in roles], loc="lower left", fontsize=9)


def draw_question(
    row: dict[str, Any], scene: Scene, evidence: Evidence, frames: list[np.ndarray] | None, path: Path
) -> Path:
    plt = _pyplot()
    strip = bool(frames)
    fig = plt.figure(figsize=(13, 9.5 if strip else 7.5))
    grid = fig.add_gridspec(2 if strip else 1, 2, width_ratios=[1.6, 1], height_ratios=[4, 1] if strip else [1])
    ax = fig.add_subplot(grid[0, 0])
    _draw_scene(ax, scene, evidence)
    _draw_segments(ax, evidence.segments)
    if evidence.observer is not None:
        _draw_observer(ax, evidence.observer)
        ax.autoscale_view()
    if evidence.show_footprint_area is not None:
        ax.annotate(
            f"{evidence.show_footprint_area:.1f} m²",
            _area_label_at(scene),
            ha="center",
            fontsize=16,
            fontweight="bold",
            color="#e08a00",
            zorder=9,
        )
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title("top-down view (z up)", fontsize=10)
    text = fig.add_subplot(grid[0, 1])
    text.axis("off")
    text.text(0, 1, _caption(row, evidence), va="top", family="monospace", fontsize=9, transform=text.transAxes)
    _legend(text, evidence)
    if strip:
        strip_grid = grid[1, :].subgridspec(1, len(frames))
        for k, image in enumerate(frames):
            frame_ax = fig.add_subplot(strip_grid[0, k])
            frame_ax.imshow(image)
            frame_ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight"))
    plt.close(fig)
    return path


def _area_label_at(scene: Scene) -> tuple[float, float]:
    """Where the room's area is written: the floor outline's centroid, else the middle of the objects' boxes."""
    if scene.room is not None and scene.room.footprint is not None:
        centroid = scene.room.footprint.centroid
        return centroid.x, centroid.y
    if not scene.objects:
        return 0.0, 0.0
    corners = np.concatenate([obj.box.corners()[:, :2] for obj in scene.objects])
    middle = (corners.min(axis=0) + corners.max(axis=0)) / 2
    return float(middle[0]), float(middle[1])


def _frames(out_dir: Path | str, row: dict[str, Any]) -> tuple[list[np.ndarray] | None, str | None]:
    """A few frames of the row's video, or a note saying why there are none."""
    from vsi_data.video.sampler import VideoReadError, sample_frames

    if not row["video"]:
        return None, None
    try:
        return sample_frames(child(out_dir, row["video"]), num_frames=STRIP_FRAMES, max_pixels=320 * 240).images, None
    except VideoReadError as exc:
        log.warning("%s", exc)
        return None, f"no frames: {exc}"


def inspect_question(out_dir: Path | str, question_id: str, out: Path) -> Path:
    """Find the question in the build (a folder or a URL), re-open its scene, check it still matches, and draw
    the picture to `out`."""
    out_dir = given_location(out_dir)
    row = find_row(out_dir, question_id)
    context, type_settings = reopen_scene(out_dir, row)
    evidence = explain(row, context, type_settings)
    frames, note = _frames(out_dir, row)
    if note:
        evidence.notes.append(note)
    return draw_question(row, context.scene, evidence, frames, out)

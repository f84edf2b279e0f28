"""The recipe's `visibility:` section: questions only about categories the video shows.

A hand-made scene: flat plates in front of and behind a camera whose depth maps are drawn from the plates
themselves; which plate a frame sees is known by construction, and so is every answer.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.geometry import OrientedBox
from vsi_data.qa import RecipeError, generate_questions, load_recipe
from vsi_data.scene import DepthStream, FrameStream, Room, Scene, SceneObject

# 200×200 image, focal 100 px, principal point at the centre (pixel centres at integers).
K = np.array([[100.0, 0.0, 99.5], [0.0, 100.0, 99.5], [0.0, 0.0, 1.0]])
FRONT = np.eye(4)  # looking along +z
BACK = np.diag([-1.0, 1.0, -1.0, 1.0])  # turned half round about y: looking along -z


def plate(instance: int, category: str, x: tuple[float, float], height: float, z: float) -> SceneObject:
    """A fronto-parallel plate `height` tall, centred on y = 0, sampled every centimetre."""
    xs, ys = np.meshgrid(np.arange(x[0], x[1] + 1e-9, 0.01), np.arange(-height / 2, height / 2 + 1e-9, 0.01))
    points = np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)])
    box = OrientedBox(center=[(x[0] + x[1]) / 2, 0.0, z], extents=[x[1] - x[0], height, 0.02], rotation=np.eye(3))
    return SceneObject(instance, category, category, box, points.astype(np.float32))


OBJECTS = [
    plate(1, "table", (-0.5, -0.1), 0.4, 2.0),  # in front: 40 cm long
    plate(2, "lamp", (0.1, 0.5), 0.6, 2.0),  # in front: 60 cm long, 0.6 m from the table
    plate(3, "chair", (-0.9, -0.6), 0.5, 2.5),  # in front
    plate(4, "chair", (-0.4, 0.4), 0.8, -3.0),  # behind the camera
    plate(5, "sofa", (0.5, 1.3), 0.8, -3.0),  # behind the camera
]


def depth_map(pose: np.ndarray, objects: list[SceneObject]) -> np.ndarray:
    """What a depth camera at `pose` measures: the nearest plate point per pixel, a wall at 10 m elsewhere."""
    points = np.concatenate([obj.points for obj in objects]).astype(np.float64)
    cam = (points - pose[:3, 3]) @ pose[:3, :3]
    cam = cam[cam[:, 2] > 0.1]
    col = np.floor(K[0, 0] * cam[:, 0] / cam[:, 2] + K[0, 2] + 0.5).astype(int)
    row = np.floor(K[1, 1] * cam[:, 1] / cam[:, 2] + K[1, 2] + 0.5).astype(int)
    inside = (col >= 0) & (col < 200) & (row >= 0) & (row < 200)
    depth = np.full((200, 200), 10.0)
    np.minimum.at(depth, (row[inside], col[inside]), cam[inside, 2])
    return depth.astype(np.float32)


def scene(poses: list[np.ndarray], depth: bool = True, objects: list[SceneObject] = OBJECTS) -> Scene:
    """Frame i seen from `poses[i]`, four frames a second (so every frame is evaluated)."""
    stack = np.stack(poses)
    stream = FrameStream(
        poses=stack,
        timestamps=np.arange(len(poses)) / 4.0,
        intrinsics=K,
        width=200,
        height=200,
        fps=4.0,
        depth=DepthStream(K, 200, 200, lambda i: depth_map(stack[i], objects)) if depth else None,
    )
    return Scene("s0", "synthetic", "train", list(objects), Room(area=20.0), frames=stream)


TYPES = ("object_counting", "object_size_estimation", "object_abs_distance")


def recipe(tmp_path, visibility: str = ""):
    path = tmp_path / "visible.yaml"
    path.write_text(
        "vocabulary: vsibench\ntemplates: vsi100k\noptions: none\ngeometry: {distance: center}\n"
        "types: {object_counting: {per_scene: 9}, object_size_estimation: {per_scene: 9}, "
        "object_abs_distance: {per_scene: 9}}\n" + visibility
    )
    return load_recipe(path)


ALL_VISIBLE = f"visibility: {{require_visible: [{', '.join(TYPES)}]}}\n"


def asked(questions) -> dict[str, dict[tuple[str, ...], str]]:
    """question type → named categories → answer."""
    out: dict[str, dict[tuple[str, ...], str]] = {t: {} for t in TYPES}
    for q in questions:
        out[q.question_type][tuple(sorted(q.objects))] = q.answer
    return out


UNFILTERED = {
    "object_counting": {("chair",): "2"},
    "object_size_estimation": {("table",): "40", ("lamp",): "60", ("sofa",): "80"},
    "object_abs_distance": {("lamp", "table"): "0.6", ("sofa", "table"): "5.1", ("lamp", "sofa"): "5.0"},
}


def test_without_the_section_every_annotated_category_is_named(tmp_path):
    s = scene([FRONT] * 6)
    assert asked(generate_questions(s, recipe(tmp_path), seed=1)) == UNFILTERED
    assert not any(key.startswith("visibility") for key in s.stats)


def test_categories_out_of_every_frames_view_are_not_named_and_the_drops_are_counted(tmp_path):
    """The sofa and one chair are behind a camera that never turns: no size of the sofa, no distance to it,
    and no chair count (one chair is never seen, so the count cannot be read from the video)."""
    s = scene([FRONT] * 6)
    why_none: dict[str, str] = {}
    questions = generate_questions(s, recipe(tmp_path, ALL_VISIBLE), seed=1, why_none=why_none)
    assert asked(questions) == {
        "object_counting": {},
        "object_size_estimation": {("table",): "40", ("lamp",): "60"},
        "object_abs_distance": {("lamp", "table"): "0.6"},
    }
    assert {k: v for k, v in s.stats.items() if k.startswith("visibility")} == {
        "visibility_dropped.unseen.object_counting": 1,
        "visibility_dropped.unseen.object_size_estimation": 1,
        "visibility_dropped.unseen.object_abs_distance": 2,
    }
    assert why_none == {"object_counting": "every question names a category with an instance the video does not show"}


def test_only_the_listed_types_are_filtered(tmp_path):
    s = scene([FRONT] * 6)
    questions = generate_questions(s, recipe(tmp_path, "visibility: {require_visible: [object_counting]}\n"), seed=1)
    assert asked(questions) == {**UNFILTERED, "object_counting": {}}


@pytest.mark.parametrize(
    ("frames", "sofa_asked"),
    [
        ("null", True),  # some frame turns round: every object is seen
        ("1", False),  # one frame, the first: looking forward only
        ("2", True),  # the first and the last frame: forward and back
        ("3", True),  # frames 0, 5, 9 (linspace over 10, rounded)
    ],
)
def test_frames_counts_only_what_a_model_shown_that_many_sees(tmp_path, frames, sofa_asked):
    """Frames 0-4 look forward, 5-9 back; a model shown N frames sees them spread uniformly, as `predict` does."""
    s = scene([FRONT] * 5 + [BACK] * 5)
    section = f"visibility: {{require_visible: [object_size_estimation], frames: {frames}}}\n"
    sizes = asked(generate_questions(s, recipe(tmp_path, section), seed=1))["object_size_estimation"]
    assert sizes == {k: v for k, v in UNFILTERED["object_size_estimation"].items() if sofa_asked or k != ("sofa",)}


def test_a_scene_without_depth_asks_nothing_of_the_filtered_types_and_says_why(tmp_path):
    s = scene([FRONT] * 6, depth=False)
    why_none: dict[str, str] = {}
    questions = generate_questions(s, recipe(tmp_path, ALL_VISIBLE), seed=1, why_none=why_none)
    assert questions == []
    assert set(why_none.values()) == {"no depth stream to test what the video shows (the recipe's visibility)"}
    assert s.stats["visibility_dropped.no_depth.object_abs_distance"] == 3


def test_visibility_is_computed_once_per_scene(tmp_path):
    calls = []
    s = scene([FRONT] * 6)
    read = s.frames.depth.read
    s.frames.depth.__dict__["read"] = lambda i: calls.append(i) or read(i)
    generate_questions(s, recipe(tmp_path, ALL_VISIBLE), seed=1)
    assert calls == list(range(6))  # every frame once, for three filtered types


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("visibility: {require_visible: [route_planning]}", "unknown question type 'route_planning'"),
        ("visibility: {require_visible: [obj_appearance_order]}", "lists obj_appearance_order, which `types` does"),
        ("visibility: {require_visible: [object_counting], frames: 0}", "frames must be at least 1 or null"),
        ("visibility: {require_visible: [object_counting], min_visible_area: 0}", "min_visible_area must be in"),
    ],
)
def test_a_bad_visibility_section_is_refused_naming_the_file(tmp_path, section, message):
    with pytest.raises(RecipeError, match=r"visible\.yaml") as error:
        recipe(tmp_path, section + "\n")
    assert message in str(error.value)


def test_the_bundled_recipes_keep_the_section_off():
    for name in ("vsi100k", "vsibench"):
        assert not load_recipe(name).visibility.on
        assert "visibility" not in load_recipe(name).resolved()  # their build fingerprints are unchanged


def test_a_source_without_depth_frames_is_refused_in_one_line(tmp_path):
    meta = tmp_path / "scannet_meta_info_val.json"
    meta.write_text("{}")
    path = tmp_path / "visible.yaml"
    path.write_text(
        "types: {object_counting: {}}\ntemplates: vsibench\nvisibility: {require_visible: [object_counting]}\n"
    )
    args = ["build", "--source", "vsibench-meta", "--root", str(meta), "--out", str(tmp_path / "out"),
            "--recipe", str(path), "--workers", "0", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert f"{path}: visibility.require_visible needs depth frames, and --source vsibench-meta has none" in (
        " ".join(result.output.split())
    )
    assert not (tmp_path / "out").exists()


FILTERED = ("object_counting", "object_size_estimation", "object_abs_distance", "object_rel_direction_easy")


def test_a_build_asks_a_subset_and_its_manifest_counts_every_question_dropped(tmp_path):
    """vsi100k on synthetic scans with and without the section, every candidate kept (--exhaustive): the filtered
    build's questions are the unfiltered build's minus exactly as many as its manifest says it dropped, per type,
    and the types not listed are untouched."""
    from vsi_data.output.shards import read_rows
    from vsi_data.resources import resolve_named

    filtered = tmp_path / "visible.yaml"
    base = resolve_named("recipes", "vsi100k").read_text()
    filtered.write_text(f"{base}\nvisibility: {{require_visible: [{', '.join(FILTERED)}], frames: 8}}\n")
    built = {}
    for name, recipe_path in (("all", "vsi100k"), ("visible", str(filtered))):
        out = tmp_path / name
        args = ["build", "--source", "synthetic", "--synthetic-format", "scannet", "--frames", "24", "--scenes", "2",
                "--recipe", recipe_path, "--no-video", "--exhaustive", "--seed", "7", "--workers", "0", "--quiet",
                "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        rows = read_rows(out).to_pylist()
        built[name] = (  # objects sorted: a distance names its pair in random order
            Counter((r["scene_id"], r["question_type"], tuple(sorted(r["objects"])), r["answer"]) for r in rows),
            json.loads((out / "manifest.json").read_text()),
        )
    (every, _), (visible, manifest) = built["all"], built["visible"]
    assert not visible - every, visible - every  # only drops ...
    assert visible != every  # ... and some
    dropped = {
        key.rsplit(".", 1)[1]: count
        for key, count in manifest["parse_stats"].items()
        if key.startswith("visibility_dropped.unseen.")
    }
    assert dropped
    assert set(dropped) <= set(FILTERED)
    for question_type in {row[1] for row in every}:
        asked = sum(n for row, n in every.items() if row[1] == question_type)
        kept = sum(n for row, n in visible.items() if row[1] == question_type)
        assert asked - kept == dropped.get(question_type, 0), question_type
    assert manifest["recipe"]["visibility"]["frames"] == 8


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["table", "lamp", "chair", "sofa"]), st.booleans()), min_size=2, max_size=5),
    st.integers(1, 10),
)
def test_the_filtered_questions_are_the_unfiltered_ones_whose_categories_are_all_seen(tmp_path_factory, plates, n):
    """Plates in distinct slots, each in front of (True) or behind the camera; frames 0-4 look forward, 5-9 back.
    By construction a plate is seen iff one of the N uniformly shown frames faces its side."""
    objects = [plate(i + 1, c, (-0.95 + 0.4 * i, -0.65 + 0.4 * i), 0.5, 2.0 if front else -2.0) for i, (c, front) in
               enumerate(plates)]  # fmt: skip
    shown = np.round(np.linspace(0, 9, n)).astype(int)
    faces = {"front": bool((shown < 5).any()), "back": bool((shown >= 5).any())}
    seen = {c for c in {c for c, _ in plates} if all(faces["front" if f else "back"] for c2, f in plates if c2 == c)}
    tmp_path = tmp_path_factory.mktemp("recipe")
    poses = [FRONT] * 5 + [BACK] * 5
    every = generate_questions(scene(poses, objects=objects), recipe(tmp_path), seed=1, exhaustive=True)
    section = f"visibility: {{require_visible: [{', '.join(TYPES)}], frames: {n}}}\n"
    visible = generate_questions(scene(poses, objects=objects), recipe(tmp_path, section), seed=1, exhaustive=True)
    key = lambda q: (q.question_type, tuple(sorted(q.objects)), q.answer)  # noqa: E731
    assert Counter(map(key, visible)) == Counter(key(q) for q in every if set(q.objects) <= seen)

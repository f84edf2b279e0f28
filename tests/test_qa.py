"""Recipes, templates, options and the generators' filters."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from vsi_data.geometry import OrientedBox
from vsi_data.geometry.direction import read_direction
from vsi_data.metrics import mean_relative_accuracy
from vsi_data.qa import RecipeError, SceneContext, generate_questions, load_recipe
from vsi_data.qa.options import LetterBalancer, lettered
from vsi_data.qa.question import format_number
from vsi_data.scene import Room, Scene, SceneObject
from vsi_data.vocabulary import load_vocabulary


def obj(i: int, category: str, center, extents=(0.4, 0.4, 0.4)) -> SceneObject:
    return SceneObject(i, category, category, OrientedBox(center=center, extents=extents, rotation=np.eye(3)))


def scene_of(*objects: SceneObject, area: float = 20.0) -> Scene:
    return Scene("s0", "synthetic", "train", list(objects), Room(area=area))


def write_recipe(tmp_path, text: str):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


# --- recipes and templates --------------------------------------------------------------------------


def test_bundled_recipes_load_with_their_documented_rules():
    vsibench = load_recipe("vsibench")
    assert vsibench.lettered
    assert vsibench.geometry.distance == "box_grid"
    assert vsibench.room.max_points == 10_000
    vsi100k = load_recipe("vsi100k")
    assert not vsi100k.lettered
    assert vsi100k.geometry.distance == "center"
    assert {g.question_type for g in vsi100k.generators} >= {
        "object_counting",
        "object_abs_distance",
        "room_size_estimation",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("types: {object_counting: {per_scen: 3}}", r"unknown `types.object_counting` settings \['per_scen'\]"),
        ("types: {object_countin: {}}", "unknown question type 'object_countin'"),
        ("optionz: letters\ntypes: {object_counting: {}}", r"unknown recipe keys \['optionz'\]"),
        ("options: maybe\ntypes: {object_counting: {}}", r"options must be one of \['letters', 'none'\], not 'maybe'"),
        ("geometry: {distance: manhattan}\ntypes: {object_counting: {}}", "geometry.distance must be one of"),
        ("types: {object_rel_direction_easy: {choices: [left, up]}}", r"need sectors \(missing \['up'\]\)"),
        ("types: [1, 2]", r"types must be dict, not \[1, 2\]"),
        ("types: {}", "`types` must map question types"),
        ("types: {object_counting: [1]}", r"`types.object_counting` must be a mapping of its settings, not \[1\]"),
        ("types: {object_counting: {}", "not valid YAML"),
        ("types: {object_counting: {per_scene: '6'}}", r"object_counting.per_scene must be int, not '6'"),
        ("types: {object_counting: {per_scene: -1}}", "per_scene must not be negative"),
        ("types: {object_counting: {max_count: 2.5}}", "max_count must be int or null, not 2.5"),
        (
            "geometry: {min_object_points: twenty}\ntypes: {object_counting: {}}",
            "geometry.min_object_points must be int",
        ),
        ("geometry: {min_object_points: -1}\ntypes: {object_counting: {}}", "geometry: min_object_points must not be"),
        ("geometry: {box_fit: tight}\ntypes: {object_counting: {}}", r"geometry.box_fit must be one of \['minimal', "),
        ("geometry: [minimal]\ntypes: {object_counting: {}}", r"`geometry` must be a mapping, not \['minimal'\]"),
        ("room: {alpha: -2}\ntypes: {object_counting: {}}", "room: alpha must not be negative, not -2"),
        ("balance: {dedup: 1}\ntypes: {object_counting: {}}", "balance.dedup must be bool, not 1"),
        ("balance: {types: {count: {max_share: 0.5}}}\ntypes: {object_counting: {}}", "unknown question type 'count'"),
        ("room: {max_points: 1.5}\ntypes: {object_counting: {}}", r"room.max_points must be int or null, not 1.5"),
    ],
)
def test_bad_recipes_fail_naming_the_file(tmp_path, text, message):
    path = write_recipe(tmp_path, "templates: vsibench\n" + text)
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path)
    assert "mine.yaml" in str(info.value)


def test_template_fields_are_checked_against_the_question_type(tmp_path):
    (tmp_path / "words.yaml").write_text("object_counting:\n  - {id: x, text: 'How many {thing}?'}\n")
    path = write_recipe(tmp_path, f"templates: {tmp_path / 'words.yaml'}\ntypes: {{object_counting: {{}}}}")
    with pytest.raises(RecipeError, match=r"uses \['thing'\]; object_counting offers \['category'\]"):
        load_recipe(path)


@pytest.mark.parametrize(
    ("templates", "metric", "refused"),
    [
        ("vsi100k", "box_grid", "template absdist-1 words distances as center"),  # "center to center" wording
        ("vsi100k", "closest_points", "template absdist-1 words distances as center"),
        ("vsibench", "center", "template vsibench-absdist words distances as closest"),
        ("vsibench", "closest_box", None),
        ("vsi100k", "center", None),
    ],
)
def test_a_template_worded_for_another_distance_metric_is_refused(tmp_path, templates, metric, refused):
    path = write_recipe(
        tmp_path, f"templates: {templates}\ngeometry: {{distance: {metric}}}\ntypes: {{object_abs_distance: {{}}}}\n"
    )
    if refused is None:
        assert load_recipe(path).geometry.distance == metric
        return
    with pytest.raises(RecipeError, match=f"mine.yaml: .*{refused}.* geometry.distance {metric}"):
        load_recipe(path)


def test_a_template_distance_tag_must_be_known(tmp_path):
    words = tmp_path / "words.yaml"
    words.write_text("object_abs_distance:\n  - {id: x, text: 'How far is {a} from {b}?', distance: diagonal}\n")
    with pytest.raises(RecipeError, match=r"object_abs_distance\[0\]: distance must be one of \['center', 'closest'\]"):
        load_recipe(write_recipe(tmp_path, f"templates: {words}\ntypes: {{object_abs_distance: {{}}}}"))


def test_unknown_bundled_recipe_lists_the_known_ones():
    with pytest.raises(RecipeError, match="bundled ones: vsi100k, vsibench"):
        load_recipe("vsi1000k")


def test_resolved_recipe_fills_every_default():
    resolved = load_recipe("vsibench").resolved()
    assert resolved["types"]["object_counting"] == {"per_scene": 6, "min_count": 2, "max_count": None}
    assert resolved["types"]["object_rel_direction_hard"]["margin_side"] == "ahead"


# --- letters and numbers ----------------------------------------------------------------------------


def test_letter_balancer_uses_every_letter_evenly():
    balancer = LetterBalancer(np.random.default_rng(0))
    positions = [balancer.arrange("a", ["a", "b", "c", "d"], fixed_order=False)[1] for _ in range(40)]
    assert Counter(positions) == {0: 10, 1: 10, 2: 10, 3: 10}
    options, index = balancer.arrange("right", ["left", "right", "back"], fixed_order=True)
    assert (options, index) == (["left", "right", "back"], 1)
    assert lettered(["chair", "sofa"]) == ["A. chair", "B. sofa"]


@pytest.mark.parametrize(
    ("value", "decimals", "text", "number"),
    [
        (2.95, 1, "3.0", 3.0),
        (113.4, 0, "113", 113.0),
        (0.25, 1, "0.2", 0.2),
        (47.86, 1, "47.9", 47.9),
        (3, 0, "3", 3.0),
    ],
)
def test_format_number(value, decimals, text, number):
    assert format_number(value, decimals) == (text, number)


@pytest.mark.parametrize(
    ("pred", "gt", "score"),
    [
        (10, 10, 1.0),
        (10.5, 10, 1.0),
        (10.6, 10, 0.9),
        (15, 10, 0.1),
        (15.1, 10, 0.0),
        (5, 10, 0.1),
        (0, 0, 1.0),
        (1, 0, 0.0),
    ],
)
def test_mean_relative_accuracy_by_hand(pred, gt, score):
    # Relative error 0.06 passes thresholds 0.55..0.95 → 1 - 0.06 >= 1 - θ for θ >= 0.94 only? No: the 9 of 10
    # thresholds with 1 - θ >= 0.06, i.e. θ <= 0.90 → 0.9. An error of exactly 0.5 passes only θ = 0.5.
    assert mean_relative_accuracy(pred, gt) == pytest.approx(score)


# --- generators' filters ----------------------------------------------------------------------------


def test_counting_asks_only_about_repeated_categories():
    scene = scene_of(obj(0, "chair", [0, 0, 0]), obj(1, "chair", [2, 0, 0]), obj(2, "bed", [4, 0, 0]))
    questions = generate_questions(scene, load_recipe("vsibench"), seed=0, exhaustive=True)
    counting = [q for q in questions if q.question_type == "object_counting"]
    assert [(q.objects, q.answer) for q in counting] == [(["chair"], "2")]
    sizes = {q.objects[0] for q in questions if q.question_type == "object_size_estimation"}
    assert sizes == {"bed"}  # the size of "the chair" would be ambiguous


def test_relative_distance_filters_close_calls():
    # Target at the origin; choices at 1.0, 1.1 (too close to 1.0), 2.0, 3.0, 4.0 m (centre metric).
    objects = [obj(0, "tv", [0, 0, 0])] + [
        obj(i + 1, name, [d, 0, 0])
        for i, (name, d) in enumerate([("a", 1.0), ("b", 1.1), ("c", 2.0), ("d", 3.0), ("e", 4.0)])
    ]
    recipe = load_recipe("vsi100k")
    ctx = SceneContext(scene_of(*objects), "center", recipe.vocabulary)
    generator = next(g for g in recipe.generators if g.question_type == "object_rel_distance")
    candidates = generator.candidates(ctx, np.random.default_rng(0))
    sets = {frozenset(c.choices) for c in candidates if c.objects[0] == "tv"}
    assert sets == {frozenset("acde"), frozenset("bcde")}  # a and b never appear together
    assert {c.answer for c in candidates if c.objects[0] == "tv"} == {"a", "b"}


def _read_right_of_ahead(degrees: float) -> dict[str, list[tuple[str, float]]]:
    """Standing at the origin facing +y, the queried object `degrees` right of straight ahead: (answer, angle)
    of the (p, o, q) candidate per direction level."""
    angle = np.radians(90 - degrees)
    objects = [obj(0, "p", [0, 0, 0]), obj(1, "o", [0, 3, 0]), obj(2, "q", [2 * np.cos(angle), 2 * np.sin(angle), 0])]
    recipe = load_recipe("vsibench")
    ctx = SceneContext(scene_of(*objects), "center", recipe.vocabulary)
    return {
        g.question_type.rsplit("_", 1)[1]: [
            (c.answer, c.meta["angle_deg"])
            for c in g.candidates(ctx, np.random.default_rng(0))
            if c.objects == ["p", "o", "q"]
        ]
        for g in recipe.generators
        if g.question_type.startswith("object_rel_direction")
    }


def test_relative_direction_skips_answers_near_a_sector_boundary():
    # 5° right of ahead, 355° counter-clockwise: 5° from the left/right boundary at 0° (easy, medium), and VSI-Bench's
    # hard level looks only ahead, 5° from 360 → every level skips it.
    assert _read_right_of_ahead(5) == {"easy": [], "medium": [], "hard": []}
    # The positive control: 30° right of ahead (330°) is clear of every boundary, and asked at every level.
    assert _read_right_of_ahead(30) == {
        "easy": [("right", 330.0)],
        "medium": [("right", 330.0)],
        "hard": [("front-right", 330.0)],
    }


def test_relative_direction_reads_every_ordering_of_a_triple_in_order(tmp_path):
    # a at the origin, b 3 m along +y, c at (-2, 2); z is 20 m away, so no triple with it is in band.
    objects = [obj(0, "a", [0, 0, 0]), obj(1, "b", [0, 3, 0]), obj(2, "c", [-2, 2, 0]), obj(3, "z", [20, 0, 0])]
    path = write_recipe(
        tmp_path,
        "templates: vsibench\ntypes:\n"
        "  object_rel_direction_medium: {all_orientations: true}\n"
        "  object_rel_direction_hard: {margin_side: ahead}\n",
    )
    recipe = load_recipe(path)
    ctx = SceneContext(scene_of(*objects), "center", recipe.vocabulary)
    medium, hard = (g.candidates(ctx, np.random.default_rng(0)) for g in recipe.generators)
    read = [(c.objects, c.answer, c.meta["angle_deg"], c.meta["margin_deg"]) for c in medium]
    assert read == [  # by hand: atan2 of (cross, dot) of facing and queried from the standing object
        (["a", "b", "c"], "left", 45.0, 45.0),
        (["a", "c", "b"], "right", 315.0, 45.0),
        (["b", "a", "c"], "right", 296.565, 63.435),  # 63.435° from 360, 71.565° from 225
        (["b", "c", "a"], "left", 63.435, 63.435),
        (["c", "a", "b"], "left", 71.565, 63.435),
        (["c", "b", "a"], "right", 288.435, 63.435),
    ]
    assert {tuple(c.meta["pair_distances_m"]) for c in medium} == {(3.0, 2.8284, 2.2361)}  # a-b, a-c, b-c
    assert {c.meta["corners_disagreeing"] for c in medium} == {0}
    # Hard looks only ahead (counter-clockwise) for its margin: 63.435° from 360 for the third ordering, where
    # both sides would give 26.565° (to 270). Every ordering is a candidate (what --exhaustive emits) ...
    read = [(c.objects, c.answer, c.meta["margin_deg"]) for c in hard]
    assert read == [
        (["a", "b", "c"], "front-left", 45.0),
        (["a", "c", "b"], "front-right", 45.0),
        (["b", "a", "c"], "front-right", 63.435),
        (["b", "c", "a"], "front-left", 26.565),
        (["c", "a", "b"], "front-left", 18.435),
        (["c", "b", "a"], "front-right", 71.565),
    ]
    # ... but the per-scene sample is drawn from VSI-Bench's three, unless all_orientations.
    assert [c.objects for c in recipe.generators[1].sampled_from(hard)] == [
        ["a", "b", "c"],
        ["a", "c", "b"],
        ["b", "a", "c"],
    ]
    assert recipe.generators[0].sampled_from(medium) == medium
    sampled = {tuple(q.objects) for q in recipe.generators[1].generate(ctx, np.random.default_rng(0), exhaustive=False)}
    assert sampled == {("a", "b", "c"), ("a", "c", "b"), ("b", "a", "c")}
    emitted = {tuple(q.objects) for q in recipe.generators[1].generate(ctx, np.random.default_rng(0), exhaustive=True)}
    assert len(emitted) == 6


def test_relative_direction_reads_triples_in_the_category_order_a_source_lists(tmp_path):
    # The scene above, its categories listed c, z, a, b by its source: VSI-Bench's three orderings follow that order.
    objects = [obj(0, "a", [0, 0, 0]), obj(1, "b", [0, 3, 0]), obj(2, "c", [-2, 2, 0]), obj(3, "z", [20, 0, 0])]
    listed = dataclasses.replace(scene_of(*objects), category_order=("c", "z", "a", "b"))
    assert listed.in_listed_order(["a", "b", "c", "d"]) == ["c", "a", "b", "d"]  # unlisted ones last, alphabetically
    recipe = load_recipe(write_recipe(tmp_path, "templates: vsibench\ntypes:\n  object_rel_direction_hard: {}\n"))
    (hard,) = recipe.generators
    ctx = SceneContext(listed, "center", recipe.vocabulary)
    read = [(c.objects, c.answer) for c in hard.sampled_from(hard.candidates(ctx, np.random.default_rng(0)))]
    assert read == [(["c", "a", "b"], "front-left"), (["c", "b", "a"], "front-right"), (["a", "c", "b"], "front-right")]
    assert {tuple(c.meta["pair_distances_m"]) for c in hard.candidates(ctx, np.random.default_rng(0))} == {
        (2.8284, 2.2361, 3.0)  # c-a, c-b, a-b
    }


def test_absolute_distance_names_the_later_listed_category_first(tmp_path):
    # VSI-Bench names a pair's later category (in its meta info's order) first; a scene whose source lists no order
    # gets a coin flip per pair, as which object is named first carries no information.
    objects = [obj(0, "a", [0, 0, 0]), obj(1, "b", [0, 3, 0]), obj(2, "c", [-2, 2, 0]), obj(3, "z", [20, 0, 0])]
    listed = dataclasses.replace(scene_of(*objects), category_order=("c", "z", "a", "b"))
    recipe = load_recipe(write_recipe(tmp_path, "templates: vsibench\ntypes:\n  object_abs_distance: {}\n"))
    (absolute,) = recipe.generators
    asked = absolute.generate(SceneContext(listed, "center", recipe.vocabulary), np.random.default_rng(0), True)
    assert [(q.objects, q.answer) for q in asked] == [  # by hand: centre distances, one decimal
        (["z", "c"], "22.1"),
        (["a", "c"], "2.8"),
        (["b", "c"], "2.2"),
        (["a", "z"], "20.0"),
        (["b", "z"], "20.2"),
        (["b", "a"], "3.0"),
    ]
    assert asked[0].question == (
        "Measuring from the closest point of each object, what is the distance between the z and the c (in meters)?"
    )
    assert [q.meta["instances"] for q in asked[:2]] == [[3, 2], [0, 2]]  # the instances follow the names
    unlisted = absolute.generate(
        SceneContext(scene_of(*objects), "center", recipe.vocabulary), np.random.default_rng(0), True
    )
    assert {tuple(sorted(q.objects)) for q in unlisted} == {tuple(sorted(q.objects)) for q in asked}
    assert {q.objects == sorted(q.objects) for q in unlisted} == {True, False}  # drawn, not in one order


def _lamp_on_table(offset: float) -> Scene:
    """A lamp standing `offset` metres off the centre of a table; a toilet and a bed a few metres away."""
    lamp = obj(0, "lamp", [offset, 0, 0.9], (0.3, 0.3, 0.4))
    table = obj(1, "table", [0.0, 0, 0.37], (1.2, 0.8, 0.74))
    toilet, bed = obj(2, "toilet", [0, 2.0, 0.4], (0.5, 0.7, 0.8)), obj(3, "bed", [-2.5, 1.5, 0.3], (2.0, 1.6, 0.6))
    return scene_of(lamp, table, toilet, bed)


def _directions(scene: Scene, recipe_name: str) -> list[tuple[str, ...]]:
    recipe = load_recipe(recipe_name)
    ctx = SceneContext(scene, "center", recipe.vocabulary)
    return [
        tuple(c.objects)
        for g in recipe.generators
        if g.question_type.startswith("object_rel_direction")
        for c in g.candidates(ctx, np.random.default_rng(0))
    ]


def test_no_direction_is_read_off_objects_stacked_on_each_other():
    # 1 cm off: "standing by the lamp, facing the table" has no direction on the floor; a hair's shift of the
    # lamp would flip left and right. vsi100k's floor-plane rule (ours) leaves such triples out.
    assert not [o for o in _directions(_lamp_on_table(0.01), "vsi100k") if {o[0], o[1]} == {"lamp", "table"}]
    # The positive control: a lamp 1 m off the table's centre stands beside it, and is asked from both ends.
    beside = {o for o in _directions(_lamp_on_table(1.0), "vsi100k") if {o[0], o[1]} == {"lamp", "table"}}
    assert beside == {("lamp", "table", "bed"), ("lamp", "table", "toilet"), ("table", "lamp", "toilet"),
                      ("table", "lamp", "bed")}  # fmt: skip


def test_no_direction_where_the_floor_plane_gives_none():
    # Exactly above the centre: no angle at all. VSI-Bench has no floor-distance rule (vsibench), but no angle
    # is read off a zero vector either.
    asked = _directions(_lamp_on_table(0.0), "vsibench")
    assert ("toilet", "bed", "table") in asked  # a positive control: triples with a direction are asked
    assert not [o for o in asked if {o[0], o[1]} == {"lamp", "table"} or {o[0], o[2]} == {"lamp", "table"}]
    lamp, table, toilet, _ = (o.box for o in _lamp_on_table(0.0).objects)
    one = read_direction(lamp.center, table.center, toilet.center, toilet.corners(), {"x": (0, 360)})
    assert np.isnan(one.angle)
    assert one.sector == ""


def test_relative_distance_samples_without_building_every_candidate():
    rng = np.random.default_rng(0)
    objects = [obj(i, f"c{i:02d}", rng.uniform(0, 12, 3) * [1, 1, 0.2]) for i in range(30)]
    recipe = load_recipe("vsi100k")
    generator = next(g for g in recipe.generators if g.question_type == "object_rel_distance")
    ctx = SceneContext(scene_of(*objects), "center", recipe.vocabulary)
    candidates = generator.candidates(ctx, rng)
    assert len(candidates) > 100_000
    assert candidates[len(candidates) - 1].objects[0] == "c29"  # built on access, in order
    assert len(generator.generate(ctx, rng, exhaustive=False)) == generator.params.per_scene


def test_room_question_needs_a_room_and_vsi100k_a_plausible_one():
    def rooms(scene: Scene, recipe: str) -> list[str]:
        questions = generate_questions(scene, load_recipe(recipe), 0, True)
        return [q.answer for q in questions if q.question_type == "room_size_estimation"]

    tiny = scene_of(obj(0, "bed", [0, 0, 0]), area=0.5)
    assert rooms(tiny, "vsi100k") == []  # min_area 1 m²: a broken scan
    assert rooms(tiny, "vsibench") == ["0.5"]  # VSI-Bench asks every scene's room
    assert rooms(Scene("s0", "synthetic", "train", tiny.objects, None), "vsibench") == []


def test_vocabularies_map_real_scannet_labels(realdata):
    from vsi_data.sources.scannet.formats import read_label_table

    table = read_label_table(realdata / "scannet/meta/scannetv2-labels.combined.tsv")
    vsibench = load_vocabulary("vsibench")
    mapped = {raw: vsibench.categorize("scannet", raw, row) for raw, row in table.items()}
    assert mapped["office chair"] == "chair"
    assert mapped["couch"] == "sofa"
    assert mapped["desk"] == "table"
    assert mapped["recycling bin"] == "trash bin"
    assert mapped["mouse"] == "computer mouse"
    assert mapped["doors"] == "door"
    assert mapped["doorframe"] is None
    assert mapped["wall"] is None
    assert len({c for c in mapped.values() if c}) == 32  # VSI-Bench's 33 minus its one-off "mattress"
    scannet200 = load_vocabulary("scannet200")
    assert scannet200.categorize("scannet", "trash can", table["trash can"]) == "trash can"
    assert scannet200.categorize("scannet", "wall", table["wall"]) is None
    assert "office chair" in scannet200.confusable_with("chair")


# --- settings the bundled recipes leave at their defaults ---------------------------------------------------


def _candidates(tmp_path, types: str, *objects: SceneObject, metric: str = "center") -> dict[str, list]:
    templates = "vsi100k" if metric == "center" else "vsibench"
    recipe = load_recipe(write_recipe(tmp_path, f"templates: {templates}\ngeometry: {{distance: {metric}}}\n{types}"))
    ctx = SceneContext(scene_of(*objects), recipe.geometry.distance, recipe.vocabulary)
    return {g.question_type: list(g.candidates(ctx, np.random.default_rng(0))) for g in recipe.generators}


def test_max_distance_leaves_out_pairs_farther_apart(tmp_path):
    # Centres 1 m (a-b), 4 m (b-c) and 5 m (a-c) apart.
    objects = (obj(0, "a", [0, 0, 0]), obj(1, "b", [1, 0, 0]), obj(2, "c", [5, 0, 0]))
    asked = {
        limit: {"-".join(sorted(c.objects)): c.answer for c in found["object_abs_distance"]}
        for limit in ("null", 4.5, 2.0)
        for found in [_candidates(tmp_path, f"types: {{object_abs_distance: {{max_distance: {limit}}}}}", *objects)]
    }
    assert asked["null"] == {"a-b": "1.0", "b-c": "4.0", "a-c": "5.0"}
    assert asked[4.5] == {"a-b": "1.0", "b-c": "4.0"}
    assert asked[2.0] == {"a-b": "1.0"}


def test_min_size_cm_leaves_out_smaller_objects(tmp_path):
    objects = (obj(0, "cup", [0, 0, 0], (0.1, 0.1, 0.12)), obj(1, "sofa", [2, 0, 0], (2.1, 0.9, 0.8)))
    for limit, expected in ((0.0, [("cup", "12"), ("sofa", "210")]), (50.0, [("sofa", "210")])):
        found = _candidates(tmp_path, f"types: {{object_size_estimation: {{min_size_cm: {limit}}}}}", *objects)
        assert sorted((c.objects[0], c.answer) for c in found["object_size_estimation"]) == expected


def test_choices_unique_only_keeps_repeated_categories_out_of_the_choices(tmp_path):
    # Target t; two chairs (the nearest 1 m away), u 2 m and v 3 m away.
    objects = (obj(0, "t", [0, 0, 0]), obj(1, "chair", [1, 0, 0]), obj(2, "chair", [6, 0, 0]),
               obj(3, "u", [0, 2, 0]), obj(4, "v", [0, -3, 0]))  # fmt: skip
    for unique_only, expected in ((False, {("chair", "u"): "chair", ("chair", "v"): "chair", ("u", "v"): "u"}),
                                  (True, {("u", "v"): "u"})):  # fmt: skip
        settings = f"{{num_choices: 2, choices_unique_only: {str(unique_only).lower()}}}"
        found = _candidates(tmp_path, f"types: {{object_rel_distance: {settings}}}", *objects)
        asked = {tuple(sorted(c.choices)): c.answer for c in found["object_rel_distance"] if c.objects[0] == "t"}
        assert asked == expected


def test_option_order_fixed_keeps_the_listed_order_and_balanced_moves_the_answer(tmp_path):
    # Around a at the origin, facing b (+y): c1..c3 to the left (x < 0) and d1..d3 to the right.
    objects = [obj(0, "a", [0, 0, 0]), obj(1, "b", [0, 3, 0])]
    objects += [obj(2 + i, f"c{i}", [-2, 0.5 + i, 0]) for i in range(3)]
    objects += [obj(5 + i, f"d{i}", [2, 0.5 + i, 0]) for i in range(3)]
    options = {}
    for order in ("fixed", "balanced"):
        path = write_recipe(
            tmp_path, f"templates: vsibench\ntypes: {{object_rel_direction_easy: {{option_order: {order}}}}}\n"
        )
        questions = generate_questions(scene_of(*objects), load_recipe(path), seed=0, exhaustive=True)
        asked = [q for q in questions if q.objects[:2] == ["a", "b"]]
        assert len(asked) == 6  # every queried object, 2 m or more off the facing line
        options[order] = {tuple(q.options) for q in asked}
    assert options["fixed"] == {("A. left", "B. right")}
    assert options["balanced"] == {("A. left", "B. right"), ("A. right", "B. left")}

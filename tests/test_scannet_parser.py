"""The ScanNet parser and both recipes on a hand-made scene with known boxes.

Every generated answer is recomputed here from the known boxes with plain numpy (centres, angles),
or with the box-grid sample for VSI-Bench distances, and a few answers are checked against values
worked out by hand.
"""

from __future__ import annotations

import functools
import json
import re
import shutil

import numpy as np
import pytest

from handmade import HANDMADE_ROOM, Box, answer_text, expected_distance, sector
from vsi_data.qa import generate_questions, load_recipe
from vsi_data.sources.base import SceneError
from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource

VSIBENCH_NAMES = {"couch": "sofa"}  # the vsibench vocabulary's renames among the hand-made labels
SIZES_CM = {"bed": 200, "couch": 220, "sofa": 220, "tv": 120, "refrigerator": 180, "table": 150}


def load(root, recipe_name: str, exhaustive: bool = True):
    recipe = load_recipe(recipe_name)
    source = ScanNetSource(ScanNetConfig(root))
    scene = source.load(source.list_scenes()[0], recipe.parse_options(seed=0))
    return scene, generate_questions(scene, recipe, seed=0, exhaustive=exhaustive)


def truth(recipe_name: str) -> dict[str, list[Box]]:
    names = VSIBENCH_NAMES if recipe_name == "vsibench" else {}
    out: dict[str, list[Box]] = {}
    for box in HANDMADE_ROOM.boxes:
        if box.label != "wall":
            out.setdefault(names.get(box.label, box.label), []).append(box)
    return out


@functools.cache
def distance(recipe_name: str, category_a: str, category_b: str) -> float:
    boxes = truth(recipe_name)
    return expected_distance(recipe_name, boxes[category_a], boxes[category_b])


@pytest.mark.parametrize("recipe_name", ["vsibench", "vsi100k"])
def test_every_answer_matches_the_known_boxes(handmade_root, recipe_name):
    scene, questions = load(handmade_root, recipe_name)
    boxes = truth(recipe_name)
    assert scene.counts == {c: len(b) for c, b in boxes.items()}
    types = {q.question_type for q in questions}
    # every type is exercised but appearance order: the hand-made scene has no .sens (tests/test_video.py has one)
    assert types == {g.question_type for g in load_recipe(recipe_name).generators} - {"obj_appearance_order"}
    for q in questions:
        kind, objs, given = q.question_type, q.objects, answer_text(q)
        if kind == "object_counting":
            assert objs == ["chair"]
            assert given == "3"
        elif kind == "object_size_estimation":
            assert given == str(SIZES_CM[objs[0]])
        elif kind == "room_size_estimation":
            expected = 24.0 if recipe_name == "vsi100k" else None  # vsibench samples 10,000 points
            assert expected is None or given == "24.0"
            assert 22.5 <= float(given) <= 24.0
        elif kind == "object_abs_distance":
            d = distance(recipe_name, objs[0], objs[1])
            if recipe_name == "vsi100k":
                assert float(given) == pytest.approx(round(d, 1)), (q.question, d)
            else:  # VSI-Bench measures hollow 5 cm grids inside the boxes: never nearer, at most a step or two further
                assert d - 0.05 <= float(given) <= d + 0.2, (q.question, d)
        elif kind == "object_rel_distance":
            target, options = objs[0], objs[1:]
            ds = {o: distance(recipe_name, target, o) for o in options}
            assert given == min(ds, key=ds.get)
            assert q.meta["choices"] == options
        elif kind.startswith("object_rel_direction"):
            standing, facing, queried = (boxes[c][0] for c in objs)
            assert given == sector(standing, facing, queried, kind.rsplit("_", 1)[1]), q.question
        else:
            pytest.fail(f"unexpected type {kind}")


def test_hand_computed_answers(handmade_root):
    _, questions = load(handmade_root, "vsi100k")
    by_objects = {(q.question_type, tuple(q.objects)): q for q in questions}
    # bed (1.5, 1.0, 0.3) to tv (1.0, 3.85, 1.2): sqrt(0.5² + 2.85² + 0.9²) = 3.030 m.
    absd = by_objects.get(("object_abs_distance", ("bed", "tv"))) or by_objects[("object_abs_distance", ("tv", "bed"))]
    assert absd.answer == "3.0"
    assert absd.meta["distance_m"] == pytest.approx(3.0303, abs=1e-3)
    room = by_objects[("room_size_estimation", ())]
    assert room.answer == "24.0"
    assert room.answer_value == 24.0
    # Refrigerator (5.5, 0.6) and tv (1.0, 3.85) centres are 5.56 m apart: outside vsi100k's 0.3-5 m band.
    assert not any(set(q.objects) == {"bed", "tv", "refrigerator"} for q in questions)

    _, questions = load(handmade_root, "vsibench")
    by_objects = {(q.question_type, tuple(q.objects)): q for q in questions}
    # Standing by the bed facing the tv: forward (-0.5, 2.85), the refrigerator at (4.0, -0.4) from the bed;
    # cross -11.2, dot -3.14, so 254.34° counter-clockwise: right (medium), back-right (hard).
    assert answer_text(by_objects[("object_rel_direction_medium", ("bed", "tv", "refrigerator"))]) == "right"
    hard = by_objects[("object_rel_direction_hard", ("bed", "tv", "refrigerator"))]
    assert answer_text(hard) == "back-right"
    assert hard.meta["angle_deg"] == pytest.approx(254.34, abs=0.01)


def test_vsibench_rows_are_lettered_and_balanced(handmade_root):
    _, questions = load(handmade_root, "vsibench")
    lettered = [q for q in questions if q.options is not None]
    assert lettered
    assert all(re.fullmatch(r"[A-D]", q.answer) for q in lettered)
    for q in lettered:
        assert [o[:3] for o in q.options] == [f"{'ABCD'[i]}. " for i in range(len(q.options))]
    rel = [q for q in lettered if q.question_type == "object_rel_distance"]
    letters = [q.answer for q in rel]
    assert max(letters.count(x) for x in "ABCD") - min(letters.count(x) for x in "ABCD") <= 1
    # The question lists the choices in the order the options show them.
    for q in rel:
        listed = re.search(r"\((.*)\)", q.question).group(1).split(", ")
        assert listed == [o.split(". ", 1)[1] for o in q.options]


def test_vsi100k_rows_have_no_options_and_word_answers(handmade_root):
    _, questions = load(handmade_root, "vsi100k")
    for q in questions:
        assert q.options is None
        if q.question_type.startswith("object_rel_direction"):
            assert q.answer in {"left", "right", "back", "front-left", "front-right", "back-left", "back-right"}
            assert q.answer_value is None


def test_confusable_categories_are_never_named(tmp_path):
    from handmade import Room, write_handmade_scene, write_label_table

    chair = (0.5, 0.5, 0.9)
    boxes = (Box("chair", (1, 1, 0.45), chair), Box("chair", (2, 1, 0.45), chair),
             Box("office chair", (3, 1, 0.45), (0.6, 0.6, 1.0)), Box("bed", (4.5, 2.5, 0.3), (2, 1.6, 0.6)),
             Box("tv", (1, 3.8, 1.2), (1.2, 0.1, 0.7)), Box("table", (2.5, 2.5, 0.4), (1.2, 0.8, 0.8)))  # fmt: skip
    room = Room(6, 4, boxes)
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv", {
        "chair": ("2", "chair", "5", "chair"), "office chair": ("10", "office chair", "5", "chair"),
        "bed": ("11", "bed", "4", "bed"), "tv": ("33", "tv", "25", "television"), "table": ("4", "table", "7", "table"),
        "floor": ("3", "floor", "2", "floor"),
    })  # fmt: skip
    write_handmade_scene(tmp_path / "scans", "scene0002_00", room)
    scene, questions = load(tmp_path, "vsi100k")
    assert scene.counts["chair"] == 2
    assert scene.counts["office chair"] == 1
    named = {c for q in questions for c in q.objects}
    assert named
    assert not named & {"chair", "office chair"}
    _, questions = load(tmp_path, "vsibench")  # VSI-Bench merges both into "chair": 3 of them
    assert {q.answer for q in questions if q.question_type == "object_counting"} == {"3"}


def test_generation_is_deterministic_and_caps_hold(handmade_root):
    _, first = load(handmade_root, "vsibench", exhaustive=False)
    _, second = load(handmade_root, "vsibench", exhaustive=False)
    assert [(q.question, q.answer, q.options) for q in first] == [(q.question, q.answer, q.options) for q in second]
    per_type = {}
    for q in first:
        per_type[q.question_type] = per_type.get(q.question_type, 0) + 1
    caps = {g.question_type: g.params.per_scene for g in load_recipe("vsibench").generators}
    assert all(n <= caps[t] for t, n in per_type.items())
    _, everything = load(handmade_root, "vsibench", exhaustive=True)
    assert len(everything) > len(first)


# --- a real mesh -------------------------------------------------------------------------------------

NYU40_RAW = {1: "wall", 2: "floor", 5: "chair", 7: "table", 8: "door", 9: "window", 30: "whiteboard", 37: "bag",
             39: "trash can"}  # fmt: skip


@pytest.mark.slow
def test_real_scannet_mesh_through_the_parser(realdata, tmp_path):
    """scene0470_00's real mesh with segments and groups made from its real per-vertex labels."""
    import os

    import alphashape
    import plyfile

    from handmade import write_label_table

    scene = tmp_path / "scans" / "scene0470_00"
    scene.mkdir(parents=True)
    real = realdata / "scannet/scene0470_00"
    os.symlink(real / "scene0470_00_vh_clean_2.ply", scene / "scene0470_00_vh_clean_2.ply")
    labels = np.asarray(plyfile.PlyData.read(str(real / "scene0470_00_vh_clean_2.labels.ply"))["vertex"]["label"])
    first_vertex = {int(v): int(np.flatnonzero(labels == v)[0]) for v in np.unique(labels)}
    seg = np.array([first_vertex[int(v)] for v in labels])  # one segment per label, named by its first vertex
    (scene / "scene0470_00_vh_clean_2.0.010000.segs.json").write_text(json.dumps({"segIndices": seg.tolist()}))
    groups = [{"id": i, "objectId": i, "label": NYU40_RAW[v], "segments": [first_vertex[v]]} for i, v in
              enumerate(sorted(NYU40_RAW))]  # fmt: skip
    (scene / "scene0470_00.aggregation.json").write_text(json.dumps({"segGroups": groups}))
    (scene / "scene0470_00.txt").write_text("sceneType = Bedroom\n")  # no alignment: identity, as for test scans
    table = read_real_rows(realdata, set(NYU40_RAW.values()))
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv", table)

    parsed, questions = load(tmp_path, "vsi100k")
    assert parsed.stats["scenes_without_axis_alignment"] == 1
    assert set(parsed.counts) == {"chair", "table", "door", "window", "whiteboard", "bag", "trash can"}
    for obj in parsed.objects:
        assert np.all(obj.box.contains(obj.points, tol=1e-4))
        assert obj.box.extents.min() > 0.01
    xy = np.asarray(plyfile.PlyData.read(str(real / "scene0470_00_vh_clean_2.ply"))["vertex"].data[["x", "y"]].tolist())
    assert parsed.room.area == pytest.approx(alphashape.alphashape(xy, 5.0).area, rel=1e-9)  # 8.518 m²
    room = next(q for q in questions if q.question_type == "room_size_estimation")
    assert room.answer == "8.5"


def read_real_rows(realdata, raw_labels: set[str]) -> dict[str, tuple[str, str, str, str]]:
    from vsi_data.sources.scannet.formats import read_label_table

    table = read_label_table(realdata / "scannet/meta/scannetv2-labels.combined.tsv")
    return {raw: (table[raw]["id"], table[raw]["category"], table[raw]["nyu40id"], table[raw]["nyu40class"])
            for raw in raw_labels}  # fmt: skip


# --- bad input --------------------------------------------------------------------------------------


def _scene_dir(root):
    return root / "scans" / "scene0001_00"


def _break_missing_aggregation(d):
    (d / "scene0001_00.aggregation.json").unlink()
    return "scene0001_00.aggregation.json: file is missing"


def _break_truncated_mesh(d):
    mesh = d / "scene0001_00_vh_clean_2.ply"
    mesh.write_bytes(mesh.read_bytes()[:-5000])
    return "scene0001_00_vh_clean_2.ply: unreadable PLY"


def _break_segment_count(d):
    segs = d / "scene0001_00_vh_clean_2.0.010000.segs.json"
    data = json.loads(segs.read_text())
    data["segIndices"] = data["segIndices"][:-10]
    segs.write_text(json.dumps(data))
    return "segs.json: .* segment indices for a mesh of"


def _break_alignment(d):
    (d / "scene0001_00.txt").write_text("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1\n")
    return r"scene0001_00.txt: axisAlignment has 11 numbers, expected 16"


def _break_unknown_segment(d):
    agg = d / "scene0001_00.aggregation.json"
    data = json.loads(agg.read_text())
    data["segGroups"][1]["segments"].append(999_999)
    agg.write_text(json.dumps(data))
    return r"aggregation.json: object 1 \('bed'\) refers to segment 999999"


@pytest.mark.parametrize(
    "breaker",
    [_break_missing_aggregation, _break_truncated_mesh, _break_segment_count, _break_alignment, _break_unknown_segment],
)
def test_bad_input_fails_the_scene_with_one_line_naming_the_file(handmade_root, breaker):
    pattern = breaker(_scene_dir(handmade_root))
    with pytest.raises(SceneError, match=pattern) as info:
        load(handmade_root, "vsibench")
    assert "\n" not in str(info.value)


def test_segment_ids_far_beyond_the_vertex_count_give_the_same_objects(handmade_root, tmp_path):
    """ScanNet's segment ids are vertex indices (looked up in a table); any other integers are renumbered."""
    root = tmp_path / "root"
    shutil.copytree(handmade_root, root)
    scene_dir = _scene_dir(root)
    segs = scene_dir / "scene0001_00_vh_clean_2.0.010000.segs.json"
    agg = scene_dir / "scene0001_00.aggregation.json"
    renumber = lambda ids: [i * 1_000_003 + 11 for i in ids]  # noqa: E731
    segs.write_text(json.dumps({"segIndices": renumber(json.loads(segs.read_text())["segIndices"])}))
    data = json.loads(agg.read_text())
    for group in data["segGroups"]:
        group["segments"] = renumber(group["segments"])
    agg.write_text(json.dumps(data))
    original, renumbered = load(handmade_root, "vsi100k")[0], load(root, "vsi100k")[0]
    assert [(o.instance_id, o.category, len(o.points)) for o in renumbered.objects] == [
        (o.instance_id, o.category, len(o.points)) for o in original.objects
    ]
    assert len(original.objects) == 8
    for a, b in zip(original.objects, renumbered.objects, strict=True):
        assert np.array_equal(a.points, b.points)
    data["segGroups"][1]["segments"].append(5)  # below every renumbered id: no vertex has it
    agg.write_text(json.dumps(data))
    with pytest.raises(SceneError, match=r"object 1 \('bed'\) refers to segment 5,"):
        load(root, "vsi100k")


def test_missing_label_table_is_reported(handmade_root):
    (handmade_root / "scannetv2-labels.combined.tsv").unlink()
    with pytest.raises(SceneError, match="label table not found"):
        load(handmade_root, "vsibench")

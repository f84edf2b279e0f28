"""Our rules against VSI-Bench's own answers: scenes from its released boxes, its real questions.

The 291 real questions for 5 ScanNet scenes and the per-scene boxes are in ../shared/realdata/vsibench.
Every count, size, room, absolute-distance, relative-distance and relative-direction answer must come
out as the benchmark's ground truth.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from vsi_data.geometry import OrientedBox
from vsi_data.geometry.direction import read_direction
from vsi_data.qa import SceneContext, load_recipe
from vsi_data.scene import Room, Scene, SceneObject

PATTERNS = {
    "object_counting": re.compile(r"How many (.+)\(s\) are in this room\?"),
    "object_size_estimation": re.compile(r"or height\) of the (.+), measured in centimeters\?"),
    "object_abs_distance": re.compile(r"distance between the (.+) and the (.+) \(in meters\)\?"),
    "object_rel_distance": re.compile(r"is the closest to the (.+)\?"),
    "direction": re.compile(r"standing by the (.+) and facing the (.+), is the (.+?) to "),
}


def scene_from_meta(name: str, meta: dict) -> Scene:
    objects, seen = [], set()
    for category, boxes in meta["object_bbox"].items():
        for b in boxes:
            key = (category, tuple(np.round(b["centroid"], 6)))
            if key in seen:  # the released meta lists every printer box twice
                continue
            seen.add(key)
            box = OrientedBox.from_axes_rows(b["centroid"], b["axesLengths"], b["normalizedAxes"])
            objects.append(SceneObject(len(objects), category, category, box))
    return Scene(name, "scannet", "val", objects, Room(area=meta["room_size"]))


@pytest.fixture(scope="module")
def benchmark(realdata):
    meta = json.loads((realdata / "vsibench/scannet_meta_info_val.json").read_text())
    questions = []
    for path in sorted((realdata / "vsibench/questions").glob("*_questions.json")):
        questions += json.loads(path.read_text())["questions"]
    return meta, questions


def option_text(q: dict) -> str:
    return next(o.split(". ", 1)[1] for o in q["options"] if o.startswith(q["ground_truth"] + "."))


def test_every_measurable_answer_matches_vsibench(benchmark):
    meta, questions = benchmark
    recipe = load_recipe("vsibench")
    contexts = {
        n: SceneContext(scene_from_meta(n, meta[n]), "box_grid", recipe.vocabulary)
        for n in {q["scene_name"] for q in questions}
    }
    params = {g.question_type: g.params for g in recipe.generators}
    checked = {}
    for q in questions:
        kind, ctx, gt = q["question_type"], contexts[q["scene_name"]], q["ground_truth"]
        if kind == "object_counting":
            (category,) = PATTERNS[kind].search(q["question"]).groups()
            assert str(ctx.scene.counts[category]) == gt
        elif kind == "object_size_estimation":
            (category,) = PATTERNS[kind].search(q["question"]).groups()
            assert str(round(ctx.objects(category)[0].box.longest_side * 100)) == gt
        elif kind == "room_size_estimation":
            assert f"{round(ctx.scene.room.area, 1):.1f}" == gt
        elif kind == "object_abs_distance":
            a, b = PATTERNS[kind].search(q["question"]).groups()
            assert f"{round(ctx.distance(a, b), 1):.1f}" == gt, q["question"]
        elif kind == "object_rel_distance":
            (target,) = PATTERNS[kind].search(q["question"]).groups()
            choices = [o.split(". ", 1)[1] for o in q["options"]]
            distances = [ctx.distance(target, c) for c in choices]
            assert choices[int(np.argmin(distances))] == option_text(q)
            assert min(distances) >= params[kind].min_closest  # VSI-Bench's filters hold on its own questions
            assert np.diff(np.sort(distances)).min() > params[kind].min_gap
        elif kind.startswith("object_rel_direction"):
            p, o, qd = (ctx.objects(c)[0].box for c in PATTERNS["direction"].search(q["question"]).groups())
            level = params[kind]
            reading = read_direction(p.center, o.center, qd.center, qd.corners(), level.sectors, level.margin_side)
            assert reading.sector == option_text(q), q["question"]
            assert reading.margin >= level.min_margin
            assert reading.corners_disagreeing <= level.max_corners_disagreeing
        else:
            continue
        checked[kind] = checked.get(kind, 0) + 1
    assert checked == {
        "object_counting": 24, "object_size_estimation": 37, "room_size_estimation": 5, "object_abs_distance": 34,
        "object_rel_distance": 56, "object_rel_direction_easy": 9, "object_rel_direction_medium": 20,
        "object_rel_direction_hard": 23,
    }  # fmt: skip

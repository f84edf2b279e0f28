"""`--source vsibench-meta`: the benchmark's released boxes through the whole build, against its questions."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.cli import app
from vsi_data.output.shards import read_rows
from vsi_data.qa import SceneContext, load_recipe
from vsi_data.registry import SOURCES
from vsi_data.sources.base import SceneError
from vsi_data.sources.vsibench_meta import VsiBenchMetaConfig, VsiBenchMetaSource

runner = CliRunner()
DIRECTION = re.compile(r"standing by the (.+) and facing the (.+), is the (.+?) to ")
TARGET = re.compile(r"is the closest to the (.+)\?")
ABS = re.compile(r"distance between the (.+) and the (.+) \(in meters\)")
SINGLE = re.compile(r"How many (.+)\(s\) are|or height\) of the (.+), measured")


def _key(kind: str, question: str, objects: list[str] | None, choices: list[str] | None):
    """What identifies a question regardless of wording and option order."""
    if kind.startswith("object_rel_direction"):
        return kind, tuple(objects or DIRECTION.search(question).groups())
    if kind == "object_rel_distance":
        target = objects[0] if objects else TARGET.search(question).group(1)
        return kind, target, frozenset(choices)
    if kind == "object_abs_distance":
        return kind, frozenset(objects or ABS.search(question).groups())
    if kind == "room_size_estimation":
        return (kind,)
    return kind, objects[0] if objects else next(g for g in SINGLE.search(question).groups() if g)


def _text(answer: str, options: list[str] | None) -> str:
    return answer if not options else next(o.split(". ", 1)[1] for o in options if o.startswith(answer + "."))


@pytest.fixture(scope="module")
def exhaustive_build(realdata, tmp_path_factory):
    base = tmp_path_factory.mktemp("meta")
    questions = []
    for path in sorted((realdata / "vsibench/questions").glob("*_questions.json")):
        questions += json.loads(path.read_text())["questions"]
    (base / "scenes.txt").write_text("\n".join(sorted({q["scene_name"] for q in questions})))
    # The bundled recipe as it is: --exhaustive emits every (standing, facing, queried) ordering, so VSI-Bench's
    # three (picked by its own category order) are among them.
    args = ["build", "--source", "vsibench-meta", "--root", str(realdata / "vsibench/scannet_meta_info_val.json"),
            "--out", str(base / "out"), "--recipe", "vsibench", "--split", "val", "--exhaustive",
            "--allow-benchmark-scenes", "--scene-list", str(base / "scenes.txt"), "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return read_rows(base / "out"), questions


def test_exhaustive_build_contains_every_benchmark_question_with_its_answer(exhaustive_build):
    rows, questions = exhaustive_build
    ours = {}
    for row in rows.to_pylist():
        choices = json.loads(row["meta"]).get("choices")
        key = (row["scene_id"], *_key(row["question_type"], row["question"], row["objects"], choices))
        ours[key] = _text(row["answer"], row["options"])
    matched = 0
    for q in questions:
        if q["question_type"] in ("route_planning", "obj_appearance_order"):
            continue
        choices = [o.split(". ", 1)[1] for o in q.get("options") or []]
        key = (q["scene_name"], *_key(q["question_type"], q["question"], None, choices))
        assert key in ours, f"not generated: {q['question']}"
        assert ours[key] == _text(q["ground_truth"], q.get("options")), q["question"]
        matched += 1
    assert matched == 208


def test_a_sampled_build_draws_each_triple_in_vsibench_orderings(realdata):
    """VSI-Bench asks three of a triple's six (standing, facing, queried) orderings, picked by the meta info's own
    category order: a sampled build must draw from those three, so every released question is among them."""
    path = realdata / "vsibench/scannet_meta_info_val.json"
    questions = []
    for question_file in sorted((realdata / "vsibench/questions").glob("*_questions.json")):
        questions += json.loads(question_file.read_text())["questions"]
    directions = [q for q in questions if q["question_type"].startswith("object_rel_direction")]
    recipe = load_recipe("vsibench")
    source = VsiBenchMetaSource(VsiBenchMetaConfig(path))
    refs = {ref.scene_id: ref for ref in source.list_scenes()}
    drawn_from = {}  # (scene, type) → the orderings the per-scene sample is drawn from
    for scene_id in sorted({q["scene_name"] for q in directions}):
        ctx = SceneContext(
            source.load(refs[scene_id], recipe.parse_options(0)), recipe.geometry.distance, recipe.vocabulary
        )
        for generator in recipe.generators:
            if generator.question_type.startswith("object_rel_direction"):
                pool = generator.sampled_from(generator.candidates(ctx, np.random.default_rng(0)))
                drawn_from[scene_id, generator.question_type] = {tuple(c.objects) for c in pool}
    found = [
        q
        for q in directions
        if DIRECTION.search(q["question"]).groups() in drawn_from[q["scene_name"], q["question_type"]]
    ]
    assert (len(found), len(directions)) == (52, 52)


# Real questions per type: (reproduced word for word by the exhaustive build, released). The options are compared
# as a set: VSI-Bench puts the answer at its least-used letter (ties at random) and shuffles the others, and a
# relative-distance question lists its choices in that order, so no rule gives their order. obj_appearance_order
# needs the video (the meta info has none) and route_planning is not generated.
WORD_FOR_WORD = {
    "object_counting": (24, 24),
    "object_size_estimation": (37, 37),
    "room_size_estimation": (5, 5),
    "object_abs_distance": (34, 34),
    "object_rel_distance": (56, 56),
    "object_rel_direction_easy": (9, 9),
    "object_rel_direction_medium": (20, 20),
    "object_rel_direction_hard": (23, 23),
    "obj_appearance_order": (0, 79),
    "route_planning": (0, 4),
}


def _wording(question: str, options: list[str] | None) -> tuple[str, frozenset[str]]:
    """A question's words and its options as a set, its listed choices (if any) in one order."""
    shown = [option.split(". ", 1)[1] for option in options or []]
    return question.replace(f"({', '.join(shown)})", f"({', '.join(sorted(shown))})"), frozenset(shown)


def test_rows_name_the_scans_dataset_and_reproduce_vsibench_questions_word_for_word(exhaustive_build):
    rows, questions = exhaustive_build
    assert set(rows.column("dataset").to_pylist()) == {"scannet"}
    ours = {(r["scene_id"], r["question_type"], *_wording(r["question"], r["options"])) for r in rows.to_pylist()}
    found, released = Counter(), Counter()
    for q in questions:
        kind = q["question_type"]
        released[kind] += 1
        found[kind] += (q["scene_name"], kind, *_wording(q["question"], q.get("options"))) in ours
    assert {kind: (found[kind], released[kind]) for kind in released} == WORD_FOR_WORD


def _meta_file(tmp_path, scene: dict):
    path = tmp_path / "x_meta_info_val.json"
    path.write_text(json.dumps({"s1": {"dataset": "scannet", "room_size": 20.0, "object_counts": {}, **scene}}))
    return path


BOX = {"centroid": [0, 0, 0], "axesLengths": [1, 1, 1], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1]}


@pytest.mark.parametrize(
    ("scene", "message"),
    [
        ({"object_bbox": None}, "scene s1: no `object_bbox` mapping"),
        ({"object_bbox": {}, "room_size": -3}, "`room_size` is not a positive number"),
        ({"object_bbox": {"bed": [{"centroid": [0, 0, 0]}]}}, r"bed\[0\] lacks one of centroid"),
        ({"object_bbox": {"bed": [{**BOX, "normalizedAxes": [2, 0, 0, 0, 1, 0, 0, 0, 1]}]}}, "not a valid box"),
        ({"object_bbox": {"bed": [{**BOX, "centroid": 3}]}}, "not a valid box"),
        ({"object_bbox": {"bed": [{**BOX, "centroid": ["a", "b", "c"]}]}}, "not a valid box"),
        ({"object_bbox": {"bed": "box"}}, "boxes of 'bed' are not a list"),
        ({"object_bbox": {}, "object_counts": [1, 2]}, "`object_counts` is not a mapping"),
    ],
)
def test_bad_meta_entries_name_the_file_and_scene(tmp_path, scene, message):
    source = VsiBenchMetaSource(VsiBenchMetaConfig(_meta_file(tmp_path, scene)))
    with pytest.raises(SceneError, match=message) as info:
        source.load(source.list_scenes()[0], load_recipe("vsibench").parse_options(0))
    assert "x_meta_info_val.json" in str(info.value)


def test_duplicate_boxes_are_dropped_and_disagreeing_counts_are_not_asked(tmp_path):
    moved = {**BOX, "centroid": [3, 0, 0]}
    scene = {"object_bbox": {"printer": [BOX, BOX], "chair": [BOX, moved]}, "object_counts": {"printer": 1, "chair": 3}}
    source = VsiBenchMetaSource(VsiBenchMetaConfig(_meta_file(tmp_path, scene)))
    parsed = source.load(source.list_scenes()[0], load_recipe("vsibench").parse_options(0))
    assert parsed.counts == {"chair": 2, "printer": 1}
    assert parsed.stats["duplicate_boxes_dropped"] == 1
    assert parsed.unreliable_categories == {"chair"}


@pytest.mark.parametrize(
    ("recorded", "refusal"),
    [
        (
            None,  # 0.2.0 recorded no revision and read triples alphabetically
            "revision 0 there, 2 here, direction triples are read in the meta info's category order, as VSI-Bench "
            "asks them, an absolute-distance pair names the category the meta info lists later first, as VSI-Bench "
            "asks it",
        ),
        (1, "revision 1 there, 2 here, an absolute-distance pair names the category the meta info lists later first"),
    ],
)
def test_a_build_made_before_the_meta_rows_changed_is_not_resumed(tmp_path, recorded, refusal):
    """A half-made vsibench-meta build must not be finished with rows that changed since it began, and the refusal
    names what changed. Sources whose rows did not change record no revision, so their 0.2.0 builds still resume."""
    places = {"table": [0, 0], "bed": [3, 0], "door": [0, 3], "chair": [2, 2]}
    boxes = {name: [{**BOX, "centroid": [x, y, 0.5]}] for name, (x, y) in places.items()}
    meta = _meta_file(tmp_path, {"object_bbox": boxes, "object_counts": dict.fromkeys(places, 1)})
    out = tmp_path / "out"
    args = ["build", "--source", "vsibench-meta", "--root", str(meta), "--out", str(out), "--recipe", "vsibench",
            "--split", "val", "--workers", "0", "--quiet"]  # fmt: skip
    made = runner.invoke(app, args)
    assert made.exit_code == 0, made.output
    record = json.loads((out / ".parts/build.json").read_text())
    assert record["fingerprint"]["rows_revision"] == 2
    if recorded is None:
        del record["fingerprint"]["rows_revision"]
    else:
        record["fingerprint"]["rows_revision"] = recorded
    (out / ".parts/build.json").write_text(json.dumps(record))
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert f"different settings (rows of --source vsibench-meta: {refusal}" in " ".join(refused.output.split())
    assert [spec.name for spec in SOURCES.values() if spec.rows_revision] == ["scannet", "arkitscenes", "vsibench-meta"]


@pytest.mark.slow
def test_benchmark_scannet_scenes_are_left_out_by_default(tmp_path):
    root = tmp_path / "scannet"
    write_label_table(root / "scannetv2-labels.combined.tsv")
    for scene_id in ("scene0207_02", "scene0001_00"):  # the first is a VSI-Bench scene
        write_handmade_scene(root / "scans", scene_id, HANDMADE_ROOM)
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", "--source", "scannet", "--root", str(root), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["excluded_benchmark"] == 1
    assert manifest["excluded_benchmark_scenes"] == ["scannet/scene0207_02"]
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene0001_00"}
    args = [
        "build",
        "--source",
        "scannet",
        "--root",
        str(root),
        "--out",
        str(out),
        "--quiet",
        "--allow-benchmark-scenes",
    ]
    refused = runner.invoke(app, args)  # a setting that changes which rows the build holds
    assert refused.exit_code == 1
    assert "--allow-benchmark-scenes: False there, True here" in refused.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene0001_00", "scene0207_02"}


def test_a_vocabulary_without_rules_for_the_source_is_refused(realdata, tmp_path):
    args = ["build", "--source", "vsibench-meta", "--root", str(realdata / "vsibench"), "--out", str(tmp_path / "o"),
            "--recipe", "vsi100k", "--split", "val", "--allow-benchmark-scenes"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "vocabulary 'scannet200' has no rules for vsibench-meta labels" in result.output


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ([], "none to build in split train"),
        (["--split", "val"], "none to build in split val (288 VSI-Bench scenes or scans of their rooms left out; "),
    ],
)
def test_a_build_with_nothing_to_build_says_where_the_scenes_are(realdata, tmp_path, flags, reason):
    args = ["build", "--source", "vsibench-meta", "--root", str(realdata / "vsibench"), "--out", str(tmp_path / "o"),
            "--recipe", "vsibench", *flags]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert f"288 scenes found (288 in split val), {reason}" in " ".join(result.output.split())
    assert not (tmp_path / "o").exists()


def test_the_shipped_benchmark_list(realdata):
    from vsi_data.benchmark import benchmark_scenes

    scenes = benchmark_scenes()
    by_dataset = {d: sum(1 for ds, _ in scenes if ds == d) for d in ("arkitscenes", "scannet", "scannetpp")}
    assert by_dataset == {"arkitscenes": 150, "scannet": 88, "scannetpp": 50}
    for name in ("arkitscenes", "scannet", "scannetpp"):
        released = json.loads((realdata / f"vsibench/{name}_meta_info_val.json").read_text())
        assert {(name, s) for s in released} <= scenes

"""`vsi-data stats` and `vsi-data inspect`: counts equal the shards, figures are PNGs, pictures show the right
objects and quantities, and anything that is not a dataset is refused with one clear line."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.output.shards import read_rows
from vsi_data.stats import NotADataset, dataset_stats
from vsi_data.viz.inspect import InspectError, draw_question, explain, find_row, reopen_scene
from vsi_data.viz.plots import write_plots

runner = CliRunner()


@pytest.fixture(scope="module")
def rows(vsibench_video_build):
    return read_rows(vsibench_video_build).to_pylist()


@pytest.fixture(scope="module")
def reopened(vsibench_video_build, rows):
    """The build's one scene, re-opened once for all inspect tests (parsing is the slow part)."""
    return reopen_scene(vsibench_video_build, {**rows[0], "meta": json.loads(rows[0]["meta"])})[0]


def _settings(out, question_type):
    return json.loads((out / "manifest.json").read_text())["recipe"]["types"][question_type]


def _first(rows, question_type):
    row = next(r for r in rows if r["question_type"] == question_type)
    return {**row, "meta": json.loads(row["meta"])}


# ---------------------------------------------------------------- stats


def test_stats_json_counts_equal_the_shards(vsibench_video_build, rows):
    result = runner.invoke(app, ["stats", str(vsibench_video_build), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    types = [r["question_type"] for r in rows]
    assert report["rows"] == len(rows)
    assert report["per_type"] == {t: types.count(t) for t in sorted(set(types))}
    assert report["per_source_split"] == {"synthetic": {"train": len(rows)}}
    assert report["scenes"] == 1
    assert report["questions_per_scene"]["max"] == len(rows)
    lettered = [r for r in rows if r["options"]]
    assert sum(report["letter_balance"]["overall"].values()) == len(lettered)
    for question_type in {r["question_type"] for r in lettered}:
        answers = [r["answer"] for r in lettered if r["question_type"] == question_type]
        assert report["letter_balance"][question_type] == {a: answers.count(a) for a in sorted(set(answers))}
    assert sum(report["categories"].values()) == sum(len(r["objects"]) for r in rows)
    sizes = sorted(r["answer_value"] for r in rows if r["question_type"] == "object_size_estimation")
    size_report = report["answers"]["object_size_estimation"]
    assert (size_report["n"], size_report["min"], size_report["max"]) == (len(sizes), sizes[0], sizes[-1])
    assert sum(size_report["histogram"]["counts"]) == len(sizes)
    assert report["failures"] == {"count": 0, "per_source": {}, "scenes": []}


def _write_vsibench_parquet(path, rows):
    columns = ["id", "dataset", "scene_name", "question_type", "question", "options", "ground_truth"]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    pq.write_table(table, path)


VSIBENCH_ROWS = [
    (0, "scannet", "scene0001_00", "object_counting", "How many chair(s)?", None, "2"),
    (1, "scannet", "scene0001_00", "object_counting", "How many table(s)?", None, "2"),
    (2, "arkitscenes", "41069021", "object_counting", "How many bed(s)?", None, "3"),
    (3, "scannet", "scene0001_00", "object_rel_distance", "Closest to the bed?", ["A. sofa", "B. tv"], "A"),
    (4, "arkitscenes", "41069021", "object_rel_distance", "Closest to the tv?", ["A. sofa", "B. bed"], "B"),
    (5, "arkitscenes", "41069021", "object_rel_direction_easy", "Left or right?", ["A. left", "B. right"], "A"),
]


def test_stats_reads_vsibench_test_parquet(tmp_path):
    path = tmp_path / "test-00000-of-00001.parquet"
    _write_vsibench_parquet(path, VSIBENCH_ROWS)
    for given in (path, tmp_path):  # the file, or the folder holding it
        report = dataset_stats(given)
        assert report["input"] == "vsibench"
        assert report["rows"] == 6
        assert report["per_type"] == {"object_counting": 3, "object_rel_direction_easy": 1, "object_rel_distance": 2}
        assert report["per_source_split"] == {"arkitscenes": {"test": 3}, "scannet": {"test": 3}}
        assert report["scenes"] == 2
        assert report["letter_balance"] == {
            "object_rel_direction_easy": {"A": 1},
            "object_rel_distance": {"A": 1, "B": 1},
            "overall": {"A": 2, "B": 1},
        }
        counting = report["answers"]["object_counting"]
        # whole numbers get one bin each, centred on the number: 2 twice, 3 once
        assert counting["histogram"] == {"edges": [1.5, 2.5, 3.5], "counts": [2, 1]}
        assert counting["quantiles"]["p50"] == 2.0
        assert counting["top"] == {"2": 2, "3": 1}
        assert report["answers"]["object_rel_distance"] == {"kind": "choice", "top": {"sofa": 1, "bed": 1}}
        assert report["categories"] == {}


def test_stats_on_real_vsibench_questions(realdata, tmp_path):
    rows, per_type = [], {}
    for path in sorted((realdata / "vsibench" / "questions").glob("*.json")):
        for q in json.loads(path.read_text())["questions"]:
            rows.append(
                (str(len(rows)), q["dataset"], q["scene_name"], q["question_type"], q["question"],
                 q.get("options"), str(q["ground_truth"]))
            )  # fmt: skip
            per_type[q["question_type"]] = per_type.get(q["question_type"], 0) + 1
    _write_vsibench_parquet(tmp_path / "test.parquet", rows)
    report = dataset_stats(tmp_path / "test.parquet")
    assert report["rows"] == len(rows) == 291
    assert report["per_type"] == dict(sorted(per_type.items()))
    assert report["scenes"] == 5
    write_plots(report, tmp_path / "plots")
    assert len(list((tmp_path / "plots").glob("*.png"))) == 3  # no categories: VSI-Bench rows name none


def test_failures_are_counted_and_a_damaged_line_is_named(vsibench_video_build, tmp_path):
    shutil.copytree(vsibench_video_build / "data", tmp_path / "data")
    failures = [
        {"scene_id": "scene0002_00", "source": "scannet", "error": "a.ply: truncated [x]"},
        {"scene_id": "scene0003_00", "source": "scannet", "error": "b.json: bad"},
    ]
    (tmp_path / "failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
    report = dataset_stats(tmp_path)
    assert report["failures"] == {"count": 2, "per_source": {"scannet": 2}, "scenes": failures}
    result = runner.invoke(app, ["stats", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "scannet/scene0002_00: a.ply: truncated [x]" in result.output  # error text is not read as markup
    (tmp_path / "failures.jsonl").write_text(json.dumps(failures[0]) + "\n{oops\n")
    with pytest.raises(NotADataset, match=r"failures.jsonl:2: not a JSON line"):
        dataset_stats(tmp_path)


def test_plots_are_valid_pngs(vsibench_video_build, tmp_path):
    result = runner.invoke(app, ["stats", str(vsibench_video_build), "--plots", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["categories.png", "letter_balance.png", "numeric_answers.png", "types.png"]
    for name in names:
        with Image.open(tmp_path / "figs" / name) as image:
            assert image.format == "PNG"
            assert min(image.size) > 100


@pytest.mark.parametrize("command", [["stats"], ["inspect", "--id", "q", "--out", "q.png"]])
def test_commands_refuse_a_folder_that_is_not_a_dataset(command, tmp_path):
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")  # a parquet, but not questions
    result = runner.invoke(app, [command[0], str(tmp_path), *command[1:]])
    assert result.exit_code == 1
    assert f"{tmp_path}: not a vsi-data build output" in " ".join(result.output.split())
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- inspect


def test_inspect_unknown_id_and_missing_manifest(vsibench_video_build, tmp_path):
    result = runner.invoke(
        app, ["inspect", str(vsibench_video_build), "--id", "nope", "--out", str(tmp_path / "q.png")]
    )
    assert result.exit_code == 1
    assert "no question with id 'nope'" in result.output
    shutil.copytree(vsibench_video_build / "data", tmp_path / "copy" / "data")
    qid = read_rows(vsibench_video_build).column("id")[0].as_py()
    result = runner.invoke(app, ["inspect", str(tmp_path / "copy"), "--id", qid, "--out", str(tmp_path / "q.png")])
    assert result.exit_code == 1
    assert "manifest.json: missing" in result.output


def test_abs_distance_segment_joins_the_named_instances_at_the_recorded_distance(vsibench_video_build, rows, reopened):
    row = _first(rows, "object_abs_distance")
    evidence = explain(row, reopened, {})
    a, b = row["meta"]["instances"]
    assert evidence.roles == {a: "named", b: "named"}
    (segment,) = evidence.segments
    # box_grid: the segment joins the two grid points VSI-Bench's metric picks, so its length is the answer's
    assert np.linalg.norm(segment.end - segment.start) == pytest.approx(row["meta"]["distance_m"], abs=1e-9)
    by_id = {o.instance_id: o for o in reopened.scene.objects}
    assert by_id[a].box.contains(segment.start[None], tol=1e-6)[0]
    assert by_id[b].box.contains(segment.end[None], tol=1e-6)[0]


def test_a_changed_scene_is_reported_not_drawn(rows, reopened):
    row = _first(rows, "object_abs_distance")
    row["meta"]["distance_m"] += 0.5
    with pytest.raises(InspectError, match="did the source files change since the build"):
        explain(row, reopened, {})


def test_direction_observer_reproduces_the_recorded_angle_and_sector(vsibench_video_build, rows, reopened):
    for question_type in ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard"):
        row = _first(rows, question_type)
        settings = _settings(vsibench_video_build, question_type)
        observer = explain(row, reopened, settings).observer
        standing, facing, queried = (reopened.scene.by_category[c][0].box.center for c in row["objects"])
        assert np.allclose(
            [observer.position, observer.facing, observer.queried], [standing[:2], facing[:2], queried[:2]]
        )
        # The recorded angle, from the re-opened centres by the definition: counter-clockwise from facing to queried.
        (fx, fy), (qx, qy) = facing[:2] - standing[:2], queried[:2] - standing[:2]
        angle = math.degrees(math.atan2(fx * qy - fy * qx, fx * qx + fy * qy)) % 360
        assert angle == pytest.approx(row["meta"]["angle_deg"], abs=1e-3)
        assert observer.angle_deg == row["meta"]["angle_deg"]
        inside = [name for name, (lo, hi) in observer.sectors.items() if lo <= angle < hi]
        assert inside == [observer.answer]
        letter_text = {o.split(". ")[0]: o.split(". ")[1] for o in row["options"]}
        assert observer.answer == letter_text[row["answer"]]


def test_rel_distance_marks_the_nearest_instance_of_each_choice(rows, reopened):
    row = _first(rows, "object_rel_distance")
    evidence = explain(row, reopened, {})
    by_id = {o.instance_id: o for o in reopened.scene.objects}
    answers = [by_id[i].category for i, role in evidence.roles.items() if role == "answer"]
    letter_text = {o.split(". ")[0]: o.split(". ")[1] for o in row["options"]}
    assert answers == [letter_text[row["answer"]]]
    lengths = sorted(float(np.linalg.norm(s.end - s.start)) for s in evidence.segments)
    assert lengths == pytest.approx(sorted(row["meta"]["distances_m"].values()), abs=1e-4)


def test_counting_highlights_every_instance(rows, reopened):
    row = _first(rows, "object_counting")
    evidence = explain(row, reopened, {})
    assert len(evidence.roles) == row["answer_value"]
    assert {o.category for o in reopened.scene.objects if o.instance_id in evidence.roles} == set(row["objects"])


def test_inspect_draws_every_question_type(vsibench_video_build, rows, reopened, tmp_path):
    types = sorted({r["question_type"] for r in rows})
    assert len(types) >= 7
    frames = [np.full((56, 84, 3), 200, np.uint8)] * 3
    for question_type in types:
        row = _first(rows, question_type)
        settings = _settings(vsibench_video_build, question_type)
        path = draw_question(row, reopened.scene, explain(row, reopened, settings), frames, tmp_path / "q.png")
        with Image.open(path) as image:
            assert (image.format, image.width > 600, image.height > 400) == ("PNG", True, True)


def test_inspect_command_end_to_end(vsibench_video_build, rows, tmp_path):
    qid = _first(rows, "object_rel_direction_easy")["id"]
    assert find_row(vsibench_video_build, qid)["id"] == qid
    result = runner.invoke(app, ["inspect", str(vsibench_video_build), "--id", qid, "--out", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "d.png") as image:
        assert (image.format, image.height > 600) == ("PNG", True)  # the frame strip adds a row


def test_inspect_says_when_the_source_files_moved(handmade_root, tmp_path):
    out = tmp_path / "out"  # inside handmade_root, which is tmp_path
    args = ["build", "--source", "scannet", "--root", str(handmade_root), "--recipe", "vsibench", "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-video", "--workers", "1", "--quiet", "--allow-benchmark-scenes"])
    assert result.exit_code == 0, result.output
    qid = read_rows(out).column("id")[0].as_py()
    assert runner.invoke(app, ["inspect", str(out), "--id", qid, "--out", str(tmp_path / "a.png")]).exit_code == 0
    (handmade_root / "scans").rename(handmade_root / "scans_moved")
    result = runner.invoke(app, ["inspect", str(out), "--id", qid, "--out", str(tmp_path / "b.png")])
    assert result.exit_code == 1
    assert "were the source files moved since the build?" in " ".join(result.output.split())
    assert "Traceback" not in result.output

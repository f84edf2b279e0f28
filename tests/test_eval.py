"""VSI-Bench scoring by hand: parsing, MRA, aggregation, the readers, the predictions file and `eval`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.eval import DataError, PredictionsError, evaluate, load_items, read_predictions
from vsi_data.eval.predictions import open_for_append
from vsi_data.metrics import first_token, mean_relative_accuracy, score_prediction
from vsi_data.questions import read_questions
from vsi_data.stats import dataset_stats

runner = CliRunner()

# (id, question_type, ground truth, prediction or None for missing, VSI-Bench's score of it)
CASES = [
    (0, "object_rel_distance", "B", "B", 1.0),
    (1, "object_rel_distance", "B", "b.", 1.0),  # lowercase, trailing dot stripped
    (2, "object_rel_distance", "C", "(C)", 0.0),  # VSI-Bench strips only trailing dots: unparsable
    (3, "object_rel_distance", "A", "A. sofa", 1.0),
    (4, "route_planning", "D", "The answer is D", 0.0),  # first token "The": unparsable
    (5, "route_planning", "A", None, 0.0),  # missing
    (6, "object_abs_distance", "3.5", "3.5 meters", 1.0),
    (7, "object_abs_distance", "4", "4.", 1.0),
    (8, "object_abs_distance", "2.0", "three", 0.0),  # unparsable
    (9, "object_size_estimation", "100", "130", 0.5),  # error 0.3 passes θ = 0.50..0.70
    (10, "object_size_estimation", "100", "150 cm", 0.1),  # error 0.5 passes θ = 0.50 only (≤)
    (11, "object_counting", "0", "0", 1.0),  # zero ground truth: exact match
    (12, "object_counting", "3", "3\n", 1.0),
    (13, "room_size_estimation", "20.0", "", 0.0),  # empty: unparsable
    (14, "object_rel_direction_easy", "A", "A", 1.0),
    (15, "object_rel_direction_medium", "B", "C", 0.0),
    (16, "object_rel_direction_hard", "C", "c", 1.0),
    (17, "object_rel_direction_hard", "D", "D", 1.0),
    (18, "obj_appearance_order", "B", "B", 1.0),
    (19, "obj_appearance_order", "A", "B. A", 0.0),
]
LETTERS = ["A. sofa", "B. chair", "C. table", "D. lamp"]


def _vsibench_rows() -> list[dict]:
    return [
        {
            "id": qid,
            "dataset": "scannet",
            "scene_name": "scene0001_00",
            "question_type": qtype,
            "question": f"Question {qid}?",
            "options": None if gt[0].isdigit() else LETTERS,
            "ground_truth": gt,
        }
        for qid, qtype, gt, _, _ in CASES
    ]


@pytest.fixture
def vsibench_parquet(tmp_path) -> Path:
    """A small file in VSI-Bench's test.parquet layout (integer ids, ground_truth, scene_name)."""
    path = tmp_path / "test.parquet"
    pq.write_table(pa.Table.from_pylist(_vsibench_rows()), path)
    return path


@pytest.fixture
def predictions_file(tmp_path) -> Path:
    path = tmp_path / "preds.jsonl"
    lines = [
        # ids as VSI-Bench's integers for some lines, strings for the others: the same question
        {"id": qid if qid % 2 else str(qid), "prediction": prediction}
        for qid, _, _, prediction, _ in CASES
        if prediction is not None
    ]
    lines.append({"id": "999", "prediction": "A"})  # not in the data
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_every_case_scores_as_vsibench_does():
    for _, qtype, gt, prediction, expected in CASES:
        assert score_prediction(qtype, prediction, gt) == pytest.approx(expected), (qtype, gt, prediction)


@pytest.mark.parametrize(
    ("prediction", "token"),
    [
        ("B. sofa", "B"),
        ("3.5 meters", "3.5"),
        ("4.", "4"),
        ("4...", "4"),
        ("(B)", "(B)"),
        ("B.\n", "B."),  # the dot is not trailing until the newline is trimmed, after rstrip
        ("B\nsofa", "B\nsofa"),  # VSI-Bench splits on spaces only
        (" B", ""),  # a leading space makes the first token empty
    ],
)
def test_first_token_follows_vsibench_exactly(prediction, token):
    assert first_token(prediction) == token


def test_mra_has_no_tolerance_beyond_vsibench_float_arithmetic():
    # |0.3 − 0.4| / 0.4 = 0.25000000000000006 > 1 − 0.75: θ = 0.75 fails, 5 of 10 pass
    assert mean_relative_accuracy(0.3, 0.4) == 0.5
    # 1 / 5 = 0.2 > 1 − 0.8 = 0.19999999999999996: θ = 0.8 fails, 6 of 10 pass
    assert mean_relative_accuracy(4.0, 5.0) == 0.6
    assert score_prediction("object_counting", "3.\n", "3") == 1.0  # float("3.") is 3
    assert score_prediction("route_planning", "B.\n", "B") == 0.0  # "B." is not "B"
    assert score_prediction("object_counting", "inf", "3") == 0.0


def test_words_without_options_compare_as_many_tokens_as_the_answer_has():
    assert score_prediction("object_rel_distance", "Trash bin.", "trash bin") == 1.0
    assert score_prediction("object_rel_distance", "trash can", "trash bin") == 0.0
    assert score_prediction("object_rel_direction_hard", "back-left of it", "back-left") == 1.0
    with pytest.raises(ValueError, match="unknown question type 'weather'"):
        score_prediction("weather", "sunny", "sunny")


def test_hand_computed_report_on_a_vsibench_file(vsibench_parquet, predictions_file):
    items = load_items(vsibench_parquet)
    assert [item.id for item in items] == [str(case[0]) for case in CASES]
    assert items[0].video == vsibench_parquet.parent / "scannet" / "scene0001_00.mp4"
    report = evaluate(items, read_predictions(predictions_file).answers)
    assert report.per_type == pytest.approx(
        {
            "object_counting": 100.0,
            "object_abs_distance": 200 / 3,
            "object_size_estimation": 30.0,
            "room_size_estimation": 0.0,
            "object_rel_distance": 75.0,
            "object_rel_direction_easy": 100.0,
            "object_rel_direction_medium": 0.0,
            "object_rel_direction_hard": 100.0,
            "route_planning": 0.0,
            "obj_appearance_order": 50.0,
        }
    )
    # levels averaged unweighted: (100 + 0 + 100) / 3, not the pooled 3 of 4
    assert report.tasks["object_rel_direction"] == pytest.approx(200 / 3)
    assert list(report.tasks) == [
        "object_counting",
        "object_abs_distance",
        "object_size_estimation",
        "room_size_estimation",
        "object_rel_distance",
        "object_rel_direction",
        "route_planning",
        "obj_appearance_order",
    ]
    assert report.overall == pytest.approx((100 + 200 / 3 + 30 + 0 + 75 + 200 / 3 + 0 + 50) / 8)
    assert (report.n, report.missing, report.unparsable, report.unknown_ids) == (20, 1, 4, 1)


def test_eval_json_on_the_cli(vsibench_parquet, predictions_file):
    result = runner.invoke(
        app, ["eval", "--data", str(vsibench_parquet), "--predictions", str(predictions_file), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"overall", "per_type", "tasks", "n", "missing"} <= report.keys()
    assert report["overall"] == pytest.approx(48.541666666)
    assert (report["n"], report["missing"]) == (20, 1)


def test_comparison_of_two_prediction_files(vsibench_parquet, predictions_file, tmp_path):
    perfect = tmp_path / "perfect.jsonl"
    perfect.write_text("".join(json.dumps({"id": str(c[0]), "prediction": c[2]}) + "\n" for c in CASES))
    args = ["eval", "--data", str(vsibench_parquet), "--predictions", str(perfect), "--compare", str(predictions_file)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["overall"] == 100.0
    assert report["baseline"]["overall"] == pytest.approx(48.541666666)
    size = report["comparison"]["tasks"]["object_size_estimation"]
    assert size == pytest.approx({"baseline": 30.0, "candidate": 100.0, "delta": 70.0})
    assert report["comparison"]["overall"]["delta"] == pytest.approx(100 - 48.541666666)
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "preds.jsonl → perfect.jsonl" in table.stdout
    assert "+70.0" in table.stdout


def test_jsonl_and_shard_layouts_read_like_the_parquet(vsibench_parquet, tmp_path):
    jsonl = tmp_path / "test.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in _vsibench_rows()))
    assert load_items(jsonl) == load_items(vsibench_parquet)
    moved = load_items(vsibench_parquet, video_root=tmp_path / "videos")
    assert moved[0].video == tmp_path / "videos" / "scannet" / "scene0001_00.mp4"


def test_data_problems_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_items(tmp_path / "missing")
    with pytest.raises(DataError, match="not a vsi-data build output"):
        load_items(tmp_path)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with pytest.raises(DataError, match="neither a VSI-Bench test file nor a vsi-data shard"):
        load_items(other)
    rows = _vsibench_rows()
    for change, message in [
        ({"question_type": "weather"}, "unknown question_type 'weather'"),
        ({"question_type": "object_counting", "ground_truth": "B"}, "non-numeric answer 'B'"),
        ({"id": 1}, "ids occur more than once"),
    ]:
        bad = tmp_path / "bad.parquet"
        pq.write_table(pa.Table.from_pylist([rows[1], {**rows[0], **change}]), bad)
        with pytest.raises(DataError, match=message):
            load_items(bad)


QUESTION_LINE = json.dumps(_vsibench_rows()[0])
NO_DATASET = json.dumps({key: value for key, value in _vsibench_rows()[1].items() if key != "dataset"})


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        # a pretty-printed list or object: one JSON document over several lines, not one question per line
        (
            "list.json",
            json.dumps(_vsibench_rows()[:2], indent=2),
            r"list\.json: one JSON array over 30 lines, not JSON Lines; expected one question object per line",
        ),
        (
            "one.json",
            json.dumps(_vsibench_rows()[0], indent=1),
            r"one\.json: one JSON object over 14 lines, not JSON Lines; expected",
        ),
        (
            "flat.jsonl",
            json.dumps(_vsibench_rows()[:2]) + "\n",
            r"flat\.jsonl: one JSON array, not JSON Lines; expected",
        ),
        # a truncated or garbled line: its number in the file (blank lines count)
        ("cut.jsonl", f"{QUESTION_LINE}\n\n{QUESTION_LINE[:40]}\n", r"cut\.jsonl:3: not a JSON object \(Unterminated"),
        (
            "bad.jsonl",
            f"{QUESTION_LINE}\n[1, 2]\n{QUESTION_LINE}\n",
            r"bad\.jsonl:2: a JSON array, not a question object",
        ),
        # a line without a field a question needs (scored or counted as "None" otherwise)
        (
            "gap.jsonl",
            f"{QUESTION_LINE}\n{NO_DATASET}\n",
            r"gap\.jsonl: 1 question\(s\) without dataset \(the first: question 2\)",
        ),
    ],
)
def test_a_question_file_that_is_not_json_lines_is_one_line_naming_it(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_items(path)
    predict = ["predict", "--model", str(tmp_path / "model"), "--data", str(path), "--out", str(tmp_path / "p.jsonl")]
    for args in (["stats", str(path)], ["eval", "--data", str(path), "--predictions", str(path)], predict):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert re.search(message, result.output), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_predictions_file_rules(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "prediction": "A"}\n\n{"id": "1", "prediction": "A"}\n{"id": "2", "prediction": null}\n')
    assert read_predictions(path).answers == {"1": "A", "2": None}  # an identical repeat is harmless
    path.write_text('{"id": 1, "prediction": "A"}\n{"id": "1", "prediction": "B"}\n')
    with pytest.raises(PredictionsError, match=r"p\.jsonl:2: question 1 was already answered differently on line 1"):
        read_predictions(path)
    path.write_text('{"id": 1, "prediction": "A"}\n{"id": 2, "pred\n{"id": 3, "prediction": "C"}\n')
    with pytest.raises(PredictionsError, match=r"p\.jsonl:2: not a JSON line"):
        read_predictions(path)
    path.write_text('{"id": 1, "prediction": 3.5}\n')
    with pytest.raises(PredictionsError, match="prediction must be a string or null"):
        read_predictions(path)


def test_an_interrupted_last_line_is_ignored_and_cut_before_appending(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "1", "prediction": "A"}\n{"id": "2", "predic')
    loaded = read_predictions(path)
    assert loaded.answers == {"1": "A"}
    assert loaded.cut_tail_bytes == len('{"id": "2", "predic')
    assert open_for_append(path) == {"1"}
    assert path.read_text() == '{"id": "1", "prediction": "A"}\n'
    path.write_text('{"id": "1", "prediction": "A"}')  # complete, only the newline is missing
    assert open_for_append(path) == {"1"}
    assert path.read_text() == '{"id": "1", "prediction": "A"}\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data", "{tmp}/test.parquet", "--predictions", "{tmp}/none.jsonl"],
            "none.jsonl: predictions file not found",
        ),
        (["--data", "{tmp}/empty", "--predictions", "{tmp}/p.jsonl"], "not a vsi-data build output"),
        (["--data", "{tmp}/p.jsonl", "--predictions", "{tmp}/p.jsonl"], "neither a VSI-Bench test file"),
    ],
)
def test_eval_errors_are_one_clear_line(vsibench_parquet, predictions_file, tmp_path, args, message):
    (tmp_path / "p.jsonl").write_text('{"id": "1", "prediction": "A"}\n')
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_real_vsibench_questions_with_their_ground_truth_score_100(real_questions):
    items = load_items(real_questions)
    assert len(items) == 291
    report = evaluate(items, {item.id: item.answer for item in items})
    assert len(report.per_type) == 10
    assert len(report.tasks) == 8
    assert report.overall == 100.0
    assert set(report.tasks.values()) == {100.0}
    # answered as "B. towel" (the option as written), letters still match; numbers with units too
    verbose = {
        item.id: next(o for o in item.options if o.startswith(item.answer + "."))
        if item.options
        else f"{item.answer} m"
        for item in items
    }
    assert evaluate(items, verbose).overall == 100.0
    nothing = evaluate(items, {})
    assert (nothing.overall, nothing.missing) == (0.0, 291)


def test_stats_and_eval_read_the_same_questions_from_every_layout(vsibench_parquet, vsibench_video_build, tmp_path):
    """One reader: a VSI-Bench file, a folder of them, a build and one of its shards give the same questions to
    `stats` and to `eval`."""
    folder = tmp_path / "parquets"
    folder.mkdir()
    shutil.copy(vsibench_parquet, folder / "test-00000.parquet")
    shard = next((vsibench_video_build / "data").glob("*.parquet"))
    for path, kind in ((vsibench_parquet, "vsibench"), (folder, "vsibench"), (vsibench_video_build, "build"),
                       (shard, "build")):  # fmt: skip
        questions = read_questions(path)
        assert questions.kind == kind
        items = load_items(path)
        assert [item.id for item in items] == questions.table.column("id").to_pylist()
        assert dataset_stats(path)["rows"] == len(items)
    assert load_items(folder)[0].video == folder / "scannet" / "scene0001_00.mp4"  # beside the files
    assert load_items(folder, video_root=tmp_path) == load_items(vsibench_parquet, video_root=tmp_path)
    assert load_items(shard) == load_items(vsibench_video_build)

"""A demanding user's bad inputs, each seen through the command line: every one ends in one clear line naming the
file and the problem (exit status 1 or 2), never a traceback or a plausible-looking wrong answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.cli import app

runner = CliRunner()
SHARD = "data/train-00000-of-00001.parquet"


def refused(*args: str, code: int = 1) -> str:
    """The one line a command that must refuse prints (no traceback: the exit is the CLI's own)."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def build(vsibench_video_build, tmp_path) -> Path:
    """A copy of the one-scene synthetic build to damage."""
    copy = tmp_path / "build"
    shutil.copytree(vsibench_video_build, copy)
    return copy


def readers(build: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Every command that reads a build's shards, by name."""
    question = "synthetic-scene9000_00-object_counting-0000"
    (tmp_path / "none.jsonl").write_text("")
    return {
        "stats": ["stats", str(build)],
        "eval": ["eval", "--data", str(build), "--predictions", str(tmp_path / "none.jsonl")],
        "inspect": ["inspect", str(build), "--id", question, "--out", str(tmp_path / "q.png")],
        "export": ["export", str(build), "--format", "llava", "--out", str(tmp_path / "export")],
    }


READERS = ["stats", "eval", "inspect", "export"]


@pytest.mark.parametrize("command", READERS)
def test_a_truncated_shard_is_one_line_naming_it(build, tmp_path, command):
    shard = build / SHARD
    shard.write_bytes(shard.read_bytes()[:1000])
    message = refused(*readers(build, tmp_path)[command])
    assert f"{shard}: not a readable Parquet file" in message


@pytest.mark.parametrize("command", READERS)
@pytest.mark.parametrize("garbled", [slice(200, 3000), slice(4, 100)], ids=["pages", "page header"])
def test_a_shard_garbled_inside_is_one_line_naming_it(build, tmp_path, command, garbled):
    """The footer is whole (the row counts agree with the manifest), the pages are not: found on reading (zstd's
    error, or Arrow's two-line one for a page header). An export leaves nothing behind."""
    shard = build / SHARD
    data = bytearray(shard.read_bytes())
    data[garbled] = bytes((b * 7 + 13) % 256 for b in data[garbled])
    shard.write_bytes(bytes(data))
    message = refused(*readers(build, tmp_path)[command])
    assert f"{shard}: not a readable Parquet file" in message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["build", "none.jsonl"]


@pytest.fixture
def failed_build(tmp_path) -> Path:
    """A finished ScanNet build whose one scene failed (garbled aggregation): manifest and failures.jsonl, no shard."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    folder = write_handmade_scene(tmp_path / "scans", "scene0001_00", HANDMADE_ROOM)
    (folder / "scene0001_00.aggregation.json").write_text("{")
    out = tmp_path / "out"
    args = ["build", "--source", "scannet", "--root", str(tmp_path), "--out", str(out), "--workers", "0"]
    assert runner.invoke(app, [*args, "--quiet", "--no-video"]).exit_code == 1
    assert (out / "manifest.json").is_file()
    assert not (out / "data").exists()
    return out


@pytest.mark.parametrize("command", ["export", "inspect"])
def test_a_build_whose_every_scene_failed_is_said_to_hold_no_questions(failed_build, tmp_path, command):
    """Was: 'not a vsi-data build', of a build whose manifest and failures.jsonl are there."""
    question = "scannet-scene0001_00-object_counting-0000"
    args = {
        "export": ["export", failed_build, "--format", "llava", "--out", tmp_path / "export"],
        "inspect": ["inspect", failed_build, "--id", question, "--out", tmp_path / "q.png"],
    }[command]
    message = refused(*args)
    assert message == (
        f"error: {failed_build}: the build holds no questions (0 questions; 1 failed scenes; "
        f"why each failed: {failed_build}/failures.jsonl)"
    )
    assert not (tmp_path / "export").exists()


def test_a_build_whose_scenes_gave_no_question_points_at_stats(failed_build, tmp_path):
    """No scene failed, none gave a question (all filtered out): stats says what each type lacked."""
    (failed_build / "failures.jsonl").write_text("")
    message = refused("export", failed_build, "--format", "llava", "--out", tmp_path / "export")
    assert message == (
        f"error: {failed_build}: the build holds no questions (0 questions; 0 failed scenes; "
        f"why no type has one: vsi-data stats {failed_build})"
    )


def test_training_on_a_build_whose_every_scene_failed_says_it_holds_no_questions(failed_build):
    from vsi_data.train.data import TrainDataError, load_training_rows

    with pytest.raises(TrainDataError, match=f"^{failed_build}: the build holds no questions \\(0 questions; 1 failed"):
        load_training_rows(failed_build)


EDITED_MANIFESTS = {
    "shards a string": lambda m: {**m, "shards": "data"},
    "a shard list a string": lambda m: {**m, "shards": {"train": SHARD}},
    "a shard outside data/": lambda m: {**m, "shards": {"train": ["../elsewhere.parquet"]}},
    "per_split counts as text": lambda m: {**m, "per_split": {"train": str(m["per_split"]["train"])}},
    "no shards key": lambda m: {k: v for k, v in m.items() if k != "shards"},
}


@pytest.mark.parametrize("command", READERS)
@pytest.mark.parametrize("edit", EDITED_MANIFESTS)
def test_a_hand_edited_manifest_is_one_line_naming_it(build, tmp_path, command, edit):
    manifest = build / "manifest.json"
    manifest.write_text(json.dumps(EDITED_MANIFESTS[edit](json.loads(manifest.read_text()))))
    message = refused(*readers(build, tmp_path)[command])
    assert f"{manifest}: " in message


@pytest.mark.parametrize("command", READERS)
def test_a_garbled_manifest_is_not_read_past(build, tmp_path, command):
    """Read past, the listing of data/ would count a user's own parquet file there as the build's."""
    manifest = build / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    shutil.copy(build / SHARD, build / "data/mine.parquet")
    message = refused(*readers(build, tmp_path)[command])
    assert f"{manifest}: not valid JSON" in message


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_rerun_repairs_a_manifest_edited_into_another_shape(build, overwrite):
    manifest = build / "manifest.json"
    original = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**original, "shards": "data"}))
    args = ["build", "--source", "synthetic", "--scenes", "1", "--frames", "24", "--recipe", "vsibench"]
    result = runner.invoke(app, [*args, "--out", str(build), "--workers", "0", "--quiet", *overwrite])
    assert result.exit_code == 0, result.output
    assert json.loads(manifest.read_text())["shards"] == original["shards"]
    assert runner.invoke(app, ["stats", str(build)]).exit_code == 0


def test_square_brackets_in_an_error_are_printed_as_written(tmp_path):
    """Messages and paths are text, not rich markup: `[start, end]` and a folder named `[red]mine` survive."""
    bundled = Path(__file__).resolve().parents[1] / "recipes/vsibench.yaml"
    recipe = tmp_path / "[red]mine" / "recipe.yaml"
    recipe.parent.mkdir()
    recipe.write_text(bundled.read_text().replace("back-left: [90, 180]", "back-left: [90, 400]", 1))
    message = refused("build", "--source", "synthetic", "--out", tmp_path / "out", "--recipe", recipe)
    assert message.startswith(f"error: {recipe}: ")
    assert "must be [start, end] degrees" in message


def test_square_brackets_in_an_output_path_are_printed_as_written(vsibench_video_build, tmp_path):
    out = tmp_path / "[bold]export[/bold]"
    result = runner.invoke(app, ["export", str(vsibench_video_build), "--format", "llava", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "/[bold]export[/bold] (llava)" in result.output


REPO = Path(__file__).resolve().parents[1]
COUNT_1 = "How many {category}(s) are in the room?"


@pytest.mark.parametrize(
    ("wording", "complaint"),
    [
        ("How many are in the room?", "template count-1 leaves out ['category']"),
        ("How many {category(s) are in the room?", "template count-1: expected '}' before end of string"),
        ("How many {category!x}(s) are in the room?", "template count-1: {category!x} in"),
        ("How many {category:d}(s) are in the room?", "template count-1: {category:d} in"),
        ("How many {} are in the room?", "template count-1: {} in"),
    ],
)
def test_a_template_that_cannot_word_its_question_is_refused_before_any_scene(tmp_path, wording, complaint):
    """Was: a question without its category ("How many are in the room?"), or every scene failing with a traceback."""
    templates = tmp_path / "wording.yaml"
    text = (REPO / "templates/vsi100k.yaml").read_text()
    assert COUNT_1 in text
    templates.write_text(text.replace(COUNT_1, wording))
    recipe = tmp_path / "recipe.yaml"
    bundled = (REPO / "recipes/vsi100k.yaml").read_text()
    recipe.write_text(bundled.replace("templates: vsi100k", f"templates: {templates}"))
    out = tmp_path / "out"
    message = refused("build", "--source", "synthetic", "--out", out, "--recipe", recipe, "--frames", "0")
    assert message.startswith(f"error: {recipe}: {templates}: {complaint}"), message
    assert not out.exists()


@pytest.mark.parametrize(
    ("line", "changed"),
    [
        ("  alpha: 5.0", "  alpha: .nan"),
        ("    min_distance: 0.2 ", "    min_distance: .NaN "),
    ],
)
def test_nan_in_a_recipe_is_refused_naming_the_setting(tmp_path, line, changed):
    """Was: accepted (NaN passes every range check), and a build said every room was 'smaller than min_area'."""
    bundled = (REPO / "recipes/vsi100k.yaml").read_text()
    assert line in bundled
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(bundled.replace(line, changed, 1))
    message = refused("build", "--source", "synthetic", "--out", tmp_path / "out", "--recipe", recipe)
    assert message.startswith(f"error: {recipe}: "), message
    assert "not nan (.nan is not a number a setting can take)" in message


def test_a_recipe_that_is_not_utf8_is_named(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(b"name: caf\xe9\n")
    message = refused("build", "--source", "synthetic", "--out", tmp_path / "out", "--recipe", recipe)
    assert message.startswith(f"error: {recipe}: not UTF-8 text"), message


def test_a_folder_given_as_recipe_says_so(tmp_path):
    message = refused("build", "--source", "synthetic", "--out", tmp_path / "out", "--recipe", tmp_path)
    assert message == f"error: {tmp_path}: a folder, not a YAML file", message


def vsibench_file(folder: Path, **changes: object) -> Path:
    """A three-question VSI-Bench test file; `changes` replace fields of its counting question (id 0) or, given
    as `options_question`, of its lettered one (id 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lettered = changes.pop("options_question", {})
    rows = [
        {"id": 0, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "object_counting",
         "question": "How many chair(s) are in this room?", "options": None, "ground_truth": "4", **changes},
        {"id": 1, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "object_rel_distance",
         "question": "Which is closest to the bed?", "options": ["A. sofa", "B. desk", "C. lamp", "D. tv"],
         "ground_truth": "B", **lettered},
        {"id": 2, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "room_size_estimation",
         "question": "What is the size of this room?", "options": None, "ground_truth": "21.5"},
    ]  # fmt: skip
    path = folder / "test.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("truth", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("command", ["stats", "eval"])
def test_a_numeric_ground_truth_that_is_no_number_is_named(tmp_path, truth, command):
    """Was: stats showed numpy's 'autodetected range of [nan, nan] is not finite' traceback, and eval scored the
    question as if it had an answer nobody could give."""
    data = vsibench_file(tmp_path, ground_truth=truth)
    (tmp_path / "p.jsonl").write_text('{"id": 0, "prediction": "4"}\n')
    args = ["stats", data] if command == "stats" else ["eval", "--data", data, "--predictions", tmp_path / "p.jsonl"]
    message = refused(*args)
    assert message.startswith(f"error: {data}: question 0 (object_counting)"), message
    assert repr(truth) in message


@pytest.mark.parametrize("truth", ["E", "", "sofa"])
def test_a_lettered_ground_truth_that_is_no_option_letter_is_named(tmp_path, truth):
    """Was: scored, so that no prediction could ever be right and the type's score was quietly too low."""
    data = vsibench_file(tmp_path, options_question={"ground_truth": truth})
    (tmp_path / "p.jsonl").write_text('{"id": 1, "prediction": "B"}\n')
    message = refused("eval", "--data", data, "--predictions", tmp_path / "p.jsonl")
    assert message.startswith(f"error: {data}: question 1 (object_rel_distance) has the answer {truth!r}"), message
    assert "A, B, C, D" in message


QUESTION = "synthetic-scene9000_00-object_counting-0000"


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_inspect_out_that_cannot_be_a_png_is_refused_before_the_work(build, tmp_path, where):
    """Was: the scene re-opened and drawn, then an IsADirectoryError / FileExistsError traceback."""
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "pictures").mkdir()
    out = tmp_path / "pictures" if where == "a folder" else tmp_path / "notes.txt" / "q.png"
    message = refused("inspect", build, "--id", QUESTION, "--out", out)
    assert message.startswith(f"error: {out}: cannot write ("), message
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert list((tmp_path / "pictures").iterdir()) == []


def test_stats_plots_into_a_file_is_refused(build, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    message = refused("stats", build, "--plots", tmp_path / "notes.txt")
    assert message == f"error: {tmp_path / 'notes.txt'}: cannot write (a file, not a folder)", message
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("lines", "complaint"),
    [
        ("", "no predictions in it"),
        ('{"id": "scannet-scene0001_00-object_counting-0000", "prediction": "4"}\n', "none of its 1 predictions"),
    ],
)
@pytest.mark.parametrize("flag", ["--predictions", "--compare"])
def test_predictions_that_answer_no_question_are_refused(tmp_path, lines, complaint, flag):
    """Was: a table of 0.0 scores and exit status 0, as if the model had answered everything wrong."""
    data = vsibench_file(tmp_path)
    good, other = tmp_path / "good.jsonl", tmp_path / "other.jsonl"
    good.write_text('{"id": 0, "prediction": "4"}\n')
    other.write_text(lines)
    files = [other, good] if flag == "--predictions" else [good, other]
    message = refused("eval", "--data", data, "--predictions", files[0], "--compare", files[1])
    assert message.startswith(f"error: {other}: {complaint}"), message


@pytest.mark.parametrize(("recipe", "column"), [("vsi100k", "category"), ("vsibench", "nyu40class")])
def test_a_label_table_without_the_column_the_vocabulary_reads_fails_naming_it(handmade_root, recipe, column):
    """Was (the scannet200 vocabulary's `category`): every object left out as 'outside the vocabulary', and a scene
    of no questions, or of questions about the objects some other rule still named."""
    from vsi_data.qa import load_recipe
    from vsi_data.sources.base import SceneError
    from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource

    table = handmade_root / "scannetv2-labels.combined.tsv"
    rows = [line.split("\t") for line in table.read_text().splitlines()]
    drop = rows[0].index(column)
    table.write_text("\n".join("\t".join(r[:drop] + r[drop + 1 :]) for r in rows) + "\n")
    source = ScanNetSource(ScanNetConfig(handmade_root))
    with pytest.raises(SceneError) as info:
        source.load(source.list_scenes()[0], load_recipe(recipe).parse_options(seed=0))
    assert str(info.value).startswith(f"{table}: label table lacks columns ['{column}']"), info.value


def _without_column(text: str, column: str) -> str:
    rows = [line.split("\t") for line in text.splitlines()]
    drop = rows[0].index(column)
    return "\n".join("\t".join(r[:drop] + r[drop + 1 :]) for r in rows) + "\n"


LABEL_TABLES = {  # how the table is spoiled, what the one line says of it
    "missing": (None, "label table is missing"),
    "empty": (lambda text: "", "label table lacks columns ['nyu40class', 'nyu40id', 'raw_category']"),
    "header only": (lambda text: text.splitlines()[0] + "\n", "label table has no rows"),
    "not UTF-8": (lambda text: text + "caf\xe9", "label table is not UTF-8 text"),
    "no category column": (
        lambda text: _without_column(text, "category"),
        "label table lacks columns ['category'], which vocabulary 'scannet200' reads",
    ),
}


@pytest.mark.parametrize("spoiled", LABEL_TABLES)
@pytest.mark.parametrize("given", [True, False], ids=["--label-table", "found beside scans/"])
def test_a_bad_label_table_is_one_error_before_any_scene(handmade_root, tmp_path, spoiled, given):
    """Was: every scene failed on its own with the same line (N identical failures.jsonl lines, exit 1 or 2)."""
    write_handmade_scene(handmade_root / "scans", "scene0002_00", HANDMADE_ROOM)
    found = handmade_root / "scannetv2-labels.combined.tsv"
    table = tmp_path / "labels.tsv" if given else found
    change, complaint = LABEL_TABLES[spoiled]
    text = found.read_text()
    if given:
        found.unlink()  # the flag's table is read, not this one
    else:
        table.unlink()
    if change is not None:
        table.write_bytes(change(text).encode("latin-1"))
    elif not given:
        complaint = "label table not found (pass --label-table)"
    out = tmp_path / "out"
    args = ["build", "--source", "scannet", "--root", handmade_root, "--out", out, "--workers", "0", "--quiet"]
    message = refused(*args, *(["--label-table", table] if given else []))
    assert message.startswith(f"error: {table}: {complaint}"), message
    assert not out.exists()


RECORD_EDITS = {
    "recipe a name": lambda m: {**m, "recipe": "vsibench"},
    "recipe types a list": lambda m: {**m, "recipe": {**m["recipe"], "types": []}},
    "config null": lambda m: {**m, "config": None},
    "config without source": lambda m: {**m, "config": {k: v for k, v in m["config"].items() if k != "source"}},
    "seed as text": lambda m: {**m, "seed": "zero"},
    "source options a list": lambda m: {**m, "config": {**m["config"], "source_options": [24]}},
}


@pytest.mark.parametrize("command", ["inspect", "verify"])
@pytest.mark.parametrize("edit", RECORD_EDITS)
def test_a_hand_edited_record_of_how_the_build_was_made_is_named(build, tmp_path, command, edit):
    """inspect and verify re-open the build's scenes from its manifest: a misshapen record was a traceback."""
    manifest = build / "manifest.json"
    manifest.write_text(json.dumps(RECORD_EDITS[edit](json.loads(manifest.read_text()))))
    if command == "inspect":
        message = refused(*readers(build, tmp_path)["inspect"])
    else:
        message = refused("verify", "--build", build, "--meta", tmp_path / "meta.json", code=2)
    assert message.startswith(f"error: {manifest}: "), message


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_predict_out_that_cannot_be_a_predictions_file_is_refused_before_the_model(tmp_path, where):
    """Was: 'predictions file not found' for a folder, a FileExistsError traceback under a file."""
    data = vsibench_file(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path if where == "a folder" else tmp_path / "notes.txt" / "p.jsonl"
    message = refused("predict", "--model", tmp_path / "no-model", "--data", data, "--out", out)
    assert message.startswith(f"error: {out}: cannot write ("), message
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_eval_predictions_that_are_a_folder_say_so(tmp_path):
    data = vsibench_file(tmp_path)
    message = refused("eval", "--data", data, "--predictions", tmp_path)
    assert message == f"error: {tmp_path}: a folder, not a predictions file", message


@pytest.mark.parametrize("where", ["--out under a file", "--frames-dir a file", "--frames-dir under a file"])
def test_export_into_a_file_is_refused_before_the_export(vsibench_video_build, tmp_path, where):
    """Was: a FileExistsError / NotADirectoryError traceback (after the frames were being extracted)."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    out, frames_dir = tmp_path / "export", None
    if where == "--out under a file":
        out = notes / "export"
    else:
        frames_dir = notes if where == "--frames-dir a file" else notes / "frames"
    args = ["export", vsibench_video_build, "--format", "llava", "--out", out]
    if frames_dir is not None:
        args += ["--frames", "2", "--frames-dir", frames_dir]
    message = refused(*args)
    assert "cannot write (" in message, message
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["a folder of mine", "a file"])
def test_train_grpo_never_writes_into_a_users_folder_or_file(vsibench_video_build, tmp_path, where):
    """Was: a run written into a folder of the user's (its README.md replaced by the model card), or a
    FileExistsError traceback for a file."""
    output = tmp_path / "mine"
    if where == "a file":
        output.write_text("mine")
    else:
        output.mkdir()
        (output / "README.md").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    message = refused("train-grpo", "--recipe", "tiny-cpu", "--data", vsibench_video_build, "--output", output)
    assert message.startswith(f"error: {output}: "), message
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (output if where == "a file" else output / "README.md").read_text() == "mine"


@pytest.fixture
def meta_build(realdata, tmp_path) -> tuple[Path, Path]:
    """A vsibench-meta build of one released ScanNet scene, and that scene's meta file."""
    released = json.loads((realdata / "vsibench/scannet_meta_info_val.json").read_text())
    scene = sorted(released)[0]
    meta = tmp_path / "meta" / "scannet_meta_info_val.json"
    meta.parent.mkdir()
    meta.write_text(json.dumps({scene: released[scene]}))
    out = tmp_path / "build"
    args = [
        "build",
        "--source",
        "vsibench-meta",
        "--root",
        meta,
        "--out",
        out,
        "--split",
        "val",
        "--recipe",
        "vsibench",
    ]
    result = runner.invoke(app, [str(a) for a in [*args, "--allow-benchmark-scenes", "--workers", "0", "--quiet"]])
    assert result.exit_code == 0, result.output
    return out, meta


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_verify_pictures_into_a_file_is_refused_before_the_work(meta_build, tmp_path, where):
    """Was: a FileExistsError / NotADirectoryError traceback once the first scene was verified."""
    build, meta = meta_build
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    pictures = notes if where == "a file" else notes / "pictures"
    message = refused("verify", "--build", build, "--meta", meta, "--pictures", pictures, code=2)
    assert message.startswith(f"error: {pictures}: cannot write ("), message
    assert notes.read_text() == "mine"


@pytest.mark.parametrize("command", ["stats", "eval"])
def test_options_written_as_one_string_are_refused(tmp_path, command):
    """Was: read as a tuple of characters, so predict listed one option per letter of "A. sofa, B. desk, ..."
    and eval matched letters among them."""
    data = vsibench_file(tmp_path, options_question={"options": "A. sofa, B. desk, C. lamp, D. tv"})
    (tmp_path / "p.jsonl").write_text('{"id": 1, "prediction": "B"}\n')
    args = ["stats", data] if command == "stats" else ["eval", "--data", data, "--predictions", tmp_path / "p.jsonl"]
    message = refused(*args)
    assert message.startswith(f"error: {data}: column options holds string, not lists of option texts"), message


def test_a_folder_of_vsibench_files_names_the_one_without_a_column(tmp_path):
    """Was: the folder 'not a folder of VSI-Bench .parquet files', whichever of its files lacked the column."""
    import pyarrow.parquet as pq

    whole = vsibench_file(tmp_path)
    short = tmp_path / "test-2.parquet"
    pq.write_table(pq.read_table(whole).drop_columns(["ground_truth"]), short)
    message = refused("stats", tmp_path)
    assert message == f"error: {short}: a VSI-Bench file without column ground_truth (in {tmp_path})", message

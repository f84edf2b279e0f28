"""`vsi-data export`: every format written from a synthetic build with video and read back as its target tool
reads it (schema checks written from each tool's documentation, docs/export.md cites them), the lmms-eval
task's utils.py against `vsi-data eval` on VSI-Bench's 291 real questions, videos and frames, bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from vsi_data.benchmark import VSIBENCH_COLUMNS
from vsi_data.cli import app
from vsi_data.eval import evaluate, load_items
from vsi_data.eval.predict import PredictConfig, PredictError, pending_items
from vsi_data.export.formats import FORMATS
from vsi_data.export.run import ExportConfig, run_export
from vsi_data.export.spec import ExportError
from vsi_data.output.shards import read_rows, write_shards
from vsi_data.prompts import PromptMode, benchmark_prompt, training_prompt

runner = CliRunner()


def _export(build: Path, out: Path, fmt: str, *options: str) -> Path:
    result = runner.invoke(app, ["export", str(build), "--format", fmt, "--out", str(out), "--quiet", *options])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def build_rows(vsibench_video_build) -> dict[str, dict]:
    return {row["id"]: row for row in read_rows(vsibench_video_build).to_pylist()}


def derived_build(source: Path, out: Path, change: Callable[[pa.Table], pa.Table], rows_per_shard: int = 100_000):
    """A copy of `source` whose rows are `change(rows)`, written as `build` writes shards."""
    shutil.copytree(source, out)
    table = change(read_rows(out))
    for shard in (out / "data").glob("*.parquet"):
        shard.unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = write_shards(out, [table], rows_per_shard)
    manifest["per_split"] = dict(Counter(table.column("split").to_pylist()))
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _two_splits(table: pa.Table) -> pa.Table:
    """Every third row moved to a `val` split, options removed from the rest of the lettered ones (vsi100k's
    word answers: the option text without its letter)."""
    rows = table.to_pylist()
    for k, row in enumerate(rows):
        if k % 3 == 0:
            row["split"] = "val"
        elif row["options"]:
            row["answer"] = next(o.split(". ", 1)[1] for o in row["options"] if o.startswith(row["answer"] + "."))
            row["options"] = None
    return pa.Table.from_pylist(rows, schema=table.schema)


@pytest.fixture(scope="module")
def two_split_build(vsibench_video_build, tmp_path_factory) -> Path:
    return derived_build(vsibench_video_build, tmp_path_factory.mktemp("two") / "b", _two_splits, rows_per_shard=7)


# ---- per-tool readers: what each tool's docs say it reads ------------------------------------------------


def _read_llava(out: Path, split: str) -> list[dict]:
    """LLaVA-NeXT train.py: a JSON list; `video` joined to --video_folder; the human turn holds `<image>`."""
    records = json.loads((out / f"{split}.json").read_text())
    for record in records:
        human, gpt = record["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"].startswith("<image>\n")
        assert human["value"].count("<image>") == 1
        assert (out / record["video"]).is_file()
    return [
        {"id": r["id"], "prompt": r["conversations"][0]["value"][8:], "target": r["conversations"][1]["value"]}
        for r in records
    ]


def _read_llamafactory(out: Path, split: str) -> list[dict]:
    """LLaMA-Factory data/README.md: dataset_info.json registers file_name + formatting sharegpt + columns +
    tags; user/assistant alternate; as many `<video>` tokens as `videos`; paths relative to dataset_dir."""
    info = json.loads((out / "dataset_info.json").read_text())
    entry = next(value for value in info.values() if value["file_name"] == f"{split}.json")
    assert entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "messages", "videos": "videos"}
    assert entry["tags"] == {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    }
    records = json.loads((out / entry["file_name"]).read_text())
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["user", "assistant"]
        assert record["messages"][0]["content"].count("<video>") == len(record["videos"]) == 1
        assert all((out / video).is_file() for video in record["videos"])
    return [{"prompt": r["messages"][0]["content"][7:], "target": r["messages"][1]["content"]} for r in records]


def _read_swift(out: Path, split: str) -> list[dict]:
    """ms-swift Custom-dataset.md: `messages` + `videos`; GRPO passes the extra columns to reward functions."""
    records = [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
    for record in records:
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
        assert record["messages"][0]["content"].count("<video>") == len(record["videos"]) == 1
        assert Path(record["videos"][0]).is_file()
        assert "options" not in record  # ms-swift's decision-task key; ours travel as answer_options
        assert record["messages"][1]["content"] in (record["solution"], f"<answer>{record['solution']}</answer>")
    return [
        {"id": r["id"], "prompt": r["messages"][0]["content"][7:], "target": r["solution"], "type": r["question_type"]}
        for r in records
    ]


def _read_verl(out: Path, split: str) -> list[dict]:
    """verl prepare_data.rst + rl_dataset.py: the five columns, `<video>` placeholders matched by `videos`
    dicts; EasyR1's dataset.py: a string prompt, an answer and a list of paths under configurable keys."""
    table = pq.read_table(out / f"{split}.parquet")
    assert {"data_source", "prompt", "videos", "ability", "reward_model", "extra_info"} <= set(table.column_names)
    records = table.to_pylist()
    for record in records:
        content = record["prompt"][0]["content"]
        assert record["prompt"][0]["role"] == "user"
        assert content.count("<video>") == len(record["videos"]) == 1
        assert Path(record["videos"][0]["video"]).is_file()
        assert record["reward_model"]["style"] == "rule"
        assert record["problem"] == content
        assert record["answer"] == record["reward_model"]["ground_truth"]
        assert record["video_paths"] == [record["videos"][0]["video"]]
    return [
        {
            "id": r["extra_info"]["id"],
            "prompt": r["problem"][7:],
            "target": r["answer"],
            "type": r["extra_info"]["question_type"],
        }
        for r in records
    ]


def _read_vsibench(out: Path, split: str) -> list[dict]:
    table = pq.read_table(out / f"{split}.parquet")
    assert table.column_names == [*VSIBENCH_COLUMNS[:6], "ground_truth", "video"]
    return [{"id": r["id"], "target": r["ground_truth"], "type": r["question_type"]} for r in table.to_pylist()]


READERS = {
    "llava": _read_llava,
    "llamafactory": _read_llamafactory,
    "swift": _read_swift,
    "verl": _read_verl,
    "vsibench": _read_vsibench,
    "lmms-eval": _read_vsibench,
}


def test_every_registered_format_has_a_reader_here():
    assert set(READERS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_each_format_asks_every_question_as_train_grpo_does(vsibench_video_build, build_rows, tmp_path, fmt):
    out = _export(vsibench_video_build, tmp_path / "out", fmt)
    records = READERS[fmt](out, "train")
    assert len(records) == len(build_rows) > 0
    rows = list(build_rows.values())
    for record, row in zip(records, rows, strict=True):  # order kept: the build's shard order
        assert record.get("id", row["id"]) == row["id"]
        assert record["target"] == row["answer"]  # letters for a vsibench build, numbers as the build rounded them
        if "prompt" in record:
            assert record["prompt"] == training_prompt(row["question"], row["options"], PromptMode.vanilla)
        if "type" in record:
            assert record["type"] == row["question_type"]
    manifest = json.loads((out / "export.json").read_text())
    assert (manifest["format"], manifest["rows"], manifest["videos"]) == (fmt, {"train": len(rows)}, 1)


def test_vsibench_export_scores_100_with_ground_truth_predictions(vsibench_video_build, tmp_path):
    out = _export(vsibench_video_build, tmp_path / "vb", "vsibench")
    table = pq.read_table(out / "train.parquet")
    predictions = tmp_path / "gt.jsonl"
    predictions.write_text(
        "".join(
            json.dumps({"id": i, "prediction": a}) + "\n"
            for i, a in zip(table["id"].to_pylist(), table["ground_truth"].to_pylist(), strict=True)
        )
    )
    result = runner.invoke(
        app, ["eval", "--data", str(out / "train.parquet"), "--predictions", str(predictions), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["overall"] == 100.0
    assert report["n"] == table.num_rows
    assert report["missing"] == 0
    # predict finds the videos through the file's `video` column
    items = load_items(out / "train.parquet")
    assert {item.video for item in items} == {(vsibench_video_build / "videos/synthetic/scene9000_00.mp4").resolve()}


def test_prompt_modes(vsibench_video_build, build_rows, tmp_path):
    row = next(iter(build_rows.values()))
    think = _read_swift(_export(vsibench_video_build, tmp_path / "think", "swift", "--prompt", "think"), "train")[0]
    assert think["prompt"] == training_prompt(row["question"], row["options"], PromptMode.think)
    assert think["target"] == row["answer"]  # the solution column stays the bare answer
    sft = json.loads((tmp_path / "think/train.jsonl").read_text().splitlines()[0])
    assert sft["messages"][1]["content"] == f"<answer>{row['answer']}</answer>"  # the tagged form the prompt asks
    bench = _read_llava(_export(vsibench_video_build, tmp_path / "bench", "llava", "--prompt", "vsibench"), "train")[0]
    assert bench["prompt"] == benchmark_prompt(row["question"], row["options"])
    result = runner.invoke(
        app,
        [
            "export",
            str(vsibench_video_build),
            "--format",
            "vsibench",
            "--out",
            str(tmp_path / "x"),
            "--prompt",
            "think",
        ],
    )
    assert result.exit_code == 1
    assert "takes vsibench" in result.output


def test_splits_each_get_a_file_and_a_registration(two_split_build, tmp_path):
    total = read_rows(two_split_build).num_rows
    lf = _export(two_split_build, tmp_path / "lf", "llamafactory")
    counts = {split: len(_read_llamafactory(lf, split)) for split in ("train", "val")}
    assert sum(counts.values()) == total
    assert counts["val"] == -(-total // 3)
    assert set(json.loads((lf / "dataset_info.json").read_text())) == {"vsi_data_b_train", "vsi_data_b_val"}
    only_val = _export(two_split_build, tmp_path / "val", "swift", "--split", "val")
    assert not (only_val / "train.jsonl").exists()
    assert len(_read_swift(only_val, "val")) == counts["val"]
    tasks = _export(two_split_build, tmp_path / "lm", "lmms-eval", "--name", "My Heldout")
    assert sorted(p.name for p in (tasks / "vsi_data_my_heldout").iterdir()) == [
        "utils.py",
        "vsi_data_my_heldout_train.yaml",
        "vsi_data_my_heldout_val.yaml",
    ]


def test_batches_and_shards_do_not_change_the_export(two_split_build, tmp_path):
    """Seven-row shards read five rows at a time give the same files as one pass."""
    small = run_export(ExportConfig(two_split_build, "llava", tmp_path / "small", batch_rows=5))
    large = run_export(ExportConfig(two_split_build, "llava", tmp_path / "large"))
    assert small.rows == large.rows
    for split in small.rows:
        assert (tmp_path / "small" / f"{split}.json").read_bytes() == (
            tmp_path / "large" / f"{split}.json"
        ).read_bytes()


# ---- videos and frames -----------------------------------------------------------------------------------


def test_relative_paths_link_or_copy_the_videos(vsibench_video_build, tmp_path):
    source = (vsibench_video_build / "videos/synthetic/scene9000_00.mp4").resolve()
    linked = _export(vsibench_video_build, tmp_path / "linked", "llamafactory", "--video-path", "relative")
    video = json.loads((linked / "train.json").read_text())[0]["videos"][0]
    assert video == "videos/synthetic/scene9000_00.mp4"
    assert (linked / video).is_symlink()
    assert (linked / video).resolve() == source
    copied = _export(vsibench_video_build, tmp_path / "copied", "vsibench", "--video-path", "relative", "--copy-videos")
    path = copied / "synthetic/scene9000_00.mp4"  # VSI-Bench's own layout, <dataset>/<scene_name>.mp4
    assert not path.is_symlink()
    assert path.read_bytes() == source.read_bytes()
    assert pq.read_table(copied / "train.parquet")["video"].unique().to_pylist() == ["synthetic/scene9000_00.mp4"]
    moved = shutil.move(copied, tmp_path / "moved")  # a copied, relative export works from anywhere
    assert {item.video for item in load_items(Path(moved) / "train.parquet")} == {
        Path(moved) / "synthetic/scene9000_00.mp4"
    }


def test_frames_are_uniform_jpegs_used_instead_of_the_video(vsibench_video_build, tmp_path):
    out = _export(vsibench_video_build, tmp_path / "f", "llamafactory", "--frames", "3", "--video-path", "relative")
    frames = json.loads((out / "train.json").read_text())[0]["videos"][0]
    assert frames == [f"frames/synthetic/scene9000_00/{k:06d}.jpg" for k in (0, 12, 23)]  # linspace(0, 23, 3)
    sizes = {Image.open(out / frame).size for frame in frames}
    assert sizes == {(644, 476)}  # 640×480 rounded to 28-pixel cells
    llava = json.loads(
        (_export(vsibench_video_build, tmp_path / "l", "llava", "--frames", "2") / "train.json").read_text()
    )[0]
    assert "video" not in llava
    assert len(llava["image"]) == 2
    assert all(Path(p).is_absolute() for p in llava["image"])
    assert llava["conversations"][0]["value"].startswith("<image>\n<image>\nHow")
    shared = tmp_path / "frame-cache"
    verl = _export(vsibench_video_build, tmp_path / "v", "verl", "--frames", "2", "--frames-dir", str(shared))
    first = pq.read_table(verl / "train.parquet").to_pylist()[0]
    assert first["videos"][0]["video"] == [str(shared / f"synthetic/scene9000_00/{k:06d}.jpg") for k in (0, 23)]
    assert first["video_paths"] == [first["videos"][0]["video"]]
    assert not (verl / "frames").exists()


# ---- the lmms-eval task: VSI-Bench's prompt and scoring, as `vsi-data eval` ---------------------------------


def _load_utils(task_dir: Path):
    spec = importlib.util.spec_from_file_location("lmms_task_utils", task_dir / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _TaskLoader(yaml.SafeLoader):
    """Reads lmms-eval YAML: `!function utils.name` becomes the string "utils.name"."""


_TaskLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def lmms_task(vsibench_video_build, tmp_path_factory) -> Path:
    out = _export(
        vsibench_video_build, tmp_path_factory.mktemp("lmms") / "out", "lmms-eval", "--name", "vsibench-build"
    )
    return out / "vsi_data_vsibench_build"


def _varied_prediction(k: int, item) -> str | None:
    """Right, wrong, verbose, unparsable and missing answers in turn, so every rule of the scorer is used."""
    if item.options:
        letters = [o.split(".")[0] for o in item.options]
        wrong = letters[(letters.index(item.answer) + 1) % len(letters)]
        forms = [
            item.answer,
            f"{item.answer.lower()}.",
            f"{item.answer}. {item.options[0][3:]}",
            wrong,
            "(A)",
            "The answer is A",
            None,
        ]
    else:
        value = float(item.answer)
        forms = [item.answer, f"{value * 1.2:g} meters", f"{value * 0.7:g}.", f"{value * 3:g}", "three", "", None]
    return forms[k % len(forms)]


def test_lmms_eval_utils_scores_the_real_questions_as_vsi_data_eval(lmms_task, real_questions, tmp_path):
    utils = _load_utils(lmms_task)
    items = load_items(real_questions)
    docs = pq.read_table(real_questions).to_pylist()
    assert len(items) == len(docs) == 291
    for predictions in (
        {item.id: item.answer for item in items},
        {item.id: _varied_prediction(k, item) for k, item in enumerate(items)},
    ):
        report = evaluate(items, {qid: p for qid, p in predictions.items() if p is not None})
        per_metric: dict[str, list] = {}
        for doc in docs:
            for metric, value in utils.process_results(doc, [predictions[str(doc["id"])]]).items():
                per_metric.setdefault(metric, []).append(value)
        task_scores = {task: getattr(utils, f"aggregate_{task}")(per_metric[task]) for task in report.tasks}
        assert task_scores == report.tasks  # the same numbers, to the bit
        assert {t: getattr(utils, f"aggregate_{t}")(per_metric[t]) for t in report.per_type} == report.per_type
        assert utils.aggregate_overall(per_metric["overall"]) == report.overall
    assert 0 < report.overall < 100


def test_lmms_eval_task_yaml_and_prompts(lmms_task, vsibench_video_build, build_rows):
    utils = _load_utils(lmms_task)
    config = yaml.load((lmms_task / "vsi_data_vsibench_build_train.yaml").read_text(), Loader=_TaskLoader)
    assert config["task"] == "vsi_data_vsibench_build_train"
    assert config["dataset_path"] == "parquet"
    assert config["test_split"] == "test"
    data_file = Path(config["dataset_kwargs"]["data_files"]["test"])
    assert data_file == lmms_task.parent / "train.parquet"
    assert config["generation_kwargs"]["max_new_tokens"] == 16
    assert config["generation_kwargs"]["do_sample"] is False
    functions = [config[key] for key in ("doc_to_visual", "doc_to_text", "doc_to_messages", "process_results")]
    functions += [metric["aggregation"] for metric in config["metric_list"]]
    assert all(callable(getattr(utils, name.removeprefix("utils."))) for name in functions)
    present = {row["question_type"] for row in build_rows.values()}
    metrics = {metric["metric"] for metric in config["metric_list"]}
    directions = {"object_rel_direction"} if any(t.startswith("object_rel_direction_") for t in present) else set()
    assert metrics == present | directions | {"overall"}
    for doc in pq.read_table(data_file).to_pylist():
        assert utils.doc_to_text(doc) == benchmark_prompt(doc["question"], doc["options"])
        assert utils.doc_to_visual(doc) == [str((vsibench_video_build / "videos/synthetic/scene9000_00.mp4").resolve())]
    text = (lmms_task / "utils.py").read_text()
    assert "vsi_data" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))
    no_video = {**doc, "video": None}
    with pytest.raises(FileNotFoundError, match="VSI_DATA_VIDEO_ROOT"):
        utils.doc_to_visual(no_video)


# ---- builds without videos: export and predict --video-root ------------------------------------------------


@pytest.fixture(scope="module")
def no_video_build(vsibench_video_build, tmp_path_factory) -> Path:
    def drop_video(table: pa.Table) -> pa.Table:
        return table.set_column(table.schema.get_field_index("video"), "video", pa.nulls(table.num_rows, pa.string()))

    build = derived_build(vsibench_video_build, tmp_path_factory.mktemp("nv") / "b", drop_video)
    shutil.rmtree(build / "videos")
    return build


def test_predict_video_root_finds_videos_of_a_build_without_them(no_video_build, vsibench_video_build, tmp_path):
    config = PredictConfig(model=tmp_path / "m", data=no_video_build, out=tmp_path / "p.jsonl")
    with pytest.raises(PredictError, match="pass --video-root"):
        pending_items(config)
    root = vsibench_video_build / "videos"  # laid out as ROOT/<dataset>/<scene_id>.mp4
    pending, total, _ = pending_items(
        PredictConfig(model=tmp_path / "m", data=no_video_build, out=tmp_path / "p.jsonl", video_root=root)
    )
    assert len(pending) == total > 0
    assert {item.video for item in pending} == {root / "synthetic/scene9000_00.mp4"}
    # the vsibench export keeps such rows with a null video; predict and the lmms-eval task look under a root
    out = _export(no_video_build, tmp_path / "vb", "vsibench")
    assert pq.read_table(out / "train.parquet")["video"].null_count == total
    assert {item.video for item in load_items(out / "train.parquet", video_root=root)} == {
        root / "synthetic/scene9000_00.mp4"
    }


# ---- bad input: one clear line, nothing partial --------------------------------------------------------------


def _fails(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["export", *args, "--quiet"])
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_not_a_build_or_unknown_format(tmp_path, vsibench_video_build):
    (tmp_path / "empty").mkdir()
    _fails([str(tmp_path / "empty"), "--format", "llava", "--out", str(tmp_path / "o")], "not a vsi-data build")
    _fails([str(tmp_path / "nope"), "--format", "llava", "--out", str(tmp_path / "o")], "no such build folder")
    base = [str(vsibench_video_build), "--out", str(tmp_path / "o")]
    _fails([*base, "--format", "csv"], "unknown export format 'csv' (choose from llava, llamafactory, swift, verl,")
    _fails([*base, "--format", "swift", "--prompt", "cot"], "unknown --prompt 'cot' (choose from vanilla, think,")
    _fails([*base, "--format", "swift", "--video-path", "rel"], "unknown --video-path 'rel'")
    with pytest.raises(ExportError, match="unknown export format 'csv'"):
        run_export(ExportConfig(vsibench_video_build, "csv", tmp_path / "o"))
    _fails(
        [str(vsibench_video_build), "--format", "vsibench", "--out", str(tmp_path / "o"), "--frames", "4"],
        "refers to videos",
    )
    assert sorted(os.listdir(tmp_path)) == ["empty"]


def test_an_existing_folder_is_never_touched(vsibench_video_build, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _fails([str(vsibench_video_build), "--format", "swift", "--out", str(out)], "already exists")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()  # an empty folder is fine
    assert (_export(vsibench_video_build, tmp_path / "empty", "swift") / "train.jsonl").is_file()


def _hold_export_then_kill(build: Path, out: Path, ready: Path) -> int:
    """Start an export in its own process, SIGKILL it once its first batch is written; its pid."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from vsi_data.export.run import ExportConfig, run_export\n"
        "def hold(done, total):\n"
        "    Path(sys.argv[3]).touch()\n"
        "    time.sleep(600)\n"
        "run_export(ExportConfig(Path(sys.argv[1]), 'llava', Path(sys.argv[2]), batch_rows=1), hold)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(build), str(out), str(ready)])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, "the export ended before its first batch"
            assert time.monotonic() < deadline, "the export wrote no batch in 2 minutes"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return child.pid


def test_an_export_killed_with_sigkill_is_cleaned_up_by_the_next_one(vsibench_video_build, tmp_path):
    """kill -9 leaves the export's temp folder beside --out; the next export to that --out removes every temp
    folder or file of an export whose process is gone, says so, and leaves a live export's, one from another
    machine and the user's own files alone."""
    out = tmp_path / "out"
    dead = _hold_export_then_kill(vsibench_video_build, out, tmp_path / "ready")
    (killed,) = tmp_path.glob(f".out.export-*{dead}.tmp")
    assert killed.is_dir()
    assert (killed / "train.json").is_file()
    legacy = tmp_path / f".out.export-{dead}.tmp"  # an older version's name (no host), left as a file
    if legacy != killed:
        legacy.write_text("partial")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        host = socket.gethostname()
        kept = [
            tmp_path / f".out.export-{host}-{sleeper.pid}.tmp",  # a live export of this machine
            tmp_path / f".out.export-{sleeper.pid}.tmp",
            tmp_path / f".out.export-elsewhere.example-{dead}.tmp",  # another machine's: its pid means nothing here
            tmp_path / ".out.export-notes.tmp",  # the user's
            tmp_path / f".other.export-{host}-{dead}.tmp",  # another --out's
            tmp_path / "out.export.tmp",
        ]
        for path in kept[:3]:
            path.mkdir()
            (path / "train.json").write_text("[]")
        for path in kept[3:]:
            path.write_text("mine")
        result = runner.invoke(app, ["export", str(vsibench_video_build), "--format", "llava", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert all(path.exists() for path in kept)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not killed.exists()
    assert not legacy.exists()
    assert f"removed {killed}, the temp folder of an export (process {dead}) that is no longer running" in result.output
    assert f"removed {legacy}, the temp file" in result.output
    assert len(json.loads((out / "train.json").read_text())) == read_rows(vsibench_video_build).num_rows
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", "ready", *(p.name for p in kept)])


@pytest.mark.slow
@pytest.mark.parametrize("frames_dir", [False, True], ids=["frames in --out", "--frames-dir outside"])
def test_ctrl_c_exits_130_in_one_line_and_leaves_nothing(vsibench_video_build, tmp_path, frames_dir):
    """Was: exit 130 after a blank line. Ctrl-C in the middle of writing the rows (frames cut, some written)."""
    from interrupt import interrupted

    out, frames = tmp_path / "out", tmp_path / "frames"
    args = ["export", vsibench_video_build, "--format", "llava", "--out", out, "--frames", "2", "--quiet"]
    args += ["--frames-dir", frames] if frames_dir else []
    done = interrupted("vsi_data.export.run:_export_row", args, tmp_path / "ready", after=3)
    assert done.returncode == 130, done.stderr
    kept = f"; the frames cut so far stay in {frames}" if frames_dir else ""
    assert done.stderr.splitlines() == [f"interrupted: nothing was written to {out}, its temp folder is removed{kept}"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["ready", *(["frames"] if frames_dir else [])])


def test_shards_that_disagree_with_the_manifest_are_refused(vsibench_video_build, tmp_path):
    """Export reads the shards the manifest lists: a lost shard is one line, never a smaller export, and a
    stray Parquet file in data/ is not exported."""
    build = tmp_path / "b"
    shutil.copytree(vsibench_video_build, build)
    shutil.copy(next((build / "data").glob("*.parquet")), build / "data" / "stray.parquet")
    result = run_export(ExportConfig(build, "vsibench", tmp_path / "ok"))
    assert result.rows == {"train": read_rows(vsibench_video_build).num_rows}
    next((build / "data").glob("train-*.parquet")).unlink()
    _fails([str(build), "--format", "swift", "--out", str(tmp_path / "o")], "missing, but manifest.json lists it")
    assert not (tmp_path / "o").exists()


def test_a_missing_video_fails_the_whole_export_or_is_counted(vsibench_video_build, tmp_path):
    def half_missing(table: pa.Table) -> pa.Table:
        videos = [v if k % 2 else "videos/synthetic/gone.mp4" for k, v in enumerate(table["video"].to_pylist())]
        return table.set_column(table.schema.get_field_index("video"), "video", pa.array(videos, pa.string()))

    build = derived_build(vsibench_video_build, tmp_path / "b", half_missing)
    n = read_rows(build).num_rows
    out = tmp_path / "out"
    _fails(
        [str(build), "--format", "verl", "--out", str(out)], "videos/synthetic/gone.mp4: video file missing (question"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no export, no temp folder
    result = run_export(ExportConfig(build, "verl", out, allow_missing_video=True, batch_rows=3))
    assert (result.skipped, result.rows) == (n - n // 2, {"train": n // 2})
    assert pq.read_table(out / "train.parquet").num_rows == n // 2


def test_a_build_without_videos_is_refused_for_training_formats(no_video_build, tmp_path):
    _fails(
        [str(no_video_build), "--format", "llamafactory", "--out", str(tmp_path / "o")],
        "has no video (a --no-video build?)",
    )
    _fails(
        [str(no_video_build), "--format", "llava", "--out", str(tmp_path / "o"), "--allow-missing-video"],
        "nothing to export for --split all (splits in the build: train, ",
    )
    _fails(
        [str(no_video_build), "--format", "swift", "--out", str(tmp_path / "o"), "--split", "val"],
        "splits in the build: train)",
    )
    assert not (tmp_path / "o").exists()


def test_frame_options_are_checked(vsibench_video_build, tmp_path):
    base = [str(vsibench_video_build), "--format", "llava", "--out", str(tmp_path / "o")]
    _fails([*base, "--frames-dir", str(tmp_path / "f")], "--frames-dir needs --frames N")
    _fails([*base, "--frames", "2", "--copy-videos"], "exclude each other")
    broken = derived_build(vsibench_video_build, tmp_path / "b", lambda t: t)
    (broken / "videos/synthetic/scene9000_00.mp4").write_bytes(b"not a video")
    _fails(
        [str(broken), "--format", "llava", "--out", str(tmp_path / "o"), "--frames", "2"],
        "scene9000_00.mp4: cannot decode video",
    )
    assert not (tmp_path / "o").exists()


def test_answers_follow_the_build(two_split_build, tmp_path):
    """Word answers (vsi100k-style rows without options) are exported as words, numbers as the build wrote them."""
    rows = read_rows(two_split_build)
    train = rows.filter(pc.equal(rows["split"], "train")).to_pylist()
    records = _read_swift(_export(two_split_build, tmp_path / "s", "swift", "--split", "train"), "train")
    assert [r["target"] for r in records] == [row["answer"] for row in train]
    assert any(not r["target"].replace(".", "").isdigit() and len(r["target"]) > 1 for r in records)  # a word
    assert np.all(
        [not r["prompt"].count("Options:") for r, row in zip(records, train, strict=True) if row["options"] is None]
    )


# ---- the reward hooks docs/export.md gives for verl, EasyR1 and ms-swift run on exported rows ---------------


def _doc_snippet(first_line: str) -> str:
    text = (Path(__file__).resolve().parents[1] / "docs/export.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
    return next(block for block in blocks if block.startswith(first_line))


def test_the_documented_reward_hooks_score_exported_rows(vsibench_video_build, tmp_path, monkeypatch):
    rows = pq.read_table(_export(vsibench_video_build, tmp_path / "v", "verl") / "train.parquet").to_pylist()
    verl, easyr1 = {}, {}
    exec(_doc_snippet("# vsi_verl_reward.py"), verl)
    exec(_doc_snippet("# vsi_easyr1_reward.py"), easyr1)
    swift_rewards = ModuleType("swift.rewards")  # ms-swift's ORM base and registry, as far as the plugin uses them
    swift_rewards.ORM, swift_rewards.orms = object, {}
    monkeypatch.setitem(sys.modules, "swift", ModuleType("swift"))
    monkeypatch.setitem(sys.modules, "swift.rewards", swift_rewards)
    exec(_doc_snippet("# vsi_swift_reward.py"), {})
    swift = swift_rewards.orms["vsi_accuracy"]()
    for row in rows:
        truth, info = row["reward_model"]["ground_truth"], row["extra_info"]
        right, wrong = f"<answer>{truth}</answer>", "<answer>nothing</answer>"
        assert verl["compute_score"](row["data_source"], right, truth, info) == 1.0
        assert verl["compute_score"](row["data_source"], wrong, truth, info) == 0.0
        assert easyr1["compute_score"]({"response": right, "ground_truth": row["answer"]})["overall"] == 1.0
        assert swift(
            [right, wrong],
            solution=[truth] * 2,
            question_type=[info["question_type"]] * 2,
            answer_options=[info["options"]] * 2,
        ) == [1.0, 0.0]

"""Issue 17, items 8 and 9: commands that tell the truth (inspect and stats where there is little to show) and
logs that behave (results on stdout, progress on stderr, plain lines when piped, --version, -h, --quiet, `val`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data import __version__
from vsi_data.cli import app
from vsi_data.stats import dataset_stats, numeric_summary

runner = CliRunner()
BOX = {"centroid": [1.0, 1.0, 0.5], "axesLengths": [0.5, 0.5, 1.0], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1]}
ANSI = re.compile(r"\x1b\[")


def vsi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed command as a user runs it, stdout and stderr piped apart (neither is a terminal)."""
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    command = [sys.executable, "-m", "vsi_data.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


@pytest.fixture
def meta_build(tmp_path) -> Path:
    """A vsibench-meta build of one released scene: a room size but no floor outline."""
    entry = {
        "dataset": "scannet",
        "room_size": 23.4,
        "object_bbox": {"chair": [BOX], "table": [{**BOX, "centroid": [3, 2, 0.5]}]},
    }
    meta = tmp_path / "scannet_meta_info_val.json"
    meta.write_text(json.dumps({"scene0999_00": entry}))
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", "--source", "vsibench-meta", "--root", str(meta), "--out", str(out),
                                 "--recipe", "vsibench", "--split", "val", "--workers", "1", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


# --- 8. inspect and stats ---------------------------------------------------------------------------------------


def test_inspect_draws_a_released_room_size_and_says_there_is_no_outline(meta_build, tmp_path):
    """Today: an error ("no room footprint")."""
    from vsi_data.output.shards import read_rows
    from vsi_data.viz.inspect import explain, find_row, inspect_question, reopen_scene

    (qid,) = [r["id"] for r in read_rows(meta_build).to_pylist() if r["question_type"] == "room_size_estimation"]
    row = find_row(meta_build, qid)
    context, settings = reopen_scene(meta_build, row)
    evidence = explain(row, context, settings)
    assert evidence.show_footprint_area == pytest.approx(23.4)
    assert "no floor outline to draw: the source gives the area only" in evidence.notes
    picture = inspect_question(meta_build, qid, tmp_path / "room.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_of_a_build_without_questions_says_why(tmp_path):
    """Today: 'not a vsi-data build output'."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    folder = write_handmade_scene(tmp_path / "scans", "scene0001_00", HANDMADE_ROOM)
    (folder / "scene0001_00.aggregation.json").write_text("{")
    out = tmp_path / "out"
    build = runner.invoke(app, ["build", "--source", "scannet", "--root", str(tmp_path), "--out", str(out), "--quiet"])
    assert build.exit_code == 1
    result = vsi("stats", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "0 questions; 1 failed scenes"
    assert lines[1].startswith(f"  scannet/scene0001_00: {folder / 'scene0001_00.aggregation.json'}: not valid JSON")
    assert "no object_counting questions: the scene failed to build (failures.jsonl) (1 scene)" in lines
    report = dataset_stats(out)
    assert (report["rows"], report["failures"]["count"]) == (0, 1)


def test_stats_reads_the_vsibench_jsonl_that_eval_reads(tmp_path):
    """Today only the parquet is understood."""
    path = tmp_path / "test.jsonl"
    rows = [
        {"id": 1, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "object_counting",
         "question": "How many chair(s)?", "options": None, "ground_truth": "2"},
        {"id": 2, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "object_rel_distance",
         "question": "Closest?", "options": ["A. sofa", "B. tv"], "ground_truth": "B"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = dataset_stats(path)
    assert (report["input"], report["rows"]) == ("vsibench", 2)
    assert report["answers"]["object_rel_distance"]["top"] == {"tv": 1}
    from vsi_data.eval import load_items

    assert len(load_items(path)) == 2  # the very file eval scores against


def test_the_counting_histogram_has_one_bin_per_count():
    """Counts from 2 to 40: one bar per count (as docs/inspect.md says), not 20 bins of 1.9."""
    counts = np.array([2, 2, 3, 5, 8, 13, 40], dtype=float)
    histogram = numeric_summary(counts, per_number=True)["histogram"]
    assert histogram["edges"] == [c + 0.5 for c in range(1, 41)]
    assert histogram["counts"][0] == 2
    assert sum(histogram["counts"]) == 7
    assert len(numeric_summary(np.arange(100.0, 400.0))["histogram"]["counts"]) == 20  # sizes in cm stay binned


# --- 9. logs and the command line ------------------------------------------------------------------------------


@pytest.mark.slow
def test_results_on_stdout_progress_on_stderr_in_plain_lines(tmp_path):
    """Today the summary goes to stderr and a piped build prints no progress at all."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    for scene in ("scene0001_00", "scene0002_00"):
        write_handmade_scene(tmp_path / "scans", scene, HANDMADE_ROOM)
    out = tmp_path / "out"
    result = vsi("build", "--source", "scannet", "--root", str(tmp_path), "--out", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("64 questions from 2 scenes (0 failed) → ")
    assert "questions from" not in result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("INFO: scenes ")]
    assert [line.split(":")[1] for line in progress] == [" scenes 1/2", " scenes 2/2"]
    assert not ANSI.search(result.stderr + result.stdout)


def test_stats_tables_keep_their_rows_whole_when_piped(meta_build):
    result = vsi("stats", str(meta_build))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    per_type = dataset_stats(meta_build)["per_type"]
    assert lines[0].strip() == f"{sum(per_type.values())} questions, 1 scenes (build)"
    assert "most common answers (top 3, share of the type)" in lines[2]  # one header cell, not wrapped
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert rows[: len(per_type)] == list(per_type)  # a line per row
    assert "categories named (top 2 of 2)" in lines  # a title never wraps over a narrow table
    assert not ANSI.search(result.stdout)


def test_version_and_short_help():
    assert runner.invoke(app, ["--version"]).output.strip() == f"vsi-data {__version__}"
    for args in (["-h"], ["build", "-h"], ["stats", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_the_val_split_is_val_everywhere(meta_build):
    """The flag, the shard files, the rows' column and the `datasets` split: one name."""
    import datasets

    assert [p.name for p in (meta_build / "data").iterdir()] == ["val-00000-of-00001.parquet"]
    loaded = datasets.load_dataset(str(meta_build))
    assert list(loaded) == ["val"]
    assert set(loaded["val"]["split"]) == {"val"}


@pytest.mark.slow
def test_train_grpo_quiet_prints_only_warnings_errors_and_the_result(vsibench_video_build, tmp_path):
    result = vsi("train-grpo", "--recipe", "tiny-cpu", "--data", str(vsibench_video_build), "--output",
                 str(tmp_path / "run"), "--max-steps", "1", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("step 1: loss ")
    assert len(result.stdout.splitlines()) == 1
    noise = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("WARNING", "ERROR"))]
    assert not [line for line in noise if "it/s" in line or "'loss'" in line or "%|" in line], noise

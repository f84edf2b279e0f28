"""`predict` then `eval` end to end: a synthetic build with video and the tiny Qwen2-VL on the CPU."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.eval import load_items
from vsi_data.output.shards import read_rows

pytest.importorskip("transformers")

runner = CliRunner()
# 4 frames of at most 4 cells of 28 px keep the tiny model's CPU batches in milliseconds
FAST = ["--max-pixels", str(4 * 28 * 28), "--batch-size", "8", "--device", "cpu", "--quiet"]
IMAGES = ["--frames", "4", "--input", "images", *FAST]


def predict(model, data, out, *extra, settings=IMAGES):
    command = ["predict", "--model", str(model), "--data", str(data), "--out", str(out), *settings, *extra]
    return runner.invoke(app, command)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_predict_resumes_after_a_kill_then_eval_scores_every_row(vsibench_video_build, tiny_model_dir, tmp_path):
    rows = read_rows(vsibench_video_build)
    out = tmp_path / "preds.jsonl"
    first = predict(tiny_model_dir, vsibench_video_build, out, "--limit", "5")
    assert first.exit_code == 0, first.output
    assert len(lines(out)) == 5
    # a kill in the middle of writing the next batch: half a line at the end
    out.write_text(out.read_text() + '{"id": "synthetic-scene9000_00-obj')
    second = predict(tiny_model_dir, vsibench_video_build, out)
    assert second.exit_code == 0, second.output
    answered = lines(out)
    assert sorted(line["id"] for line in answered) == sorted(rows.column("id").to_pylist())
    assert all(isinstance(line["prediction"], str) for line in answered)
    types = dict(zip(rows.column("id").to_pylist(), rows.column("question_type").to_pylist(), strict=True))
    assert all(line["question_type"] == types[line["id"]] for line in answered)

    before = out.read_text()
    again = predict(tiny_model_dir, vsibench_video_build, out)
    assert again.exit_code == 0, again.output
    assert f"0 questions answered, {rows.num_rows} already" in again.output
    assert out.read_text() == before

    result = runner.invoke(app, ["eval", "--data", str(vsibench_video_build), "--predictions", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"overall", "per_type", "tasks", "n", "missing"} <= report.keys()
    assert (report["n"], report["missing"]) == (rows.num_rows, 0)
    assert set(report["per_type"]) == set(types.values())
    scores = [report["overall"], *report["per_type"].values(), *report["tasks"].values()]
    assert all(0 <= score <= 100 for score in scores)


def test_batched_left_padding_gives_each_question_its_own_logits(vsibench_video_build, tiny_model_dir):
    """Right padding would put pad tokens after a short prompt and generation would continue from them."""
    import torch

    from vsi_data.eval.predict import model_inputs
    from vsi_data.models import load_model, load_processor
    from vsi_data.video.sampler import sample_frames

    processor, model = load_processor(tiny_model_dir), load_model(tiny_model_dir).eval()
    items = load_items(vsibench_video_build)
    short = next(item for item in items if item.options is None)
    long = next(item for item in items if item.options is not None)
    sampled = sample_frames(short.video, 2, min_pixels=4 * 28 * 28, max_pixels=4 * 28 * 28)
    from PIL import Image

    frames = [Image.fromarray(image) for image in sampled.images]
    batch = model_inputs(processor, [(short, frames), (long, frames)])
    assert batch["attention_mask"][0, 0] == 0  # the shorter prompt is padded on the left
    with torch.no_grad():
        together = model(**batch).logits[:, -1]
        alone = [model(**model_inputs(processor, [(item, frames)])).logits[0, -1] for item in (short, long)]
    assert torch.allclose(together, torch.stack(alone), atol=1e-4)


def test_a_shard_file_finds_the_build_videos(vsibench_video_build):
    shard = next((vsibench_video_build / "data").glob("*.parquet"))
    assert load_items(shard) == load_items(vsibench_video_build)
    assert all(item.video.is_file() for item in load_items(shard))


def test_predict_errors_are_one_clear_line(vsibench_video_build, tiny_model_dir, tmp_path):
    cases = []
    missing_model = predict(tmp_path / "no-model", vsibench_video_build, tmp_path / "p.jsonl")
    cases.append((missing_model, "no-model: model folder not found"))

    table = pq.read_table(next((vsibench_video_build / "data").glob("*.parquet")))
    without_video = table.set_column(
        table.schema.get_field_index("video"), "video", pc.cast(pc.if_else(True, None, table["video"]), "string")
    )
    (tmp_path / "novideo" / "data").mkdir(parents=True)
    pq.write_table(without_video, tmp_path / "novideo" / "data" / "train-00000-of-00001.parquet")
    cases.append((predict(tiny_model_dir, tmp_path / "novideo", tmp_path / "p.jsonl"), "questions have no video"))

    elsewhere = predict(
        tiny_model_dir, vsibench_video_build, tmp_path / "p.jsonl", "--video-root", str(tmp_path / "nowhere")
    )
    cases.append((elsewhere, "video not found"))
    cases.append((predict(tiny_model_dir, tmp_path / "empty-dir", tmp_path / "p.jsonl"), "no such file or folder"))
    for result, message in cases:
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "p.jsonl").exists()  # nothing is written before the model answers


@pytest.mark.slow
def test_ctrl_c_exits_130_saying_how_many_are_answered_and_a_rerun_resumes(
    vsibench_video_build, tiny_model_dir, tmp_path
):
    """Was: exit 130 after a blank line. Ctrl-C while the second batch of 8 is generated: the first is in the file."""
    from interrupt import interrupted

    out = tmp_path / "preds.jsonl"
    args = ["predict", "--model", tiny_model_dir, "--data", vsibench_video_build, "--out", out, *IMAGES]
    done = interrupted("vsi_data.eval.predict:_answer", args, tmp_path / "ready", after=1)
    total = read_rows(vsibench_video_build).num_rows
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"interrupted: 8 of {total} questions are answered in {out}; run the same command again to resume"
    )
    assert len(lines(out)) == 8
    resumed = predict(tiny_model_dir, vsibench_video_build, out)
    assert resumed.exit_code == 0, resumed.output
    assert f"{total - 8} questions answered, 8 already" in resumed.output
    assert len(lines(out)) == total


def test_video_input_needs_the_video_processor_and_says_so(vsibench_video_build, tiny_model_dir, tmp_path):
    result = predict(tiny_model_dir, vsibench_video_build, tmp_path / "p.jsonl", settings=FAST)  # video: the default
    assert result.exit_code == 1
    assert "native video input needs transformers' Qwen2-VL video processor" in result.output
    assert "torchvision" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.usefixtures("video_processor_stub")
def test_video_input_is_one_video_block_per_question(vsibench_video_build, tiny_model_dir, tmp_path):
    from vsi_data.eval.predict import model_inputs
    from vsi_data.models import FrameInput, load_processor
    from vsi_data.video.sampler import sample_frames

    item = load_items(vsibench_video_build)[0]
    sampled = sample_frames(item.video, 4, min_pixels=4 * 28 * 28, max_pixels=8 * 28 * 28)
    from PIL import Image

    frames = [Image.fromarray(image) for image in sampled.images]
    processor = load_processor(tiny_model_dir, FrameInput.video)
    video = model_inputs(processor, [(item, frames)], FrameInput.video)
    images = model_inputs(processor, [(item, frames)], FrameInput.images)
    # 640×480 frames in 8 cells of 28 px become 56×84 (grid 4×6 of 14 px, 6 tokens): 4 frames are 2 temporal
    # patches of 6 tokens as one video, 4 × 6 tokens as images
    assert video["video_grid_thw"].tolist() == [[2, 4, 6]]
    assert int((video["input_ids"] == processor.video_token_id).sum()) == 12
    assert int((images["input_ids"] == processor.image_token_id).sum()) == 24
    assert processor.video_processor.calls[-1]["do_sample_frames"] is False  # our frames, not resampled
    out = tmp_path / "p.jsonl"
    result = predict(tiny_model_dir, vsibench_video_build, out, "--frames", "4", "--limit", "3", settings=FAST)
    assert result.exit_code == 0, result.output
    assert len(lines(out)) == 3


def test_a_trained_model_is_measured_on_its_runs_frames(vsibench_video_build, tiny_model_dir, tmp_path):
    """RUN/final (or RUN/checkpoint-N) takes frame count, pixel budget and input mode from RUN/run.json;
    the command line still wins."""
    import shutil

    from vsi_data.eval.predict import PredictConfig, with_run_defaults
    from vsi_data.models import FrameInput

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "final")
    frames = {"as": "images", "num_frames": 3, "min_pixels": 3136, "max_pixels": 6272}
    (run / "run.json").write_text(json.dumps({"recipe": {"frames": frames}}))
    config = with_run_defaults(PredictConfig(model=run / "final", data=tmp_path, out=tmp_path / "p.jsonl"))
    assert (config.input, config.frames, config.min_pixels, config.max_pixels) == (FrameInput.images, 3, 3136, 6272)
    given = PredictConfig(model=run / "final", data=tmp_path, out=tmp_path / "p.jsonl", frames=8, max_pixels=3136)
    assert (with_run_defaults(given).frames, with_run_defaults(given).max_pixels) == (8, 3136)
    plain = with_run_defaults(PredictConfig(model=tiny_model_dir, data=tmp_path, out=tmp_path / "p.jsonl"))
    assert (plain.input, plain.frames, plain.max_pixels) == (FrameInput.video, 16, None)
    # end to end: no --input, and this CPU has no video processor, so only the run's `images` lets it answer
    out = tmp_path / "p.jsonl"
    result = predict(run / "final", vsibench_video_build, out, "--limit", "2", settings=["--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(lines(out)) == 2
    (run / "run.json").write_text("{}")
    result = predict(run / "final", vsibench_video_build, out, settings=["--quiet"])
    assert result.exit_code == 1
    assert "run.json: no readable frame settings" in result.output


def test_frame_budget_stays_inside_the_checkpoint_processor(tiny_model_dir):
    from vsi_data.eval.predict import pixel_budget
    from vsi_data.models import TINY_MAX_PIXELS, TINY_MIN_PIXELS, load_processor

    processor = load_processor(tiny_model_dir)  # the image-only fallback here keeps the saved 4..16-cell budget
    assert pixel_budget(processor, None, None) == (TINY_MIN_PIXELS, TINY_MAX_PIXELS)
    assert pixel_budget(processor, None, 4 * 28 * 28) == (4 * 28 * 28, 4 * 28 * 28)
    assert pixel_budget(processor, 8 * 28 * 28, 10**9) == (8 * 28 * 28, TINY_MAX_PIXELS)

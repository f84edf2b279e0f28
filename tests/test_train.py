"""`vsi-data train-grpo`: recipes, the shard adapter, and the GRPO loop on a tiny random Qwen2-VL (CPU)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from train_builds import ROOM_VIDEO, counting_rows, write_build
from vsi_data.cli import app
from vsi_data.models import FrameInput
from vsi_data.prompts import PromptMode

pytest.importorskip("trl")

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def _write_recipe(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


MINIMAL = """kind: grpo
model: tiny
rewards: {accuracy: 1.0}
grpo: {beta: 0.01, loss_type: grpo, use_cpu: true, bf16: false}
"""


# --- recipes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "learning_rate"), [("vsgrpo-qwen2vl-2b", 1e-5), ("vsgrpo-qwen2vl-7b", 5e-6)])
def test_paper_recipes_carry_the_paper_values(name, learning_rate, tmp_path):
    from vsi_data.train.recipe import load_train_recipe
    from vsi_data.train.rewards import NumericRule

    recipe = load_train_recipe(name)
    assert recipe.prompt_mode is PromptMode.vanilla
    assert (recipe.rewards, recipe.numeric) == ({"accuracy": 1.0}, NumericRule.relative)
    assert recipe.frames.input is FrameInput.video
    assert recipe.lora is not None
    assert recipe.model is None
    # the TRL configuration the run records in run.json (bf16 off: this machine has no GPU to check it on)
    cpu = dataclasses.replace(recipe, grpo={**recipe.grpo, "bf16": False, "use_cpu": True})
    config = cpu.grpo_config(tmp_path).to_dict()
    assert config["beta"] == 1e-4
    assert config["loss_type"] == "grpo"
    assert config["use_bias_correction_kl"] is False  # TRL's default True reweights the KL gradient
    assert config["log_multimodal"] is False  # TRL's default gathers every frame of every completion
    assert config["ddp_find_unused_parameters"] is False
    assert config["learning_rate"] == learning_rate
    assert (config["num_generations"], config["temperature"]) == (14, 1.0)


def test_tiny_recipe_builds_a_cpu_config(tmp_path):
    from vsi_data.train.recipe import load_train_recipe

    recipe = load_train_recipe("tiny-cpu")
    config = recipe.grpo_config(tmp_path, max_steps=3)
    assert (config.beta, config.loss_type, config.max_steps, config.use_cpu) == (0.04, "grpo", 3, True)
    assert (config.use_bias_correction_kl, config.log_multimodal) == (False, False)
    assert config.reward_weights == [1.0]
    assert recipe.model == "tiny"
    assert recipe.frames.input is FrameInput.images  # no torchvision here for the video processor


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("loss_type: grpo, ", ""), "grpo.loss_type must be set explicitly"),
        (lambda t: t.replace("beta: 0.01, ", ""), "grpo.beta must be set explicitly"),
        (lambda t: t.replace("bf16: false", "bf16: false, num_generation: 4"), "grpo.num_generation is not a trl"),
        (lambda t: t.replace("beta: 0.01", "beta: 1e-4"), "grpo.beta must be float.*YAML reads 1e-4 as text"),
        (lambda t: t.replace("bf16: false", "bf16: false, output_dir: x"), "grpo.output_dir is set by --output"),
        (lambda t: t.replace("accuracy: 1.0", "accuracy: 1.0, format: 1.0"), "format reward needs prompt.mode"),
        (lambda t: t.replace("accuracy: 1.0", "acuracy: 1.0"), r"unknown `rewards` settings \['acuracy'\]"),
        (lambda t: t + "frames: {num_frames: 0}\n", "frames: num_frames must be at least 1, not 0"),
        (lambda t: t + "frames: {min_pixels: 9000, max_pixels: 3136}\n", r"frames: min_pixels \(9000\) is above max"),
        (lambda t: t + "prompt: {mode: shout}\n", "prompt.mode must be one of"),
        (lambda t: t + "lora: {r: 8, alpha: 16}\n", r"lora.target_modules must be set \(a list of str\)"),
        (
            lambda t: t + "lora: {r: 8, alpha: 16, target_modules: [q, 3]}\n",
            "lora.target_modules must be a list of str",
        ),
        (lambda t: t + "lora: {r: 8, alpha: 16, target_modules: []}\n", "lora: target_modules must name at least one"),
        (lambda t: t + "lora: {r: 0, alpha: 16, target_modules: [q]}\n", "lora: r must be at least 1, not 0"),
        (
            lambda t: t + "lora: {r: 8, alpha: 16, target_modules: [q], dropout: 1}\n",
            r"lora: dropout must be .* \[0, 1\)",
        ),
        (lambda t: t + "prompt: [think]\n", r"`prompt` must be a mapping, not \[.think.\]"),
        (lambda t: t + "epochs: 3\n", r"unknown training recipe keys \['epochs'\]"),
        (lambda t: t + "frames: {as: movie}\n", r"frames.as must be one of \['video', 'images'\]"),
        (lambda t: t.replace("accuracy: 1.0", "accuracy: 1.0, numeric: exact"), "rewards.numeric must be one of"),
        (lambda t: t.replace("bf16: false", "bf16: false, eval_strategy: steps"), "grpo.eval_strategy: 'steps' is not"),
        (lambda t: t.replace("bf16: false", "bf16: false, use_vllm: true"), "set frames.as: images to use vLLM"),
        (lambda t: t.replace("kind: grpo\n", ""), "not a training recipe"),
    ],
)
def test_recipe_errors_name_the_file_and_key(tmp_path, edit, message):
    from vsi_data.train.recipe import TrainRecipeError, load_train_recipe

    path = _write_recipe(tmp_path / "bad.yaml", edit(MINIMAL))
    with pytest.raises(TrainRecipeError, match=message) as caught:
        load_train_recipe(path)
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize(("rewards", "warned"), [("accuracy: 1.0", True), ("accuracy: 1.0, format: 1.0", False)])
def test_a_tagged_prompt_without_the_format_reward_is_warned_of(tmp_path, caplog, rewards, warned):
    from vsi_data.train.recipe import load_train_recipe

    text = MINIMAL.replace("accuracy: 1.0", rewards) + "prompt: {mode: think}\n"
    with caplog.at_level(logging.WARNING, logger="vsi_data.train.recipe"):
        recipe = load_train_recipe(_write_recipe(tmp_path / "think.yaml", text))
    assert recipe.prompt_mode == "think"
    messages = [r.getMessage() for r in caplog.records if r.name == "vsi_data.train.recipe"]
    expected = "prompt.mode think asks for tags that no reward checks (the paper pairs it with the format reward"
    assert [m.startswith(expected) for m in messages] == ([True] if warned else [])


def test_build_and_training_recipes_are_told_apart():
    from vsi_data.qa import RecipeError, load_recipe
    from vsi_data.train.recipe import TrainRecipeError, load_train_recipe

    with pytest.raises(RecipeError, match="a training recipe"):
        load_recipe("tiny-cpu")
    with pytest.raises(TrainRecipeError, match="not a training recipe"):
        load_train_recipe("vsi100k")
    with pytest.raises(TrainRecipeError, match=r"bundled ones: tiny-cpu, vsgrpo-qwen2vl-2b, vsgrpo-qwen2vl-7b$"):
        load_train_recipe("tiny-gpu")


def test_accelerate_configs_are_valid_yaml():
    import yaml

    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "recipes" / "accelerate").glob("*.yaml")}
    assert {"single_gpu", "multi_gpu", "zero2", "zero3", "fsdp2"} <= set(configs)
    assert configs["zero3"]["deepspeed_config"]["zero_stage"] == 3
    assert configs["fsdp2"]["fsdp_config"]["fsdp_version"] == 2


# --- data adapter --------------------------------------------------------------------------------------------


def test_adapter_rows_are_prompts_frames_and_answers(tmp_path):
    from vsi_data.train.data import training_dataset
    from vsi_data.train.recipe import FrameSettings

    lettered = {
        "id": "r1",
        "question_type": "object_rel_distance",
        "question": "Which is closest to the bed?",
        "options": ["A. sofa", "B. lamp"],
        "answer": "A",
        "video": "videos/synthetic/room.mp4",
    }
    rows = [*counting_rows(1), lettered]
    build = write_build(tmp_path, rows)
    frames = FrameSettings(input=FrameInput.images, num_frames=3, min_pixels=3136, max_pixels=6272)
    dataset = training_dataset(build, frames, system_prompt="S")
    first, second = dataset[0], dataset[1]
    assert first["prompt"] == [
        {"role": "system", "content": "S"},
        {
            "role": "user",
            "content": "How many chair(s) are in the room?\n"
            "Please provide the short answer with one or two words or a number.",
        },
    ]
    # 56×84 frames fit the 8-cell budget unchanged (2×3 cells of 28 px); 3 of the 4 frames
    assert [image.size for image in first["images"]] == [(84, 56)] * 3
    assert (first["answer"], first["question_type"], first["options"]) == ("2", "object_counting", None)
    assert second["prompt"][1]["content"].startswith("Which is closest to the bed?\nOptions:\nA. sofa\nB. lamp\n")
    assert (second["answer"], second["options"]) == ("A", ["A. sofa", "B. lamp"])


def test_video_rows_carry_one_video_block_and_lmms_eval_frames(tmp_path):
    from vsi_data.train.data import training_dataset
    from vsi_data.train.recipe import FrameSettings
    from vsi_data.video.sampler import sample_frames

    build = write_build(tmp_path, counting_rows(1))
    frames = FrameSettings(input=FrameInput.video, num_frames=3, min_pixels=3136, max_pixels=6272)
    row = training_dataset(build, frames)[0]
    assert row["prompt"] == [
        {
            "role": "user",
            "content": [
                {"type": "video"},
                {
                    "type": "text",
                    "text": "How many chair(s) are in the room?\n"
                    "Please provide the short answer with one or two words or a number.",
                },
            ],
        }
    ]
    assert "images" not in row  # TRL's image path never sees the frames
    # lmms-eval's indices: linspace(0, 3, 3) = 0, 1.5, 3 truncated to 0, 1, 3 (rounding would give 0, 2, 3)
    video = sample_frames(build / ROOM_VIDEO, num_frames=4)
    assert [np.asarray(frame).tolist() for frame in row["video_frames"]] == [
        video.images[k].tolist() for k in (0, 1, 3)
    ]


def test_rows_without_video_or_with_a_missing_file_are_refused(tmp_path):
    from vsi_data.train.data import TrainDataError, load_training_rows

    no_video = write_build(tmp_path / "a", counting_rows(3, video=None))
    with pytest.raises(TrainDataError, match=r"3 of 3 train rows have no video \(first: q0\)"):
        load_training_rows(no_video)
    missing = write_build(tmp_path / "b", counting_rows(2))
    (missing / "videos/synthetic/room.mp4").unlink()
    with pytest.raises(TrainDataError, match=r"room\.mp4: video file missing \(needed by row q0"):
        load_training_rows(missing)
    with pytest.raises(TrainDataError, match="nowhere: no such build folder"):
        load_training_rows(tmp_path / "nowhere")
    bad_answer = write_build(tmp_path / "c", counting_rows(2, answer="several"))
    with pytest.raises(TrainDataError, match="row q0 is a numeric question whose answer 'several' is no number"):
        load_training_rows(bad_answer)


@pytest.mark.slow
def test_lora_run_writes_a_merged_model_and_the_adapter(tmp_path):
    from vsi_data.models import load_model, load_processor
    from vsi_data.train.recipe import LoraSettings, load_train_recipe
    from vsi_data.train.trainer import train_grpo

    build = write_build(tmp_path / "b", counting_rows(4))
    recipe = dataclasses.replace(
        load_train_recipe("tiny-cpu"),
        lora=LoraSettings(r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj")),
        grpo={**load_train_recipe("tiny-cpu").grpo, "save_strategy": "no"},
    )
    result = train_grpo(recipe, build, tmp_path / "run", max_steps=2)
    assert result.global_step == 2
    assert (tmp_path / "run" / "final-adapter" / "adapter_config.json").is_file()
    merged = load_model(tmp_path / "run" / "final")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert load_processor(tmp_path / "run" / "final").image_processor.size.longest_edge == 16 * 28 * 28


# --- the loop ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("frames", ["images", "video"])
def test_cli_trains_three_steps_then_resumes(frames, vsibench_video_build, video_processor_stub, tmp_path):
    run = tmp_path / "run"
    recipe = _write_recipe(
        tmp_path / "tiny.yaml", (REPO / "recipes" / "tiny-cpu.yaml").read_text().replace("as: images", f"as: {frames}")
    )
    args = ["train-grpo", "--recipe", str(recipe), "--data", str(vsibench_video_build), "--output", str(run), "--quiet"]
    result = runner.invoke(app, [*args, "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    assert "step 3" in result.output
    history = [e for e in json.loads((run / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert [e["step"] for e in history] == [1, 2, 3]
    assert all(math.isfinite(e["loss"]) for e in history)
    assert history[0]["kl"] == 0.0  # the policy is the reference model before the first update
    assert any(e["kl"] > 0 for e in history)
    assert all("rewards/accuracy_reward/mean" in e for e in history)
    per_type = {k for e in history for k in e if k.startswith("rewards/accuracy_reward/") and "/m" not in k[24:]}
    assert per_type - {"rewards/accuracy_reward/std"}, "per-question-type rewards are logged"
    assert (run / "checkpoint-3" / "model.safetensors").is_file()
    assert (run / "final" / "config.json").is_file()
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()][:3] == [1, 2, 3]
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["recipe"]["grpo"]["beta"] == 0.04
    assert recorded["recipe"]["frames"]["as"] == frames
    assert recorded["grpo_config"]["use_bias_correction_kl"] is False  # the resolved TRL configuration
    card = (run / "final" / "README.md").read_text()
    assert "None" not in card
    assert "tiny-model" in card  # the base model
    assert str(recipe) in card
    assert str(vsibench_video_build) in card
    assert (run / "README.md").read_text() == card  # the card TRL writes at each checkpoint is ours too

    result = runner.invoke(app, [*args, "--max-steps", "4"])
    assert result.exit_code == 0, result.output
    assert "resumed from checkpoint-3" in result.output
    history = [e for e in json.loads((run / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert [e["step"] for e in history] == [1, 2, 3, 4]
    # the resumed policy carries the trained weights, so it already differs from the reference model
    assert history[3]["kl"] > 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    # another recipe never continues this run
    other = _write_recipe(tmp_path / "other.yaml", recipe.read_text().replace("0.04", "0.05"))
    result = runner.invoke(app, [*args[:2], str(other), *args[3:], "--max-steps", "5"])
    assert result.exit_code == 1
    assert "holds a run with another recipe" in result.output
    # the resumed file holds steps 1-3 from the checkpoint once, then step 4 and the run's summary line
    assert steps == [1, 2, 3, 4, 4]


def test_cli_refuses_a_build_without_video(tmp_path):
    build = write_build(tmp_path / "b", counting_rows(2, video=None))
    result = runner.invoke(
        app, ["train-grpo", "--recipe", "tiny-cpu", "--data", str(build), "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert "have no video" in result.output
    assert "Traceback" not in result.output


def test_paper_recipe_without_model_asks_for_one(tmp_path):
    build = write_build(tmp_path / "b", counting_rows(2))
    result = runner.invoke(
        app,
        ["train-grpo", "--recipe", "vsgrpo-qwen2vl-2b", "--data", str(build), "--output", str(tmp_path / "run")],
    )
    assert result.exit_code == 1
    # on a CPU machine the bf16 setting is refused first; with a GPU the missing model is
    assert "bf16" in result.output or "pass --model" in result.output


@pytest.mark.slow
def test_the_loop_learns_an_always_right_answer(tmp_path):
    """Every question's answer is "8": GRPO must raise the mean accuracy reward of a random tiny model.

    8 rather than a smaller count because MRA gives partial credit to 4..12, so the first completions that
    hold any of the digits 4-9 are rewarded and the signal is dense enough for 20 steps (checked with
    training seeds 0, 1 and 2: first five steps 0.03-0.10, last five 0.26-0.54)."""
    from vsi_data.train.recipe import load_train_recipe
    from vsi_data.train.trainer import train_grpo

    build = write_build(tmp_path / "b", counting_rows(8, answer="8"))
    recipe = load_train_recipe("tiny-cpu")
    recipe = dataclasses.replace(
        recipe,
        frames=dataclasses.replace(recipe.frames, num_frames=1),
        grpo={
            **recipe.grpo,
            "learning_rate": 0.01,
            "max_completion_length": 4,
            "num_generations": 8,
            "per_device_train_batch_size": 16,
            "save_strategy": "no",
        },
    )
    train_grpo(recipe, build, tmp_path / "run", max_steps=20)
    history = json.loads((tmp_path / "run" / "trainer_state.json").read_text())["log_history"]
    rewards = [e["rewards/accuracy_reward/mean"] for e in history if "rewards/accuracy_reward/mean" in e]
    assert len(rewards) == 20
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    assert last > first + 0.15, rewards

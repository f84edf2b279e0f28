"""What `train-grpo` sets up around TRL's GRPOTrainer, read off the trainer and model after set-up (tiny models, CPU):
LoRA's dropout, the frozen vision tower kept out of the backward pass, the FSDP wrap classes, native video rows
forwarded with their own video, the final model in every launch mode, and `merge-lora`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from train_builds import ROOM_VIDEO, counting_rows, write_build
from vsi_data.cli import app
from vsi_data.models import FrameInput

pytest.importorskip("trl")

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _tiny(**changes):
    """tiny-cpu with one-off changes: `lora`, `frames`, or `grpo` keys merged into its grpo section."""
    from vsi_data.train.recipe import load_train_recipe

    recipe = load_train_recipe("tiny-cpu")
    grpo = {**recipe.grpo, "save_strategy": "no", **changes.pop("grpo", {})}
    return dataclasses.replace(recipe, grpo=grpo, **changes)


def _lora(dropout: float = 0.05, modules: tuple[str, ...] = ("q_proj", "v_proj")):
    from vsi_data.train.recipe import LoraSettings

    return LoraSettings(r=4, alpha=8, dropout=dropout, target_modules=modules)


def test_lora_dropout_after_setup_is_the_recipes(tmp_path):
    """TRL's disable_dropout zeroes every nn.Dropout after PEFT has wrapped the model, LoRA's included."""
    from peft.tuners.lora import LoraLayer

    from vsi_data.train.trainer import build_trainer

    build = write_build(tmp_path / "b", counting_rows(2))
    trainer, _ = build_trainer(_tiny(lora=_lora(0.05)), build, tmp_path / "run")
    assert trainer.args.disable_dropout
    lora_layers = [module for module in trainer.model.modules() if isinstance(module, LoraLayer)]
    assert len(lora_layers) == 4  # q_proj and v_proj of 2 decoder layers
    assert {layer.lora_dropout["default"].p for layer in lora_layers} == {0.05}
    lora_dropouts = {id(layer.lora_dropout["default"]) for layer in lora_layers}
    others = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Dropout) and id(m) not in lora_dropouts]
    assert all(module.p == 0 for module in others)


def test_lora_never_wraps_the_vision_tower(tmp_path):
    """`qkv` and `fc1` name vision-block layers of Qwen2-VL (Qwen2.5-VL's vision MLP has gate/up/down_proj)."""
    from peft.tuners.lora import LoraLayer

    from vsi_data.train.trainer import build_trainer, vision_tower

    build = write_build(tmp_path / "b", counting_rows(2))
    recipe = _tiny(lora=_lora(modules=("q_proj", "qkv", "fc1")))
    trainer, _ = build_trainer(recipe, build, tmp_path / "run")
    vision = vision_tower(trainer.model.get_base_model())
    assert not any(isinstance(module, LoraLayer) for module in vision.modules())
    assert any(isinstance(module, LoraLayer) for module in trainer.model.modules())  # q_proj of the decoder


@pytest.mark.slow
def test_a_frozen_vision_tower_stays_out_of_the_backward_pass(tmp_path):
    """LoRA + gradient checkpointing: PEFT and transformers make every sub-model's input embeddings require
    gradients, the vision patch embedding too, so autograd back-propagated through every vision block for
    weights that never change. Now only the text embeddings' output requires gradients."""
    from vsi_data.train.trainer import build_trainer, vision_tower

    build = write_build(tmp_path / "b", counting_rows(4))
    recipe = _tiny(lora=_lora(), grpo={"gradient_checkpointing": True})
    trainer, _ = build_trainer(recipe, build, tmp_path / "run", max_steps=1)
    base = trainer.model.get_base_model()
    seen: dict[str, list[bool]] = {"vision": [], "text": []}

    def record(name):
        def hook(module, args, output):
            if torch.is_grad_enabled():  # the training forward, not generation or the no-grad reference pass
                tensor = output if isinstance(output, torch.Tensor) else output[0]
                seen[name].append(tensor.requires_grad)

        return hook

    vision_tower(base).merger.register_forward_hook(record("vision"))
    base.get_input_embeddings().register_forward_hook(record("text"))
    trainer.train()
    assert seen["vision"], "the vision tower ran in a training forward pass"
    assert not any(seen["vision"])
    assert all(seen["text"])
    assert trainer.state.log_history[0]["grad_norm"] > 0  # LoRA still learns


def test_fsdp2_wraps_the_models_own_blocks(tmp_path):
    """The FSDP2 config names no classes: accelerate wraps the model's `_no_split_modules`, for Qwen2.5-VL as
    for Qwen2-VL (a fixed Qwen2-VL list fails on Qwen2.5-VL: its blocks have other class names)."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy

    from vsi_data.models import build_tiny_qwen2vl, load_model

    settings = yaml.safe_load((REPO / "recipes" / "accelerate" / "fsdp2.yaml").read_text())["fsdp_config"]
    for family, prefix in (("qwen2_vl", "Qwen2VL"), ("qwen2_5_vl", "Qwen2_5_VL")):
        model = load_model(build_tiny_qwen2vl(tmp_path / family, family=family))
        plugin = FullyShardedDataParallelPlugin(
            fsdp_version=2,
            auto_wrap_policy=settings["fsdp_auto_wrap_policy"],
            transformer_cls_names_to_wrap=settings.get("fsdp_transformer_layer_cls_to_wrap"),
        )
        policy = fsdp2_prepare_auto_wrap_policy(plugin, model)
        wrapped = {type(module).__name__ for module in model.modules() if policy(module)}
        assert wrapped == {f"{prefix}DecoderLayer", f"{prefix}VisionBlock"}


@pytest.mark.usefixtures("video_processor_stub")
def test_video_rows_are_forwarded_with_their_own_video(tmp_path):
    """Two rows, two videos of different sizes: each row's share of the batch's video tensors is its own video's,
    and log-probabilities computed in chunks of one row equal those of the whole batch."""
    from vsi_data.train.trainer import build_trainer

    other = "videos/synthetic/other.mp4"
    rows = [*counting_rows(1), {**counting_rows(1)[0], "id": "q9", "video": other}]
    build = write_build(tmp_path / "b", rows, sizes={ROOM_VIDEO: (56, 84), other: (84, 56)})
    video = dataclasses.replace(_tiny().frames, input=FrameInput.video, num_frames=4)
    trainer, _ = build_trainer(_tiny(frames=video, grpo={"num_generations": 2}), build, tmp_path / "run")
    batch = [trainer.train_dataset[0]] * 2 + [trainer.train_dataset[1]] * 2  # two completions per question
    _, fields, per_row = trainer._encode_videos(batch)
    # a 56×84 video is 2×3 cells of 28 px (grid 4×6 of 14 px), an 84×56 one 3×2; 4 frames are 2 temporal patches
    grids = [[[2, 4, 6]]] * 2 + [[[2, 6, 4]]] * 2
    assert [grid.tolist() for grid in per_row["video_grid_thw"]] == grids
    for row, pixels in zip(batch, per_row["pixel_values_videos"], strict=True):
        alone = trainer.processing_class.video_processor([row["video_frames"]], return_tensors="pt")
        assert torch.equal(pixels, alone["pixel_values_videos"])
    output = trainer._generate_and_score_completions(batch)
    assert [grid.tolist() for grid in output["video_grid_thw"]] == grids
    ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
    mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
    keep = output["completion_ids"].size(1)
    videos = {key: output[key] for key in ("pixel_values_videos", "video_grid_thw")}
    with torch.no_grad(), trainer._forwarding(videos):
        whole, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
        chunked, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep, batch_size=1)
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert fields["pixel_values_videos"].shape[0] == sum(p.shape[0] for p in per_row["pixel_values_videos"])


def test_sharded_runs_still_write_the_whole_final_model(tmp_path):
    """Under FSDP with SHARDED_STATE_DICT transformers' `save_model` writes no weights at all; the final model
    is gathered from every process instead. (FSDP needs GPUs; here the trainer reports FSDP and `save_model`
    behaves as it does there.)"""
    from vsi_data.models import load_model
    from vsi_data.train.trainer import build_trainer, save_final

    build = write_build(tmp_path / "b", counting_rows(2))
    trainer, _ = build_trainer(_tiny(), build, tmp_path / "run")
    trainer.is_fsdp_enabled = True
    trainer.save_model = lambda *args, **kwargs: None  # transformers with FSDP's SHARDED_STATE_DICT
    save_final(trainer, tmp_path / "run")
    final = load_model(tmp_path / "run" / "final")
    trained = trainer.model.state_dict()
    assert all(torch.equal(final.state_dict()[key], trained[key]) for key in trained)
    assert (tmp_path / "run" / "final" / "README.md").is_file()


@pytest.mark.slow
def test_merge_lora_rebuilds_final_from_the_adapter(tmp_path):
    from vsi_data.models import load_model
    from vsi_data.train.trainer import train_grpo

    build = write_build(tmp_path / "b", counting_rows(4))
    run = tmp_path / "run"
    train_grpo(_tiny(lora=_lora(0.0)), build, run, max_steps=2)
    merged_in_run = load_model(run / "final").state_dict()
    assert not any("lora" in key for key in merged_in_run)
    shutil.rmtree(run / "final")  # a ZeRO-3/FSDP run whose merge did not happen, or a deleted folder

    result = runner.invoke(app, ["merge-lora", str(run)])
    assert result.exit_code == 0, result.output
    again = load_model(run / "final").state_dict()
    assert again.keys() == merged_in_run.keys()
    assert all(torch.equal(again[key], merged_in_run[key]) for key in again)
    base = load_model(run / "tiny-model").state_dict()
    assert any(not torch.equal(again[key], base[key]) for key in base)  # the adapter is in
    assert "GRPO-trained" in (run / "final" / "README.md").read_text()
    result = runner.invoke(app, ["merge-lora", str(run)])  # again: replaces final/ whole
    assert result.exit_code == 0, result.output

    full = tmp_path / "full"
    (full / "final").mkdir(parents=True)
    (full / "run.json").write_text(json.dumps({"model": str(run / "tiny-model")}))
    for folder, message in ((full, "no LoRA adapter here"), (tmp_path / "b", "not a train-grpo run folder")):
        result = runner.invoke(app, ["merge-lora", str(folder)])
        assert result.exit_code == 1
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1

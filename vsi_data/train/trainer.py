"""`vsi-data train-grpo`: a recipe, a build and a model folder in; checkpoints, logs and a final model out.

    OUTPUT/checkpoint-N/        TRL/transformers checkpoints (model or LoRA adapter, optimiser, trainer state)
    OUTPUT/final/               the whole trained model (LoRA runs: merged into the base), tokenizer, image
                                processor and model card, in every launch mode (FSDP and ZeRO-3 included)
    OUTPUT/final-adapter/       LoRA runs: the adapter alone (`vsi-data merge-lora OUTPUT` merges it again)
    OUTPUT/trainer_state.json   transformers' state: `log_history` holds loss, kl and rewards per step
    OUTPUT/metrics.jsonl        one JSON line per logged step, written as training goes
    OUTPUT/run.json             the resolved recipe, model and data folder (a resume must match), the resolved
                                TRL GRPOConfig, steps, versions; `predict` reads the frame settings from it
    OUTPUT/README.md            the model card: base model, recipe, data
    OUTPUT/tiny-model/          the tiny random Qwen2-VL (`model: tiny` recipes only)

Re-running the command on the same OUTPUT resumes from its last checkpoint; a larger --max-steps trains on.
The same code runs in one process or in each process of `accelerate launch` (transformers' Trainer reads
the distributed set-up from the environment); only the main process writes the files above.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from vsi_data.io import OutputError, Store, check_output_path, given_location, is_temp_file, write_atomic
from vsi_data.models import ModelLoadError, build_tiny_qwen2vl, load_model, load_processor
from vsi_data.output.shards import MANIFEST
from vsi_data.train.data import training_dataset
from vsi_data.train.grpo import VsiGRPOTrainer
from vsi_data.train.recipe import RUN_FILE, TINY_MODEL, TrainRecipe, TrainRecipeError, load_train_recipe
from vsi_data.train.rewards import configured_rewards

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
STATE_FILE = "trainer_state.json"
FINAL_DIR = "final"
ADAPTER_DIR = "final-adapter"
TINY_MODEL_DIR = "tiny-model"
CARD_FILE = "README.md"
_VERSIONED = ("vsi-data", "torch", "transformers", "trl", "accelerate", "peft", "datasets")


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    global_step: int
    resumed_from: Path | None
    last_log: dict[str, float]
    is_main_process: bool  # under torchrun/accelerate every process returns; one should report


def resolve_model(recipe: TrainRecipe, model: Path | None, output_dir: Path) -> Path:
    """--model, else the recipe's model; `tiny` builds the tiny random Qwen2-VL into OUTPUT/tiny-model once."""
    if model is not None:
        return Path(model)
    if recipe.model is None:
        raise TrainRecipeError(
            f"{recipe.path}: the recipe names no model; pass --model with a local checkpoint folder "
            "(e.g. a download of Qwen/Qwen2-VL-2B-Instruct)"
        )
    if recipe.model != TINY_MODEL:
        return Path(recipe.model)
    from accelerate import PartialState

    tiny = output_dir / TINY_MODEL_DIR
    with PartialState().main_process_first():
        if not (tiny / "config.json").is_file():
            build_tiny_qwen2vl(tiny, seed=0)
    return tiny


def build_trainer(
    recipe: TrainRecipe | str | Path,
    data_dir: Path | str,
    output_dir: Path,
    model: Path | None = None,
    max_steps: int | None = None,
) -> tuple[VsiGRPOTrainer, dict[str, Any]]:
    """The trainer of a run, set up and ready to `train()`, and what run.json records of it."""
    if not isinstance(recipe, TrainRecipe):
        recipe = load_train_recipe(recipe)
    output_dir, data_dir = Path(output_dir), given_location(data_dir)
    config = recipe.grpo_config(output_dir, max_steps)
    dataset = training_dataset(data_dir, recipe.frames, recipe.prompt_mode, recipe.system_prompt)
    _check_new_output(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = resolve_model(recipe, model, output_dir)
    data = str(Store.at(data_dir).location)  # a folder as its absolute path, a URL as the URL
    identity = {"recipe": recipe.resolved(), "model": str(model_path.resolve()), "data": data}
    _claim_output(output_dir, identity)
    processor = load_processor(model_path, recipe.frames.input)
    # TRL pads generated prompts on the left but takes the image-token map from a plain processor call, which
    # pads on the tokenizer's side: unless that is also the left, M-RoPE positions shift for shorter prompts.
    processor.tokenizer.padding_side = "left"
    if not config.use_vllm:
        config.generation_kwargs = _suppress_vision_tokens(model_path, config.generation_kwargs)
    resolved_config = config.to_dict()
    log.info(
        "recipe %s: frames as %s, numbers scored by %s, beta %s, loss %s, KL bias correction %s",
        recipe.name,
        recipe.frames.input.value,
        recipe.numeric.value,
        config.beta,
        config.loss_type,
        config.use_bias_correction_kl,
    )
    policy = _load_policy(model_path, config, frozen_vision=recipe.lora is not None)
    trainer = VsiGRPOTrainer(
        model=policy,
        reward_funcs=configured_rewards(list(recipe.rewards), recipe.prompt_mode, recipe.numeric),
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=_lora_config(recipe, policy),
        callbacks=[_MetricsFile(output_dir / METRICS_FILE)],
        model_card=model_card(recipe, model_path, data_dir),
    )
    return trainer, {**identity, "grpo_config": resolved_config}


def train_grpo(
    recipe: TrainRecipe | str | Path,
    data_dir: Path | str,
    output_dir: Path,
    model: Path | None = None,
    max_steps: int | None = None,
    quiet: bool = False,
) -> TrainResult:
    """Run (or resume) GRPO on a build's train rows. `quiet`: warnings and errors only, no progress bar and no
    per-step log lines (metrics.jsonl still gets them)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.trainer_utils import get_last_checkpoint

    if quiet:  # before anything loads: checkpoint shards and dataset maps draw progress bars too
        import datasets
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_warning()
        transformers_logging.disable_progress_bar()
        datasets.disable_progress_bars()

    output_dir = Path(output_dir)
    trainer, run = build_trainer(recipe, data_dir, output_dir, model, max_steps)
    if quiet:
        for callback in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(callback)
    last_checkpoint = get_last_checkpoint(str(output_dir))
    if last_checkpoint:
        log.info("resuming from %s", last_checkpoint)
    trainer.train(resume_from_checkpoint=last_checkpoint)
    save_final(trainer, output_dir)
    if trainer.is_world_process_zero():
        trainer.state.save_to_json(str(output_dir / STATE_FILE))
        _write_run(output_dir, run, trainer.args.max_steps, trainer.state.global_step)
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    return TrainResult(
        output_dir=output_dir,
        global_step=trainer.state.global_step,
        resumed_from=Path(last_checkpoint) if last_checkpoint else None,
        last_log=logged[-1] if logged else {},
        is_main_process=trainer.is_world_process_zero(),
    )


def _load_policy(model_path: Path, config, frozen_vision: bool):
    """The model to train, loaded as TRL would load it from a path (`model_init_kwargs`, no device map under
    distributed training) but before TRL wraps it; the reference model then copies its dtype and attention.

    With `frozen_vision` (LoRA runs: the adapter leaves the vision tower out), the vision tower's input stays
    out of the backward pass. PEFT and gradient checkpointing make the input embeddings of every sub-model
    require gradients (`enable_input_require_grads`), the vision patch embedding included, and autograd
    would then back-propagate through every vision block each step for weights that never change."""
    from trl.trainer.utils import create_model_from_path

    init = dict(config.model_init_kwargs or {})
    if config.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
        init["device_map"] = None
    init.setdefault("trust_remote_code", config.trust_remote_code)
    try:
        policy = create_model_from_path(str(model_path), **init)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{model_path}: cannot load the model ({exc})") from exc
    config.model_init_kwargs = None
    vision = vision_tower(policy)
    if frozen_vision and vision is not None:
        vision.get_input_embeddings = _no_input_embeddings
    return policy


def _no_input_embeddings() -> None:
    """A frozen vision tower's `get_input_embeddings`: no input to make require gradients."""
    return None


def vision_tower(model):
    """The model's vision encoder (Qwen-VL: `model.visual`), or None for a text-only model."""
    tower = model.get_encoder(modality="image")
    return None if tower is model else tower


def model_card(recipe: TrainRecipe, model_path: Path, data_dir: Path | str) -> str:
    """README.md of a run and of its final model: the base model, the recipe and the data it was trained on
    (a build folder or URL)."""
    build = Store.at(data_dir)
    manifest = json.loads(build.read_text(MANIFEST)) if build.is_file(MANIFEST) else {}
    data = f"`{build.location}`"
    if manifest:
        built_with = (manifest.get("recipe") or {}).get("name", "?")
        source = manifest.get("source", "?")
        data += f": {manifest.get('rows', '?')} questions from {source} scenes (build recipe `{built_with}`)"
    lora = recipe.lora
    tuning = (
        "full fine-tuning"
        if lora is None
        else f"LoRA r {lora.r}, alpha {lora.alpha}, dropout {lora.dropout} on {', '.join(lora.target_modules)}"
    )
    grpo, frames = recipe.grpo, recipe.frames
    rewards = ", ".join(f"{name} × {weight:g}" for name, weight in recipe.rewards.items())
    return f"""---
library_name: transformers
tags: [vsi-data, grpo, vsgrpo, trl, video-spatial-reasoning]
---
# {model_path.name}, GRPO-trained with recipe `{recipe.name}`

Fine-tuned with `vsi-data train-grpo` (TRL GRPOTrainer) on video spatial-reasoning questions, after vsGRPO
(Liao et al., "Improved Visual-Spatial Reasoning via R1-Zero-Like Training", arXiv 2504.00883).

- **Base model**: `{model_path.name}` (`{model_path.resolve()}`)
- **Recipe**: `{recipe.name}` (`{recipe.path}`){": " + recipe.description if recipe.description else ""}
- **Data**: {data}
- **Input**: {frames.num_frames} frames as {frames.input.value}, {frames.min_pixels}..{frames.max_pixels} pixels each;
  prompt `{recipe.prompt_mode.value}`
- **Rewards**: {rewards}; numbers scored by `{recipe.numeric.value}`
- **GRPO**: beta {grpo.get("beta")}, loss `{grpo.get("loss_type")}`, {grpo.get("num_generations", 8)} generations per
  question, learning rate {grpo.get("learning_rate", "TRL's default")}; {tuning}

`run.json` beside the run holds the resolved recipe, TRL configuration and library versions. Measure the model
with `vsi-data predict --model <this folder> ...` (it reads the run's frame settings) and `vsi-data eval`.
"""


def _suppress_vision_tokens(model_path: Path, generation_kwargs: dict | None) -> dict:
    """Generation never emits a vision token. TRL suppresses the image token only; a completion holding
    `<|video_pad|>` or `<|vision_start|>` asks Qwen2-VL for visual features that do not exist (a random model
    emits them; a trained one should not, and then this costs nothing).
    With vLLM, TRL passes generation_kwargs to vLLM, which has no such option; the setting is left alone there."""
    config = json.loads((model_path / "config.json").read_text())
    keys = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    vision = [config[key] for key in keys if isinstance(config.get(key), int)]
    kwargs = dict(generation_kwargs or {})
    kwargs["suppress_tokens"] = sorted({*vision, *(kwargs.get("suppress_tokens") or [])})
    return kwargs


def _check_new_output(output_dir: Path) -> None:
    """--output is a run's folder, or new, or empty: a user's own folder (or file) is never written into. Before
    its run.json a run has written only the tiny model (and temp files), which another rank may already see."""
    try:
        check_output_path(output_dir, folder=True)
    except OutputError as exc:
        raise TrainRecipeError(str(exc)) from None
    if not output_dir.is_dir() or (output_dir / RUN_FILE).is_file():
        return
    foreign = sorted(p.name for p in output_dir.iterdir() if p.name != TINY_MODEL_DIR and not is_temp_file(p.name))
    if foreign:
        raise TrainRecipeError(
            f"{output_dir}: holds {', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''} but no {RUN_FILE}, "
            "so it is no train-grpo run to resume; pass a new or empty --output"
        )


def _claim_output(output_dir: Path, identity: dict[str, Any]) -> None:
    """Resume only the same run: checkpoints of another recipe, model or data in OUTPUT are never mixed in."""
    from accelerate import PartialState

    run_file = output_dir / RUN_FILE
    if run_file.is_file():
        recorded = json.loads(run_file.read_text())
        changed = [key for key in identity if json.loads(json.dumps(identity[key])) != recorded.get(key)]
        if changed:
            raise TrainRecipeError(
                f"{output_dir}: holds a run with another {', '.join(changed)} (see {RUN_FILE}); "
                "resume it with the same settings or pass a new --output"
            )
    elif PartialState().is_main_process:
        _write_run(output_dir, identity, None, 0)


def _write_run(output_dir: Path, identity: dict[str, Any], max_steps: int | None, global_step: int) -> None:
    run = {**identity, "max_steps": max_steps, "global_step": global_step, "versions": _versions()}
    write_atomic(output_dir / RUN_FILE, lambda tmp: tmp.write_text(json.dumps(run, indent=2)))


def save_final(trainer, output_dir: Path) -> None:
    """OUTPUT/final: the whole trained model that `--model` (here, or in `predict`) loads, in every launch mode.

    Sharded weights (FSDP, whatever its `fsdp_state_dict_type`) are gathered into one state dict by every
    process together; transformers' `save_model` writes nothing for FSDP's SHARDED_STATE_DICT. LoRA runs write
    the adapter to OUTPUT/final-adapter and the main process merges it into a fresh copy of the base model from
    disk, which works the same whether the trained weights were sharded or not."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    is_lora = isinstance(model, PeftModel)
    target = output_dir / (ADAPTER_DIR if is_lora else FINAL_DIR)
    if trainer.is_fsdp_enabled:
        state_dict = trainer.accelerator.get_state_dict(trainer.model)  # a collective: every process joins
        if trainer.is_world_process_zero():
            model.save_pretrained(target, state_dict=state_dict)
            trainer.processing_class.save_pretrained(target)
    else:
        trainer.save_model(str(target))
    if trainer.is_world_process_zero():
        (target / CARD_FILE).write_text(trainer.model_card_text, encoding="utf-8")
        if is_lora:
            merge_lora(output_dir)
    trainer.accelerator.wait_for_everyone()


def merge_lora(run_dir: Path) -> Path:
    """`vsi-data merge-lora RUN`: RUN/final = the run's base model with RUN/final-adapter merged in.

    The base model is the one run.json names, loaded on the CPU in its checkpoint dtype; the result replaces
    RUN/final only once it is completely written."""
    from peft import PeftModel

    run_dir = Path(run_dir)
    run_file, adapter = run_dir / RUN_FILE, run_dir / ADAPTER_DIR
    if not run_file.is_file():
        raise TrainRecipeError(f"{run_dir}: no {RUN_FILE}; not a train-grpo run folder")
    if not (adapter / "adapter_config.json").is_file():
        raise TrainRecipeError(f"{adapter}: no LoRA adapter here (full fine-tuning runs write {FINAL_DIR}/ themselves)")
    base = Path(json.loads(run_file.read_text())["model"])
    merged = PeftModel.from_pretrained(load_model(base), adapter).merge_and_unload()
    staging, replaced = run_dir / f"{FINAL_DIR}.merging", run_dir / f"{FINAL_DIR}.replaced"
    for leftover in (staging, replaced):
        shutil.rmtree(leftover, ignore_errors=True)
    merged.save_pretrained(staging)
    load_processor(base).save_pretrained(staging)
    for card in (adapter / CARD_FILE, run_dir / CARD_FILE):
        if card.is_file():
            shutil.copyfile(card, staging / CARD_FILE)
            break
    final = run_dir / FINAL_DIR
    if final.exists():
        final.rename(replaced)
    staging.rename(final)
    shutil.rmtree(replaced, ignore_errors=True)
    return final


def _lora_config(recipe: TrainRecipe, model):
    """PEFT's LoRA settings of the recipe. The vision tower is left out whatever the target names match
    (Qwen2.5-VL's vision MLP has gate/up/down projections too): LoRA runs train the language model."""
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    vision = vision_tower(model)
    vision_name = next((name for name, module in model.named_modules() if module is vision), None)
    return LoraConfig(
        task_type="CAUSAL_LM",
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=list(recipe.lora.target_modules),
        exclude_modules=rf"{re.escape(vision_name)}\..*" if vision_name else None,
    )


def _versions() -> dict[str, str]:
    found = {}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


class _MetricsFile(TrainerCallback):
    """metrics.jsonl: one line per logged step. On (re)start the file is rewritten from the trainer state,
    so a resumed run holds each step once, as in trainer_state.json."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            text = "".join(json.dumps(entry) + "\n" for entry in state.log_history)
            write_atomic(self.path, lambda tmp: tmp.write_text(text))

    def on_log(self, args, state, control, logs=None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")

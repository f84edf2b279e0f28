"""`vsi-data train-grpo`: a recipe, a build and a model folder in; checkpoints, logs and a final model out.

    OUTPUT/checkpoint-N/        TRL/transformers checkpoints (model or LoRA adapter, optimiser, trainer state)
    OUTPUT/final/               the trained model (LoRA runs: merged into the base) with tokenizer and image processor
    OUTPUT/final-adapter/       LoRA runs: the adapter alone
    OUTPUT/trainer_state.json   transformers' state: `log_history` holds loss, kl and rewards per step
    OUTPUT/metrics.jsonl        one JSON line per logged step, written as training goes
    OUTPUT/run.json             the resolved recipe, model and data folder (a resume must match), steps, versions
    OUTPUT/tiny-model/          the tiny random Qwen2-VL (`model: tiny` recipes only)

Re-running the command on the same OUTPUT resumes from its last checkpoint; a larger --max-steps trains on.
The same code runs in one process or in each process of `accelerate launch` (transformers' Trainer reads
the distributed set-up from the environment); only the main process writes the files above.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from vsi_data.models import build_tiny_qwen2vl, load_processor
from vsi_data.output.shards import write_atomic
from vsi_data.train.data import training_dataset
from vsi_data.train.recipe import TINY_MODEL, TrainRecipe, TrainRecipeError, load_train_recipe
from vsi_data.train.rewards import REWARD_FUNCTIONS

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
STATE_FILE = "trainer_state.json"
RUN_FILE = "run.json"
FINAL_DIR = "final"
ADAPTER_DIR = "final-adapter"
TINY_MODEL_DIR = "tiny-model"
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


def train_grpo(
    recipe: TrainRecipe | str | Path,
    data_dir: Path,
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

    if not isinstance(recipe, TrainRecipe):
        recipe = load_train_recipe(recipe)
    output_dir = Path(output_dir)
    config = recipe.grpo_config(output_dir, max_steps)
    dataset = training_dataset(Path(data_dir), recipe.frames, recipe.prompt_mode, recipe.system_prompt)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = resolve_model(recipe, model, output_dir)
    identity = {"recipe": recipe.resolved(), "model": str(model_path.resolve()), "data": str(Path(data_dir).resolve())}
    _claim_output(output_dir, identity)
    processor = load_processor(model_path)
    # TRL pads generated prompts on the left but takes the image-token map from a plain processor call, which
    # pads on the tokenizer's side: unless that is also the left, M-RoPE positions shift for shorter prompts.
    processor.tokenizer.padding_side = "left"
    if not config.use_vllm:
        config.generation_kwargs = _suppress_vision_tokens(model_path, config.generation_kwargs)
    trainer = _trainer_class()(
        model=str(model_path),
        reward_funcs=[REWARD_FUNCTIONS[name] for name in recipe.rewards],
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=_lora_config(recipe),
        callbacks=[_MetricsFile(output_dir / METRICS_FILE)],
    )
    if quiet:
        for callback in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(callback)
    last_checkpoint = get_last_checkpoint(str(output_dir))
    if last_checkpoint:
        log.info("resuming from %s", last_checkpoint)
    trainer.train(resume_from_checkpoint=last_checkpoint)
    _save_final(trainer, processor, output_dir)
    if trainer.is_world_process_zero():
        trainer.state.save_to_json(str(output_dir / STATE_FILE))
        _write_run(output_dir, identity, config.max_steps, trainer.state.global_step)
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    return TrainResult(
        output_dir=output_dir,
        global_step=trainer.state.global_step,
        resumed_from=Path(last_checkpoint) if last_checkpoint else None,
        last_log=logged[-1] if logged else {},
        is_main_process=trainer.is_world_process_zero(),
    )


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


def _trainer_class():
    """GRPOTrainer, resuming full fine-tuning runs correctly.

    transformers 5.23 writes Qwen2-VL checkpoints under the released key names (`model.layers…`, `visual…`)
    but its resume path loads them with a plain non-strict `load_state_dict`, so every key misses and the
    run silently goes on from the initial weights. Reading the checkpoint through `from_pretrained` applies
    the key conversion; strict loading then proves every weight arrived. DeepSpeed, FSDP and PEFT runs
    resume through their own loaders."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText
    from trl import GRPOTrainer

    class Trainer(GRPOTrainer):
        def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
            model = model if model is not None else self.model
            if self.is_deepspeed_enabled or self.is_fsdp_enabled or isinstance(model, PeftModel):
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            saved = AutoModelForImageTextToText.from_pretrained(resume_from_checkpoint, dtype=model.dtype)
            model.load_state_dict(saved.state_dict(), strict=True)
            return None

    return Trainer


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


def _save_final(trainer, processor, output_dir: Path) -> None:
    """OUTPUT/final is always a whole checkpoint that `--model` (here, or in `predict`) loads. LoRA runs also
    keep the adapter in OUTPUT/final-adapter; where the weights are sharded (DeepSpeed, FSDP) the adapter
    cannot be merged on one process, so only the adapter is written."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel):
        trainer.save_model(str(output_dir / FINAL_DIR))
        return
    trainer.save_model(str(output_dir / ADAPTER_DIR))
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        log.warning("sharded LoRA run: merge %s into the base model to get a whole checkpoint", ADAPTER_DIR)
        return
    if trainer.is_world_process_zero():
        merged = model.merge_and_unload()
        merged.save_pretrained(output_dir / FINAL_DIR)
        processor.save_pretrained(output_dir / FINAL_DIR)


def _lora_config(recipe: TrainRecipe):
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=list(recipe.lora.target_modules),
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

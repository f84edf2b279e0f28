"""Training recipes: the model, frames, prompt, rewards, LoRA and TRL `GRPOConfig` settings of a GRPO run.

    kind: grpo                    # tells a training recipe from a build recipe (recipes/vsi100k.yaml)
    name: vsgrpo-qwen2vl-2b
    model: null                   # a local checkpoint folder, `tiny` (a random tiny Qwen2-VL), or --model
    prompt: {mode: vanilla, system: null}
    frames: {as: video, num_frames: 16, min_pixels: 3136, max_pixels: 200704}   # as: video | images
    rewards: {accuracy: 1.0, numeric: relative}   # name: weight; `format` needs the think or observe prompt;
                                  # numeric: how numbers score (relative: vsGRPO's rule, mra: VSI-Bench's)
    lora: {r: 64, alpha: 128, dropout: 0.05, target_modules: [q_proj, v_proj]}   # or null: full fine-tuning
    grpo: {beta: 1.0e-4, loss_type: grpo, ...}   # passed to trl.GRPOConfig

Every key is checked on load, `grpo:` keys against GRPOConfig's fields and their types; a misspelt key is an
error naming the file and the key, never silently ignored. `beta` and `loss_type` must be set in every
recipe because TRL's defaults (0.0 and "dapo") are not the paper's GRPO.

`frames.as` says how a question's frames reach the model: `video` (one video block, Qwen's native video
tokens: two frames per temporal patch, as lmms-eval feeds Qwen2-VL on VSI-Bench) or `images` (one image
per frame: twice the visual tokens, other temporal positions; what TRL's GRPOTrainer takes as is).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsi_data.models import FrameInput
from vsi_data.prompts import PromptMode
from vsi_data.resources import load_yaml, resolve_named
from vsi_data.settings import check_value
from vsi_data.train.rewards import REWARD_FUNCTIONS, NumericRule
from vsi_data.video.sampler import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

KIND = "grpo"
TINY_MODEL = "tiny"
RUN_FILE = "run.json"  # written by train-grpo into its output folder; its `recipe` is `TrainRecipe.resolved()`
_TOP_KEYS = {"kind", "name", "description", "model", "prompt", "frames", "rewards", "lora", "grpo"}
_PROMPT_KEYS = {"mode", "system"}
_FRAME_SIZES = ("num_frames", "min_pixels", "max_pixels")
_FRAME_KEYS = {"as", *_FRAME_SIZES}
_NUMERIC_KEY = "numeric"
_LORA_KEYS = {"r", "alpha", "dropout", "target_modules"}
_REQUIRED_GRPO = {
    "beta": "TRL's default 0.0 drops the KL term, which the paper found necessary (β = 1e-4)",
    "loss_type": "TRL's default is 'dapo'; the paper's GRPO is 'grpo'",
}
# Set by the command line or derived from the recipe's other sections.
_RESERVED_GRPO = {
    "output_dir": "--output",
    "reward_weights": "the `rewards:` section",
    "resume_from_checkpoint": "re-running the command on the same --output",
}
# TRL evaluates with its own loss on an eval dataset, which train-grpo does not build: the run would stop at
# the first evaluation. Checkpoints are scored with `vsi-data predict` and `eval` instead.
_UNSUPPORTED_GRPO = {
    "eval_strategy": ("no", "score checkpoints with `vsi-data predict --model RUN/checkpoint-N` and `vsi-data eval`"),
    "do_eval": (False, "score checkpoints with `vsi-data predict` and `vsi-data eval`"),
}


class TrainRecipeError(ValueError):
    """A training recipe that cannot be used; the message names the file."""


def run_frame_settings(model_dir: Path) -> FrameSettings | None:
    """The frame settings a model was trained with, when it is a train-grpo run's output (RUN/final,
    RUN/checkpoint-N: RUN/run.json sits one level up), else None."""
    run_file = Path(model_dir).parent / RUN_FILE
    if not run_file.is_file():
        return None
    try:
        frames = json.loads(run_file.read_text())["recipe"]["frames"]
        return FrameSettings.from_resolved(frames)
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainRecipeError(f"{run_file}: no readable frame settings ({exc})") from exc


@dataclass(frozen=True)
class FrameSettings:
    input: FrameInput = FrameInput.video  # the recipe's `frames.as`
    num_frames: int = 16
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS

    def resolved(self) -> dict[str, Any]:
        """As written in a recipe (and in run.json, where `predict` reads a run's frame settings)."""
        return {"as": self.input.value, **{key: getattr(self, key) for key in _FRAME_SIZES}}

    @classmethod
    def from_resolved(cls, section: dict[str, Any]) -> FrameSettings:
        """The settings `resolved` wrote; absent keys take the defaults."""
        return cls(**_frame_values(section))


@dataclass(frozen=True)
class LoraSettings:
    r: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...]


@dataclass(frozen=True)
class TrainRecipe:
    name: str
    path: Path
    model: str | None
    prompt_mode: PromptMode
    system_prompt: str | None
    frames: FrameSettings
    rewards: dict[str, float]  # reward function name -> weight
    lora: LoraSettings | None
    grpo: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    numeric: NumericRule = NumericRule.mra

    def grpo_config(self, output_dir: Path, max_steps: int | None = None):
        """TRL's GRPOConfig for this recipe; GRPOConfig's own checks are reported against the recipe file."""
        from trl import GRPOConfig

        settings = {"logging_steps": 1, **self.grpo}
        if max_steps is not None:
            settings["max_steps"] = max_steps
        try:
            return GRPOConfig(output_dir=str(output_dir), reward_weights=list(self.rewards.values()), **settings)
        except (ValueError, TypeError) as exc:
            raise TrainRecipeError(f"{self.path}: grpo settings rejected by TRL: {exc}") from exc

    def resolved(self) -> dict[str, Any]:
        """The recipe with defaults filled in, as recorded next to a run."""
        return {
            "kind": KIND,
            "name": self.name,
            "source_file": str(self.path),
            "model": self.model,
            "prompt": {"mode": self.prompt_mode.value, "system": self.system_prompt},
            "frames": self.frames.resolved(),
            "rewards": {**self.rewards, _NUMERIC_KEY: self.numeric.value},
            "lora": None
            if self.lora is None
            else {**dataclasses.asdict(self.lora), "target_modules": list(self.lora.target_modules)},
            "grpo": dict(self.grpo),
        }


def load_train_recipe(name_or_path: str | Path) -> TrainRecipe:
    """A bundled training recipe by name (`tiny-cpu`, `vsgrpo-qwen2vl-2b`) or a YAML file, fully checked."""
    try:
        path = resolve_named("recipes", name_or_path, listed=lambda p: load_yaml(p).get("kind") == KIND)
        data = load_yaml(path)
    except (FileNotFoundError, ValueError) as exc:
        raise TrainRecipeError(str(exc)) from exc
    if data.get("kind") != KIND:
        raise TrainRecipeError(
            f"{path}: not a training recipe (`kind: {KIND}` missing); "
            "build recipes such as vsi100k go to `vsi-data build`"
        )
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise TrainRecipeError(f"{path}: unknown training recipe keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    try:
        prompt = _prompt(data)
        frames, grpo = _frames(data), _grpo(data)
        _check_video_generation(frames, grpo)
        return TrainRecipe(
            name=_string(data.get("name", path.stem), "name"),
            path=path,
            description=_string(data.get("description", ""), "description"),
            model=_optional_string(data.get("model"), "model"),
            **prompt,
            frames=frames,
            rewards=_rewards(data, prompt["prompt_mode"]),
            numeric=_numeric(data),
            lora=_lora(data),
            grpo=grpo,
        )
    except ValueError as exc:
        raise TrainRecipeError(f"{path}: {exc}") from exc


def _section(data: dict, key: str, allowed: set[str] | None) -> dict:
    section = data.get(key) or {}
    if not isinstance(section, dict):
        raise ValueError(f"`{key}` must be a mapping")
    unknown = set(section) - allowed if allowed is not None else set()
    if unknown:
        raise ValueError(f"unknown `{key}` settings {sorted(unknown)}; known: {sorted(allowed or ())}")
    return section


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {value!r}")
    return value


def _optional_string(value: Any, name: str) -> str | None:
    return None if value is None else _string(value, name)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return value


def _prompt(data: dict) -> dict[str, Any]:
    section = _section(data, "prompt", _PROMPT_KEYS)
    mode = section.get("mode", PromptMode.vanilla.value)
    if mode not in PromptMode.__members__:
        raise ValueError(f"prompt.mode must be one of {list(PromptMode.__members__)}, not {mode!r}")
    return {"prompt_mode": PromptMode(mode), "system_prompt": _optional_string(section.get("system"), "prompt.system")}


def _frames(data: dict) -> FrameSettings:
    return FrameSettings(**_frame_values(_section(data, "frames", _FRAME_KEYS)))


def _frame_values(section: dict[str, Any]) -> dict[str, Any]:
    defaults = FrameSettings()
    mode = section.get("as", defaults.input.value)
    if mode not in FrameInput.__members__:
        raise ValueError(f"frames.as must be one of {list(FrameInput.__members__)}, not {mode!r}")
    frames = FrameSettings(
        input=FrameInput(mode),
        **{key: _positive_int(section.get(key, getattr(defaults, key)), f"frames.{key}") for key in _FRAME_SIZES},
    )
    if frames.min_pixels > frames.max_pixels:
        raise ValueError(f"frames.min_pixels ({frames.min_pixels}) is above frames.max_pixels ({frames.max_pixels})")
    return {"input": frames.input, **{key: getattr(frames, key) for key in _FRAME_SIZES}}


def _numeric(data: dict) -> NumericRule:
    rule = (data.get("rewards") or {}).get(_NUMERIC_KEY, NumericRule.mra.value)
    if rule not in NumericRule.__members__:
        raise ValueError(f"rewards.{_NUMERIC_KEY} must be one of {list(NumericRule.__members__)}, not {rule!r}")
    return NumericRule(rule)


def _rewards(data: dict, mode: PromptMode) -> dict[str, float]:
    section = _section(data, "rewards", {*REWARD_FUNCTIONS, _NUMERIC_KEY})
    section = {name: weight for name, weight in section.items() if name != _NUMERIC_KEY}
    if not section:
        raise ValueError(f"`rewards` must name at least one of {sorted(REWARD_FUNCTIONS)} with its weight")
    rewards = {}
    for name, weight in section.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"rewards.{name} must be a number (its weight), not {weight!r}")
        rewards[name] = float(weight)
    if "format" in rewards and mode is PromptMode.vanilla:
        raise ValueError("the format reward needs prompt.mode think or observe (the vanilla prompt asks for no tags)")
    return rewards


def _lora(data: dict) -> LoraSettings | None:
    if data.get("lora") is None:
        return None
    section = _section(data, "lora", _LORA_KEYS)
    modules = section.get("target_modules")
    if not isinstance(modules, list) or not modules or not all(isinstance(m, str) for m in modules):
        raise ValueError("lora.target_modules must be a list of module names (e.g. [q_proj, v_proj])")
    dropout = section.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError(f"lora.dropout must be a number in [0, 1), not {dropout!r}")
    return LoraSettings(
        r=_positive_int(section.get("r"), "lora.r"),
        alpha=_positive_int(section.get("alpha"), "lora.alpha"),
        dropout=float(dropout),
        target_modules=tuple(modules),
    )


def _grpo(data: dict) -> dict[str, Any]:
    from trl import GRPOConfig

    section = _section(data, "grpo", None)
    fields = {f.name: f for f in dataclasses.fields(GRPOConfig) if f.init}
    for key, value in section.items():
        if key in _RESERVED_GRPO:
            raise ValueError(f"grpo.{key} is set by {_RESERVED_GRPO[key]}, not in the recipe")
        if key not in fields:
            raise ValueError(f"grpo.{key} is not a trl.GRPOConfig setting")
        allowed, instead = _UNSUPPORTED_GRPO.get(key, (value, ""))
        if value != allowed:
            raise ValueError(f"grpo.{key}: {value!r} is not supported (no evaluation during training); {instead}")
        check_value(f"grpo.{key}", value, fields[key].type)
    for key, why in _REQUIRED_GRPO.items():
        if key not in section:
            raise ValueError(f"grpo.{key} must be set explicitly: {why}")
    return dict(section)


def _check_video_generation(frames: FrameSettings, grpo: dict[str, Any]) -> None:
    """TRL 1.16's vLLM generation hands vLLM images only: video prompts would reach it without their video."""
    if frames.input is FrameInput.video and grpo.get("use_vllm"):
        raise ValueError("grpo.use_vllm generates from images only in TRL 1.16; set frames.as: images to use vLLM")

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

Every key is checked on load (`vsi_data.settings.check_value`, against the annotations below), `grpo:` keys
against GRPOConfig's fields and their types; a misspelt key is an error naming the file and the key, never
silently ignored. Each key's help is its field's metadata; docs/recipes.md is generated from it.
`beta` and `loss_type` must be set in every recipe because TRL's defaults (0.0 and "dapo") are not the paper's
GRPO.

`frames.as` says how a question's frames reach the model: `video` (one video block, Qwen's native video
tokens: two frames per temporal patch, as lmms-eval feeds Qwen2-VL on VSI-Bench) or `images` (one image
per frame: twice the visual tokens, other temporal positions; what TRL's GRPOTrainer takes as is).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from enum import EnumMeta
from pathlib import Path
from typing import Any, TypeVar

from vsi_data.models import FrameInput
from vsi_data.prompts import PromptMode
from vsi_data.resources import load_yaml, resolve_named
from vsi_data.settings import check_value, option
from vsi_data.train.rewards import REWARD_FUNCTIONS, NumericRule
from vsi_data.video.sampler import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

T = TypeVar("T")
KIND = "grpo"
TINY_MODEL = "tiny"
RUN_FILE = "run.json"  # written by train-grpo into its output folder; its `recipe` is `TrainRecipe.resolved()`
_FRAME_SIZES = ("num_frames", "min_pixels", "max_pixels")
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
class PromptSettings:
    """The recipe's `prompt:` section."""

    mode: PromptMode = option(
        PromptMode.vanilla,
        help="the answer instruction after each question (the paper's wording, vsi_data/prompts.py): vanilla "
        "(the answer only), think (`<think>` then `<answer>`), observe (`<observe>` then `<answer>`)",
    )
    system: str | None = option(None, help="a system message before every question; null: none")


@dataclass(frozen=True)
class FrameSettings:
    """The recipe's `frames:` section: how each question's video reaches the model."""

    input: FrameInput = option(
        FrameInput.video,
        key="as",
        help="video: one video block, Qwen's native video tokens (two frames per temporal patch, as lmms-eval "
        "feeds Qwen2-VL on VSI-Bench); images: one image per frame (twice the visual tokens, other temporal "
        "positions; what TRL's GRPOTrainer takes as is, and what vLLM generation needs)",
    )
    num_frames: int = option(16, help="frames sampled per video, lmms-eval's indices (evenly spaced, first to last)")
    min_pixels: int = option(
        DEFAULT_MIN_PIXELS, help="the fewest pixels per frame after resizing (sides multiples of 28)"
    )
    max_pixels: int = option(
        DEFAULT_MAX_PIXELS, help="the most pixels per frame after resizing (sides multiples of 28); at least min_pixels"
    )

    def resolved(self) -> dict[str, Any]:
        """As written in a recipe (and in run.json, where `predict` reads a run's frame settings)."""
        return {"as": self.input.value, **{key: getattr(self, key) for key in _FRAME_SIZES}}

    @classmethod
    def from_resolved(cls, section: dict[str, Any]) -> FrameSettings:
        """The settings `resolved` wrote; absent keys take the defaults."""
        return cls(**_frame_values(section))


@dataclass(frozen=True, kw_only=True)
class LoraSettings:
    """The recipe's `lora:` section (null: full fine-tuning); the vision tower is never wrapped."""

    r: int = option(help="the adapters' rank")
    alpha: int = option(help="the adapters' scaling numerator (the update is scaled by alpha / r)")
    dropout: float = option(0.0, help="dropout on the adapters' input, in [0, 1); kept after TRL's disable_dropout")
    target_modules: tuple[str, ...] = option(
        help="names of the language model's linear layers to adapt, e.g. [q_proj, v_proj]"
    )


@dataclass(frozen=True)
class RewardRule:
    """The recipe's `rewards:` section besides the reward weights (`<reward name>: weight`)."""

    numeric: NumericRule = option(
        NumericRule.mra,
        help="how a numeric answer scores: mra (VSI-Bench's mean relative accuracy), relative (vsGRPO's relative "
        "error e = |gt - pred| / min(gt, pred), as the reward max(0, 1 - e))",
    )


@dataclass(frozen=True, kw_only=True)
class RecipeKeys:
    """The top level of a training recipe, one field per key: its type, default and help (the sections' own keys
    are the settings classes above; `grpo:` takes trl.GRPOConfig's fields)."""

    kind: str = option(help=f"`{KIND}`: tells a training recipe from a build recipe")
    name: str | None = option(None, help="the run's name (run.json, model card); null: the file's name")
    description: str = option("", help="one line on what the recipe is for")
    model: str | None = option(
        None,
        help=f"a local checkpoint folder, or `{TINY_MODEL}` (a random tiny Qwen2-VL built into OUTPUT/tiny-model); "
        "null: `--model` must name one (no hub downloads)",
    )
    prompt: PromptSettings = option(PromptSettings(), help="the prompt")
    frames: FrameSettings = option(FrameSettings(), help="how each question's frames are sampled and fed")
    rewards: dict[str, Any] = option(
        help="reward function name -> weight (at least one), and `numeric`: how numbers score"
    )
    lora: LoraSettings | None = option(None, help="LoRA adapters; null: full fine-tuning")
    grpo: dict[str, Any] = option(
        help="settings passed to trl.GRPOConfig, each checked against its field and type; `beta` and `loss_type` "
        "required, a few set elsewhere or refused"
    )


_TOP_KEYS = {f.name for f in dataclasses.fields(RecipeKeys)}


def yaml_key(f: dataclasses.Field) -> str:
    """The key a recipe writes for a settings field (`frames.as` fills `input`)."""
    return f.metadata.get("key", f.name)


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
            "rewards": {**self.rewards, "numeric": self.numeric.value},
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
        prompt = _settings(PromptSettings, _section(data, "prompt", _keys(PromptSettings)), "prompt")
        frames, grpo = _frames(data), _grpo(data)
        _check_video_generation(frames, grpo)
        head = {f.name: data.get(f.name, f.default) for f in dataclasses.fields(RecipeKeys) if f.name in _HEAD_KEYS}
        for key, value in head.items():
            check_value(key, value, _HINTS[key])
        return TrainRecipe(
            name=head["name"] if head["name"] is not None else path.stem,
            path=path,
            description=head["description"],
            model=head["model"],
            prompt_mode=prompt.mode,
            system_prompt=prompt.system,
            frames=frames,
            rewards=_rewards(data, prompt.mode),
            numeric=_numeric(data),
            lora=_lora(data),
            grpo=grpo,
        )
    except ValueError as exc:
        raise TrainRecipeError(f"{path}: {exc}") from exc


_HINTS = typing.get_type_hints(RecipeKeys)
_HEAD_KEYS = ("name", "description", "model")  # the plain values; kind is checked first, the rest are sections


def _keys(settings: type) -> set[str]:
    return {yaml_key(f) for f in dataclasses.fields(settings)}


def _section(data: dict, key: str, allowed: set[str] | None) -> dict:
    """The mapping under `key`, its keys checked against `allowed` (None: any key)."""
    section = data.get(key) or {}
    if not isinstance(section, dict):
        raise ValueError(f"`{key}` must be a mapping")
    unknown = set(section) - allowed if allowed is not None else set()
    if unknown:
        raise ValueError(f"unknown `{key}` settings {sorted(unknown)}; known: {sorted(allowed or ())}")
    return section


def _settings(cls: type[T], section: dict[str, Any], where: str) -> T:
    """A settings object from a section's values (absent keys take the defaults), each checked against its
    field's annotation; an enum's value becomes its member."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if yaml_key(f) in section:
            value = section[yaml_key(f)]
            check_value(f"{where}.{yaml_key(f)}", value, hints[f.name])
            values[f.name] = hints[f.name](value) if isinstance(hints[f.name], EnumMeta) else value
    return cls(**values)


def _positive(section: str, settings: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(settings, name)
        if value <= 0:
            raise ValueError(f"{section}.{name} must be a positive whole number, not {value!r}")


def _frames(data: dict) -> FrameSettings:
    return FrameSettings.from_resolved(_section(data, "frames", _keys(FrameSettings)))


def _frame_values(section: dict[str, Any]) -> dict[str, Any]:
    frames = _settings(FrameSettings, section, "frames")
    _positive("frames", frames, _FRAME_SIZES)
    if frames.min_pixels > frames.max_pixels:
        raise ValueError(f"frames.min_pixels ({frames.min_pixels}) is above frames.max_pixels ({frames.max_pixels})")
    return {f.name: getattr(frames, f.name) for f in dataclasses.fields(frames)}


def _numeric(data: dict) -> NumericRule:
    section = {key: value for key, value in (data.get("rewards") or {}).items() if key in _keys(RewardRule)}
    return _settings(RewardRule, section, "rewards").numeric


def _rewards(data: dict, mode: PromptMode) -> dict[str, float]:
    section = _section(data, "rewards", {*REWARD_FUNCTIONS, *_keys(RewardRule)})
    section = {name: weight for name, weight in section.items() if name not in _keys(RewardRule)}
    if not section:
        raise ValueError(f"`rewards` must name at least one of {sorted(REWARD_FUNCTIONS)} with its weight")
    for name, weight in section.items():
        check_value(f"rewards.{name} (its weight)", weight, float)
    if "format" in section and mode is PromptMode.vanilla:
        raise ValueError("the format reward needs prompt.mode think or observe (the vanilla prompt asks for no tags)")
    return {name: float(weight) for name, weight in section.items()}


def _lora(data: dict) -> LoraSettings | None:
    if data.get("lora") is None:
        return None
    section = _section(data, "lora", _keys(LoraSettings))
    modules = section.get("target_modules")
    if not isinstance(modules, list) or not modules or not all(isinstance(m, str) for m in modules):
        raise ValueError("lora.target_modules must be a list of module names (e.g. [q_proj, v_proj])")
    for key in ("r", "alpha"):
        if key not in section:
            raise ValueError(f"lora.{key} must be set (a positive whole number)")
    lora = _settings(LoraSettings, {**section, "target_modules": tuple(modules)}, "lora")
    _positive("lora", lora, ("r", "alpha"))
    if not 0 <= lora.dropout < 1:
        raise ValueError(f"lora.dropout must be a number in [0, 1), not {lora.dropout!r}")
    return dataclasses.replace(lora, dropout=float(lora.dropout))


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

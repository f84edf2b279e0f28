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

Every key is checked on load (`vsi_data.settings.parse_params`, against the settings classes below), `grpo:`
keys against GRPOConfig's fields and their types and `GRPO_KEY_RULES`; a misspelt key is an error naming the
file and the key, never silently ignored. Each key's help is its field's metadata; docs/recipes.md is generated from it.
`beta` and `loss_type` must be set in every recipe because TRL's defaults (0.0 and "dapo") are not the paper's
GRPO.

`frames.as` says how a question's frames reach the model: `video` (one video block, Qwen's native video
tokens: two frames per temporal patch, as lmms-eval feeds Qwen2-VL on VSI-Bench) or `images` (one image
per frame: twice the visual tokens, other temporal positions; what TRL's GRPOTrainer takes as is).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vsi_data.models import FrameInput
from vsi_data.prompts import PromptMode
from vsi_data.resources import load_yaml, resolve_named
from vsi_data.settings import check_at_least, check_value, option, parse_params, yaml_key
from vsi_data.train.rewards import REWARD_FUNCTIONS, NumericRule
from vsi_data.video.sampler import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

log = logging.getLogger(__name__)

KIND = "grpo"
TINY_MODEL = "tiny"
RUN_FILE = "run.json"  # written by train-grpo into its output folder; its `recipe` is `TrainRecipe.resolved()`
_FRAME_SIZES = ("num_frames", "min_pixels", "max_pixels")


@dataclass(frozen=True)
class GrpoKeyRule:
    """What a recipe may do with one of trl.GRPOConfig's keys where TRL's default or freedom is wrong here."""

    kind: Literal["required", "refused", "only"]  # must be set / set elsewhere / one value only
    why: str  # required: why TRL's default is wrong; refused: what sets it; only: what to do instead
    value: Any = None  # `only`: the one value train-grpo supports

    def check(self, key: str, section: dict[str, Any]) -> None:
        if self.kind == "required" and key not in section:
            raise ValueError(f"grpo.{key} must be set explicitly: {self.why}")
        if self.kind == "refused" and key in section:
            raise ValueError(f"grpo.{key} is set by {self.why}, not in the recipe")
        if self.kind == "only" and key in section and section[key] != self.value:
            raise ValueError(
                f"grpo.{key}: {section[key]!r} is not supported (no evaluation during training); {self.why}"
            )


GRPO_KEY_RULES = {
    "beta": GrpoKeyRule("required", "TRL's default 0.0 drops the KL term, which the paper found necessary (β = 1e-4)"),
    "loss_type": GrpoKeyRule("required", "TRL's default is 'dapo'; the paper's GRPO is 'grpo'"),
    # Set by the command line or derived from the recipe's other sections.
    "output_dir": GrpoKeyRule("refused", "--output"),
    "reward_weights": GrpoKeyRule("refused", "the `rewards:` section"),
    "resume_from_checkpoint": GrpoKeyRule("refused", "re-running the command on the same --output"),
    # TRL evaluates with its own loss on an eval dataset, which train-grpo does not build: the run would stop at
    # the first evaluation. Checkpoints are scored with `vsi-data predict` and `eval` instead.
    "eval_strategy": GrpoKeyRule(
        "only", "score checkpoints with `vsi-data predict --model RUN/checkpoint-N` and `vsi-data eval`", "no"
    ),
    "do_eval": GrpoKeyRule("only", "score checkpoints with `vsi-data predict` and `vsi-data eval`", False),
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

    def __post_init__(self) -> None:
        check_at_least(self, 1, *_FRAME_SIZES)
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})")

    def resolved(self) -> dict[str, Any]:
        """As written in a recipe (and in run.json, where `predict` reads a run's frame settings)."""
        return {"as": self.input.value, **{key: getattr(self, key) for key in _FRAME_SIZES}}

    @classmethod
    def from_resolved(cls, section: dict[str, Any]) -> FrameSettings:
        """The settings `resolved` wrote; absent keys take the defaults."""
        return parse_params(cls, "frames", section)


@dataclass(frozen=True, kw_only=True)
class LoraSettings:
    """The recipe's `lora:` section (null: full fine-tuning); the vision tower is never wrapped."""

    r: int = option(help="the adapters' rank")
    alpha: int = option(help="the adapters' scaling numerator (the update is scaled by alpha / r)")
    dropout: float = option(0.0, help="dropout on the adapters' input, in [0, 1); kept after TRL's disable_dropout")
    target_modules: tuple[str, ...] = option(
        help="names of the language model's linear layers to adapt, e.g. [q_proj, v_proj]"
    )

    def __post_init__(self) -> None:
        check_at_least(self, 1, "r", "alpha")
        if not self.target_modules:
            raise ValueError("target_modules must name at least one module (e.g. [q_proj, v_proj])")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), not {self.dropout!r}")


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

    kind: Literal["grpo"] = option(help=f"`{KIND}`: tells a training recipe from a build recipe")
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
    try:
        keys = parse_params(RecipeKeys, "", data, what="training recipe keys")
        _check_video_generation(keys.frames, keys.grpo)
        return TrainRecipe(
            name=keys.name if keys.name is not None else path.stem,
            path=path,
            description=keys.description,
            model=keys.model,
            prompt_mode=keys.prompt.mode,
            system_prompt=keys.prompt.system,
            frames=keys.frames,
            rewards=_rewards(keys.rewards, keys.prompt.mode),
            numeric=_numeric(keys.rewards),
            lora=keys.lora,
            grpo=_grpo(keys.grpo),
        )
    except ValueError as exc:
        raise TrainRecipeError(f"{path}: {exc}") from exc


_RULE_KEYS = {yaml_key(f) for f in dataclasses.fields(RewardRule)}


def _numeric(rewards: dict[str, Any]) -> NumericRule:
    rule = {key: value for key, value in rewards.items() if key in _RULE_KEYS}
    return parse_params(RewardRule, "rewards", rule).numeric


def _rewards(rewards: dict[str, Any], mode: PromptMode) -> dict[str, float]:
    """Reward name -> weight; `rewards:` also holds the `RewardRule` keys."""
    unknown = set(rewards) - {*REWARD_FUNCTIONS, *_RULE_KEYS}
    if unknown:
        known = sorted({*REWARD_FUNCTIONS, *_RULE_KEYS})
        raise ValueError(f"unknown `rewards` settings {sorted(unknown)}; known: {known}")
    weights = {name: weight for name, weight in rewards.items() if name not in _RULE_KEYS}
    if not weights:
        raise ValueError(f"`rewards` must name at least one of {sorted(REWARD_FUNCTIONS)} with its weight")
    for name, weight in weights.items():
        check_value(f"rewards.{name} (its weight)", weight, float)
    if "format" in weights and mode is PromptMode.vanilla:
        raise ValueError("the format reward needs prompt.mode think or observe (the vanilla prompt asks for no tags)")
    if "format" not in weights and mode is not PromptMode.vanilla:
        log.warning(
            "prompt.mode %s asks for tags that no reward checks (the paper pairs it with the format reward: "
            "rewards: {format: 1.0, ...}); completions that drop the tags still earn their accuracy reward",
            mode,
        )
    return {name: float(weight) for name, weight in weights.items()}


def _grpo(section: dict[str, Any]) -> dict[str, Any]:
    """The `grpo:` settings, each a trl.GRPOConfig field of its type, under `GRPO_KEY_RULES`."""
    from trl import GRPOConfig

    fields = {f.name: f for f in dataclasses.fields(GRPOConfig) if f.init}
    for key in section:
        if key not in fields:
            raise ValueError(f"grpo.{key} is not a trl.GRPOConfig setting")
    for key, rule in GRPO_KEY_RULES.items():
        rule.check(key, section)
    for key, value in section.items():
        check_value(f"grpo.{key}", value, fields[key].type)
    return dict(section)


def _check_video_generation(frames: FrameSettings, grpo: dict[str, Any]) -> None:
    """TRL 1.16's vLLM generation hands vLLM images only: video prompts would reach it without their video."""
    if frames.input is FrameInput.video and grpo.get("use_vllm"):
        raise ValueError("grpo.use_vllm generates from images only in TRL 1.16; set frames.as: images to use vLLM")

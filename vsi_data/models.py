"""Load a Qwen2-VL / Qwen2.5-VL checkpoint from a local folder, and build a tiny random one.

Training and prediction share this module. Two facts of this field shape it:
- No hub access: models come from local folders only, and the tests need a model, so `build_tiny_qwen2vl`
  writes a ~100k-parameter Qwen2-VL with its own small BPE tokenizer and Qwen's chat template (TRL ships
  the template) into a folder that loads like a real checkpoint.
- Qwen-VL processors in transformers import torchvision for their video half, and CPU machines may have
  no working torchvision. `load_processor` then falls back to the PIL image processor and no video
  processor, which serves frames passed as images; native video input (`FrameInput.video`) needs the real
  video processor and says so in one line where it cannot be had.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Tiny model images: 4..16 cells of 28×28 per frame keep a CPU step in milliseconds.
TINY_MIN_PIXELS = 4 * 28 * 28
TINY_MAX_PIXELS = 16 * 28 * 28


class ModelLoadError(RuntimeError):
    """A model folder that is missing or not a loadable Qwen-VL checkpoint; the message names it."""


class FrameInput(StrEnum):
    """How a question's sampled frames reach a Qwen-VL model."""

    video = "video"  # one video: temporal patches of two frames, Qwen's native video tokens (lmms-eval's way)
    images = "images"  # one image per frame: twice the visual tokens, other temporal positions


def qwen_vl_chat_template() -> str:
    """Qwen2-VL's chat template (byte-identical to Qwen2.5-VL's, which TRL ships)."""
    return (importlib.resources.files("trl") / "chat_templates" / "qwen2_5_vl.jinja").read_text()


def _tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [
        "system user assistant You are a helpful assistant. These are frames of a video.",
        "How many chairs are in the room? What is the length of the longest dimension of the table?",
        "Options: A. B. C. D. answer think observe 0 1 2 3 4 5 6 7 8 9 . , ? ! left right back front",
        "<think> </think> <answer> </answer> <observe> </observe> metres meters centimeters square",
    ]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # its bar writes to stdout, where a command's result goes
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in {"<|im_end|>", "<|endoftext|>"}],
    )
    fast.chat_template = qwen_vl_chat_template()
    return fast


# The tiny model: 2 text layers of width 32 (mrope sections sum to head_dim / 2 = 32 / 4 / 2), a 2-block vision
# tower; ~100k parameters. Qwen2.5-VL's vision tower takes other keys (windowed attention, gated MLP).
_TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rope_parameters": {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 1e4},
}
_TINY_VISION = {
    "qwen2_vl": {"depth": 2, "embed_dim": 32, "hidden_size": 32, "num_heads": 4, "mlp_ratio": 2},
    "qwen2_5_vl": {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 4,
        "out_hidden_size": 32,
        "fullatt_block_indexes": [1],
        "window_size": 112,
    },
}


def build_tiny_qwen2vl(out_dir: Path | str, seed: int = 0, family: str = "qwen2_vl") -> Path:
    """Write a tiny random Qwen2-VL (or, with `family="qwen2_5_vl"`, Qwen2.5-VL) checkpoint (model, tokenizer,
    image processor, chat template) to `out_dir` and return it. Same seed, same weights."""
    return build_random_qwen_vl(
        out_dir,
        {**_TINY_TEXT, "tie_word_embeddings": True},
        _TINY_VISION[family],
        family=family,
        seed=seed,
        pixels=(TINY_MIN_PIXELS, TINY_MAX_PIXELS),
    )


def build_random_qwen_vl(
    out_dir: Path | str,
    text: dict[str, Any],
    vision: dict[str, Any],
    family: str = "qwen2_vl",
    seed: int = 0,
    pixels: tuple[int, int] = (TINY_MIN_PIXELS, TINY_MAX_PIXELS),
    dtype: str = "float32",
    device: str = "cpu",
) -> Path:
    """A random-weight Qwen2-VL / Qwen2.5-VL checkpoint of the given text and vision architecture (a released
    model's `text_config` and `vision_config`, or the tiny one), with the tiny tokenizer (no download): the
    architecture's own vocabulary size is kept when it is larger, so the compute is the real model's. Token ids
    beyond the tokenizer decode to nothing. `pixels` is the image processor's per-image budget."""
    import torch
    import transformers
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    classes = {
        "qwen2_vl": (transformers.Qwen2VLConfig, transformers.Qwen2VLForConditionalGeneration),
        "qwen2_5_vl": (transformers.Qwen2_5_VLConfig, transformers.Qwen2_5_VLForConditionalGeneration),
    }
    if family not in classes:
        raise ValueError(f"unknown Qwen-VL family {family!r} (qwen2_vl, qwen2_5_vl)")
    config_class, model_class = classes[family]
    out_dir = Path(out_dir)
    tokenizer = _tiny_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    token_ids = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vocab_size = max(len(tokenizer), text.get("vocab_size", 0))
    tie = text.get("tie_word_embeddings", False)
    config = config_class(
        text_config={**text, "vocab_size": vocab_size, **token_ids},
        vision_config={"patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, **vision},
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=tie,
        **token_ids,
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = model_class(config).to(getattr(torch, dtype))
    for key, value in token_ids.items():
        setattr(model.generation_config, key, value)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    Qwen2VLImageProcessorPil(min_pixels=pixels[0], max_pixels=pixels[1]).save_pretrained(out_dir)
    return out_dir


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f"{path}: model folder not found (models load from local folders only)")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: no config.json; not a transformers checkpoint folder")


def load_processor(path: Path | str, frames: FrameInput = FrameInput.images):
    """The checkpoint's processor. For frames passed as images, on machines without torchvision, the same
    processor built from the PIL image processor and no video processor; native video needs the real one
    (transformers' Qwen2-VL video processor, which imports torchvision)."""
    from transformers import AutoProcessor

    path = Path(path)
    _check_folder(path)
    try:
        return AutoProcessor.from_pretrained(path)
    except (ImportError, ValueError, AttributeError, OSError) as exc:
        if frames is FrameInput.video:
            raise ModelLoadError(
                f"{path}: native video input needs transformers' Qwen2-VL video processor, which cannot load here "
                f"({_first_line(exc)}); install torchvision built for this torch, or pass frames as images "
                "(recipe frames.as: images, predict --input images)"
            ) from exc
        log.info("full processor unavailable (%s); using the PIL image processor", _first_line(exc))
    return _image_only_processor(path)


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message: enough to say why, short enough for one line."""
    text = " ".join(str(exc).split())
    return text.split(". ")[0].rstrip(".") if text else type(exc).__name__


def _image_only_processor(path: Path):
    from transformers import AutoTokenizer, Qwen2_5_VLProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    model_type = json.loads((path / "config.json").read_text()).get("model_type", "")
    base = {"qwen2_vl": Qwen2VLProcessor, "qwen2_5_vl": Qwen2_5_VLProcessor}.get(model_type)
    if base is None:
        raise ModelLoadError(f"{path}: model_type {model_type!r} is not Qwen2-VL or Qwen2.5-VL")

    class ImageOnlyProcessor(base):
        def check_argument_for_proper_class(self, argument_name: str, argument: Any):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

        def save_pretrained(self, save_directory, *args: Any, **kwargs: Any) -> list[str]:
            """The base class saves every sub-processor and fails on the absent video one; the tokenizer (with
            the chat template) and the image processor are all `load_processor` needs to rebuild this one.
            Trainers call this when they write a checkpoint."""
            Path(save_directory).mkdir(parents=True, exist_ok=True)
            tokenizer_files = self.tokenizer.save_pretrained(save_directory)
            image_files = self.image_processor.save_pretrained(save_directory)
            return [str(f) for f in (*tokenizer_files, *image_files)]

    # from_pretrained reads both layouts of the pixel budget: transformers 5's `size` {shortest_edge,
    # longest_edge} and the min_pixels/max_pixels keys of Qwen's released checkpoints.
    if (path / "preprocessor_config.json").is_file():
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    else:
        image_processor = Qwen2VLImageProcessorPil()
    tokenizer = AutoTokenizer.from_pretrained(path)
    template = tokenizer.chat_template or qwen_vl_chat_template()
    return ImageOnlyProcessor(
        image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=template
    )


def load_model(path: Path | str, dtype: str = "auto", device: str | None = None):
    """A Qwen-VL model for generation or training from a local checkpoint folder."""
    import torch
    from transformers import AutoModelForImageTextToText

    path = Path(path)
    _check_folder(path)
    torch_dtype = {"auto": "auto", "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}.get(dtype)
    if torch_dtype is None:
        raise ValueError(f"unknown dtype {dtype!r} (auto, bf16, fp16, fp32)")
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot load the model ({exc})") from exc
    return model.to(device) if device else model

"""Answer evaluation questions with a local Qwen-VL checkpoint, VSI-Bench style.

Greedy decoding of VSI-Bench's prompt (pre-prompt, question, options, answer instruction) over N
uniformly sampled frames. Frames go to the model as images, as in training (vsi_data/train), so a
trained model is measured on the inputs it learned from; every frame gets the same pixel budget.
Questions are grouped by video (one decode serves all questions of a scene) and batched with left
padding. Each batch is appended and flushed to the predictions file before the next starts, so a killed
run loses at most one batch, and a re-run answers only the questions not in the file yet.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsi_data.eval.items import EvalItem, load_items
from vsi_data.eval.predictions import open_for_append, prediction_line
from vsi_data.prompts import benchmark_prompt
from vsi_data.video.sampler import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, sample_frames

log = logging.getLogger(__name__)


class PredictError(RuntimeError):
    """Prediction cannot start (no videos, bad options); the message says what and where."""


@dataclass(frozen=True)
class PredictConfig:
    model: Path
    data: Path
    out: Path
    frames: int = 16
    batch_size: int = 4
    max_new_tokens: int = 16  # VSI-Bench's
    device: str | None = None  # default: cuda when available, else cpu
    dtype: str = "auto"
    min_pixels: int | None = None  # per frame; default: the sampler's, within the processor's budget
    max_pixels: int | None = None
    limit: int | None = None  # answer at most this many new questions
    video_root: Path | None = None
    video_backend: str = "auto"


@dataclass(frozen=True)
class PredictResult:
    total: int  # questions in the data
    already: int  # answered by an earlier run
    written: int  # answered now


def pending_items(config: PredictConfig) -> tuple[list[EvalItem], int, int]:
    """The questions still to answer (grouped by video), the data's size and how many are answered."""
    items = load_items(config.data, config.video_root)
    done = open_for_append(config.out)
    pending = [item for item in items if item.id not in done]
    if config.limit is not None:
        pending = pending[: config.limit]
    without_video = [item for item in pending if item.video is None]
    if without_video:
        raise PredictError(
            f"{config.data}: {len(without_video)} questions have no video (e.g. {without_video[0].id}); "
            "build with --video, or pass --video-root"
        )
    missing = sorted({str(item.video) for item in pending if not item.video.is_file()})
    if missing:
        raise PredictError(
            f"{missing[0]}: video not found ({len(missing)} videos missing; --video-root sets where they live)"
        )
    order = {item.id: k for k, item in enumerate(pending)}
    pending.sort(key=lambda item: (str(item.video), order[item.id]))
    return pending, len(items), len(done & {item.id for item in items})


def pixel_budget(processor, min_pixels: int | None, max_pixels: int | None) -> tuple[int, int]:
    """Frame budget inside the processor's, so it never resizes our frames a second time."""
    size = getattr(processor.image_processor, "size", None) or {}
    proc_min = size.get("shortest_edge") or DEFAULT_MIN_PIXELS
    proc_max = size.get("longest_edge") or DEFAULT_MAX_PIXELS
    high = min(max_pixels or DEFAULT_MAX_PIXELS, proc_max)
    low = min(max(min_pixels or DEFAULT_MIN_PIXELS, proc_min), high)
    return low, high


def run_predict(config: PredictConfig, progress: Callable[[int, int], None] | None = None) -> PredictResult:
    """Answer every question of `config.data` not yet in `config.out`; `progress(done, total)` after
    each batch."""
    if config.frames < 1 or config.batch_size < 1 or config.max_new_tokens < 1:
        raise PredictError("--frames, --batch-size and --max-new-tokens must be positive")
    pending, total, already = pending_items(config)
    if not pending:
        return PredictResult(total, already, 0)

    import torch

    from vsi_data.models import load_model, load_processor

    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    processor = load_processor(config.model)
    model = load_model(config.model, config.dtype, device).eval()
    budget = pixel_budget(processor, config.min_pixels, config.max_pixels)
    generation = {
        "max_new_tokens": config.max_new_tokens,
        "do_sample": False,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "pad_token_id": processor.tokenizer.pad_token_id,
    }
    frames = _FrameCache(config.frames, budget, config.video_backend)
    written = 0
    with config.out.open("a", encoding="utf-8") as out:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start : start + config.batch_size]
            answers = _answer(model, processor, [(item, frames.get(item.video)) for item in batch], generation)
            out.writelines(
                prediction_line(item.id, answer, question_type=item.question_type)
                for item, answer in zip(batch, answers, strict=True)
            )
            out.flush()
            os.fsync(out.fileno())
            written += len(batch)
            if progress:
                progress(written, len(pending))
    return PredictResult(total, already, written)


class _FrameCache:
    """The last video's frames: questions are grouped by video, so each video is decoded once."""

    def __init__(self, num_frames: int, budget: tuple[int, int], backend: str):
        self.num_frames, self.budget, self.backend = num_frames, budget, backend
        self.path: Path | None = None
        self.frames: list | None = None  # PIL images

    def get(self, path: Path):
        from PIL import Image

        if path != self.path:
            sampled = sample_frames(
                path, self.num_frames, min_pixels=self.budget[0], max_pixels=self.budget[1], backend=self.backend
            )
            self.path, self.frames = path, [Image.fromarray(image) for image in sampled.images]
        return self.frames


def model_inputs(processor, batch: list[tuple[EvalItem, list]]):
    """One left-padded batch: per question, its frames as images and VSI-Bench's prompt."""
    texts, images = [], []
    for item, frames in batch:
        content = [{"type": "image"}] * len(frames) + [
            {"type": "text", "text": benchmark_prompt(item.question, item.options)}
        ]
        texts.append(
            processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
        )
        images.extend(frames)
    processor.tokenizer.padding_side = "left"  # generation continues every row from its own last token
    return processor(text=texts, images=images, padding=True, return_tensors="pt")


def _answer(model, processor, batch: list[tuple[EvalItem, list]], generation: dict) -> list[str]:
    import torch

    inputs = model_inputs(processor, batch).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, **generation)
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)

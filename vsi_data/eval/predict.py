"""Answer evaluation questions with a local Qwen-VL checkpoint, VSI-Bench style.

Greedy decoding of VSI-Bench's prompt (pre-prompt, question, options, answer instruction) over N
uniformly sampled frames, every frame with the same pixel budget. The frames go to the model as one video
(Qwen's native video tokens, lmms-eval's frame choice: what published Qwen2-VL VSI-Bench numbers use) or
as one image per frame (`--input`). A model trained by `train-grpo` (RUN/final, RUN/checkpoint-N) is
measured by default on the inputs it learned from: the frame count, pixel budget and input mode of its
run (RUN/run.json); options given on the command line win.
Questions are grouped by video (one decode serves all questions of a scene) and batched with left
padding. Each batch is appended and flushed to the predictions file before the next starts, so a killed
run loses at most one batch, and a re-run answers only the questions not in the file yet.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsi_data.eval.items import EvalItem, load_items
from vsi_data.eval.predictions import open_for_append, prediction_line, read_predictions
from vsi_data.io import is_file
from vsi_data.models import FrameInput
from vsi_data.prompts import benchmark_prompt
from vsi_data.video.sampler import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, sample_frames

log = logging.getLogger(__name__)


class PredictError(RuntimeError):
    """Prediction cannot start (no videos, bad options); the message says what and where."""


class PredictInterrupted(KeyboardInterrupt):
    """Ctrl-C during prediction; the message says how many questions the predictions file answers (a re-run
    answers the others)."""


@dataclass(frozen=True)
class PredictConfig:
    model: Path
    data: Path | str  # a build folder or URL, a shard, or VSI-Bench's test file
    out: Path
    frames: int | None = None  # default: the model's run's, else 16
    input: FrameInput | None = None  # default: the model's run's, else video
    batch_size: int = 4
    max_new_tokens: int = 16  # VSI-Bench's
    device: str | None = None  # default: cuda when available, else cpu
    dtype: str = "auto"
    min_pixels: int | None = None  # per frame; default: the run's, else the sampler's; within the processor's budget
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
    missing = sorted({str(item.video) for item in pending if not is_file(item.video)})
    if missing:
        raise PredictError(
            f"{missing[0]}: video not found ({len(missing)} videos missing; --video-root sets where they live)"
        )
    order = {item.id: k for k, item in enumerate(pending)}
    pending.sort(key=lambda item: (str(item.video), order[item.id]))
    return pending, len(items), len(done & {item.id for item in items})


DEFAULT_FRAMES = 16


def with_run_defaults(config: PredictConfig) -> PredictConfig:
    """`config` with what the command line left open taken from the model's train-grpo run, then the
    defaults: 16 frames as one video."""
    from vsi_data.train.recipe import run_frame_settings

    run = run_frame_settings(config.model)
    if run is not None:
        log.info("%s: frame settings of its run: %d frames as %s", config.model, run.num_frames, run.input.value)
    pick = {
        "frames": (config.frames, run and run.num_frames, DEFAULT_FRAMES),
        "input": (config.input, run and run.input, FrameInput.video),
        "min_pixels": (config.min_pixels, run and run.min_pixels, None),
        "max_pixels": (config.max_pixels, run and run.max_pixels, None),
    }
    return dataclasses.replace(
        config, **{key: next((v for v in values if v is not None), None) for key, values in pick.items()}
    )


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
    config = with_run_defaults(config)
    if config.frames < 1 or config.batch_size < 1 or config.max_new_tokens < 1:
        raise PredictError("--frames, --batch-size and --max-new-tokens must be positive")
    pending, total, already = pending_items(config)
    if not pending:
        return PredictResult(total, already, 0)
    try:
        return PredictResult(total, already, _predict(config, pending, progress))
    except KeyboardInterrupt:
        # Counted on disk: the batch being written when Ctrl-C came reaches the file as it closes (whole or cut off)
        answered = read_predictions(config.out).answers.keys() if config.out.is_file() else set()
        done = already + len(answered & {item.id for item in pending})
        raise PredictInterrupted(f"{done} of {total} questions are answered in {config.out}") from None


def _predict(config: PredictConfig, pending: list[EvalItem], progress: Callable[[int, int], None] | None) -> int:
    """Load the model and answer `pending`, appending each batch to the predictions file; how many it answered."""
    import torch

    from vsi_data.models import load_model, load_processor

    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    processor = load_processor(config.model, config.input)
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
    frames = _FrameCache(config.frames, budget, config.video_backend, config.input)
    written = 0
    with config.out.open("a", encoding="utf-8") as out:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start : start + config.batch_size]
            batch_frames = [(item, frames.get(item.video)) for item in batch]
            answers = _answer(model, processor, batch_frames, generation, config.input)
            out.writelines(
                prediction_line(item.id, answer, question_type=item.question_type)
                for item, answer in zip(batch, answers, strict=True)
            )
            out.flush()
            os.fsync(out.fileno())
            written += len(batch)
            if progress:
                progress(written, len(pending))
    return written


class _FrameCache:
    """The last video's frames: questions are grouped by video, so each video is decoded once."""

    def __init__(self, num_frames: int, budget: tuple[int, int], backend: str, mode: FrameInput):
        self.num_frames, self.budget, self.backend, self.mode = num_frames, budget, backend, mode
        self.path: Path | str | None = None
        self.frames: list | None = None  # PIL images

    def get(self, path: Path | str):
        from PIL import Image

        if path != self.path:
            sampled = sample_frames(
                path,
                self.num_frames,
                min_pixels=self.budget[0],
                max_pixels=self.budget[1],
                backend=self.backend,
                truncate=self.mode is FrameInput.video,  # lmms-eval's frame choice for Qwen2-VL's video input
            )
            self.path, self.frames = path, [Image.fromarray(image) for image in sampled.images]
        return self.frames


def model_inputs(processor, batch: list[tuple[EvalItem, list]], mode: FrameInput = FrameInput.images):
    """One left-padded batch: per question, its frames (one video, or one image each) and VSI-Bench's prompt."""
    texts = []
    for item, frames in batch:
        blocks = [{"type": "video"}] if mode is FrameInput.video else [{"type": "image"}] * len(frames)
        content = [*blocks, {"type": "text", "text": benchmark_prompt(item.question, item.options, item.question_type)}]
        texts.append(
            processor.apply_chat_template(
                [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
            )
        )
    processor.tokenizer.padding_side = "left"  # generation continues every row from its own last token
    if mode is FrameInput.video:
        # frames are sampled and patch-aligned already: the video processor neither resamples nor resizes them
        videos = [frames for _, frames in batch]
        return processor(
            text=texts, videos=videos, padding=True, return_tensors="pt", do_resize=False, do_sample_frames=False
        )
    images = [frame for _, frames in batch for frame in frames]
    return processor(text=texts, images=images, padding=True, return_tensors="pt")


def _answer(model, processor, batch: list[tuple[EvalItem, list]], generation: dict, mode: FrameInput) -> list[str]:
    import torch

    inputs = model_inputs(processor, batch, mode).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, **generation)
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)

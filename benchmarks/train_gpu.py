"""GRPO training speed of the vsGRPO recipe on one GPU: step time, generation vs scoring vs training share,
tokens per second, peak GPU memory, and the GPU-hours one epoch of a 100k-question set would take.

The model is Qwen2-VL-2B's or -7B's architecture (benchmarks/configs/*.json: the released configs' numbers)
with random weights and vsi-data's tiny tokenizer: no download, the real model's compute (its vocabulary size
is kept; tokens past the tokenizer decode to nothing, so every completion runs to its length limit, the worst
case). The data are VSI-100k-style questions over random 640×480 videos, written here. The run is
`vsi_data.train.trainer.build_trainer` on the paper recipe (vsgrpo-qwen2vl-2b/7b: 14 generations, 16 frames
as one video, bf16, gradient checkpointing, LoRA, HF generation), so the code path is train-grpo's own.
`--device cpu --model tiny` runs the same path on the tiny random model with the recipe's shapes scaled down
(4 generations, 4 frames, 8 tokens): a CI-time check that the benchmark works.

The first step warms caches and is left out of the means. Generation is the time in `generate`; scoring is
the rest of making a batch (the reference and old-policy forward passes, rewards); training is the rest of the
step (forward and backward with the loss, optimiser). One optimiser step trains
per_device_train_batch_size × gradient_accumulation_steps / num_generations questions on one GPU.

    python benchmarks/train_gpu.py --device cuda --model 2b [--steps 4] [--input video] [--json OUT.json]
    python benchmarks/train_gpu.py --device cpu --model tiny          # the CI-time check
    bash benchmarks/train_gpu.sh run                                   # on a GPU machine: tiny, 2b, 7b
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from vsi_data.models import FrameInput, build_random_qwen_vl, build_tiny_qwen2vl
from vsi_data.output.shards import SCHEMA, write_shards

CONFIGS = Path(__file__).resolve().parent / "configs"
PAPER_RECIPE = {"tiny": "vsgrpo-qwen2vl-2b", "2b": "vsgrpo-qwen2vl-2b", "7b": "vsgrpo-qwen2vl-7b"}
PAPER_GPU_HOURS_2B = 120  # vsGRPO-2B's training compute as the paper states it (hardware, steps, frames unstated)
QUESTIONS = [  # (question_type, question, answer): VSI-100k's kinds, answered in numbers or words
    ("object_counting", "How many chair(s) are in this room?", "4"),
    ("object_abs_distance", "What is the distance between the bed and the door (in meters)?", "2.3"),
    ("object_size_estimation", "What is the length of the longest dimension of the table, in centimeters?", "120"),
    ("room_size_estimation", "What is the size of this room (in square meters)?", "18.5"),
    ("object_rel_distance", "Which of these objects (sofa, lamp, sink, door) is the closest to the bed?", "lamp"),
    ("object_rel_direction_easy", "If I am standing by the bed and facing the door, is the sofa to the left?", "left"),
]


def write_data(root: Path, videos: int, frames: int = 48) -> Path:
    """A build-shaped folder: every question kind over each of `videos` random 640×480 videos at 24 fps."""
    rows, rng = [], np.random.default_rng(0)
    for v in range(videos):
        video = f"videos/synthetic/scene{v:04d}.mp4"
        path = root / video
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, (640, 480))
        base = cv2.resize(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (640, 480))
        for i in range(frames):  # a panning view, so consecutive frames differ as a walk-through's do
            writer.write(np.roll(base, 9 * i, axis=1))
        writer.release()
        rows += [
            {"id": f"s{v}-q{k}", "dataset": "synthetic", "scene_id": f"scene{v:04d}", "split": "train",
             "question_type": kind, "question": question, "options": None, "answer": answer,
             "answer_value": None, "objects": [], "video": video, "meta": "{}"}
            for k, (kind, question, answer) in enumerate(QUESTIONS)
        ]  # fmt: skip
    write_shards(root, [pa.Table.from_pylist(rows, schema=SCHEMA)], rows_per_shard=len(rows))
    return root


def random_model(name: str, work: Path, device: str) -> Path:
    """The random-weight model folder: the tiny one, or a released architecture from benchmarks/configs."""
    if name == "tiny":
        return build_tiny_qwen2vl(work / "model-tiny")
    config = json.loads((CONFIGS / f"qwen2-vl-{name}.json").read_text())
    return build_random_qwen_vl(
        work / f"model-{name}",
        config["text_config"],
        config["vision_config"],
        family=config["family"],
        pixels=tuple(config["image_pixels"]),
        dtype="bfloat16" if device == "cuda" else "float32",
        device=device,
    )


def benchmark_recipe(model: str, device: str, frames: FrameInput, steps: int):
    """The paper recipe of the model size; on the CPU its shapes scaled down to seconds a step."""
    from vsi_data.train.recipe import load_train_recipe

    recipe = load_train_recipe(PAPER_RECIPE[model])
    grpo = {**recipe.grpo, "save_strategy": "no", "max_steps": steps, "report_to": "none", "seed": 0}
    sizes = recipe.frames
    if device == "cpu":
        grpo |= {"use_cpu": True, "bf16": False, "model_init_kwargs": {"dtype": "float32"}}
        grpo |= {"num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 8}
        sizes = dataclasses.replace(sizes, num_frames=4, min_pixels=4 * 28 * 28, max_pixels=8 * 28 * 28)
    return dataclasses.replace(recipe, grpo=grpo, frames=dataclasses.replace(sizes, input=frames))


def video_input_available() -> bool:
    """transformers' Qwen2-VL video processor imports torchvision; CPU machines here have none."""
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError):
        return False
    return True


class Timers:
    """Seconds spent per optimiser step in generation and in making batches, from wrapped trainer methods."""

    def __init__(self, trainer, synchronize) -> None:
        self.generation, self.batches, self.synchronize = [0.0], [0.0], synchronize
        trainer._generate = self._timed(trainer._generate, self.generation)
        trainer._generate_and_score_completions = self._timed(trainer._generate_and_score_completions, self.batches)

    def _timed(self, method, totals: list[float]):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            self.synchronize()
            start = time.perf_counter()
            result = method(*args, **kwargs)
            self.synchronize()
            totals[-1] += time.perf_counter() - start
            return result

        return timed

    def next_step(self) -> tuple[float, float]:
        done = self.generation[-1], self.batches[-1]
        self.generation.append(0.0)
        self.batches.append(0.0)
        return done


def run(model: str, device: str, frames: FrameInput, steps: int, questions: int, work: Path) -> dict:
    import torch
    from transformers import TrainerCallback

    from vsi_data.train.trainer import build_trainer

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no GPU visible to torch")
    synchronize = torch.cuda.synchronize if device == "cuda" else lambda: None
    started = time.perf_counter()
    model_dir = random_model(model, work, device)
    recipe = benchmark_recipe(model, device, frames, steps)
    per_step = recipe.grpo["per_device_train_batch_size"] // recipe.grpo["num_generations"]
    data = write_data(work / "data", videos=max(2, steps * per_step))
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    trainer, _ = build_trainer(recipe, data, work / f"run-{model}", model=model_dir)
    set_up = time.perf_counter() - started
    timers = Timers(trainer, synchronize)
    records: list[dict] = []

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            synchronize()
            generation, batch = timers.next_step()
            records.append({"step_s": time.perf_counter() - self.start, "generation_s": generation, "batch_s": batch})

    trainer.add_callback(StepClock())
    trainer.train()
    tokens = [entry["num_tokens"] for entry in trainer.state.log_history if "num_tokens" in entry]
    for record, before, after in zip(records, [0, *tokens], tokens, strict=False):
        record["tokens"] = after - before
    measured = records[1:] or records  # the first step warms caches
    step = float(np.mean([r["step_s"] for r in measured]))
    generation = float(np.mean([r["generation_s"] for r in measured]))
    batch = float(np.mean([r["batch_s"] for r in measured]))
    questions_per_step = per_step * recipe.grpo.get("gradient_accumulation_steps", 1)
    gpu_hours = questions / questions_per_step * step / 3600
    return {
        "model": model,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "input": frames.value,
        "frames": recipe.frames.num_frames,
        "max_pixels": recipe.frames.max_pixels,
        "generations": recipe.grpo["num_generations"],
        "completion_tokens": recipe.grpo["max_completion_length"],
        "steps_measured": len(measured),
        "set_up_s": round(set_up, 1),
        "step_s": _significant(step, 4),
        "generation_share": round(generation / step, 3),
        "scoring_share": round((batch - generation) / step, 3),
        "training_share": round((step - batch) / step, 3),
        "tokens_per_s": round(float(np.mean([r["tokens"] for r in measured])) / step, 1),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
        "questions_per_step": questions_per_step,
        f"gpu_hours_per_epoch_of_{questions}": _significant(gpu_hours, 3),
        "paper_gpu_hours_2b": PAPER_GPU_HOURS_2B,
        "versions": _versions(),
    }


def _significant(value: float, digits: int) -> float:
    """Round to significant digits, not decimals: a tenth of an hour is 3 % of a 3.6 h epoch on the CPU but
    nothing of the paper's hundreds, and a fast step must not round to 0.0 s."""
    return float(f"{value:.{digits}g}")


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "transformers", "trl", "peft", "accelerate")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--model", choices=sorted(PAPER_RECIPE), default="2b")
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps, the first one a warm-up")
    parser.add_argument(
        "--input", choices=[m.value for m in FrameInput], help="default: video where torchvision works, else images"
    )
    parser.add_argument("--questions", type=int, default=100_000, help="epoch size for the GPU-hours projection")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    frames = FrameInput(args.input or ("video" if video_input_available() else "images"))
    # on a GPU machine the random 2B/7B checkpoints (4.4 / 16.6 GB) are written to and read from memory
    in_memory = "/dev/shm" if args.device == "cuda" and Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=in_memory) as scratch:
        result = run(args.model, args.device, frames, args.steps, args.questions, args.work or Path(scratch))
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""benchmarks/train_gpu.py runs train-grpo's own code path; on the CPU with the tiny model it must finish in CI
time, so the script is known to work the day a GPU machine runs it for the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_benchmark_runs_on_the_cpu_with_the_tiny_model(tmp_path):
    out = tmp_path / "figures.json"
    command = [sys.executable, "benchmarks/train_gpu.py", "--device", "cpu", "--model", "tiny", "--steps", "2"]
    done = subprocess.run([*command, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["model"] == "tiny"
    assert figures["input"] == "images"  # no torchvision here for the video processor
    assert (figures["generations"], figures["frames"], figures["steps_measured"]) == (4, 4, 1)
    assert figures["step_s"] > 0
    shares = figures["generation_share"], figures["scoring_share"], figures["training_share"]
    assert all(0 < share < 1 for share in shares)
    assert sum(shares) == pytest.approx(1, abs=0.01)
    assert figures["tokens_per_s"] > 0
    assert figures["questions_per_step"] == 1
    # one question per step: 100k questions are 100k steps
    assert figures["gpu_hours_per_epoch_of_100000"] == pytest.approx(100_000 * figures["step_s"] / 3600, rel=0.01)
    assert done.stdout.rstrip().endswith(json.dumps(figures, indent=2))  # printed last, after the trainer's logs

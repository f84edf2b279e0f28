"""Test-only faults: make chosen scenes crash, hang or wait to be killed, without a test branch in the product.

`Faulty(faults)` wraps `vsi_data.pipeline.run_scene`; a test puts it in run_scene's place with monkeypatch, and
the build hands it to its executor like the real one. Local pool workers import this module by name (spawned
workers get the parent's `sys.path`, tests/ included); Ray workers cannot, and get it by value
(`ray_by_value()`). In a worker, `Faulty` calls that worker's own, real `run_scene`.

Faults, per scene id:
- "segfault": a real segmentation fault (reading address 0).
- "exit": `os._exit(3)`, as a native library that calls exit() would.
- "hang": every signal blocked, then sleep forever: only SIGKILL ends it, like a native loop that ignores signals.
- "hang-mid-write:<folder>": a temp file in `<folder>` as a writer leaves one mid-write, then "hang".
- "killed-once:<folder>": the first try writes `<folder>/<scene>.pid` and waits to be killed by the test; a
  later try (the file exists) builds the scene normally.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vsi_data.pipeline import SceneJob, SceneOutcome


def misbehave(fault: str, name: str) -> None:
    """Do what `fault` says; returns only for no fault or a `killed-once` scene's later tries."""
    if fault == "segfault":
        ctypes.string_at(0)
    elif fault == "exit":
        os._exit(3)
    elif fault.startswith("hang-mid-write:"):
        folder = Path(fault.removeprefix("hang-mid-write:"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f".{name}.mp4.{os.getpid()}.tmp").write_bytes(b"half a video")
        misbehave("hang", name)
    elif fault == "hang":
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
        while True:
            time.sleep(3600)
    elif fault.startswith("killed-once:"):
        marker = Path(fault.removeprefix("killed-once:")) / f"{name}.pid"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            while True:
                time.sleep(3600)


@dataclass(frozen=True)
class Faulty:
    faults: dict[str, str]

    def __call__(self, job: SceneJob) -> SceneOutcome:
        from vsi_data.pipeline import run_scene  # in a worker: the real one, not the test's replacement

        misbehave(self.faults.get(job.ref.scene_id, ""), job.ref.scene_id)
        return run_scene(job)


def faulty_square(item: tuple[int, str]) -> int:
    """For executor tests without scenes: `(x, fault)` → x², after the fault."""
    x, fault = item
    misbehave(fault, str(x))
    return x * x


def ray_by_value() -> None:
    """Ray workers cannot import tests/: ship this module's code with each task instead."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])

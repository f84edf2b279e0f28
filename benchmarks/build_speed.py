"""Build speed: per-stage time per scene, questions per second and peak memory for 1 and 2 workers,
with and without video, against the floor of merely reading each scene's files (mesh + JSON).

Writes N synthetic ScanNet scenes once (not timed). First, in a fresh process set up as a build's pool worker
(one BLAS thread), each scene's floor and its work (parse + questions) run in turn for `--repeats` rounds: CPU
time, medians per scene, so machine load falls on both alike; the ratio is the per-scene cost against reading.
Then it builds the scenes with each setting into a scratch folder, every build in a fresh process so peak memory
is its own (wall times there move with the machine's load). Run from the repository root:

    .venv/bin/python benchmarks/build_speed.py [--scenes 8] [--frames 120] [--recipe vsi100k] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vsi_data.output.shards import PARTS_DIR
from vsi_data.pipeline import BuildConfig, run_build
from vsi_data.qa import generate_questions, load_recipe
from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource, formats

WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as pool workers run


def write_scenes(root: Path, scenes: int, frames: int) -> None:
    run_build(BuildConfig(source="synthetic", root=root, out=root / "warm", scenes=scenes,
                          source_options={"frames": frames}, video=False, quiet=True))  # fmt: skip


def read_floor(root: Path, passes: int = 3) -> float:
    """Seconds per scene to read and decode the mesh and the two JSON files, nothing else: the median scene
    over `passes` warm passes (the files are in the page cache, as they are for the builds)."""
    folders = sorted(p for p in (root / "scans").iterdir() if (p / ".complete").is_file())
    times = []
    for _ in range(passes):
        for folder in folders:
            start = time.perf_counter()
            read_scene_files(formats.scene_files(folder, folder.name))
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def read_scene_files(files: dict[str, Path]) -> None:
    """The floor's work for one scene: read and decode the mesh, `segs.json` and `aggregation.json`."""
    formats.read_mesh_vertices(files["mesh"])
    json.loads(files["segs"].read_text())
    json.loads(files["aggregation"].read_text())


def interleaved_cpu_ms(stages: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median CPU milliseconds of each stage over `repeats` rounds (after one warm round), the stages taking
    turns within a round so that whatever else runs on the machine weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in stages}
    for round_ in range(repeats + 1):
        for name, work in stages.items():
            start = time.process_time()
            work()
            if round_:
                times[name].append(time.process_time() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def scene_cpu(root: Path, recipe_name: str, repeats: int) -> list[dict[str, float]]:
    """Per scene: the floor's and the scene work's (parse + questions) median CPU ms, interleaved."""
    source = ScanNetSource(ScanNetConfig(root))
    recipe = load_recipe(recipe_name)
    options = recipe.parse_options(seed=0, frames=False)
    out = []
    for ref in source.list_scenes():
        files = formats.scene_files(ref.path, ref.scene_id)

        def work(ref=ref) -> None:
            generate_questions(source.load(ref, options), recipe, seed=0)

        out.append(interleaved_cpu_ms({"floor": lambda files=files: read_scene_files(files), "work": work}, repeats))
    return out


def one_build(root: Path, out: Path, workers: int, video: bool, recipe: str) -> dict:
    start = time.perf_counter()
    result = run_build(BuildConfig(source="scannet", root=root, out=out, recipe=recipe, split="train",
                                   workers=workers, video=video, quiet=True))  # fmt: skip
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = result.manifest
    built = manifest["scenes"]["built"]
    stages = {k: v / built for k, v in manifest["timings_s"].items() if k != "total"}
    # The mean above carries each process's one-off imports (open3d, trimesh, scipy) in its first scene;
    # the median is the steady per-scene cost of a long build.
    infos = [json.loads(p.read_text()) for p in (out / PARTS_DIR).glob("*__*.json")]  # one per scene
    steady = float(np.median([i["timings"]["parse"] + i["timings"]["questions"] for i in infos]))
    return {"wall_s": wall, "scenes": built, "rows": manifest["rows"], "stages_per_scene_s": stages,
            "steady_s": steady, "peak_rss_mib": max(own, children) / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--recipe", default="vsi100k")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one setting, print JSON
    parser.add_argument("--cpu", help=argparse.SUPPRESS)  # internal: the interleaved CPU measurement, print JSON
    args = parser.parse_args()
    if args.one:
        root, out, workers, video = json.loads(args.one)
        print(json.dumps(one_build(Path(root), Path(out), workers, video, args.recipe)))
        return
    if args.cpu:
        print(json.dumps(scene_cpu(Path(args.cpu), args.recipe, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synthetic"
        write_scenes(root, args.scenes, args.frames)
        print(f"{args.scenes} synthetic ScanNet scenes, {args.frames} frames each, recipe {args.recipe}\n")
        command = [sys.executable, __file__, "--recipe", args.recipe, "--repeats", str(args.repeats)]
        cpu_run = subprocess.run([*command, "--cpu", str(root / "scans")], capture_output=True, text=True,
                                 check=True, env={**os.environ, **WORKER_ENV})  # fmt: skip
        per_scene = json.loads(cpu_run.stdout.strip().splitlines()[-1])
        floors, works = [s["floor"] for s in per_scene], [s["work"] for s in per_scene]
        ratios = [s["work"] / s["floor"] for s in per_scene]
        print(f"per scene, CPU ms, medians of {args.repeats} interleaved rounds (one BLAS thread, as a pool worker):")
        print(f"  floor (mesh + segs + aggregation) {statistics.median(floors):.1f} ms, work (parse + questions) "
              f"{statistics.median(works):.1f} ms: {statistics.median(ratios):.1f}x the floor "
              f"(scenes {min(ratios):.1f}x to {max(ratios):.1f}x)\n")  # fmt: skip
        floor = read_floor(root)
        print(f"wall time: file-reading floor {floor * 1000:.0f} ms per scene\n")
        header = f"{'workers':>7} {'video':>5} {'wall s':>7} {'s/scene':>7} {'parse':>6} {'quest.':>6} "
        print(header + f"{'video':>6} {'q/s':>6} {'peak MiB':>8} {'mean/floor':>10} {'median/floor':>12}")
        for video in (False, True):
            for workers in (1, 2):
                setting = json.dumps([str(root), str(Path(tmp) / f"out-{workers}-{video}"), workers, video])
                run = subprocess.run([sys.executable, __file__, "--recipe", args.recipe, "--one", setting],
                                     capture_output=True, text=True, check=True)  # fmt: skip
                r = json.loads(run.stdout.strip().splitlines()[-1])
                stages = r["stages_per_scene_s"]
                work = stages.get("parse", 0) + stages.get("questions", 0)
                wall = r["wall_s"]
                print(
                    f"{workers:>7} {('yes' if video else 'no'):>5} {wall:>7.2f} {wall / r['scenes']:>7.2f} "
                    f"{stages.get('parse', 0):>6.2f} {stages.get('questions', 0):>6.2f} {stages.get('video', 0):>6.2f} "
                    f"{r['rows'] / r['wall_s']:>6.0f} {r['peak_rss_mib']:>8.0f} {work / floor:>10.1f} "
                    f"{r['steady_s'] / floor:>12.1f}"
                )


if __name__ == "__main__":
    main()

"""Fingerprint every row a fixed set of builds writes: sha256 of each shard (and of the videos of one small
video build). A refactor that must change no row runs this before and after and compares the two files.

    python benchmarks/rows_fingerprint.py OUT.json [--realdata ../shared/realdata] [--work DIR]

Builds: the synthetic source in each of its formats with the vsi100k and vsibench recipes, VSI-Bench's meta info
(when the real files are there) with vsibench sampled and exhaustive (vsi100k's vocabulary has no rules for its
labels), all with a fixed seed and no video; plus one two-scene synthetic build with video.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(out: Path, args: list[str]) -> dict[str, str]:
    command = [sys.executable, "-m", "vsi_data.cli", "build", "--out", str(out), "--seed", "7", "--workers", "0",
               "--quiet", *args]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO)  # this checkout's vsi_data, whichever is installed
    files = sorted((out / "data").glob("*.parquet")) + sorted((out / "videos").rglob("*.mp4"))
    return {str(path.relative_to(out)): _sha(path) for path in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared/realdata")
    parser.add_argument("--work", type=Path, default=None)
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="rows-fingerprint-"))
    builds: dict[str, list[str]] = {}
    for recipe in ("vsi100k", "vsibench"):
        for fmt in ("scannet", "arkitscenes", "scannetpp"):
            builds[f"synthetic-{fmt}-{recipe}"] = ["--source", "synthetic", "--synthetic-format", fmt, "--frames", "24",
                                                   "--scenes", "3", "--recipe", recipe, "--no-video"]  # fmt: skip
    meta = options.realdata / "vsibench"
    if meta.is_dir():
        for extra in ([], ["--exhaustive"]):
            builds[f"vsibench-meta{''.join(extra)}"] = ["--source", "vsibench-meta", "--root", str(meta), "--split",
                                                       "val", "--allow-benchmark-scenes", "--recipe", "vsibench",
                                                       "--no-video", *extra]  # fmt: skip
    video = ["--source", "synthetic", "--frames", "12", "--scenes", "2", "--recipe", "vsibench"]
    builds["synthetic-scannet-video"] = video
    result = {}
    for name, args in builds.items():
        start = time.perf_counter()
        result[name] = _build(work / name, args)
        print(f"{name}: {len(result[name])} files, {time.perf_counter() - start:.1f} s", file=sys.stderr)
    options.output.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

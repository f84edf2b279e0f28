"""Export memory and speed: peak RSS and rows per second of `vsi-data export` for builds of growing size.

Writes builds of N rows (shards of 100,000 rows, as `build` writes them; 1,000 scenes with one placeholder
video file each, since only the videos' existence is checked without --frames), then exports each in a fresh
process per format so peak memory is that export's own. Flat memory means the peak barely moves while the row
count grows tenfold. Run from the repository root:

    .venv/bin/python benchmarks/export_memory.py [--rows 100000 1000000] [--formats llava verl]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vsi_data.output.shards import DATA_DIR, SCHEMA

SHARD_ROWS = 100_000
SCENES = 1000


def write_build(root: Path, rows: int) -> Path:
    """A build folder of `rows` counting and distance questions spread over SCENES scenes."""
    (root / DATA_DIR).mkdir(parents=True)
    for scene in range(SCENES):
        video = root / "videos" / "synthetic" / f"scene{scene:04d}_00.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(b"placeholder")
    count = -(-rows // SHARD_ROWS)
    for shard in range(count):
        start, stop = shard * SHARD_ROWS, min(rows, (shard + 1) * SHARD_ROWS)
        records = [
            {
                "id": f"synthetic-q{k:09d}",
                "dataset": "synthetic",
                "scene_id": f"scene{k % SCENES:04d}_00",
                "split": "train",
                "question_type": "object_abs_distance",
                "question": f"What is the distance between the chair and the table number {k} (in meters)?",
                "options": None,
                "answer": "2.5",
                "answer_value": 2.5,
                "objects": ["chair", "table"],
                "video": f"videos/synthetic/scene{k % SCENES:04d}_00.mp4",
                "meta": "{}",
            }
            for k in range(start, stop)
        ]
        path = root / DATA_DIR / f"train-{shard:05d}-of-{count:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(records, schema=SCHEMA), path, compression="zstd")
    return root


def measure(build: Path, fmt: str, out: Path) -> dict:
    """One export in a fresh process: its wall time and peak resident memory."""
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from vsi_data.export.run import ExportConfig, run_export\n"
        "start = time.perf_counter()\n"
        "result = run_export(ExportConfig(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, 'rows': sum(result.rows.values()),\n"
        "                  'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(build), fmt, str(out)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["llava", "swift", "verl", "vsibench"])
    args = parser.parse_args()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process after imports: {baseline:.0f} MB)")
    print(f"{'rows':>10} {'format':>12} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for rows in args.rows:
            build = write_build(Path(scratch) / f"build-{rows}", rows)
            for fmt in args.formats:
                start = time.perf_counter()
                figures = measure(build, fmt, Path(scratch) / f"out-{rows}-{fmt}")
                assert figures["rows"] == rows, figures
                print(
                    f"{rows:>10} {fmt:>12} {figures['seconds']:>8.1f} {rows / figures['seconds']:>9.0f} "
                    f"{figures['peak_mb']:>8.0f}   (process {time.perf_counter() - start:.1f} s)"
                )


if __name__ == "__main__":
    main()

"""Finishing at scale: peak memory, CPU time and wall time of a build's finishing step for growing row counts.

Writes N synthetic rows as committed parts (`.parts/<dataset>__<scene>.parquet`, 200 rows per scene, as workers
commit them: six question types, counting and distance answers balanced by the recipe's rules, a few exact
duplicates per scene), then finishes them in a fresh process per run, so its peak resident memory
(`ru_maxrss`) is the finishing's own and its CPU time (user + system, `getrusage`) does not depend on what else
the machine runs. Flat memory means the peak stays put while the rows triple. `--old` also runs the
one-table implementation finishing replaced (tests/finish_reference.py), for comparison. Run from the
repository root:

    .venv/bin/python benchmarks/finish_scale.py [--rows 1000000 3000000] [--old]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from vsi_data.output.shards import SCHEMA, write_part

ROWS_PER_SCENE = 200
TYPES = ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation",
         "object_rel_distance", "object_rel_direction_easy")  # fmt: skip
BALANCE = {"object_counting": (0.3, None), "object_abs_distance": (0.1, 0.5), "object_rel_distance": (0.3, None)}
QUESTION = "Measuring from the closest point of each object, what is the distance between the {} and the {} {}?"
META = '{{"template": "t{}", "distance_m": {:.4f}, "instances": [{}, {}], "margin": 0.25, "source": "benchmark"}}'


def write_parts(root: Path, rows: int) -> list[str]:
    """`rows` rows in scenes of ROWS_PER_SCENE; returns the scene ids in order."""
    rng = np.random.default_rng(0)
    scenes = []
    for scene in range(-(-rows // ROWS_PER_SCENE)):
        n = min(ROWS_PER_SCENE, rows - scene * ROWS_PER_SCENE)
        scene_id = f"scene{scene:05d}_00"
        kinds = rng.integers(0, len(TYPES), n)
        values = np.round(rng.gamma(2.0, 1.5, n), 1)
        counts = np.minimum(rng.geometric(0.45, n), 9)  # skewed answers, so that balancing caps some
        letters = rng.choice(list("ABCD"), n, p=[0.5, 0.2, 0.2, 0.1])
        answers = list(zip(kinds, counts, values, letters, strict=True))
        questions = [QUESTION.format("chair", "table", k % (n - 3)) for k in range(n)]  # 3 exact duplicates
        table = pa.table(
            {
                "id": [f"synthetic-{scene_id}-{TYPES[t]}-{k:04d}" for k, t in enumerate(kinds)],
                "dataset": ["synthetic"] * n,
                "scene_id": [scene_id] * n,
                "split": ["val" if scene % 5 == 4 else "train"] * n,
                "question_type": [TYPES[t] for t in kinds],
                "question": questions,
                "options": [["A. chair", "B. table", "C. sofa", "D. lamp"] if t == 4 else None for t in kinds],
                "answer": [str(c) if t == 0 else (letter if t == 4 else f"{v}") for t, c, v, letter in answers],
                "answer_value": [float(c) if t == 0 else (None if t == 4 else float(v)) for t, c, v, _ in answers],
                "objects": [["chair", "table"]] * n,
                "video": [f"videos/synthetic/{scene_id}.mp4"] * n,
                "meta": [META.format(k % 7, v, k, k + 1) for k, v in enumerate(values)],
            },
            schema=SCHEMA,
        )
        write_part(root, "synthetic", scene_id, table.to_pylist(), {"rows": n})
        scenes.append(scene_id)
    return scenes


FINISH = """
import json, resource, sys, time
from pathlib import Path
from vsi_data.output.balance import Balance, TypeBalance
from vsi_data.output.shards import read_part

root, out, old = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "old"
scenes = json.loads((root / "scenes.json").read_text())
balance = Balance(types={t: TypeBalance(*rule) for t, rule in json.loads(sys.argv[4]).items()})
start = time.perf_counter()
if old:
    sys.path.insert(0, "tests")
    import finish_reference
    table, cleanup = finish_reference.finish([read_part(root, "synthetic", s) for s in scenes], balance, 0)
    finish_reference.write_shards(out, table, 100_000)
    rows = table.num_rows
else:
    from vsi_data.output.finish import finish_rows
    from vsi_data.output.shards import DEFAULT_SHARD_BYTES

    def parts(columns):
        for scene in scenes:
            yield read_part(root, "synthetic", scene, columns)

    finished = finish_rows(parts, balance, 0, out, 100_000, DEFAULT_SHARD_BYTES)
    rows, cleanup = sum(finished.per_split.values()), finished.cleanup
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_mb": usage.ru_maxrss / 1024, "rows": rows, "cleanup": cleanup}))
"""


def measure(root: Path, out: Path, implementation: str) -> dict:
    """One finishing in a fresh process: wall and CPU seconds, peak resident memory, rows kept."""
    argv = [sys.executable, "-c", FINISH, str(root), str(out), implementation, json.dumps(BALANCE)]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--old", action="store_true", help="also run the one-table implementation (slow)")
    args = parser.parse_args()
    idle = measure_idle()
    print(f"(a fresh process after the same imports: {idle:.0f} MB)")
    print(f"{'rows':>9} {'implementation':>15} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'rows kept':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        for rows in args.rows:
            root = Path(scratch) / f"parts-{rows}"
            (root / "scenes.json").parent.mkdir(parents=True)
            (root / "scenes.json").write_text(json.dumps(write_parts(root, rows)))
            results = {}
            for implementation in ["streaming", *(["old"] if args.old else [])]:
                figures = measure(root, Path(scratch) / f"out-{rows}-{implementation}", implementation)
                results[implementation] = figures
                print(
                    f"{rows:>9} {implementation:>15} {figures['wall_s']:>7.1f} {figures['cpu_s']:>7.1f} "
                    f"{figures['peak_mb']:>8.0f} {figures['rows']:>10}   {json.dumps(figures['cleanup'])}"
                )
            if "old" in results:
                assert results["old"]["rows"] == results["streaming"]["rows"]
                assert results["old"]["cleanup"] == results["streaming"]["cleanup"]


def measure_idle() -> float:
    code = "import resource, vsi_data.output.finish; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


if __name__ == "__main__":
    main()

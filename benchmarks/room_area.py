"""Room area: vsi-data's `room_area` against the `alphashape` library on a real ScanNet mesh.

Prints both areas and both run times for every mesh vertex and for random subsets (VSI-Bench itself
used 10,000 points drawn with replacement), then vsi-data's time on 100k and 300k random points. Run from
the repository root:

    .venv/bin/python benchmarks/room_area.py [--mesh PATH_TO/_vh_clean_2.ply] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import alphashape
import numpy as np

from vsi_data.geometry import room_area
from vsi_data.sources.scannet.formats import read_mesh_vertices

DEFAULT_MESH = "scannet/scene0470_00/scene0470_00_vh_clean_2.ply"


def best_of(repeats: int, fn):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return value, min(times)


def main() -> None:
    realdata = Path(os.environ.get("VSI_DATA_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", type=Path, default=realdata / DEFAULT_MESH)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    xyz, _ = read_mesh_vertices(args.mesh)
    rng = np.random.default_rng(0)
    print(f"mesh: {args.mesh} ({len(xyz)} vertices), alpha = 5, best of {args.repeats}\n")
    print("| points | vsi-data (m²) | alphashape (m²) | difference | vsi-data (s) | alphashape (s) | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (len(xyz), 10_000, 2_000):
        pts = xyz if n == len(xyz) else xyz[rng.choice(len(xyz), n)]
        ours, t_ours = best_of(args.repeats, lambda pts=pts: room_area(pts))
        ref, t_ref = best_of(args.repeats, lambda pts=pts: alphashape.alphashape(pts[:, :2], 5.0).area)
        cells = [n, f"{ours:.6f}", f"{ref:.6f}", f"{abs(ours - ref):.1e}", f"{t_ours:.3f}", f"{t_ref:.3f}"]
        print("| " + " | ".join(map(str, cells)) + f" | {t_ref / t_ours:.0f}× |")
    print("\nvsi-data alone on uniform random points in an 8 m × 6 m room:\n")
    print("| points | vsi-data (m²) | vsi-data (s) |")
    print("|---:|---:|---:|")
    for n in (100_000, 300_000):
        pts = rng.uniform(0, [8, 6], size=(n, 2))
        area, seconds = best_of(args.repeats, lambda pts=pts: room_area(pts))
        print(f"| {n} | {area:.3f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()

"""Per-scene cost on a real ScanNet mesh against the floor of reading its files, stage by stage.

The real scene0470_00 mesh (67,465 vertices) from ../shared/realdata (or $VSI_DATA_REALDATA) has no
`segs.json` or `aggregation.json` in public; they are made here from its real per-vertex NYU40 labels (one
segment and one object per label, named by the label table's most common raw category for it), in
ScanNet's own layout. The floor and each recipe's stages run `--repeats` rounds in one warm process, interleaved
(floor, parse, questions, floor, ...), so machine load shifts them alike; each is CPU time of this process, and
the medians are printed. BLAS runs one thread, as in a build's pool workers (`OMP_NUM_THREADS` and friends, set
here unless already set): threaded BLAS burns CPU spin-waiting on the parser's small matrix products.

    .venv/bin/python benchmarks/real_scannet.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import plyfile  # noqa: E402
from build_speed import interleaved_cpu_ms, read_scene_files  # noqa: E402  (the synthetic benchmark's floor)

from vsi_data.qa import generate_questions, load_recipe  # noqa: E402
from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource, formats  # noqa: E402

SCENE = "scene0470_00"


def realdata_folder() -> Path:
    folder = Path(os.environ.get("VSI_DATA_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
    if not (folder / "scannet" / SCENE).is_dir():
        sys.exit(f"no real ScanNet sample at {folder / 'scannet' / SCENE} (set VSI_DATA_REALDATA)")
    return folder


def write_scene(realdata: Path, root: Path) -> Path:
    """scans/scene0470_00 with the real mesh and segments/objects made from its real labels."""
    real = realdata / "scannet" / SCENE
    scene = root / "scans" / SCENE
    scene.mkdir(parents=True)
    shutil.copy(real / f"{SCENE}_vh_clean_2.ply", scene)
    table = realdata / "scannet/meta/scannetv2-labels.combined.tsv"
    shutil.copy(table, root)
    raw_of_nyu40: dict[int, str] = {}
    for row in sorted(formats.read_label_table(table).values(), key=lambda r: -int(r["count"] or 0)):
        raw_of_nyu40.setdefault(int(row["nyu40id"] or 0), row["raw_category"])
    labels = np.asarray(plyfile.PlyData.read(str(real / f"{SCENE}_vh_clean_2.labels.ply"))["vertex"]["label"])
    present, first_vertex = np.unique(labels, return_index=True)
    segments = first_vertex[np.searchsorted(present, labels)]  # a segment id is a vertex index, as in ScanNet
    (scene / f"{SCENE}_vh_clean_2.0.010000.segs.json").write_text(json.dumps({"segIndices": segments.tolist()}))
    groups = [
        {"id": i, "objectId": i, "label": raw_of_nyu40[int(label)], "segments": [int(first)]}
        for i, (label, first) in enumerate(zip(present, first_vertex, strict=True))
        if int(label) in raw_of_nyu40
    ]
    (scene / f"{SCENE}.aggregation.json").write_text(json.dumps({"segGroups": groups}))
    (scene / f"{SCENE}.txt").write_text("sceneType = Bedroom\n")
    return scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = write_scene(realdata_folder(), root)
        files = formats.scene_files(folder, SCENE)

        source = ScanNetSource(ScanNetConfig(root))
        ref = source.list_scenes()[0]
        print(f"{SCENE} (real mesh, {len(formats.read_mesh_vertices(files['mesh'])[0]):,} vertices), CPU ms, medians")
        header = f"{'recipe':>9} {'floor ms':>9} {'parse ms':>9} {'questions ms':>13} {'total ms':>9} {'/ floor':>8}"
        print(header + f" {'objects':>8}")
        for name in ("vsi100k", "vsibench"):
            recipe = load_recipe(name)
            options = recipe.parse_options(seed=0, frames=False)
            scene = source.load(ref, options)
            stages: dict[str, Callable[[], object]] = {
                "floor": lambda: read_scene_files(files),
                "parse": lambda options=options: source.load(ref, options),
                "questions": lambda recipe=recipe, scene=scene: generate_questions(scene, recipe, seed=0),
            }
            ms = interleaved_cpu_ms(stages, args.repeats)
            total = ms["parse"] + ms["questions"]
            print(
                f"{name:>9} {ms['floor']:>9.1f} {ms['parse']:>9.1f} {ms['questions']:>13.1f} {total:>9.1f} "
                f"{total / ms['floor']:>7.1f}x {len(scene.objects):>8}"
            )


if __name__ == "__main__":
    main()

"""Bad input (issue 17): one clear line naming the file, never a traceback, a hang or a plausible wrong answer.

Every input here is hand-made in the real formats (tests/handmade*.py) and then broken the way a real download,
a conversion script or an annotation tool breaks it. Sections follow the issue's numbered items.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.qa import load_recipe
from vsi_data.sources.base import SceneError
from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource

SCENE = "scene0001_00"


def scannet_load(root: Path, recipe: str = "vsi100k", scene: str = SCENE):
    source = ScanNetSource(ScanNetConfig(root))
    ref = next(r for r in source.list_scenes() if r.scene_id == scene)
    return source.load(ref, load_recipe(recipe).parse_options(seed=0))


def one_line_naming(exc: BaseException, path: Path) -> str:
    """The error's message, checked to be one line that starts with the offending file."""
    message = str(exc)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    return message


def ply_header(fmt: str, vertices: int, faces: int, coordinate: str = "float") -> str:
    return (
        f"ply\nformat {fmt} 1.0\nelement vertex {vertices}\n"
        + "".join(f"property {coordinate} {axis}\n" for axis in "xyz")
        + f"element face {faces}\nproperty list uchar int vertex_indices\nend_header\n"
    )


def rewrite_mesh_as_doubles(mesh: Path, change=None) -> None:
    """The same mesh with double-precision coordinates (as some converters write it), `change` applied to them."""
    import plyfile

    ply = plyfile.PlyData.read(str(mesh))
    xyz = np.stack([ply["vertex"][axis] for axis in "xyz"], axis=1).astype(np.float64)
    faces = np.stack(ply["face"]["vertex_indices"]).astype("<i4")
    if change is not None:
        change(xyz)
    face = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", 3)])
    face["n"], face["v"] = 3, faces
    header = ply_header("binary_little_endian", len(xyz), len(faces), "double")
    mesh.write_bytes(header.encode() + xyz.astype("<f8").tobytes() + face.tobytes())


# --- 1. never hang --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("far", [1e200, 1e300])
def test_a_vertex_at_an_absurd_distance_fails_its_scene_and_the_build_finishes(tmp_path, far):
    """Today the room triangulation never returns on such a vertex, so the build never writes a manifest."""
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    write_handmade_scene(tmp_path / "scans", SCENE, HANDMADE_ROOM)
    bad = write_handmade_scene(tmp_path / "scans", "scene0002_00", HANDMADE_ROOM)
    mesh = bad / "scene0002_00_vh_clean_2.ply"

    def stray(xyz):
        xyz[123] = (far, -far / 3, 0.5)

    rewrite_mesh_as_doubles(mesh, stray)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "vsi_data.cli", "build", "--source", "scannet", "--root", str(tmp_path)]
    command += ["--out", str(out), "--workers", "1", "--quiet", "--no-video"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["scenes"]["built"], manifest["scenes"]["failed"]) == (1, 1)
    (failure,) = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert failure["error"].startswith(f"{mesh}: 1 of ")
    assert "beyond ±10000 m" in failure["error"]


# --- 2. never crash the build ---------------------------------------------------------------------------------


@pytest.fixture
def scannet_root(tmp_path) -> Path:
    write_label_table(tmp_path / "scannetv2-labels.combined.tsv")
    write_handmade_scene(tmp_path / "scans", SCENE, HANDMADE_ROOM)
    return tmp_path


def test_a_split_list_that_is_not_utf8_is_one_line_naming_it(scannet_root):
    from typer.testing import CliRunner

    from vsi_data.cli import app

    split_list = scannet_root / "scannetv2_train.txt"
    split_list.write_bytes(b"scene0001_00\nscene0002_00\xff\xfe\n")
    result = CliRunner().invoke(
        app, ["build", "--source", "scannet", "--root", str(scannet_root), "--out", str(scannet_root / "out")]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not an uncaught UnicodeDecodeError
    assert f"{split_list}: split list is not UTF-8 text" in " ".join(result.output.split())


def test_a_scannetpp_split_list_that_is_not_utf8_names_it(tmp_path):
    from handmade_scannetpp import write_handmade_scene as write_scannetpp_scene
    from vsi_data.sources.scannetpp import ScannetppConfig, ScannetppSource

    write_scannetpp_scene(tmp_path / "data", "0a1b2c3d4e")
    split_list = tmp_path / "splits" / "nvs_sem_val.txt"
    split_list.parent.mkdir()
    split_list.write_bytes(b"\x80\x81 0a1b2c3d4e\n")
    with pytest.raises(SceneError) as info:
        ScannetppSource(ScannetppConfig(tmp_path)).list_scenes()
    assert "not UTF-8 text" in one_line_naming(info.value, split_list)


@pytest.mark.parametrize("huge", [2**63, 2**64 + 5])
def test_segment_ids_beyond_int64_name_the_file(scannet_root, huge):
    folder = scannet_root / "scans" / SCENE
    aggregation = folder / f"{SCENE}.aggregation.json"
    data = json.loads(aggregation.read_text())
    data["segGroups"][2]["segments"].append(huge)
    aggregation.write_text(json.dumps(data))
    with pytest.raises(SceneError) as info:
        scannet_load(scannet_root)
    assert "segments" in one_line_naming(info.value, aggregation)


def test_per_vertex_segment_ids_beyond_int64_name_the_file(scannet_root):
    segs = scannet_root / "scans" / SCENE / f"{SCENE}_vh_clean_2.0.010000.segs.json"
    data = json.loads(segs.read_text())
    data["segIndices"][5] = 2**63  # fits uint64 but not int64: must not wrap around to a negative id
    segs.write_text(json.dumps(data))
    with pytest.raises(SceneError) as info:
        scannet_load(scannet_root)
    assert "segIndices" in one_line_naming(info.value, segs)


def sens_bytes(frames: int, k_color=None, k_depth=None, poses=None) -> bytes:
    """A .sens written from the format description (docs/sources.md), with `frames` flat 8×6 frames."""
    import zlib

    import cv2

    k_color = np.array([[8.0, 0, 3.5, 0], [0, 8.0, 2.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) if k_color is None else k_color
    k_depth = k_color if k_depth is None else k_depth
    name = b"StructureSensor"
    out = struct.pack("<IQ", 4, len(name)) + name
    for matrix in (k_color, np.eye(4), k_depth, np.eye(4)):
        out += np.asarray(matrix, "<f4").tobytes()
    out += struct.pack("<ii4If", 2, 1, 8, 6, 8, 6, 1000.0) + struct.pack("<Q", frames)
    jpeg = cv2.imencode(".jpg", np.full((6, 8, 3), 90, np.uint8))[1].tobytes()
    depth = zlib.compress(np.full((6, 8), 1500, "<u2").tobytes())
    for i in range(frames):
        pose = np.eye(4) if poses is None else poses[i]
        out += np.asarray(pose, "<f4").tobytes() + struct.pack("<4Q", i * 33_333, i * 33_333, len(jpeg), len(depth))
        out += jpeg + depth
    return out + struct.pack("<Q", 0)


def test_a_sens_without_frames_names_the_file(scannet_root):
    sens = scannet_root / "scans" / SCENE / f"{SCENE}.sens"
    sens.write_bytes(sens_bytes(0))
    with pytest.raises(SceneError) as info:
        scannet_load(scannet_root)
    assert "no frames" in one_line_naming(info.value, sens)


def test_an_ascii_ply_declaring_a_trillion_vertices_names_the_file(scannet_root):
    mesh = scannet_root / "scans" / SCENE / f"{SCENE}_vh_clean_2.ply"
    mesh.write_text(ply_header("ascii", 10**12, 1) + "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.raises(SceneError) as info:
        scannet_load(scannet_root)
    assert "declares 1000000000000 vertex entries" in one_line_naming(info.value, mesh)


def test_an_alignment_that_moves_the_scan_absurdly_far_names_the_file(scannet_root):
    meta = scannet_root / "scans" / SCENE / f"{SCENE}.txt"
    meta.write_text("axisAlignment = 1 0 0 1e200 0 1 0 0 0 0 1 0 0 0 0 1\n")
    with pytest.raises(SceneError) as info:
        scannet_load(scannet_root)
    assert "axisAlignment" in one_line_naming(info.value, meta)

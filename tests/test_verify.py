"""`vsi-data verify`: hand-made scenes in the real formats against a meta file written for them, and the released
meta info against a `vsibench-meta` build of it."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import handmade_arkit as hm_arkit
import handmade_scannetpp as hm_pp
from handmade import HANDMADE_ROOM, Box, write_handmade_scene, write_label_table
from handmade_meta import box_entry, meta_box, meta_scene, write_meta
from vsi_data.cli import app
from vsi_data.geometry import OrientedBox
from vsi_data.verify import box_difference

runner = CliRunner()
SCANNET_CATEGORIES = {"bed": "bed", "couch": "sofa", "chair": "chair", "tv": "tv", "refrigerator": "refrigerator",
                      "table": "table"}  # fmt: skip
SCENE = "scene0001_00"


def scannet_meta(boxes=HANDMADE_ROOM.boxes, room_size: float = 24.0, *, rename: dict | None = None) -> dict:
    """What VSI-Bench's ScanNet meta info would say of a hand-made room (its boxes, its 6 m × 4 m floor)."""
    names = rename or SCANNET_CATEGORIES
    return meta_scene("scannet", [(names[b.label], box_entry(b)) for b in boxes if b.label in names], room_size)


@pytest.fixture(scope="module")
def scannet_root(tmp_path_factory) -> Path:
    """The hand-made ScanNet scene (read-only for the tests)."""
    root = tmp_path_factory.mktemp("scans") / "scannet"
    write_label_table(root / "scannetv2-labels.combined.tsv")
    write_handmade_scene(root / "scans", SCENE, HANDMADE_ROOM)
    return root


def verify(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["verify", *args, "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def verify_scans(root: Path, source: str, meta: dict, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    path = write_meta(tmp_path / "meta" / f"{source}_meta_info_val.json", meta)
    return verify("--root", str(root), "--source", source, "--meta", str(path), *extra)


def only_scene(report: dict) -> dict:
    (scene,) = report["scenes"]
    return scene


def category(scene: dict, name: str) -> dict:
    return next(c for c in scene["categories"] if c["category"] == name)


# --- box comparison ---------------------------------------------------------------------------------------


def _yawed(yaw_deg: float, extents=(2.0, 1.0, 0.5), center=(1.0, 2.0, 0.25)) -> OrientedBox:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return OrientedBox(center=center, extents=extents, rotation=[[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_a_box_is_the_same_box_under_its_symmetries():
    box = _yawed(30.0)
    same = [
        _yawed(30.0 + 180.0),  # turned half way round
        _yawed(30.0 + 90.0, extents=(1.0, 2.0, 0.5)),  # sides relabelled
        OrientedBox(
            center=box.center, extents=box.extents[[0, 2, 1]], rotation=box.rotation[:, [0, 2, 1]] * [1, 1, -1]
        ),
    ]
    for other in same:
        centre, sides, turn = box_difference(box, other)
        assert (centre, sides) == pytest.approx((0.0, 0.0), abs=1e-9)
        assert turn == pytest.approx(0.0, abs=1e-5)
    assert box_difference(box, _yawed(33.0)) == pytest.approx((0.0, 0.0, 3.0))
    assert box_difference(box, _yawed(30.0 + 90.0)) == pytest.approx((0.0, 1.0, 0.0))  # a different footprint
    assert box_difference(box, _yawed(30.0, center=(1.0, 2.3, 0.25))) == pytest.approx((0.3, 0.0, 0.0))


# --- hand-made ScanNet scene, raw scans -----------------------------------------------------------------


def test_a_meta_file_that_says_what_the_scan_holds_gives_no_difference(scannet_root, tmp_path):
    code, report = verify_scans(scannet_root, "scannet", {SCENE: scannet_meta()}, tmp_path)
    assert code == 0
    assert report["agrees"]
    totals = report["totals"]
    assert (totals["scenes"], totals["categories"], totals["category_counts_agreeing"]) == (1, 6, 6)
    assert (totals["boxes_matched"], totals["boxes_agreeing"]) == (8, 8)
    assert totals["answers_differing"] == 0
    assert totals["answers_agreeing"] > 20  # every question a build would ask, recomputed on the meta's boxes
    scene = only_scene(report)
    assert scene["differences"] == []
    assert scene["room_meta"] == 24.0
    assert abs(scene["room_ours"] - 24.0) < 0.05 * 24.0
    worst = max(p["centre_m"] for c in scene["categories"] for p in c["pairs"])
    assert worst < 1e-4  # the fitted boxes are the placed ones


def test_a_moved_box_is_reported_with_its_offset(scannet_root, tmp_path):
    boxes = [
        dataclasses.replace(b, center=(b.center[0] - 0.3, b.center[1], b.center[2])) if b.label == "refrigerator" else b
        for b in HANDMADE_ROOM.boxes
    ]
    code, report = verify_scans(scannet_root, "scannet", {SCENE: scannet_meta(boxes)}, tmp_path)
    assert code == 1
    scene = only_scene(report)
    (pair,) = category(scene, "refrigerator")["pairs"]
    assert pair["centre_m"] == pytest.approx(0.3, abs=1e-4)
    assert not pair["agrees"]
    assert any(line.startswith("refrigerator: instance") and "0.300 m apart" in line for line in scene["differences"])
    assert report["totals"]["boxes_agreeing"] == 7
    assert report["totals"]["category_counts_agreeing"] == 6  # counts still agree
    moved = [a for a in scene["answers"] if a["status"] == "differ"]
    assert moved
    assert all("refrigerator" in a["objects"] for a in moved)  # only answers that involve it change


def test_a_missing_instance_is_reported(scannet_root, tmp_path):
    chairs = [b for b in HANDMADE_ROOM.boxes if b.label == "chair"]
    boxes = [b for b in HANDMADE_ROOM.boxes if b is not chairs[1]]
    code, report = verify_scans(scannet_root, "scannet", {SCENE: scannet_meta(boxes)}, tmp_path)
    assert code == 1
    scene = only_scene(report)
    chair = category(scene, "chair")
    assert (chair["ours"], chair["meta"], len(chair["pairs"]), len(chair["unmatched_ours"])) == (3, 2, 2, 1)
    assert "chair: 3 instances, the meta info has 2" in scene["differences"]
    counting = next(a for a in scene["answers"] if a["question_type"] == "object_counting")
    assert (counting["ours"], counting["meta"], counting["status"]) == ("3", "2", "differ")


def test_a_different_room_is_reported(scannet_root, tmp_path):
    other = (
        Box("bed", (3.0, 2.0, 0.3), (2.0, 1.6, 0.6), 90.0),
        Box("couch", (1.0, 0.5, 0.4), (2.2, 0.9, 0.8)),
        Box("tv", (4.5, 3.9, 1.2), (1.2, 0.1, 0.7)),
        Box("chair", (0.5, 3.0, 0.45), (0.5, 0.5, 0.9)),
    )
    code, report = verify_scans(scannet_root, "scannet", {SCENE: scannet_meta(other, room_size=14.5)}, tmp_path)
    assert code == 1
    scene = only_scene(report)
    assert not scene["room_agrees"]
    assert f"room: {scene['room_ours']:.2f} m², the meta info has 14.50 m²" in scene["differences"]
    assert category(scene, "chair")["meta"] == 1
    assert category(scene, "refrigerator")["meta"] == 0
    assert report["totals"]["boxes_agreeing"] == 0
    assert report["totals"]["answers_differing"] > 0


# --- hand-made ARKitScenes video and ScanNet++ scene, raw scans -----------------------------------------


def test_a_handmade_arkitscenes_video_agrees_with_its_meta(tmp_path):
    data = tmp_path / "arkit" / "3dod"
    hm_arkit.write_video(data / "Validation", "41000001", "Left", frames=False)
    hm_arkit.write_metadata(data / "metadata.csv", {"41000001": "Left"})
    hm_arkit.write_split_csv(tmp_path / "arkit" / "3dod_train_val_splits.csv", {"41000001": "Validation"})
    names = {"bed": "bed", "sofa": "sofa", "chair": "chair", "TV/Monitor": "tv", "refrigerator": "refrigerator",
             "table": "table"}  # fmt: skip
    boxes = [
        (names[b.label], meta_box(hm_arkit.to_world(np.asarray(b.center)), b.extents, hm_arkit.world_axes(b)))
        for b in hm_arkit.ARKIT_ROOM
        if b.label in names
    ]
    code, report = verify_scans(
        tmp_path / "arkit", "arkitscenes", {"41000001": meta_scene("arkitscenes", boxes, 24.0)}, tmp_path
    )
    assert code == 0, only_scene(report)["differences"]
    assert report["totals"]["boxes_agreeing"] == 8


def test_a_handmade_scannetpp_scene_agrees_with_its_meta(tmp_path):
    hm_pp.write_handmade_scene(tmp_path / "pp" / "data", "0a1b2c3d4e")
    keep = {"chair", "sofa", "table", "tv", "refrigerator", "trash can", "heater"}
    boxes = [
        (i.box.label, box_entry(hm_pp.annotated_box(i))) for i in hm_pp.HANDMADE_ROOM.instances if i.box.label in keep
    ]
    code, report = verify_scans(
        tmp_path / "pp", "scannetpp", {"0a1b2c3d4e": meta_scene("scannetpp", boxes, 24.0)}, tmp_path
    )
    assert code == 0, only_scene(report)["differences"]
    assert report["totals"]["boxes_agreeing"] == 10


# --- a build ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scannet_build(scannet_root, tmp_path_factory) -> Path:
    """A `vsibench` build of the hand-made ScanNet scene (read-only for the tests)."""
    out = tmp_path_factory.mktemp("build") / "out"
    args = ["build", "--source", "scannet", "--root", str(scannet_root), "--out", str(out), "--recipe", "vsibench",
            "--no-video", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_a_build_is_verified_by_its_rows(scannet_build, tmp_path):
    meta = write_meta(tmp_path / "meta" / "scannet_meta_info_val.json", {SCENE: scannet_meta()})
    code, report = verify("--build", str(scannet_build), "--meta", str(meta))
    assert code == 0
    rows = json.loads((scannet_build / "manifest.json").read_text())["rows"]
    assert report["totals"]["answers_agreeing"] == rows  # every row of the build, recomputed on the meta's boxes
    pictures = tmp_path / "pictures"
    result = runner.invoke(
        app, ["verify", "--build", str(scannet_build), "--meta", str(meta), "--pictures", str(pictures)]
    )
    assert result.exit_code == 0, result.output
    assert "1/1 scenes agree" in result.output
    assert (pictures / f"scannet__{SCENE}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_build_whose_answers_the_meta_contradicts_fails(scannet_build, tmp_path):
    tv = next(b for b in HANDMADE_ROOM.boxes if b.label == "tv")
    boxes = [dataclasses.replace(tv, center=(5.0, 3.85, 1.2)) if b is tv else b for b in HANDMADE_ROOM.boxes]
    meta = write_meta(tmp_path / "meta" / "scannet_meta_info_val.json", {SCENE: scannet_meta(boxes)})
    result = runner.invoke(app, ["verify", "--build", str(scannet_build), "--meta", str(meta)])
    assert result.exit_code == 1
    assert "0/1 scenes agree" in result.output
    assert "tv: our instance" in result.output or "tv: instance" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--meta", "m.json"], "give --build DIR, or --root PATH with --source"),
        (["--meta", "m.json", "--root", "."], "give --build DIR, or --root PATH with --source"),
        (["--meta", "m.json", "--build", "nowhere"], "manifest.json: missing"),
        (["--meta", "m.json", "--build", "b", "--label-table", "t"], "--label-table goes with --root"),
        (
            ["--meta", "m.json", "--root", ".", "--source", "arkitscenes", "--label-table", "t.tsv"],
            "--source arkitscenes does not take --label-table (an option of --source scannet)",
        ),
    ],
)
def test_verification_that_cannot_run_exits_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["verify", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_bad_label_table_is_one_error_not_a_finding_per_scene(scannet_root, tmp_path):
    """Was: each scene reported unreadable with the same line; the table is every scene's, checked once (exit 2)."""
    table = tmp_path / "labels.tsv"
    table.write_text("")
    path = write_meta(tmp_path / "meta" / "scannet_meta_info_val.json", {SCENE: scannet_meta()})
    args = ["verify", "--root", str(scannet_root), "--source", "scannet", "--meta", str(path), "--label-table", table]
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"error: {table}: label table lacks columns ['nyu40class', 'nyu40id', 'raw_category']"
    ]


def test_a_meta_file_without_our_scenes_exits_2(scannet_root, tmp_path):
    path = write_meta(tmp_path / "meta" / "scannet_meta_info_val.json", {"scene0999_00": scannet_meta()})
    result = runner.invoke(app, ["verify", "--root", str(scannet_root), "--source", "scannet", "--meta", str(path)])
    assert result.exit_code == 2
    assert "none of our 1 scenes is among its 1 (ours: scene0001_00, ...)" in result.output
    bad = tmp_path / "bad" / "scannet_meta_info_val.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    result = runner.invoke(app, ["verify", "--root", str(scannet_root), "--source", "scannet", "--meta", str(bad)])
    assert result.exit_code == 2
    assert "scannet_meta_info_val.json: not valid JSON" in result.output


# --- the released meta info against a build of it ------------------------------------------------------------


def test_the_released_meta_info_agrees_with_a_vsibench_meta_build_of_it(realdata, tmp_path):
    meta = realdata / "vsibench/scannet_meta_info_val.json"
    scenes = ["scene0207_02", "scene0222_01", "scene0231_00", "scene0593_00", "scene0697_01", "scene0474_04",
              "scene0500_00"]  # fmt: skip
    (tmp_path / "scenes.txt").write_text("\n".join(scenes))
    out = tmp_path / "out"
    args = ["build", "--source", "vsibench-meta", "--root", str(meta), "--out", str(out), "--recipe", "vsibench",
            "--split", "val", "--allow-benchmark-scenes", "--scene-list", str(tmp_path / "scenes.txt")]  # fmt: skip
    args.append("--quiet")
    assert runner.invoke(app, args).exit_code == 0
    code, report = verify("--build", str(out), "--meta", str(meta))
    assert code == 0
    totals = report["totals"]
    assert totals["scenes_agreeing"] == totals["scenes"] == 7
    assert totals["boxes_agreeing"] == totals["boxes_matched"] == totals["instances_meta"] == totals["instances_ours"]
    assert totals["answers_differing"] == totals["answers_not_comparable"] == 0
    assert totals["answers_agreeing"] == json.loads((out / "manifest.json").read_text())["rows"]
    assert totals["meta_scenes_not_built"] == 81
    notes = [n for s in report["scenes"] for n in s["notes"]]
    assert len(notes) == 3  # the meta's own chair and window counts that disagree with its boxes


def test_the_tolerance_options_state_the_defaults_they_stand_for():
    import re

    import typer

    from vsi_data.verify import Tolerances

    command = typer.main.get_command(app).commands["verify"]
    stated = {
        p.name: float(re.search(r"\(default ([\d.]+)\)", p.help).group(1))
        for p in command.params
        if "tolerance" in p.name
    }
    defaults = Tolerances()
    assert stated == {"centre_tolerance": defaults.centre_m, "extent_tolerance": defaults.extent_m,
                      "rotation_tolerance": defaults.rotation_deg, "room_tolerance": defaults.room_rel,
                      "distance_tolerance": defaults.distance_m}  # fmt: skip

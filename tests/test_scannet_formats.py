"""ScanNet file formats against the real files in ../shared/realdata and byte-level hand-built inputs."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import plyfile
import pytest

from handmade import ply_bytes
from vsi_data.sources.base import SceneError
from vsi_data.sources.scannet import formats
from vsi_data.sources.scannet.sens import SensFile, SensFrame, write_sens

# --- real files -------------------------------------------------------------------------------------


def test_real_mesh_vertices_match_the_labelled_mesh(realdata):
    scene = realdata / "scannet/scene0470_00"
    xyz, rgb = formats.read_mesh_vertices(scene / "scene0470_00_vh_clean_2.ply")
    assert xyz.shape == (67465, 3)
    assert rgb.shape == (67465, 3)
    labelled = plyfile.PlyData.read(str(scene / "scene0470_00_vh_clean_2.labels.ply"))
    assert len(labelled["face"]) == 127003
    v = labelled["vertex"]
    assert np.array_equal(xyz, np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64))
    assert set(np.unique(v["label"]).tolist()) == {0, 1, 2, 5, 7, 8, 9, 30, 37, 39}
    # The raw frame starts near the origin (formats.md: min ≈ 0, max ≈ (3.49, 2.85, 1.37)).
    assert xyz.min(axis=0) == pytest.approx([0, 0, 0], abs=0.05)
    assert xyz.max(axis=0) == pytest.approx([3.49, 2.85, 1.37], abs=0.02)


def test_real_label_table(realdata):
    table = formats.read_label_table(realdata / "scannet/meta/scannetv2-labels.combined.tsv")
    assert len(table) == 607  # raw_category is unique: one entry per data row
    assert len({row["id"] for row in table.values()}) == 549  # ids are shared between raw labels
    assert table["trash can"]["nyu40class"] == "otherfurniture"
    assert table["doors"]["category"] == "door"
    assert table["couch"]["nyu40class"] == "sofa"


def test_real_split_lists(realdata):
    splits = formats.read_split_lists(realdata / "scannet/meta")
    counts = {s: sum(1 for v in splits.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 1201, "val": 312, "test": 100}
    assert splits["scene0707_00"] == "test"


def test_real_vsibench_scannet_scenes_are_all_in_the_val_split(realdata):
    splits = formats.read_split_lists(realdata / "scannet/meta")
    meta = json.loads((realdata / "vsibench/scannet_meta_info_val.json").read_text())
    assert len(meta) == 88
    assert {splits[scene] for scene in meta} == {"val"}


# --- bad mesh, segments, aggregation, alignment -----------------------------------------------------


def test_truncated_mesh_names_the_file(tmp_path):
    mesh = tmp_path / "m.ply"
    data = ply_bytes(np.random.default_rng(0).random((100, 3)), np.array([[0, 1, 2]] * 30))
    mesh.write_bytes(data[: len(data) - 50])
    with pytest.raises(SceneError, match=r"m\.ply: unreadable PLY"):
        formats.read_mesh_vertices(mesh)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(SceneError, match=r"nope\.ply: file is missing"):
        formats.read_mesh_vertices(tmp_path / "nope.ply")


def test_segment_count_must_match_the_mesh(tmp_path):
    segs = tmp_path / "s.segs.json"
    segs.write_text(json.dumps({"segIndices": [1, 1, 2]}))
    with pytest.raises(SceneError, match=r"s\.segs\.json: 3 segment indices for a mesh of 4 vertices"):
        formats.read_segments(segs, 4)
    segs.write_text("{not json")
    with pytest.raises(SceneError, match="not valid JSON"):
        formats.read_segments(segs, 4)


def test_segment_indices_must_be_non_negative_integers(tmp_path):
    segs = tmp_path / "s.segs.json"
    for bad in ([1, 2.7, 3], [1, 2**70, 3], [1, -4, 3], [1, "2", 3]):
        segs.write_text(json.dumps({"segIndices": bad}))
        with pytest.raises(SceneError, match="not non-negative integers"):
            formats.read_segments(segs, 3)


def test_repeated_object_ids_are_an_error(tmp_path):
    agg = tmp_path / "a.aggregation.json"
    groups = [{"objectId": 3, "label": "chair", "segments": [1]}, {"objectId": 3, "label": "bed", "segments": [2]}]
    agg.write_text(json.dumps({"segGroups": groups}))
    with pytest.raises(SceneError, match="objectId 3 is used by more than one segGroup"):
        formats.read_aggregation(agg)


def test_label_table_that_is_not_utf8(tmp_path):
    table = tmp_path / "labels.tsv"
    table.write_bytes(b"id\traw_category\tnyu40id\tnyu40class\r\n1\tcaf\xe9\t40\totherprop\r\n")
    with pytest.raises(SceneError, match=r"labels\.tsv: label table is not UTF-8"):
        formats.read_label_table(table)


def test_aggregation_groups_are_checked(tmp_path):
    agg = tmp_path / "a.aggregation.json"
    agg.write_text(json.dumps({"segGroups": [{"objectId": 0, "label": "chair", "segments": "oops"}]}))
    with pytest.raises(SceneError, match="has no integer `segments` list"):
        formats.read_aggregation(agg)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0", "has 15 numbers, expected 16"),
        ("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 x", "not a number"),
        ("axisAlignment = 2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", "not a rigid transform"),
        ("axisAlignment = -1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", "reflection"),
        ("axisAlignment = 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 nan", "non-finite"),
    ],
)
def test_malformed_alignment_is_an_error(tmp_path, line, problem):
    txt = tmp_path / "scene.txt"
    txt.write_text(line + "\n")
    with pytest.raises(SceneError, match=rf"scene\.txt: .*{problem}"):
        formats.parse_axis_alignment(formats.read_meta(txt), txt)


def test_real_alignment_line_is_read_row_major(tmp_path):
    txt = tmp_path / "scene0000_00.txt"
    txt.write_text(
        "axisAlignment = 0.945519 0.325568 0.000000 -5.384390 -0.325568 0.945519 0.000000 -2.871780 "
        "0.000000 0.000000 1.000000 -0.064350 0.000000 0.000000 0.000000 1.000000\ncolorHeight = 968\n"
    )
    m = formats.parse_axis_alignment(formats.read_meta(txt), txt)
    assert m[0, 3] == pytest.approx(-5.38439)
    assert m[1, 0] == pytest.approx(-0.325568)


# --- .sens ------------------------------------------------------------------------------------------


def _sens_bytes(frames: list[tuple[np.ndarray, int, bytes, np.ndarray]], version: int = 4) -> bytes:
    """A .sens written from the format description alone (formats.md §1.6), not with our writer."""
    k_color = np.array([[1170.2, 0, 647.8, 0], [0, 1170.2, 483.8, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "<f4")
    k_depth = np.array([[571.6, 0, 319.5, 0], [0, 571.6, 239.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "<f4")
    name = b"StructureSensor"
    out = struct.pack("<IQ", version, len(name)) + name
    out += k_color.tobytes() + np.eye(4, dtype="<f4").tobytes() + k_depth.tobytes() + np.eye(4, dtype="<f4").tobytes()
    out += struct.pack("<ii", 2, 1) + struct.pack("<IIII", 64, 48, 32, 24) + struct.pack("<f", 1000.0)
    out += struct.pack("<Q", len(frames))
    for pose, ts, jpeg, depth in frames:
        packed_depth = zlib.compress(depth.astype("<u2").tobytes())
        out += pose.astype("<f4").tobytes() + struct.pack("<QQQQ", ts, ts, len(jpeg), len(packed_depth))
        out += jpeg + packed_depth
    return out + struct.pack("<Q", 0)


def _frame(i: int, pose: np.ndarray | None = None):
    color = np.zeros((48, 64, 3), np.uint8)
    color[..., i % 3] = 200
    jpeg = cv2.imencode(".jpg", color)[1].tobytes()
    depth = np.full((24, 32), 1000 + 250 * i, np.uint16)
    if pose is None:
        pose = np.eye(4)
        pose[0, 3] = i
    return pose, 33_333 * i, jpeg, depth


def test_sens_reader_on_hand_built_bytes(tmp_path):
    bad = np.full((4, 4), -np.inf)
    path = tmp_path / "s.sens"
    path.write_bytes(_sens_bytes([_frame(0), _frame(1, bad), _frame(2)]))
    sens = SensFile(path)
    assert len(sens) == 3
    assert (sens.header.color_width, sens.header.color_height, sens.header.depth_width) == (64, 48, 32)
    assert sens.header.intrinsic_color[0, 0] == pytest.approx(1170.2, rel=1e-6)
    assert sens.poses[2][0, 3] == 2.0
    assert np.isinf(sens.poses[1]).all()
    assert sens.timestamps_us.tolist() == [0, 33_333, 66_666]
    assert sens.read_depth(2) == pytest.approx(np.full((24, 32), 1.5))
    assert sens.read_color(1)[..., 1].mean() > 150  # green frame, RGB order


def test_sens_truncated_and_wrong_version(tmp_path):
    path = tmp_path / "t.sens"
    data = _sens_bytes([_frame(0), _frame(1)])
    path.write_bytes(data[:-300])
    with pytest.raises(SceneError, match=r"t\.sens: truncated: frame 1 of 2"):
        SensFile(path)
    path.write_bytes(_sens_bytes([_frame(0)], version=3))
    with pytest.raises(SceneError, match=r"unsupported \.sens version 3"):
        SensFile(path)
    path.write_bytes(data[:30])
    with pytest.raises(SceneError, match="truncated in the header"):
        SensFile(path)
    huge = bytearray(_sens_bytes([_frame(0)]))
    count_at = 4 + 8 + len(b"StructureSensor") + 256 + 8 + 16 + 4
    huge[count_at : count_at + 8] = struct.pack("<Q", 2**40)  # a corrupt frame count, not a memory error
    path.write_bytes(bytes(huge))
    with pytest.raises(SceneError, match="promises 1099511627776 frames"):
        SensFile(path)


def test_sens_writer_round_trip(tmp_path):
    source = tmp_path / "a.sens"
    source.write_bytes(_sens_bytes([_frame(0), _frame(1)]))
    original = SensFile(source)
    frames = [
        SensFrame(original.poses[i], int(original.timestamps_us[i]), int(original.timestamps_us[i]),
                  original._read(original._color_at[i]),
                  np.round(original.read_depth(i) * 1000).astype(np.uint16))
        for i in range(len(original))
    ]  # fmt: skip
    copy_path = tmp_path / "b.sens"
    assert write_sens(copy_path, original.header, frames) == 2
    copy = SensFile(copy_path)
    assert np.array_equal(copy.header.intrinsic_color, original.header.intrinsic_color)
    assert (copy.header.depth_width, copy.header.depth_shift, copy.header.num_frames) == (32, 1000.0, 2)
    assert np.array_equal(copy.poses, original.poses)
    assert np.array_equal(copy.timestamps_us, original.timestamps_us)
    for i in range(2):
        assert np.array_equal(copy.read_color(i), original.read_color(i))
        assert np.array_equal(copy.read_depth(i), original.read_depth(i))


def test_sens_garbage_is_not_a_sens_file(tmp_path: Path):
    path = tmp_path / "g.sens"
    path.write_bytes(struct.pack("<IQ", 4, 10**9) + b"x" * 100)
    with pytest.raises(SceneError, match=r"not a \.sens file"):
        SensFile(path)

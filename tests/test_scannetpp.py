"""The ScanNet++ source: a hand-made scene through both recipes, synthetic scenes read back, bad input, builds.

The hand-made scene (tests/handmade_scannetpp.py) is written without the project's writers; every answer is
recomputed here from its known boxes, and a few by hand. Synthetic scenes are compared with the layouts they
were written from.
"""

from __future__ import annotations

import functools
import json
import math
import struct
import zlib
from pathlib import Path

import lz4.block
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from handmade import Box, answer_text, expected_distance, sector, surface_samples
from handmade_scannetpp import (
    FRAME_COLORS,
    HANDMADE_ROOM,
    INTRINSIC,
    LOOK_PLUS_X,
    annotated_box,
    write_handmade_scene,
    write_handmade_stream,
)
from vsi_data.cli import app
from vsi_data.output.shards import read_rows
from vsi_data.qa import generate_questions, load_recipe
from vsi_data.registry import open_source
from vsi_data.sources import SourceUnavailable
from vsi_data.sources.base import SceneError
from vsi_data.sources.scannetpp import ScannetppConfig, ScannetppSource
from vsi_data.sources.scannetpp import depth as depth_module
from vsi_data.synthetic import SyntheticConfig, SyntheticSource
from vsi_data.synthetic.render import PITCH_DEG, Cameras, Renderer
from vsi_data.synthetic.scannetpp_writer import LABELS, NO_OBB_EVERY, REVISION, write_scene
from vsi_data.synthetic.writer import finish_scene, synthesize

SCENE = "0a1b2c3d4e"
# raw label → category; labels not listed are dropped by that vocabulary
CATEGORIES = {
    "vsibench": {"chair": "chair", "sofa": "sofa", "table": "table", "tv": "tv", "refrigerator": "refrigerator",
                 "trash can": "trash can", "heater": "heater"},
    "vsi100k": {"chair": "chair", "office chair": "office chair", "sofa": "couch", "table": "table", "tv": "tv",
                "refrigerator": "refrigerator", "trash can": "trash can"},
}  # fmt: skip
SIZES_CM = {"sofa": 220, "couch": 220, "table": 160, "tv": 120, "refrigerator": 180, "heater": 100}


@pytest.fixture
def handmade_root(tmp_path):
    """A ScanNet++ release root: data/<scene>/ with an iPhone stream, and split lists."""
    folder = write_handmade_scene(tmp_path / "data", SCENE)
    write_handmade_stream(folder)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits/nvs_sem_val.txt").write_text(f"{SCENE}\n")
    return tmp_path


def load(root, recipe_name: str):
    recipe = load_recipe(recipe_name)
    source = ScannetppSource(ScannetppConfig(root))
    scene = source.load(source.list_scenes()[0], recipe.parse_options(seed=0))
    return scene, generate_questions(scene, recipe, seed=0, exhaustive=True)


def truth(recipe_name: str) -> dict[str, list[Box]]:
    out: dict[str, list[Box]] = {}
    for instance in HANDMADE_ROOM.instances:
        category = CATEGORIES[recipe_name].get(instance.box.label.lower())
        if category is not None:
            out.setdefault(category, []).append(annotated_box(instance))
    return out


@functools.cache
def distance(recipe_name: str, category_a: str, category_b: str) -> float:
    boxes = truth(recipe_name)
    return expected_distance(recipe_name, boxes[category_a], boxes[category_b])


# --- a hand-made scene ------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe_name", ["vsibench", "vsi100k"])
def test_every_answer_matches_the_known_boxes(handmade_root, recipe_name):
    scene, questions = load(handmade_root, recipe_name)
    boxes = truth(recipe_name)
    assert scene.dataset == "scannetpp"
    assert scene.split == "val"
    assert scene.counts == {c: len(b) for c, b in boxes.items()}
    types = {q.question_type for q in questions}
    # every type is exercised but appearance order, which needs a depth stream (this stream has no depth.bin)
    assert types == {g.question_type for g in load_recipe(recipe_name).generators} - {"obj_appearance_order"}
    assert scene.stats["appearance_order_no_depth"] == (recipe_name == "vsibench")
    for q in questions:
        kind, objs, given = q.question_type, q.objects, answer_text(q)
        if kind == "object_counting":
            assert (objs, given) in ((["chair"], "3"), (["trash can"], "2"))
            assert objs != ["chair"] or recipe_name == "vsibench"  # vsi100k: chair and office chair are confusable
        elif kind == "object_size_estimation":
            assert given == str(SIZES_CM[objs[0]])
        elif kind == "room_size_estimation":
            assert given == "24.0" if recipe_name == "vsi100k" else 22.5 <= float(given) <= 24.0
        elif kind == "object_abs_distance":
            d = distance(recipe_name, objs[0], objs[1])
            if recipe_name == "vsi100k":
                assert float(given) == pytest.approx(round(d, 1)), (q.question, d)
            else:  # VSI-Bench measures hollow 5 cm grids inside the boxes: never nearer, at most a step or two further
                assert d - 0.05 <= float(given) <= d + 0.2, (q.question, d)
        elif kind == "object_rel_distance":
            target, options = objs[0], objs[1:]
            ds = {o: distance(recipe_name, target, o) for o in options}
            assert given == min(ds, key=ds.get)
        elif kind.startswith("object_rel_direction"):
            standing, facing, queried = (boxes[c][0] for c in objs)
            assert given == sector(standing, facing, queried, kind.rsplit("_", 1)[1]), q.question
        else:
            pytest.fail(f"unexpected type {kind}")


def test_boxes_come_from_obb_or_are_fitted(handmade_root):
    scene, _ = load(handmade_root, "vsi100k")
    by_id = {obj.instance_id: obj for obj in scene.objects}
    for i, instance in enumerate(HANDMADE_ROOM.instances, start=1):
        if instance.box.label.lower() not in CATEGORIES["vsi100k"]:
            assert i not in by_id
            continue
        box, expected = by_id[i].box, annotated_box(instance)
        assert by_id[i].raw_label == instance.box.label
        if instance.obb:  # exactly the annotated box, rotation included
            assert box.center == pytest.approx(expected.center, abs=1e-6)
            assert box.extents == pytest.approx(expected.extents, abs=1e-6)
            assert box.rotation == pytest.approx(expected.rotation, abs=1e-6)
        else:  # fitted to the sampled surface
            assert box.center == pytest.approx(expected.center, abs=0.005)
            assert np.sort(box.extents) == pytest.approx(np.sort(expected.extents), abs=0.01)
    # The table's annotated box is 5 cm larger on each side than its vertices: the annotation wins.
    assert by_id[6].box.extents == pytest.approx([1.6, 1.0, 0.85])
    assert scene.stats["boxes_from_obb"] == 6  # chair, chair, office chair, table, tv, trash can
    assert scene.stats["boxes_fitted"] == 4  # chair, sofa, refrigerator, trash can
    assert scene.stats["objects_outside_vocabulary"] == 4  # floor, heater, wall, cable
    # The cable shares the sofa's first segment: those vertices belong to two groups, and the sofa keeps them all.
    sofa = len(surface_samples(HANDMADE_ROOM.instances[4].box))
    assert scene.stats["vertices_in_several_groups"] == sofa // 2
    assert len(by_id[5].points) == sofa


def test_hand_computed_answers(handmade_root):
    _, questions = load(handmade_root, "vsi100k")
    by_objects = {(q.question_type, tuple(q.objects)): q for q in questions}
    # tv (1.0, 3.85, 1.2) to refrigerator (5.5, 0.6, 0.9): sqrt(4.5² + 3.25² + 0.3²) = 5.559 m.
    q = (
        by_objects.get(("object_abs_distance", ("tv", "refrigerator")))
        or by_objects[("object_abs_distance", ("refrigerator", "tv"))]
    )
    assert q.answer == "5.6"
    assert by_objects[("object_size_estimation", ("couch",))].answer == "220"
    _, questions = load(handmade_root, "vsibench")
    by_objects = {(q.question_type, tuple(q.objects)): q for q in questions}
    assert by_objects[("object_size_estimation", ("sofa",))].answer == "220"
    assert by_objects[("object_size_estimation", ("table",))].answer == "160"  # the annotated box, not the mesh
    assert ("object_size_estimation", ("office chair",)) not in by_objects  # outside VSI-Bench's ScanNet++ list


def test_iphone_stream(handmade_root):
    scene, _ = load(handmade_root, "vsibench")
    frames = scene.frames
    assert (len(frames), frames.width, frames.height) == (4, 64, 48)
    assert frames.intrinsics.tolist() == INTRINSIC
    assert frames.timestamps == pytest.approx(100 + np.arange(4) / 30)
    assert frames.valid.all()
    # The file's pose looks along +x: the camera's forward (z) axis is world +x, its down (y) axis world -z.
    assert frames.poses[0][:3, 2] == pytest.approx([1, 0, 0])
    assert frames.poses[0][:3, 1] == pytest.approx([0, 0, -1])
    assert frames.poses[0] == pytest.approx(np.asarray(LOOK_PLUS_X))
    order = [0, 1, 2, 3, 1, 0, 3, 2]  # forward, then backwards (reopens), then jumps
    for k in order:
        rgb = frames.read_color(k)
        assert rgb.shape == (48, 64, 3)
        assert np.abs(rgb.reshape(-1, 3).mean(axis=0) - FRAME_COLORS[k]).max() < 8, k
    with pytest.raises(SceneError, match=r"rgb\.mkv: video ends before frame 4"):
        frames.read_color(4)


def test_older_mp4_video_missing_and_nonfinite_poses(tmp_path):
    folder = write_handmade_scene(tmp_path / "data", SCENE)
    nan_pose = np.full((4, 4), np.nan).tolist()
    write_handmade_stream(folder, poses=[LOOK_PLUS_X, None, nan_pose, LOOK_PLUS_X], name="rgb.mp4")
    entries = json.loads((folder / "iphone/pose_intrinsic_imu.json").read_text())
    del entries["frame_000001"]["aligned_pose"]
    entries["frame_000003"]["intrinsic"][0][0] = 61.0  # intrinsics that vary: the first frame's are kept
    (folder / "iphone/pose_intrinsic_imu.json").write_text(json.dumps(entries))
    scene, _ = load(tmp_path, "vsibench")
    assert scene.split == "train"  # no split lists: train, as for ScanNet
    assert scene.frames.valid.tolist() == [True, False, False, True]
    assert scene.stats["frames_without_pose"] == 2
    assert scene.stats["frames_with_other_intrinsics"] == 1
    assert scene.frames.intrinsics[0, 0] == 60.0
    assert np.abs(scene.frames.read_color(2).reshape(-1, 3).mean(axis=0) - FRAME_COLORS[2]).max() < 8


def test_scenes_without_iphone_stream_have_no_frames(tmp_path):
    write_handmade_scene(tmp_path / "data", SCENE)
    write_handmade_scene(tmp_path / "data", "not-a-scene")  # not 10 hex digits: not listed
    source = ScannetppSource(ScannetppConfig(tmp_path / "data"))  # data/ itself is accepted too
    assert [r.scene_id for r in source.list_scenes()] == [SCENE]
    scene = source.load(source.list_scenes()[0], load_recipe("vsibench").parse_options(0))
    assert scene.frames is None
    assert scene.counts["chair"] == 3


# --- iPhone depth (depth.bin, written here with zlib and lz4 directly) -----------------------------


def depth_mm(k: int) -> np.ndarray:
    """Frame k in millimetres: a ramp of its own (pixel (0, 0) is 500 + 1000 k mm), and a block never measured."""
    rows, cols = np.mgrid[0:192, 0:256]
    mm = (500 + 1000 * k + 7 * rows + 3 * cols).astype(np.uint16)
    mm[10:20, 30:50] = 0
    return mm


def depth_float(k: int) -> np.ndarray:
    """Frame k in float32 metres, with the values that mean nothing was measured: NaN, ±inf, negative, zero."""
    rows, cols = np.mgrid[0:192, 0:256]
    metres = (0.25 + 0.5 * k + 0.01 * rows + 0.003 * cols).astype(np.float32)
    metres[0, :5] = [np.nan, np.inf, -np.inf, -1.0, 0.0]
    return metres


def expected_metres(k: int, as_mm: bool) -> np.ndarray:
    if as_mm:
        return depth_mm(k).astype(np.float32) / np.float32(1000)
    metres = depth_float(k).copy()
    metres[0, :5] = 0
    return metres


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def lz4_frame(mm: np.ndarray) -> bytes:
    return lz4.block.compress(mm.astype("<u2").tobytes(), store_size=False)


def prefixed(blocks: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(block)) + block for block in blocks)


def deflate_stream(frames: int) -> bytes:
    return raw_deflate(b"".join(depth_float(k).astype("<f4").tobytes() for k in range(frames)))


def lz4_blocks(frames: int) -> bytes:
    return prefixed([lz4_frame(depth_mm(k)) for k in range(frames)])


# layout → (file bytes for the handmade stream's 4 frames, whether frame k is millimetres)
DEPTH_LAYOUTS = {
    "deflate stream": (deflate_stream(4), lambda k: False),
    "lz4 blocks": (lz4_blocks(4), lambda k: True),
    "mixed blocks": (  # frames 1 and 3 are not lz4: raw-deflate float32, the toolkit's per-frame fallback
        prefixed([lz4_frame(depth_mm(k)) if k % 2 == 0 else raw_deflate(depth_float(k).tobytes()) for k in range(4)]),
        lambda k: k % 2 == 0,
    ),
}


def with_depth(root: Path, data: bytes):
    """The hand-made scene of `root` with `data` as its depth.bin, loaded (reading no depth yet)."""
    (root / "data" / SCENE / "iphone/depth.bin").write_bytes(data)
    source = ScannetppSource(ScannetppConfig(root))
    return source.load(source.list_scenes()[0], load_recipe("vsibench").parse_options(0))


@pytest.mark.parametrize("layout", list(DEPTH_LAYOUTS))
def test_depth_bin_frames_read_back_exactly_in_metres(handmade_root, layout, monkeypatch):
    data, is_mm = DEPTH_LAYOUTS[layout]
    depth = with_depth(handmade_root, data).frames.depth
    assert (depth.width, depth.height) == (256, 192)
    # the 64×48 colour camera (f 60, centre (31.5, 23.5)) scaled 4× to 256×192, pixel centres at integers
    assert depth.intrinsics.tolist() == [[240.0, 0.0, 127.5], [0.0, 240.0, 95.5], [0.0, 0.0, 1.0]]
    starts = []  # decoders started on the deflate stream: one pass to count its frames, then one per rewind

    class Counted(depth_module._Inflater):
        def __init__(self) -> None:
            starts.append(1)
            super().__init__()

    monkeypatch.setattr(depth_module, "_Inflater", Counted)
    for k in [0, 1, 2, 3, 2, 0, 3, 1]:  # forward, then back and jumping
        frame = depth.read(k)
        assert frame.dtype == np.float32
        np.testing.assert_array_equal(frame, expected_metres(k, is_mm(k)), err_msg=f"frame {k}")
        if is_mm(k):  # worked out by hand: 500 + 1000 k + 3 * 5 mm; the unmeasured block
            assert (frame[0, 5], frame[15, 40]) == (pytest.approx(0.515 + k), 0.0)
        else:  # 0.25 + 0.5 k + 0.003 * 5 m; NaN, inf, -inf, -1 and 0 all mean nothing measured
            assert frame[0, 5] == pytest.approx(0.265 + 0.5 * k)
            assert frame[0, :5].tolist() == [0.0] * 5
    assert len(starts) == (5 if layout == "deflate stream" else 0)  # count; read 0-3; back to 2, to 0; 3; back to 1


def test_depth_of_a_video_of_another_aspect_ratio_is_not_used(tmp_path):
    folder = write_handmade_scene(tmp_path / "data", SCENE)
    write_handmade_stream(folder, size=(64, 40))
    scene = with_depth(tmp_path, lz4_blocks(4))
    assert scene.frames.width == 64
    assert scene.frames.depth is None
    assert scene.stats["depth_aspect_differs_from_video"] == 1
    _, questions = load(tmp_path, "vsibench")
    assert "obj_appearance_order" not in {q.question_type for q in questions}


BLOCK_BYTES = [len(lz4_frame(depth_mm(k))) for k in range(4)]
# name → (depth.bin bytes, the frame read, what the error says after "depth.bin: ")
BAD_DEPTH = {
    "empty": (b"", 0, "file is empty"),
    "blocks cut short": (
        lz4_blocks(4)[:-100],
        0,
        r"neither one raw-deflate stream \(.+\) nor length-prefixed frames \(frame 3 at byte "
        rf"{sum(BLOCK_BYTES[:3]) + 12} claims {BLOCK_BYTES[3]} bytes, but {BLOCK_BYTES[3] - 100} follow\)",
    ),
    "stream cut short": (deflate_stream(4)[:-100], 0, r"neither one raw-deflate stream \(the file ends inside the "
                         r"stream, after \d+ decoded bytes \(truncated\)\) nor length-prefixed frames"),
    "garbage": (np.random.default_rng(0).bytes(5000), 0, r"neither one raw-deflate stream \(undecodable after 0 "
                r"decoded bytes: .+\) nor length-prefixed frames \(frame 0 at byte 0 claims \d+ bytes"),
    "bytes after the stream": (deflate_stream(4) + b"\0" * 7, 0, r"neither one raw-deflate stream \(7 bytes "
                               r"follow the end of the stream\)"),
    "too many stream frames": (deflate_stream(5), 0, r"holds 5 depth frames \(one raw-deflate stream\), but "
                               r".*rgb\.mkv has 4 frames"),
    "too few blocks": (lz4_blocks(3), 0, r"holds 3 depth frames \(length-prefixed frames\), but "
                       r".*rgb\.mkv has 4 frames"),
    "part of a frame": (raw_deflate(b"".join(depth_float(k).tobytes() for k in range(4))[:-8]), 0,
                        r"its raw-deflate stream decodes to 786424 bytes, not whole 256×192 float32 frames"),
    "undecodable block": (prefixed([lz4_frame(depth_mm(0)), lz4_frame(depth_mm(1)), b"\xff" * 300,
                          lz4_frame(depth_mm(3))]), 2, r"frame 2: its 300-byte block is undecodable \(not an lz4 "
                          r"block; not raw deflate: .+\)"),
    "block of another size": (prefixed([lz4_frame(depth_mm(k)[:96, :128]) for k in range(4)]), 0,
                              r"frame 0: its \d+-byte block is undecodable \(lz4 gives 24576 bytes, not 98304; "
                              r"not raw deflate: .+\)"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_DEPTH))
def test_bad_depth_fails_the_scene_when_depth_is_read(handmade_root, name):
    data, index, problem = BAD_DEPTH[name]
    depth = with_depth(handmade_root, data).frames.depth  # loading reads nothing: builds without visibility pass
    for k in range(index):  # frames before a broken block are fine
        np.testing.assert_array_equal(depth.read(k), expected_metres(k, True))
    with pytest.raises(SceneError, match=r"iphone/depth\.bin: " + problem) as info:
        depth.read(index)
    assert "\n" not in str(info.value)


# --- bad input --------------------------------------------------------------------------------------


def _missing_anno(d):
    (d / "scans/segments_anno.json").unlink()
    return "segments_anno.json: file is missing"


def _segment_count(d):
    data = json.loads((d / "scans/segments.json").read_text())
    data["segIndices"] = data["segIndices"][:-10]
    (d / "scans/segments.json").write_text(json.dumps(data))
    return r"segments.json: \d+ segment indices for a mesh of \d+ vertices"


def _edit_anno(d, edit):
    data = json.loads((d / "scans/segments_anno.json").read_text())
    edit(data["segGroups"])
    (d / "scans/segments_anno.json").write_text(json.dumps(data))


def _unknown_segment(d):
    _edit_anno(d, lambda groups: groups[7]["segments"].append(999_999))
    return r"segments_anno.json: object 7 \('tv'\) refers to segment 999999, which no mesh vertex has"


def _zero_extent_obb(d):
    _edit_anno(d, lambda groups: groups[7]["obb"]["axesLengths"].__setitem__(1, 0.0))
    return r"segments_anno.json: segGroups\[7\] \('tv'\) has an `obb` with a zero or negative extent"


def _skewed_obb(d):
    _edit_anno(d, lambda groups: groups[7]["obb"].__setitem__("normalizedAxes", [1, 0, 0, 1, 0, 0, 0, 0, 1]))
    return r"segments_anno.json: segGroups\[7\] \('tv'\) has an unusable `obb`: box rotation is not orthonormal"


def _truncated_mesh(d):
    mesh = d / "scans/mesh_aligned_0.05.ply"
    mesh.write_bytes(mesh.read_bytes()[:-5000])
    return "mesh_aligned_0.05.ply: unreadable PLY"


def _pose_json_syntax(d):
    path = d / "iphone/pose_intrinsic_imu.json"
    path.write_text(path.read_text()[:-20])
    return "pose_intrinsic_imu.json: not valid JSON"


def _pose_shape(d):
    path = d / "iphone/pose_intrinsic_imu.json"
    data = json.loads(path.read_text())
    data["frame_000002"]["aligned_pose"] = data["frame_000002"]["aligned_pose"][:3]
    path.write_text(json.dumps(data))
    return r"pose_intrinsic_imu.json: frame_000002 aligned_pose has shape \(3, 4\), expected \(4, 4\)"


def _pose_not_rigid(d):
    path = d / "iphone/pose_intrinsic_imu.json"
    data = json.loads(path.read_text())
    data["frame_000001"]["aligned_pose"][0][0] = 2.0
    path.write_text(json.dumps(data))
    return "pose_intrinsic_imu.json: frame_000001 aligned_pose is not a rigid transform"


def _more_poses_than_frames(d):
    path = d / "iphone/pose_intrinsic_imu.json"
    data = json.loads(path.read_text())
    data["frame_000004"] = data["frame_000003"]
    path.write_text(json.dumps(data))
    return r"pose_intrinsic_imu.json: has entries up to frame_000004 \(5 frames\), but .*rgb.mkv has 4 frames"


def _video_missing(d):
    (d / "iphone/rgb.mkv").unlink()
    return "rgb.mkv: file is missing"


@pytest.mark.parametrize(
    "breaker",
    [_missing_anno, _segment_count, _unknown_segment, _zero_extent_obb, _skewed_obb, _truncated_mesh,
     _pose_json_syntax, _pose_shape, _pose_not_rigid, _more_poses_than_frames, _video_missing],
)  # fmt: skip
def test_bad_input_fails_the_scene_with_one_line_naming_the_file(handmade_root, breaker):
    pattern = breaker(handmade_root / "data" / SCENE)
    with pytest.raises(SceneError, match=pattern) as info:
        load(handmade_root, "vsibench")
    assert "\n" not in str(info.value)


def test_missing_root_and_missing_root_option():
    with pytest.raises(SourceUnavailable, match="--source scannetpp needs --root"):
        open_source("scannetpp", None)
    with pytest.raises(SceneError, match="ScanNet\\+\\+ root not found"):
        open_source("scannetpp", Path("/nonexistent/scannetpp"))


# --- synthetic ScanNet++ scenes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic-scannetpp")
    source = SyntheticSource(SyntheticConfig(root=root, count=5, frames=6, format="scannetpp"))
    recipe = load_recipe("vsi100k")
    scenes = [source.load(ref, recipe.parse_options(0)) for ref in source.list_scenes()[:3]]
    geometries = [synthesize(s.scene_id, 0, 6) for s in scenes]
    return root, scenes, geometries


def test_synthetic_boxes_equal_the_layout(synthetic):
    _, scenes, geometries = synthetic
    paths = {"obb": 0, "fitted": 0, "obb turned": 0}
    for scene, geometry in zip(scenes, geometries, strict=True):
        placed = geometry.layout.objects
        by_id = {obj.instance_id: obj for obj in scene.objects}
        first = len(geometry.groups) - len(placed)  # object k is group first + k
        for k, truth in enumerate(placed):
            obj = by_id.get(first + k)
            if obj is None:
                continue
            assert obj.raw_label == LABELS.get(truth.raw_label, truth.raw_label)
            if k % NO_OBB_EVERY == NO_OBB_EVERY - 1:
                paths["fitted"] += 1
                assert obj.box.center == pytest.approx(truth.center, abs=0.01)
                assert np.sort(obj.box.extents) == pytest.approx(np.sort(truth.dims), abs=0.01)
            else:  # the annotated box, turned with the object (rounded to 0.1 mm in the file)
                paths["obb"] += 1
                paths["obb turned"] += abs(math.sin(2 * truth.yaw)) > 0.2  # not a multiple of 90°
                assert obj.box.center == pytest.approx(truth.center, abs=1e-4)
                assert obj.box.extents == pytest.approx(truth.dims, abs=1e-4)
                assert obj.box.rotation == pytest.approx(truth.box.rotation, abs=1e-5)
        assert len(by_id) == scene.stats["boxes_from_obb"] + scene.stats["boxes_fitted"]
    assert paths["obb"] >= 10, paths
    assert paths["fitted"] >= 4, paths
    assert paths["obb turned"] >= 1, paths


def test_synthetic_room_is_the_floor_polygon(synthetic):
    _, scenes, geometries = synthetic
    for scene, geometry in zip(scenes, geometries, strict=True):
        assert scene.room.area == pytest.approx(geometry.layout.floor_area, rel=0.01)


def test_synthetic_frames_look_around_the_room_from_eye_height(synthetic):
    _, scenes, geometries = synthetic
    cameras = Cameras.iphone_like(color_size=(640, 480))
    for scene, geometry in zip(scenes, geometries, strict=True):
        frames = scene.frames
        assert (len(frames), frames.width, frames.height) == (6, 640, 480)
        assert frames.intrinsics == pytest.approx(cameras.color_intrinsics)
        assert frames.timestamps == pytest.approx(np.arange(6) / 60)
        positions = frames.poses[:, :3, 3]
        assert shapely.contains_xy(geometry.layout.polygon, positions[:, 0], positions[:, 1]).all()
        assert positions[:, 2] == pytest.approx(1.45, abs=0.06)
        forward, down = frames.poses[:, :3, 2], frames.poses[:, :3, 1]
        assert forward[:, 2] == pytest.approx(math.sin(math.radians(PITCH_DEG)), abs=1e-6)  # slightly down
        assert np.all(down[:, 2] < -0.9)  # image down is world down: the camera is upright
        assert frames.poses == pytest.approx(geometry.poses, abs=1e-9)


def test_synthetic_video_frames_are_the_rendered_ones(synthetic):
    _, scenes, geometries = synthetic
    frames, geometry = scenes[0].frames, geometries[0]
    renderer = Renderer(geometry.vertices, geometry.faces, geometry.colors, Cameras.iphone_like(color_size=(640, 480)))
    sequential = [frames.read_color(i) for i in range(len(frames))]
    for i in (4, 1, 5, 0):  # backwards and forwards again
        assert np.array_equal(frames.read_color(i), sequential[i])
    for i, rgb in enumerate(sequential):
        rendered, _ = renderer.render(geometry.poses[i])
        assert np.abs(rgb.astype(int) - rendered).mean() < 4, i  # H.264 at crf 18
    assert np.abs(sequential[0].astype(int) - sequential[3]).mean() > 10  # the camera turns


def test_synthetic_depth_is_the_rendered_depth(synthetic):
    _, scenes, geometries = synthetic
    cameras = Cameras.iphone_like(color_size=(640, 480))
    depth, geometry = scenes[0].frames.depth, geometries[0]
    assert (depth.width, depth.height) == (256, 192)
    assert depth.intrinsics == pytest.approx(cameras.depth_intrinsics, abs=1e-9)  # recovered from the colour K
    renderer = Renderer(geometry.vertices, geometry.faces, geometry.colors, cameras)
    for i in (3, 0, 5):
        _, rendered = renderer.render(geometry.poses[i])
        read = depth.read(i)
        assert (rendered > 0).mean() > 0.95  # a closed room
        np.testing.assert_allclose(read, rendered, rtol=0, atol=0.0005 + 1e-6)  # millimetres in the file
        np.testing.assert_array_equal(read == 0, np.round(rendered * 1000) == 0)


def test_synthetic_depth_bin_is_per_frame_lz4_millimetres(synthetic):
    """Read with struct and lz4 alone, as the toolkit reads layout (b)."""
    root, scenes, geometries = synthetic
    data = (root / "data" / scenes[0].scene_id / "iphone/depth.bin").read_bytes()
    frames, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("<I", data, at)
        frames.append(lz4.block.decompress(data[at + 4 : at + 4 + size], uncompressed_size=192 * 256 * 2))
        at += 4 + size
    assert at == len(data)
    assert len(frames) == 6
    geometry = geometries[0]
    cameras = Cameras.iphone_like(color_size=(640, 480))
    _, rendered = Renderer(geometry.vertices, geometry.faces, geometry.colors, cameras).render(geometry.poses[4])
    mm = np.frombuffer(frames[4], "<u2").reshape(192, 256)
    np.testing.assert_array_equal(mm, np.round(rendered * 1000))


def test_scenes_cached_before_depth_stay_readable_and_are_rewritten(tmp_path):
    """A synthetic ScanNet++ scene written before depth.bin existed (its marker has no revision) still reads, with
    no depth; the synthetic source writes it again, since the writer's revision changed."""
    source = SyntheticSource(SyntheticConfig(root=tmp_path, count=1, frames=4, format="scannetpp"))
    (ref,) = source.list_scenes()
    write_scene(tmp_path / "data", ref.scene_id, seed=0, num_frames=4)
    (ref.path / "iphone/depth.bin").unlink()
    finish_scene(ref.path, seed=0, num_frames=4)  # the marker as the earlier writer left it
    options = load_recipe("vsibench").parse_options(0)
    old = ScannetppSource(ScannetppConfig(tmp_path)).load(ref, options)
    assert len(old.frames) == 4
    assert old.frames.depth is None
    assert generate_questions(old, load_recipe("vsibench"), seed=0)  # the rest is asked as before
    assert old.stats["appearance_order_no_depth"] == 1
    scene = source.load(ref, options)
    assert (ref.path / "iphone/depth.bin").is_file()
    assert scene.frames.depth.read(3).shape == (192, 256)
    assert (ref.path / ".complete").read_text() == f"seed=0 frames=4 revision={REVISION}\n"


def test_synthetic_files_are_scannetpp_files(synthetic):
    root, scenes, _ = synthetic
    source = ScannetppSource(ScannetppConfig(root))
    assert [r.scene_id for r in source.list_scenes()] == ["ffffff0000", "ffffff0001", "ffffff0002"]
    assert source.splits.by_scene == {f"ffffff000{i}": "val" if i == 4 else "train" for i in range(5)}
    folder = root / "data" / scenes[0].scene_id
    header = (folder / "scans/mesh_aligned_0.05.ply").read_bytes()[:400].split(b"end_header")[0].decode()
    assert "format binary_little_endian 1.0" in header
    assert "property uchar red" in header
    assert "alpha" not in header
    assert "property list uchar int vertex_indices" in header
    groups = json.loads((folder / "scans/segments_anno.json").read_text())["segGroups"]
    assert {"floor", "wall"} <= {g["label"] for g in groups}
    with_obb = [g for g in groups if "obb" in g]
    assert 0 < len(with_obb) < len(groups)
    assert set(with_obb[0]["obb"]) == {"centroid", "axesLengths", "normalizedAxes", "min", "max"}
    poses = json.loads((folder / "iphone/pose_intrinsic_imu.json").read_text())
    assert list(poses) == [f"frame_{i:06d}" for i in range(6)]
    assert set(poses["frame_000000"]) == {"timestamp", "pose", "aligned_pose", "intrinsic", "imu"}


# --- builds -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_synthetic_scannetpp_then_read_it_back_as_scannetpp(tmp_path):
    runner = CliRunner()
    out = tmp_path / "synthetic"
    args = ["build", "--source", "synthetic", "--synthetic-format", "scannetpp", "--out", str(out),
            "--scenes", "2", "--frames", "6", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["built"] == 2
    assert manifest["scenes"]["with_video"] == 2
    rows = read_rows(out)
    assert rows.num_rows > 10
    assert set(rows.column("scene_id").to_pylist()) == {"ffffff0000", "ffffff0001"}

    again = tmp_path / "scannetpp"
    args = ["build", "--source", "scannetpp", "--root", str(out / ".synthetic"), "--out", str(again),
            "--recipe", "vsibench", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["scenes"]["built"] == 2
    assert manifest["scenes"]["with_video"] == 2
    assert (again / "failures.jsonl").read_text() == ""
    rows = read_rows(again)
    assert set(rows.column("dataset").to_pylist()) == {"scannetpp"}
    assert rows.num_rows > 5
    categories = {c for objs in rows.column("objects").to_pylist() for c in objs}
    vsibench = load_recipe("vsibench").vocabulary.categories("scannetpp")
    assert categories
    assert categories <= vsibench


def test_vocabularies_cover_vsibench_scannetpp_categories(realdata):
    meta = json.loads((realdata / "vsibench/scannetpp_meta_info_val.json").read_text())
    names = {name for scene in meta.values() for name in scene["object_bbox"]}
    assert len(names) == 43
    assert load_recipe("vsibench").vocabulary.categories("scannetpp") == names


def test_rewriting_without_frames_removes_the_old_stream(tmp_path):
    folder = write_scene(tmp_path / "data", "ffffff0000", seed=0, num_frames=2).folder
    assert (folder / "iphone/rgb.mkv").is_file()
    assert (folder / "iphone/depth.bin").is_file()
    write_scene(tmp_path / "data", "ffffff0000", seed=0, num_frames=0)
    assert not (folder / "iphone/rgb.mkv").exists()
    assert not (folder / "iphone/depth.bin").exists()
    assert not (folder / "iphone/pose_intrinsic_imu.json").exists()
    source = ScannetppSource(ScannetppConfig(tmp_path))
    assert source.load(source.list_scenes()[0], load_recipe("vsi100k").parse_options(0)).frames is None

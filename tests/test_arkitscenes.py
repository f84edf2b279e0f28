"""The ARKitScenes parser and synthetic writer: hand-made videos with known boxes and frames, synthetic
videos read back against their layouts, bad input, the real split CSV, and builds end to end."""

from __future__ import annotations

import json
from collections import Counter

import av
import cv2
import numpy as np
import pytest
import shapely

import handmade_arkit as hm
from handmade import answer_text
from vsi_data.pipeline import BuildConfig, run_build
from vsi_data.qa import generate_questions, load_recipe
from vsi_data.registry import open_source
from vsi_data.sources.arkitscenes import ArkitScenesConfig, ArkitScenesSource, formats
from vsi_data.sources.arkitscenes.parser import sky_from_poses, upright_camera
from vsi_data.sources.base import SceneError
from vsi_data.synthetic.arkitscenes_writer import ARKIT_LABELS, ArkitScenesFormat, sky_of
from vsi_data.synthetic.writer import apply

VIDEO = "41000001"
SKIES = ("Up", "Left", "Down", "Right")
# The hand-made room under each recipe: category → [(raw label, longest side in cm)].
EXPECTED = {
    "vsibench": {"bed": 1, "sofa": 1, "chair": 3, "tv": 1, "refrigerator": 1, "table": 1},
    "vsi100k": {"bed": 1, "couch": 1, "chair": 3, "tv": 1, "refrigerator": 1, "table": 1, "cabinet": 1},
}
SIZES_CM = {"bed": 200, "sofa": 220, "couch": 220, "tv": 120, "refrigerator": 180, "table": 150, "cabinet": 100}


def handmade_root(tmp_path, sky: str | None = "Left", *, flat: bool = False, frames: bool = True):
    """A 3DOD (or raw) root with one hand-made validation video; `sky` None leaves metadata.csv's value NA."""
    data = tmp_path / ("raw" if flat else "3dod")
    video = hm.write_video(data / "Validation", VIDEO, sky or "Right", flat=flat, frames=frames)
    hm.write_metadata(data / "metadata.csv", {VIDEO: sky})
    hm.write_split_csv(tmp_path / "3dod_train_val_splits.csv", {VIDEO: "Validation", "41000002": "Training"})
    return tmp_path, video


def load(root, recipe_name: str = "vsi100k"):
    recipe = load_recipe(recipe_name)
    source = ArkitScenesSource(ArkitScenesConfig(root))
    (ref,) = source.list_scenes()
    return source.load(ref, recipe.parse_options(seed=0))


# --- (a) a hand-made video ------------------------------------------------------------------------


@pytest.mark.parametrize("recipe_name", ["vsibench", "vsi100k"])
def test_handmade_room_gives_the_known_answers(tmp_path, recipe_name):
    root, _ = handmade_root(tmp_path, frames=False)
    scene = load(root, recipe_name)
    assert scene.split == "val"
    assert scene.counts == EXPECTED[recipe_name]
    assert scene.frames is None
    tv = next(o for o in scene.objects if o.category == "tv")
    assert tv.raw_label == "TV/Monitor"
    assert tv.instance_id == 5  # the index in the annotation's data list
    for obj in scene.objects:  # the released boxes, turned into the ARKit world, unchanged
        box = hm.ARKIT_ROOM[obj.instance_id]
        assert obj.box.center == pytest.approx(hm.to_world(np.asarray(box.center)), abs=1e-9)
        assert obj.box.extents == pytest.approx(box.extents, abs=1e-9)
        assert np.allclose(obj.box.rotation.T, hm.world_axes(box), atol=1e-9)
        assert obj.points is not None
        assert np.all(obj.box.contains(obj.points, tol=1e-4))
    assert scene.stats["objects_outside_vocabulary"] == (1 if recipe_name == "vsibench" else 0)  # the cabinet

    questions = generate_questions(scene, load_recipe(recipe_name), seed=0, exhaustive=True)
    by_type = Counter(q.question_type for q in questions)
    assert set(by_type) >= {"object_counting", "object_size_estimation", "room_size_estimation", "object_abs_distance"}
    boxes = {c: [hm.ARKIT_ROOM[o.instance_id] for o in objs] for c, objs in scene.by_category.items()}
    for q in questions:
        given = answer_text(q)
        if q.question_type == "object_counting":
            assert (q.objects, given) == (["chair"], "3")
        elif q.question_type == "object_size_estimation":
            assert given == str(SIZES_CM[q.objects[0]])
        elif q.question_type == "room_size_estimation" and recipe_name == "vsi100k":
            assert given == "24.0"  # the 6 m × 4 m floor, every vertex
        elif q.question_type == "room_size_estimation":
            assert 22.5 <= float(given) <= 24.0  # VSI-Bench samples 10,000 vertices
        elif q.question_type == "object_abs_distance" and recipe_name == "vsi100k":  # centre to centre
            pairs = [(a, b) for a in boxes[q.objects[0]] for b in boxes[q.objects[1]]]
            d = min(float(np.linalg.norm(np.subtract(a.center, b.center))) for a, b in pairs)
            assert q.meta["distance_m"] == pytest.approx(d, abs=1e-6)
    absd = next(q for q in questions if q.question_type == "object_abs_distance" and set(q.objects) == {"bed", "tv"})
    if recipe_name == "vsi100k":
        # Centres (1.5, 1.0, 0.3) and (1.0, 3.85, 1.2): sqrt(0.5² + 2.85² + 0.9²) = 3.030 m.
        assert absd.answer == "3.0"
        assert absd.meta["distance_m"] == pytest.approx(3.0303, abs=1e-3)
    else:
        # Nearest points: bed top (z 0.6, y ≤ 1.8) to the tv's front (y 3.8, z ≥ 0.85): sqrt(2.0² + 0.25²) = 2.02 m.
        assert 1.95 <= float(answer_text(absd)) <= 2.2


@pytest.mark.parametrize("sky", [*SKIES, None])
def test_upright_frames_project_the_world_where_the_raw_frames_do(tmp_path, sky):
    root, video = handmade_root(tmp_path, sky)
    scene = load(root)
    frames = scene.frames
    truth = sky or "Right"
    sideways = truth in ("Left", "Right")
    assert (frames.width, frames.height) == ((hm.HEIGHT, hm.WIDTH) if sideways else (hm.WIDTH, hm.HEIGHT))
    assert frames.timestamps == pytest.approx([float(i) for i in hm.frame_ids()])
    assert frames.valid.all()  # frame 2's pose is 3 ms late: the nearest-pose lookup finds it
    assert scene.stats["sky_direction_from_poses"] == (sky is None)
    assert scene.stats["sky_direction_disagrees_with_poses"] == 0
    # Image up is world up: the camera's -y points up (it looks down at most 32°), its x stays level.
    assert np.all(-frames.poses[:, 2, 1] > 0.8)
    assert np.abs(frames.poses[:, 2, 0]).max() < 1e-6
    points = hm.markers()
    checked = 0
    for i, raw_pose in enumerate(hm.raw_poses(truth)):
        raw = cv2.imread(str(video.frames_dir / "lowres_wide" / f"{VIDEO}_{hm.frame_ids()[i]}.png"))[..., ::-1]
        upright = frames.read_color(i)
        assert upright.shape == (frames.height, frames.width, 3)
        raw_px, _ = hm.project(raw_pose, hm.raw_k(), points)
        up_px, front = hm.project(frames.poses[i], frames.intrinsics, points)
        pairs = zip(np.round(raw_px).astype(int), np.round(up_px).astype(int), strict=True)
        for k, ((ru, rv), (uu, uv)) in enumerate(pairs):
            if not (front[k] and 0 <= ru < hm.WIDTH and 0 <= rv < hm.HEIGHT):
                continue
            if tuple(raw[rv, ru]) != hm.marker_color(k):  # another marker drawn over this one
                continue
            assert tuple(upright[uv, uu]) == hm.marker_color(k), (i, k)
            checked += 1
    assert checked >= 20


def test_raw_layout_reads_the_same(tmp_path):
    root, _ = handmade_root(tmp_path, "Down", flat=True)
    scene = load(root / "raw")  # --root may also name raw/ itself
    assert scene.counts == EXPECTED["vsi100k"]
    assert len(scene.frames) == 4
    assert (scene.frames.width, scene.frames.height) == (hm.WIDTH, hm.HEIGHT)
    assert np.all(-scene.frames.poses[:, 2, 1] > 0.8)


def test_an_empty_room_is_valid(tmp_path):
    root, _ = handmade_root(tmp_path, frames=False)
    path = root / "3dod/Validation" / VIDEO / f"{VIDEO}_3dod_annotation.json"
    path.write_text(json.dumps({"data": [], "skipped": False}))
    scene = load(root)
    assert scene.objects == []
    assert round(scene.room.area, 1) == 24.0


def test_a_missing_pose_keeps_the_frame_but_marks_it(tmp_path):
    root, video = handmade_root(tmp_path)
    traj = video.frames_dir / "lowres_wide.traj"
    lines = traj.read_text().splitlines()
    traj.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    frames = load(root).frames
    assert len(frames) == 4
    assert frames.valid.tolist() == [True, False, True, True]


def test_upright_camera_and_sky_from_poses_agree():
    k = hm.raw_k()
    for turns, sky in enumerate(("Up", "Left", "Down", "Right")):
        assert formats.CLOCKWISE_TURNS[sky] == turns
        turn, k_up, w, h = upright_camera(turns, hm.WIDTH, hm.HEIGHT, k)
        assert sky_from_poses(hm.raw_poses(sky)) == sky
        assert sky_from_poses(hm.raw_poses(sky) @ turn) == "Up"
        # A 256×192 image turned clockwise: pixel (u, v) goes to (191 - v, u).
        if turns == 1:
            assert (w, h) == (192, 256)
            assert k_up == pytest.approx(np.array([[hm.FY, 0, 191 - hm.CY], [0, hm.FX, hm.CX], [0, 0, 1]]))


# --- (b) synthetic videos --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("arkit")
    fmt = ArkitScenesFormat()
    ids = [fmt.scene_id(i) for i in range(5)]
    splits = {"train": ids[:4], "val": ids[4:]}
    fmt.prepare(root, splits, seed=0)
    written = [fmt.write_scene(root, vid, "val" if vid in splits["val"] else "train", 0, 6) for vid in ids]
    source = fmt.reader(root)
    recipe = load_recipe("vsi100k")
    scenes = [source.load(ref, recipe.parse_options(0)) for ref in source.list_scenes()]
    return root, written, scenes


def test_synthetic_boxes_are_the_layout_boxes_in_the_arkit_world(synthetic):
    _, written, scenes = synthetic
    turned = 0
    for scene, truth in zip(scenes, written, strict=True):
        assert scene.scene_id == truth.folder.name
        expected = [o for o in truth.layout.objects if o.raw_label in ARKIT_LABELS]
        assert len(scene.objects) == len(expected)  # vsi100k keeps all of ARKit's classes
        for obj in scene.objects:
            box = expected[obj.instance_id].box.transformed(truth.files_from_layout)
            assert obj.box.center == pytest.approx(box.center, abs=1e-5)
            assert obj.box.extents == pytest.approx(box.extents, abs=1e-5)
            assert obj.box.rotation == pytest.approx(box.rotation, abs=1e-5)
            turned += abs(np.sin(2 * np.arctan2(obj.box.rotation[1, 0], obj.box.rotation[0, 0]))) > 0.2
        assert scene.room.area == pytest.approx(truth.layout.floor_area, rel=0.01)
    assert turned >= 10  # the session origin's yaw turns every box off the world axes


def test_synthetic_frames_are_upright_for_every_sky_direction(synthetic):
    _, written, scenes = synthetic
    skies = [sky_of(s.scene_id, 0) for s in scenes]
    assert {sky for sky, _ in skies} == set(SKIES)
    assert [listed for _, listed in skies] == [True, True, False, True, True]
    for scene, truth, (sky, listed) in zip(scenes, written, skies, strict=True):
        frames = scene.frames
        assert len(frames) == 6
        assert frames.valid.all()  # every fourth pose is 2 ms late: found by the nearest-pose lookup
        assert scene.stats["sky_direction_from_poses"] == (not listed)
        assert scene.stats["sky_direction_disagrees_with_poses"] == 0
        sideways = sky in ("Left", "Right")
        assert (frames.width, frames.height) == ((192, 256) if sideways else (256, 192))
        assert frames.read_color(0).shape == (frames.height, frames.width, 3)
        raw = cv2.imread(str(next((truth.folder / f"{scene.scene_id}_frames/lowres_wide").glob("*.png"))))
        assert raw.shape == (192, 256, 3)  # the files hold the landscape sensor image
        assert np.all(-frames.poses[:, 2, 1] > 0.95)  # image up is world up (the camera looks 12° down)
        positions = apply(np.linalg.inv(truth.files_from_layout), frames.poses[:, :3, 3])
        assert shapely.contains_xy(truth.layout.polygon, positions[:, 0], positions[:, 1]).all()
        assert positions[:, 2] == pytest.approx(1.45, abs=0.06)


def test_synthetic_files_are_genuine_3dod(synthetic):
    root, written, _ = synthetic
    assert formats.read_split_csv(root / "3dod_train_val_splits.csv") == {
        str(90_000_000 + i): ("val" if i == 4 else "train") for i in range(5)
    }
    metadata = formats.read_metadata(root / "3dod/metadata.csv")
    assert [row["sky_direction"] for row in metadata.values()] == ["Up", "Left", "NA", "Right", "Up"]
    folder = written[0].folder
    assert folder.parent.name == "Training"
    annotation = formats.read_annotation(folder / f"{folder.name}_3dod_annotation.json")
    assert not annotation.skipped
    assert {o.label for o in annotation.objects} <= set(ARKIT_LABELS.values())
    depth = cv2.imread(str(next((folder / f"{folder.name}_frames/lowres_depth").glob("*.png"))), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16
    assert 300 < np.median(depth[depth > 0]) < 8000  # millimetres


# --- (c) bad input ---------------------------------------------------------------------------------


def _annotation(video):
    return video.folder / f"{VIDEO}_3dod_annotation.json"


def _edit_annotation(video, edit):
    data = json.loads(_annotation(video).read_text())
    edit(data)
    _annotation(video).write_text(json.dumps(data))


def _missing_annotation(root, video):
    _annotation(video).unlink()
    return f"{VIDEO}_3dod_annotation.json: file is missing"


def _malformed_json(root, video):
    _annotation(video).write_text('{"data": [')
    return f"{VIDEO}_3dod_annotation.json: not valid JSON"


def _zero_extent(root, video):
    _edit_annotation(video, lambda d: d["data"][0]["segments"]["obbAligned"].update(axesLengths=[2.0, 0.0, 0.6]))
    return r"_3dod_annotation.json: object 4d1e00c0-uid \('bed'\): obbAligned.axesLengths .* has a side ≤ 0"


def _skewed_axes(root, video):
    _edit_annotation(video, lambda d: d["data"][7]["segments"]["obbAligned"].update(normalizedAxes=[1, 0, 0] * 3))
    return r"_3dod_annotation.json: object 4d1e07c0-uid \('table'\): obbAligned.normalizedAxes is not a rotation"


def _skipped(root, video):
    _edit_annotation(video, lambda d: d.update(skipped=True))
    return r"_3dod_annotation.json: the annotators skipped this video"


def _missing_traj_lines(root, video):
    traj = video.frames_dir / "lowres_wide.traj"
    traj.write_text(traj.read_text().splitlines()[0] + "\n")
    return r"lowres_wide.traj: only 1 of 4 frames have a pose within 0.005 s"


def _short_traj_line(root, video):
    traj = video.frames_dir / "lowres_wide.traj"
    lines = traj.read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:6])
    traj.write_text("\n".join(lines))
    return r"lowres_wide.traj: line 2 has 6 numbers, expected 7"


def _unknown_sky(root, video):
    hm.write_metadata(root / "3dod/metadata.csv", {VIDEO: "Sideways"})
    return rf"metadata.csv: video {VIDEO}: unknown sky_direction 'Sideways'"


def _missing_pincam(root, video):
    (video.frames_dir / "lowres_wide_intrinsics" / f"{VIDEO}_6845.807.pincam").unlink()
    return r"\.pincam: intrinsics of frame 6845.807 are missing"


def _wrong_fold(root, video):
    hm.write_split_csv(root / "3dod_train_val_splits.csv", {VIDEO: "Training"})
    return r"the video is in Validation/ but .*3dod_train_val_splits.csv lists it as Training"


def _bad_fold(root, video):
    hm.write_split_csv(root / "3dod_train_val_splits.csv", {VIDEO: "Test"})
    return r"3dod_train_val_splits.csv: line 2: fold 'Test' is not Training or Validation"


def _truncated_mesh(root, video):
    mesh = video.folder / f"{VIDEO}_3dod_mesh.ply"
    mesh.write_bytes(mesh.read_bytes()[:-500])
    return r"_3dod_mesh.ply: unreadable PLY"


@pytest.mark.parametrize(
    "breaker",
    [_missing_annotation, _malformed_json, _zero_extent, _skewed_axes, _skipped, _missing_traj_lines,
     _short_traj_line, _unknown_sky, _missing_pincam, _wrong_fold, _bad_fold, _truncated_mesh],
)  # fmt: skip
def test_bad_input_fails_the_scene_with_one_line_naming_the_file(tmp_path, breaker):
    root, video = handmade_root(tmp_path)
    pattern = breaker(root, video)
    with pytest.raises(SceneError, match=pattern) as info:
        load(root)
    assert "\n" not in str(info.value)


def test_a_folder_that_is_not_arkitscenes_is_refused(tmp_path):
    with pytest.raises(SceneError, match="ARKitScenes root not found"):
        ArkitScenesSource(ArkitScenesConfig(tmp_path))


# --- (d) the real split CSV ------------------------------------------------------------------------


def test_real_split_csv(realdata):
    path = realdata / "arkitscenes/meta/3dod_train_val_splits.csv"
    if not path.is_file():
        pytest.skip("the real 3dod_train_val_splits.csv is not in realdata")
    splits = formats.read_split_csv(path)
    assert Counter(splits.values()) == {"train": 4498, "val": 549}
    benchmark = (realdata / "vsibench/arkitscenes_meta_info_val.json").read_text()
    assert all(splits[video_id] == "val" for video_id in json.loads(benchmark))  # VSI-Bench's 150 videos


def test_the_shipped_other_videos_of_benchmark_visits_are_the_split_csvs(realdata):
    """Every video of a VSI-Bench video's visit_id, and nothing else, is shipped as a benchmark rescan."""
    import csv

    from vsi_data.benchmark import benchmark_rescans, benchmark_scenes

    path = realdata / "arkitscenes/meta/3dod_train_val_splits.csv"
    if not path.is_file():
        pytest.skip("the real 3dod_train_val_splits.csv is not in realdata")
    visits = {row["video_id"]: row["visit_id"] for row in csv.DictReader(path.open())}
    benchmark = {scene for dataset, scene in benchmark_scenes() if dataset == "arkitscenes"}
    benchmark_visits = {visits[video_id] for video_id in benchmark}
    others = {video_id for video_id, visit in visits.items() if visit in benchmark_visits} - benchmark
    assert {scene for dataset, scene in benchmark_rescans() if dataset == "arkitscenes"} == others
    assert len(others) == 300


# --- (e) builds end to end -------------------------------------------------------------------------


def test_synthetic_arkit_build_and_rebuild_from_its_files(tmp_path):
    out = tmp_path / "o"
    first = run_build(
        BuildConfig(
            source="synthetic",
            source_options={"format": "arkitscenes", "frames": 6},
            out=out,
            scenes=2,
            recipe="vsibench",
            quiet=True,
        )
    )
    assert first.exit_code == 0, first.failures
    assert first.manifest["scenes"]["built"] == 2
    assert first.manifest["scenes"]["with_video"] == 2
    assert first.manifest["rows"] > 0
    assert (out / ".synthetic/3dod/Training/90000000/.complete").is_file()
    # Video 90000000 is held upright (landscape), 90000001 sideways (sky Left): portrait, never stretched.
    sizes = []
    for video_id in ("90000000", "90000001"):
        with av.open(str(out / f"videos/synthetic/{video_id}.mp4")) as container:
            stream = container.streams.video[0]
            sizes.append((stream.width, stream.height))
    assert sizes == [(640, 480), (480, 640)]

    second = run_build(BuildConfig(source="arkitscenes", root=out / ".synthetic", out=tmp_path / "o2", quiet=True))
    assert second.exit_code == 0, second.failures
    assert second.manifest["scenes"]["listed"] == 2  # the synthetic build wrote the two it used
    assert second.manifest["scenes"]["built"] == 2
    assert second.manifest["source"] == "arkitscenes"
    assert second.manifest["rows"] > 0


def test_a_training_video_of_a_benchmark_visit_is_left_out(tmp_path):
    """VSI-Bench's video 41159525 is one of three of visit 381879; the other two, 41159521 and 41159526, sit in
    ARKitScenes' Training fold: a default (`--split train`) build would train on the benchmark's room."""
    data = tmp_path / "3dod"
    for video_id in ("41159521", "41159526", "41000003"):
        hm.write_video(data / "Training", video_id, "Up", frames=False)
    hm.write_metadata(data / "metadata.csv", dict.fromkeys(("41159521", "41159526", "41000003"), "Up"))
    result = run_build(BuildConfig(source="arkitscenes", root=tmp_path, out=tmp_path / "o", video=False, quiet=True))
    assert result.exit_code == 0, result.failures
    assert result.manifest["scenes"]["built"] == 1
    assert result.manifest["excluded_benchmark_scenes"] == ["arkitscenes/41159521", "arkitscenes/41159526"]


def test_open_source_needs_a_root():
    from vsi_data.sources import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="--source arkitscenes needs --root"):
        open_source("arkitscenes", None)

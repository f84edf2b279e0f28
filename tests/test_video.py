"""Scene videos end to end on a staged synthetic ScanNet scene: five objects set round the camera at known
bearings, so its one counter-clockwise turn reveals them in a known order, and a trash can hidden behind the
closet. The `.sens` gets two invalid poses. Checks: the mp4 (every frame, 640×480, 24 fps, both readers), its
sidecar, appearance-order answers against the staged order, occlusion, --no-video, and resume. The same staging
written as ScanNet++ (iPhone video, pose file and depth.bin) must give the same order and occlusion."""

from __future__ import annotations

import json
import math
import shutil
import struct
from dataclasses import dataclass

import av
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from vsi_data.cli import app
from vsi_data.geometry.visibility import VisibilityRule, first_visible_frames, object_samples, visible_areas
from vsi_data.output.shards import read_rows
from vsi_data.qa import Recipe, SceneContext, generate_questions, load_recipe
from vsi_data.scene import Scene
from vsi_data.sources.scannet.parser import ScanNetConfig, ScanNetSource
from vsi_data.sources.scannet.sens import SensFile
from vsi_data.sources.scannetpp import ScannetppConfig, ScannetppSource
from vsi_data.synthetic import scannetpp_writer
from vsi_data.synthetic.catalog import KINDS
from vsi_data.synthetic.layout import Layout, PlacedObject
from vsi_data.synthetic.scannet_writer import ScanNetFormat, write_scene
from vsi_data.video import read_frame_table, sidecar_path
from vsi_data.video.sampler import sample_frames

runner = CliRunner()
SCENE = "scene9500_00"
FRAMES = 120  # 5 s of video at 24 fps for the whole turn: 72° a second
START = 0.3  # the camera's first yaw, radians
CENTER = np.array([3.0, 3.0])  # the middle of the 6 m × 6 m room, where the camera turns
# (raw label, vocabulary category, bearing in degrees counter-clockwise from START, distance, w × d × h)
STAGED = [
    ("table", "table", 40, 2.0, (1.2, 0.8, 0.75)),  # in view from the start
    ("couch", "sofa", 100, 2.0, (1.8, 0.9, 0.85)),
    ("plant", "plant", 160, 2.0, (0.45, 0.45, 1.0)),
    ("refrigerator", "refrigerator", 220, 2.0, (0.8, 0.7, 1.8)),
    ("closet", "closet", 280, 2.0, (1.3, 0.6, 2.0)),
]
HIDDEN = ("trash can", "trash bin", 280, 2.7, (0.35, 0.35, 0.5))  # straight behind the closet, by the wall
INVALID = [3, 4]
REVEAL_ORDER = [category for _, category, *_ in STAGED]
SPP_SCENE = "5ca1ab1e00"
SPP_FRAMES = 240  # 4 s at the iPhone's 60 fps: first appearances 0.25 s apart still fall on distinct evaluated frames
ORDER_RECIPE = """\
name: order-test
vocabulary: vsibench
templates: vsibench
types:
  obj_appearance_order:
    per_scene: 6
    min_gap_s: 0.25
    whole_seconds: false
"""


def placed(label: str, bearing: float, distance: float, dims: tuple[float, float, float]) -> PlacedObject:
    angle = START + math.radians(bearing)
    xy = CENTER + distance * np.array([math.cos(angle), math.sin(angle)])
    # local +y (the front) faces the camera
    return PlacedObject(label, np.array([*xy, dims[2] / 2]), angle + math.pi / 2, np.array(dims), KINDS[label].shape)


def invalidate_poses(sens_path, frames):
    """Overwrite the poses of `frames` with -inf in place, as ScanNet stores tracking failures."""
    sens = SensFile(sens_path)
    with open(sens_path, "r+b") as handle:
        for i in frames:
            handle.seek(int(sens._color_at[i][0]) - 96)  # pose (16 f32) + 4 u64 precede the colour bytes
            handle.write(struct.pack("<16f", *([-math.inf] * 16)))


def staged_layout(scene_id: str) -> Layout:
    objects = [placed(label, b, d, dims) for label, _, b, d, dims in [*STAGED, HIDDEN]]
    return Layout(scene_id, "staged", "rectangle", shapely.box(0, 0, 6, 6), 2.7, objects)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("staged")
    ScanNetFormat().prepare(root, {"train": [SCENE]}, seed=0)
    layout = staged_layout(SCENE)
    written = write_scene(root / "scans", SCENE, seed=0, num_frames=FRAMES, layout=layout, start_yaw=START)
    invalidate_poses(written.folder / f"{SCENE}.sens", INVALID)
    recipe_path = root / "order.yaml"
    recipe_path.write_text(ORDER_RECIPE)
    return root, recipe_path


@pytest.fixture(scope="module")
def parsed(staged):
    root, recipe_path = staged
    recipe = load_recipe(recipe_path)
    source = ScanNetSource(ScanNetConfig(root=root))
    return source.load(source.list_scenes()[0], recipe.parse_options(0)), recipe


@pytest.fixture(scope="module")
def built(staged, tmp_path_factory):
    root, recipe_path = staged
    out = tmp_path_factory.mktemp("built") / "out"
    args = ["build", "--source", "scannet", "--root", str(root), "--out", str(out), "--recipe", str(recipe_path)]
    result = runner.invoke(app, [*args, "--exhaustive", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, args


@dataclass(frozen=True)
class Revealed:
    """The staged scene as one source reads it."""

    scene: Scene
    recipe: Recipe
    order: list[str]  # the staged categories the source's vocabulary keeps, in the order the turn reaches them
    hidden: str  # the trash can's category
    depth_half_fov: float  # degrees, of the depth camera the files were rendered with


@pytest.fixture(scope="module", params=["scannet", "scannetpp"])
def revealed(request, parsed, staged, tmp_path_factory) -> Revealed:
    if request.param == "scannet":
        return Revealed(*parsed, REVEAL_ORDER, "trash bin", math.degrees(math.atan(320 / 575)))  # 640 wide, f 575
    root = tmp_path_factory.mktemp("staged-scannetpp")
    layout = staged_layout(SPP_SCENE)
    scannetpp_writer.write_scene(root / "data", SPP_SCENE, 0, SPP_FRAMES, layout=layout, start_yaw=START)
    source = ScannetppSource(ScannetppConfig(root))
    recipe = load_recipe(staged[1])
    scene = source.load(source.list_scenes()[0], recipe.parse_options(0))
    # ScanNet++ labels the closet "wardrobe", which VSI-Bench's ScanNet++ categories lack: it still hides the can
    order = ["table", "sofa", "plant", "refrigerator"]
    return Revealed(scene, recipe, order, "trash can", math.degrees(math.atan(128 / 212)))  # 256 wide, f 212


def test_appearance_order_follows_the_staged_reveal(revealed):
    questions = generate_questions(revealed.scene, revealed.recipe, seed=0, exhaustive=True)
    # every 4 of the revealed categories (5 for ScanNet, 4 for ScanNet++): all are > 0.25 s apart
    assert len(questions) == math.comb(len(revealed.order), 4)
    for q in questions:
        listed = q.objects  # as the question lists them
        assert ", ".join(listed) in q.question
        expected = ", ".join(c for c in revealed.order if c in listed)
        letter = q.answer
        assert any(option == f"{letter}. {expected}" for option in q.options)
        assert len(set(q.options)) == 4
        times = [q.meta["first_appearance_s"][c] for c in expected.split(", ")]
        assert times == sorted(times)
        assert revealed.hidden not in q.objects


def test_first_appearances_happen_when_the_turn_reaches_each_object(revealed):
    scene = revealed.scene
    objects = [scene.by_category[c][0] for c in [*revealed.order, revealed.hidden]]
    first = first_visible_frames(scene.frames, [object_samples(o.points, o.box) for o in objects], VisibilityRule())
    frames = len(scene.frames)
    for frame, (_, _, bearing, distance, dims) in zip(first[:-1], STAGED[: len(revealed.order)], strict=True):
        # when the object's near edge meets the leading edge of the view; frames are evaluated 4 times a second
        # (every 18° of the ScanNet turn, 22.5° of the ScanNet++ one), the object must then cover 0.5% of the
        # frame, and the 0.25 m wobble shifts bearings a little
        edge = bearing - math.degrees(math.atan(dims[0] / 2 / (distance - dims[1] / 2))) - revealed.depth_half_fov
        assert -9 <= frame * 360 / frames - max(0.0, edge) <= 27, (frame, edge)
    assert first[-1] == -1  # the hidden trash can never appears


def test_the_hidden_object_is_in_view_and_only_occlusion_hides_it(revealed):
    scene = revealed.scene
    trash = scene.by_category[revealed.hidden][0]
    frames = scene.frames
    facing = round(280 / 360 * len(frames))  # the camera looks straight at the closet
    depth = frames.depth.read(facing)
    points = object_samples(trash.points, trash.box)
    owner = np.zeros(len(points), dtype=np.int64)
    args = (frames.poses[facing], frames.depth.intrinsics, VisibilityRule())
    assert visible_areas(points, owner, 1, args[0], np.full_like(depth, 50.0), *args[1:])[0] > 0.005
    assert visible_areas(points, owner, 1, args[0], depth, *args[1:])[0] == 0.0


def test_one_mp4_of_every_frame_at_640x480_24fps_for_every_row(built):
    out, _ = built
    rows = read_rows(out)
    assert rows.num_rows == 5
    assert set(rows.column("video").to_pylist()) == {f"videos/scannet/{SCENE}.mp4"}
    video = out / "videos" / "scannet" / f"{SCENE}.mp4"
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert (decoded, stream.width, stream.height, stream.average_rate) == (FRAMES, 640, 480, 24)
        assert stream.codec_context.name == "h264"
    for backend in ("decord", "pyav"):
        sampled = sample_frames(video, num_frames=8, backend=backend)
        assert sampled.total_frames == FRAMES
        assert sampled.fps == pytest.approx(24.0)
        assert sampled.indices.tolist() == np.linspace(0, FRAMES - 1, 8).round().astype(int).tolist()


def test_the_sidecar_holds_every_frame_pose_and_time(built, parsed):
    out, _ = built
    scene, _ = parsed
    table = read_frame_table(sidecar_path(out / "videos" / "scannet" / f"{SCENE}.mp4"))
    assert len(table) == FRAMES
    assert (table.fps, table.video_size, table.width, table.height) == (24.0, (640, 480), 1296, 968)
    assert np.flatnonzero(~table.valid).tolist() == INVALID
    assert np.isnan(table.poses[INVALID]).all()
    np.testing.assert_allclose(table.poses[table.valid], scene.frames.poses[table.valid])
    np.testing.assert_allclose(table.video_times, np.arange(FRAMES) / 24)
    np.testing.assert_allclose(table.timestamps, np.round(np.arange(FRAMES) * 1e6 / 30) / 1e6)  # the sensor's 30 Hz
    np.testing.assert_allclose(table.intrinsics, scene.frames.intrinsics)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["invalid_poses"] == len(INVALID)
    assert manifest["skipped_types"] == {}


def test_resume_keeps_the_video_it_already_wrote(built):
    out, args = built
    video = out / "videos" / "scannet" / f"{SCENE}.mp4"
    before = (video.stat().st_mtime_ns, read_rows(out))
    next((out / ".parts").glob("*.parquet")).unlink()  # the scene is redone, its video is intact
    result = runner.invoke(app, [*args, "--exhaustive", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert video.stat().st_mtime_ns == before[0]
    assert read_rows(out).equals(before[1])
    assert "video" not in json.loads((out / "manifest.json").read_text())["timings_s"]


def test_no_video_builds_questions_without_videos_and_says_so(staged, tmp_path):
    root, _ = staged
    out = tmp_path / "out"
    args = ["build", "--source", "scannet", "--root", str(root), "--out", str(out), "--recipe", "vsibench"]
    result = runner.invoke(app, [*args, "--no-video", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows.num_rows > 0
    assert set(rows.column("video").to_pylist()) == {None}
    assert "obj_appearance_order" not in rows.column("question_type").to_pylist()
    assert not (out / "videos").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["video"] is False
    assert manifest["scenes"]["with_video"] == 0
    assert list(manifest["skipped_types"]) == ["obj_appearance_order"]


@pytest.mark.slow
def test_a_no_video_build_never_reads_the_camera_stream(staged, tmp_path):
    """--no-video needs no frames, so a cut-off `.sens` does not fail the scene (with video it must)."""
    root = tmp_path / "root"
    shutil.copytree(staged[0], root)
    sens = root / "scans" / SCENE / f"{SCENE}.sens"
    sens.write_bytes(sens.read_bytes()[:4000])
    args = ["build", "--source", "scannet", "--root", str(root), "--recipe", "vsibench", "--workers", "1", "--quiet"]
    without = runner.invoke(app, [*args, "--out", str(tmp_path / "without"), "--no-video"])
    assert without.exit_code == 0, without.output
    assert read_rows(tmp_path / "without").num_rows > 0
    assert json.loads((tmp_path / "without" / "manifest.json").read_text())["scenes"]["built"] == 1
    with_video = runner.invoke(app, [*args, "--out", str(tmp_path / "with")])
    assert with_video.exit_code == 1, with_video.output  # the only scene failed
    failure = json.loads((tmp_path / "with" / "failures.jsonl").read_text().splitlines()[0])
    assert failure["error"].startswith(str(sens))
    assert "truncated" in failure["error"]


def test_appearance_order_needs_no_video_file_but_a_video_build(parsed):
    scene, recipe = parsed
    assert generate_questions(scene, recipe, seed=0, exhaustive=True, video=False) == []
    ctx = SceneContext(scene, recipe.geometry.distance, recipe.vocabulary)
    assert "trash bin" in ctx.askable  # asked about if it were visible: left out only because it is hidden


def synthetic_build(tmp_path, fmt: str, *extra: str):
    out = tmp_path / fmt
    args = ["build", "--source", "synthetic", "--synthetic-format", fmt, "--out", str(out), "--scenes", "1"]
    result = runner.invoke(app, [*args, "--frames", "8", "--recipe", "vsibench", "--workers", "1", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    (video,) = set(read_rows(out).column("video").to_pylist())
    return out, out / video


def stream_facts(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.width, stream.height, stream.codec_context.name


@pytest.mark.slow
def test_scannetpp_iphone_video_is_copied_as_is_unless_reencoding_is_asked(tmp_path):
    out, video = synthetic_build(tmp_path / "copy", "scannetpp")
    (source,) = (out / ".synthetic" / "data").glob("*/iphone/rgb.mkv")
    count, width, height, codec = stream_facts(source)
    assert stream_facts(video) == (count, width, height, codec) == (8, width, height, "h264")
    with av.open(str(source)) as src, av.open(str(video)) as dst:  # the very packets, not a re-encode
        packets = [bytes(p) for p in src.demux(src.streams.video[0]) if p.size]
        assert [bytes(p) for p in dst.demux(dst.streams.video[0]) if p.size] == packets
    table = read_frame_table(sidecar_path(video))
    assert (len(table), table.fps, table.video_size) == (8, 60.0, (width, height))
    manifest = json.loads((out / "manifest.json").read_text())
    assert "appearance_order_no_depth" not in manifest["parse_stats"]  # the iPhone's depth.bin is read

    _, reencoded = synthetic_build(tmp_path / "reencode", "scannetpp", "--reencode-video")
    assert stream_facts(reencoded) == (8, 640, 480, "h264")
    with av.open(str(reencoded)) as container:
        assert container.streams.video[0].average_rate == 60
        assert [bytes(p) for p in container.demux(container.streams.video[0]) if p.size] != packets


@pytest.mark.slow
def test_synthetic_scannetpp_builds_ask_appearance_order_from_the_iphone_depth(tmp_path):
    """VSI-Bench's filter needs four categories whole seconds apart: 600 frames (10 s at 60 fps) of the one val
    scene among the first five, whose turn passes its furniture a second or more apart."""
    out = tmp_path / "out"
    args = ["build", "--source", "synthetic", "--synthetic-format", "scannetpp", "--split", "val", "--scenes", "1",
            "--frames", "600", "--recipe", "vsibench", "--exhaustive", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, [*args, "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [row for row in read_rows(out).to_pylist() if row["question_type"] == "obj_appearance_order"]
    assert len(rows) >= 3
    for row in rows:
        meta = json.loads(row["meta"])
        assert meta["fps"] == 60.0
        times = meta["first_appearance_s"]
        order = sorted(row["objects"], key=times.get)
        assert row["answer"] + ". " + ", ".join(order) in row["options"]
        rounded = np.round(sorted(times.values()))
        assert (np.diff(rounded) > 1).all()
        for category, frame in meta["first_frame"].items():
            assert times[category] == pytest.approx(frame / 60, abs=1e-3)
            assert frame % 15 == 0  # an evaluated frame: 4 a second
    manifest = json.loads((out / "manifest.json").read_text())
    assert "appearance_order_no_depth" not in manifest["parse_stats"]


def test_arkitscenes_video_runs_at_the_capture_rate_upright_with_depth(tmp_path):
    out, video = synthetic_build(tmp_path, "arkitscenes")
    with av.open(str(video)) as container:
        assert container.streams.video[0].average_rate == 10  # lowres_wide frames 0.1 s apart
    assert stream_facts(video)[:3] in ((8, 480, 640), (8, 640, 480))
    table = read_frame_table(sidecar_path(video))
    assert table.fps == 10.0
    assert table.video_size == stream_facts(video)[1:3]
    np.testing.assert_allclose(table.video_times, np.arange(8) / 10)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parse_stats"].get("videos_without_depth", 0) == 0


def test_vsi100k_leaves_appearance_order_out_but_a_user_recipe_can_enable_it(tmp_path, parsed):
    assert "obj_appearance_order" not in {g.question_type for g in load_recipe("vsi100k").generators}
    user = tmp_path / "mine.yaml"
    user.write_text(
        "name: mine\nvocabulary: vsibench\ntemplates: vsi100k\noptions: none\n"
        "types:\n  obj_appearance_order: {min_gap_s: 0.25, whole_seconds: false}\n"
    )
    scene, _ = parsed
    questions = generate_questions(scene, load_recipe(user), seed=0, exhaustive=True)
    assert len(questions) == 5
    for q in questions:
        assert q.options is None
        assert q.answer == ", ".join(c for c in REVEAL_ORDER if c in q.objects)  # the order itself, no letter

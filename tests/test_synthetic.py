"""Synthetic scenes read back through the ScanNet parser match the layouts they were written from."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import shapely

from vsi_data.qa import load_recipe
from vsi_data.seeding import rng_for
from vsi_data.sources.scannet import formats
from vsi_data.synthetic import SyntheticConfig, SyntheticSource
from vsi_data.synthetic.layout import ROOM_SHAPES, make_layout
from vsi_data.synthetic.scannet_writer import write_scene


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    source = SyntheticSource(SyntheticConfig(root=root, count=5, frames=6))
    recipe = load_recipe("vsi100k")
    scenes = [source.load(ref, recipe.parse_options(0)) for ref in source.list_scenes()[:3]]
    layouts = [make_layout(s.scene_id, rng_for(0, "synthetic-layout", s.scene_id)) for s in scenes]
    return root, scenes, layouts


def test_objects_and_boxes_match_the_layout(parsed):
    _, scenes, layouts = parsed
    for scene, layout in zip(scenes, layouts, strict=True):
        kept = [o for o in layout.objects if o.raw_label in {obj.raw_label for obj in scene.objects} | {"desk"}]
        assert Counter(o.raw_label for o in scene.objects) == Counter(o.raw_label for o in kept)
        truth = {(o.raw_label, tuple(np.round(o.center, 2))): o for o in kept}
        for obj in scene.objects:
            match = min(
                truth.values(), key=lambda t: np.linalg.norm(t.center - obj.box.center) + (t.raw_label != obj.raw_label)
            )
            assert obj.box.center == pytest.approx(match.center, abs=0.01)
            assert np.sort(obj.box.extents) == pytest.approx(np.sort(match.dims), abs=0.01)


def test_room_area_matches_the_floor_polygon(parsed):
    _, scenes, layouts = parsed
    for scene, layout in zip(scenes, layouts, strict=True):
        # Every mesh vertex (vsi100k): the alpha shape hugs the polygon; concave corners add a few cm².
        assert scene.room.area == pytest.approx(layout.floor_area, rel=0.01)


def test_synthetic_files_are_genuine_scannet(parsed):
    root, scenes, _ = parsed
    assert formats.read_split_lists(root) == {f"scene{9000 + i}_00": ("val" if i == 4 else "train") for i in range(5)}
    folder = root / "scans" / scenes[0].scene_id
    alignment = formats.parse_axis_alignment(formats.read_meta(folder / f"{scenes[0].scene_id}.txt"), folder)
    assert not np.allclose(alignment, np.eye(4))  # the files hold the raw frame
    raw, _ = formats.read_mesh_vertices(folder / f"{scenes[0].scene_id}_vh_clean_2.ply")
    assert raw.min(axis=0) == pytest.approx([0, 0, 0], abs=0.01)  # like a real scan, the raw minimum is the origin
    groups = formats.read_aggregation(folder / f"{scenes[0].scene_id}.aggregation.json")
    assert {"floor", "wall"} <= {g["label"] for g in groups}
    segs = formats.read_segments(folder / f"{scenes[0].scene_id}_vh_clean_2.0.010000.segs.json", len(raw))
    assert len(np.unique(segs)) > len(groups)  # several over-segments per object, arbitrary ids
    assert scenes[0].frames is not None
    assert len(scenes[0].frames) == 6
    assert scenes[0].frames.valid.all()


def test_camera_poses_come_back_in_the_aligned_room_frame(parsed):
    _, scenes, layouts = parsed
    for scene, layout in zip(scenes, layouts, strict=True):
        positions = scene.frames.poses[:, :3, 3]
        assert shapely.contains_xy(layout.polygon, positions[:, 0], positions[:, 1]).all()
        assert positions[:, 2] == pytest.approx(1.45, abs=0.06)  # eye height above the aligned floor
        forward = scene.frames.poses[:, :3, 2]
        assert np.all(forward[:, 2] < 0)  # looking slightly down, not at the ceiling


def test_layouts_cover_every_room_shape_and_repeat_categories():
    shapes, repeated, rotated = set(), 0, 0
    for k in range(12):
        layout = make_layout(f"s{k}", rng_for(1, "layouts", str(k)))
        shapes.add(layout.room_shape)
        counts = Counter(o.raw_label for o in layout.objects)
        repeated += any(n > 1 for label, n in counts.items() if label not in {"window", "door"})
        rotated += any(abs(np.sin(2 * o.yaw)) > 0.2 for o in layout.objects)  # not a multiple of 90°
    assert shapes == set(ROOM_SHAPES)
    assert repeated >= 8
    assert rotated >= 8


def test_an_interrupted_rewrite_is_never_taken_for_a_finished_scene(tmp_path, monkeypatch):
    from vsi_data.synthetic import scannet_writer as writer
    from vsi_data.synthetic.writer import is_written

    scans = tmp_path / "scans"
    writer.write_scene(scans, "scene9000_00", seed=0, num_frames=2)
    assert is_written(scans / "scene9000_00", 0, 2, writer.REVISION)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.formats, "write_meta", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.write_scene(scans, "scene9000_00", seed=1, num_frames=0)
    assert not is_written(scans / "scene9000_00", 0, 2, writer.REVISION)  # the old marker went before any file changed
    assert not (scans / "scene9000_00" / "scene9000_00.sens").exists()


def test_frames_see_the_room(tmp_path):
    scene = write_scene(tmp_path / "scans", "scene9000_00", seed=3, num_frames=8)
    from vsi_data.sources.scannet.sens import SensFile

    sens = SensFile(scene.folder / "scene9000_00.sens")
    depth = sens.read_depth(3)
    assert (depth > 0).mean() > 0.95  # closed room: nearly every ray hits a surface
    assert 0.3 < float(np.median(depth[depth > 0])) < 8.0
    color = sens.read_color(3)
    assert color.shape == (968, 1296, 3)
    assert color.std() > 10  # not a blank frame

"""Visibility by hand: flat plates in front of a camera, a depth map drawn by hand, areas counted by hand."""

from __future__ import annotations

import numpy as np

from vsi_data.geometry.visibility import VisibilityRule, evaluated_frames, scale_intrinsics, visible_areas

# 200×200 image, focal 100 px, principal point at the centre (pixel centres at integers).
K = np.array([[100.0, 0.0, 99.5], [0.0, 100.0, 99.5], [0.0, 0.0, 1.0]])
RULE = VisibilityRule(min_visible_area=0.0)  # areas are checked directly


def plate(x0: float, x1: float, y0: float, y1: float, z: float) -> np.ndarray:
    """A fronto-parallel plate sampled every centimetre."""
    xs, ys = np.meshgrid(np.arange(x0, x1 + 1e-9, 0.01), np.arange(y0, y1 + 1e-9, 0.01))
    return np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)])


def pixels(x0: float, x1: float, z: float) -> slice:
    """The pixel span a plate edge range covers at depth z: floor(100·x/z + 99.5 + 0.5)."""
    return slice(int(np.floor(100 * x0 / z + 100)), int(np.floor(100 * x1 / z + 100)) + 1)


NEAR = plate(-0.5, 0.5, -0.5, 0.5, 2.0)  # pixels 75..125 both ways
HIDDEN = plate(-0.4, 0.4, -0.4, 0.4, 4.0)  # pixels 90..110: straight behind NEAR
SIDE = plate(1.0, 1.6, -0.4, 0.4, 4.0)  # columns 125..140, rows 90..110: beside NEAR


def areas(depth: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
    points = np.concatenate([NEAR, HIDDEN, SIDE])
    owner = np.repeat([0, 1, 2], [len(NEAR), len(HIDDEN), len(SIDE)])
    return visible_areas(points, owner, 3, np.eye(4) if pose is None else pose, depth, K, RULE)


def scene_depth(with_near: bool) -> np.ndarray:
    depth = np.full((200, 200), 6.0, dtype=np.float32)  # a wall behind everything
    depth[pixels(-0.4, 0.4, 4.0), pixels(-0.4, 0.4, 4.0)] = 4.0
    depth[pixels(-0.4, 0.4, 4.0), pixels(1.0, 1.6, 4.0)] = 4.0
    if with_near:
        depth[pixels(-0.5, 0.5, 2.0), pixels(-0.5, 0.5, 2.0)] = 2.0
    return depth


def test_an_object_behind_a_nearer_one_is_not_visible():
    near, hidden, side = areas(scene_depth(with_near=True))
    # NEAR covers pixels 75..125: cells 9..15 (8-px cells) both ways, 7×7 cells of 64 px in 200×200 pixels.
    assert near == 7 * 7 * 64 / 40_000
    assert hidden == 0.0
    # SIDE covers columns 125..140 (cells 15..17) and rows 90..110 (cells 11..13).
    assert side == 3 * 3 * 64 / 40_000


def test_the_same_object_is_visible_once_the_occluder_is_gone():
    near, hidden, side = areas(scene_depth(with_near=False))
    assert hidden == 3 * 3 * 64 / 40_000  # pixels 90..110: cells 11..13
    assert side == 3 * 3 * 64 / 40_000
    assert near == 7 * 7 * 64 / 40_000  # NEAR's points lie in front of what the depth map shows: not hidden


def test_pixels_without_depth_and_points_outside_the_frame_see_nothing():
    depth = scene_depth(with_near=True)
    depth[:, :130] = 0.0  # no measurement left of column 130
    near, hidden, side = areas(depth)
    assert near == 0.0
    assert hidden == 0.0
    assert side == 2 * 3 * 64 / 40_000  # columns 130..140: cells 16..17
    turned = np.diag([-1.0, 1.0, -1.0, 1.0])  # the camera turned round: everything is behind it
    assert not areas(scene_depth(with_near=True), turned).any()


def test_depth_tolerance_lets_a_surface_see_itself_through_sensor_noise():
    depth = scene_depth(with_near=True) - 0.08  # every measurement 8 cm short
    near, _, side = areas(depth)
    # NEAR at 2 m: tolerance 0.05 + 0.02 × 1.92 = 0.088 m > 0.08, seen. SIDE at 4 m: 0.05 + 0.078 > 0.08, seen.
    assert near > 0
    assert side > 0
    strict = VisibilityRule(min_visible_area=0.0, depth_tolerance=0.0, depth_tolerance_rel=0.0)
    points, owner = np.concatenate([NEAR, SIDE]), np.repeat([0, 1], [len(NEAR), len(SIDE)])
    assert not visible_areas(points, owner, 2, np.eye(4), depth, K, strict).any()


def test_evaluated_frames_skip_invalid_poses_and_sample_each_slice_once():
    valid = np.ones(24, dtype=bool)
    valid[[0, 1, 7]] = False  # frames without a pose
    # 4 samples a second at 24 fps: slices of 6 frames; the first valid frame of each.
    assert evaluated_frames(valid, 24.0, 4.0).tolist() == [2, 6, 12, 18]


def test_intrinsics_scale_with_pixel_centres_at_integers():
    k = scale_intrinsics(np.array([[575.0, 0, 319.5], [0, 575.0, 239.5], [0, 0, 1]]), (640, 480), (1280, 960))
    np.testing.assert_allclose(k, [[1150.0, 0, 639.5], [0, 1150.0, 479.5], [0, 0, 1]])

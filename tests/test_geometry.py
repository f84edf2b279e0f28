"""Geometry: hand-computed values, the alphashape library as reference, and invariants (hypothesis)."""

from __future__ import annotations

import math
from collections import Counter

import alphashape
import numpy as np
import pytest
import pythoncdt
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from handmade import Box, surface_samples
from vsi_data.geometry import (
    OrientedBox,
    RoomAreaError,
    alpha_shape,
    boundary_margin,
    boxes_overlap,
    center_distance_matrix,
    closest_box_distance_matrix,
    closest_points_distance,
    direction_angles,
    fit_box,
    read_direction,
    room_area,
    sector_of,
)
from vsi_data.geometry import area as area_module
from vsi_data.geometry import boxes as boxes_module
from vsi_data.geometry.distance import box_grid_points

HARD = {"front-left": (0, 90), "back-left": (90, 180), "back-right": (180, 270), "front-right": (270, 360)}
MEDIUM = {"left": (0, 135), "back": (135, 225), "right": (225, 360)}


def rot_z(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


# --- boxes ------------------------------------------------------------------------------------------


def test_fit_box_recovers_a_rotated_box_from_its_surface_samples():
    truth = Box("x", (1.0, -2.0, 0.5), (1.2, 0.4, 0.9), yaw_deg=33.0)
    stats = Counter()
    box = fit_box(surface_samples(truth), stats=stats)
    # open3d's own box, not a fallback: open3d 0.20 returns zero extents on such clean planar samples
    assert stats == {"box_fit:minimal_open3d": 1}
    assert np.sort(box.extents) == pytest.approx([0.4, 0.9, 1.2], abs=1e-6)
    assert box.center == pytest.approx([1.0, -2.0, 0.5], abs=1e-6)
    assert box.longest_side == pytest.approx(1.2, abs=1e-6)


def test_upright_fit_keeps_z_vertical_even_for_a_tilted_object():
    points = (
        surface_samples(Box("x", (0, 0, 0), (1.0, 0.5, 0.2)))
        @ np.array([[1, 0, 0], [0, math.cos(0.3), -math.sin(0.3)], [0, math.sin(0.3), math.cos(0.3)]]).T
    )
    box = fit_box(points, "upright")
    assert abs(box.rotation[2, 2]) == pytest.approx(1.0)
    assert np.all(box.contains(points, tol=1e-9))


def test_fit_box_rejects_a_zero_extent_box_and_refits(monkeypatch):
    """open3d 0.20's minimal OBB can return all-zero extents; such a box must never be accepted."""

    def collapsed(points: np.ndarray) -> OrientedBox:
        return OrientedBox(points.mean(0), np.zeros(3), np.eye(3))

    fitters = (collapsed, *boxes_module._FITTERS["minimal"][1:])
    monkeypatch.setitem(boxes_module._FITTERS, "minimal", fitters)
    points = surface_samples(Box("x", (0, 0, 0), (2.0, 1.0, 0.5), yaw_deg=20))
    stats = Counter()
    box = fit_box(points, stats=stats)
    assert np.sort(box.extents) == pytest.approx([0.5, 1.0, 2.0], abs=1e-6)
    assert stats == {"box_rejected:collapsed": 1, "box_fit:minimal_open3d_joggled": 1}


def test_fit_box_on_a_real_scannet_object_holds_every_point(realdata):
    plyfile = pytest.importorskip("plyfile")
    ply = plyfile.PlyData.read(str(realdata / "scannet/scene0470_00/scene0470_00_vh_clean_2.labels.ply"))
    v = ply["vertex"]
    xyz = np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64)
    for label in (5, 7, 39):  # chair, table, otherfurniture segments of a real scan
        points = xyz[np.asarray(v["label"]) == label]
        box = fit_box(points)
        assert np.all(box.contains(points, tol=1e-4))
        assert box.extents.min() > 0.05  # a real object, never a collapsed dimension
        aabb = points.max(0) - points.min(0)
        assert box.volume <= np.prod(aabb) * 1.01


def test_fit_box_handles_flat_point_sets():
    rng = np.random.default_rng(0)
    poster = np.column_stack([rng.uniform(0, 1, 200), rng.uniform(0, 0.6, 200), np.full(200, 1.5)])
    stats = Counter()
    box = fit_box(poster, stats=stats)
    # Qhull rejects the plain hull of a flat set; the joggled hull (open3d's robust mode) still fits it
    assert stats == {"box_rejected:minimal_open3d": 1, "box_fit:minimal_open3d_joggled": 1}
    assert np.all(box.contains(poster, tol=1e-6))
    assert np.sort(box.extents)[0] == pytest.approx(0.0, abs=1e-6)
    assert box.longest_side == pytest.approx(math.hypot(*(poster.max(0) - poster.min(0))[:2]), rel=0.5)


def test_from_axes_rows_reads_the_vsibench_convention():
    # VSI-Bench's normalizedAxes rows are the box axes; its `min`/`max` are the corners' bounds.
    axes = rot_z(30.0).T.reshape(-1)
    box = OrientedBox.from_axes_rows([1, 2, 3], [2.0, 1.0, 0.5], axes)
    assert box.rotation[:, 0] == pytest.approx([math.cos(math.radians(30)), math.sin(math.radians(30)), 0])
    assert box.as_dict()["normalizedAxes"] == pytest.approx(axes, abs=1e-6)


# --- distances --------------------------------------------------------------------------------------


def test_distances_between_axis_aligned_boxes_by_hand():
    a = OrientedBox.axis_aligned([0, 0, 0], [1, 1, 1])
    b = OrientedBox.axis_aligned([2, 0, 0], [3, 1, 1])  # 1 m gap along x
    c = OrientedBox.axis_aligned([2, 2, 2], [3, 3, 3])  # corner to corner: sqrt(3)
    assert closest_box_distance_matrix([a], [b, c])[0] == pytest.approx([1.0, math.sqrt(3)])
    assert center_distance_matrix([a], [b])[0, 0] == pytest.approx(2.0)


def test_rotated_box_distance_by_hand():
    a = OrientedBox.axis_aligned([0, 0, 0], [1, 1, 1])
    diamond = OrientedBox(center=[3, 0.5, 0.5], extents=[1, 1, 1], rotation=rot_z(45))
    # The diamond's nearest corner is sqrt(0.5) from its centre, at x = 3 - 0.7071; a's face is at x = 1.
    assert closest_box_distance_matrix([a], [diamond])[0, 0] == pytest.approx(2 - math.sqrt(0.5))


def test_crossed_boxes_overlap_even_with_no_corner_inside_the_other():
    thin_x = OrientedBox.axis_aligned([-2, -0.1, -1], [2, 0.1, 1])
    tall_y = OrientedBox.axis_aligned([-0.1, -2, -2], [0.1, 2, 2])
    assert boxes_overlap([thin_x], [tall_y])[0, 0]
    assert closest_box_distance_matrix([thin_x], [tall_y])[0, 0] == 0.0


box_strategy = st.builds(
    lambda c, e, yaw: OrientedBox(center=c, extents=e, rotation=rot_z(yaw)),
    st.tuples(*[st.floats(-3, 3)] * 3),
    st.tuples(*[st.floats(0.05, 2)] * 3),
    st.floats(0, 360),
)


@settings(max_examples=60, deadline=None)
@given(box_strategy, box_strategy)
def test_box_distance_is_symmetric_and_matches_dense_sampling(a, b):
    ab = closest_box_distance_matrix([a], [b])[0, 0]
    assert closest_box_distance_matrix([b], [a])[0, 0] == pytest.approx(ab, abs=1e-9)
    pa = surface_samples(
        Box("a", tuple(a.center), tuple(a.extents), math.degrees(math.atan2(a.rotation[1, 0], a.rotation[0, 0]))), 0.02
    )
    pb = surface_samples(
        Box("b", tuple(b.center), tuple(b.extents), math.degrees(math.atan2(b.rotation[1, 0], b.rotation[0, 0]))), 0.02
    )
    sampled = cKDTree(pb).query(pa)[0].min()
    # Exact distance is never above the sampled one, and within the sampling resolution of it (when apart).
    assert ab <= sampled + 1e-6
    if ab > 0:
        assert sampled - ab < 0.03


@settings(max_examples=40, deadline=None)
@given(box_strategy, box_strategy, st.floats(0, 360), st.tuples(*[st.floats(-5, 5)] * 3))
def test_box_distance_is_invariant_under_rigid_motion(a, b, yaw, shift):
    motion = np.eye(4)
    motion[:3, :3], motion[:3, 3] = rot_z(yaw), shift
    before = closest_box_distance_matrix([a], [b])[0, 0]
    after = closest_box_distance_matrix([a.transformed(motion)], [b.transformed(motion)])[0, 0]
    assert after == pytest.approx(before, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(box_strategy, box_strategy, st.integers(0, 2**31), st.floats(1.0, 1.5), st.sampled_from([None, 0.05]))
def test_closest_points_with_boxes_equals_the_plain_search(a, b, seed, spread, grid):
    """The box-pruned search returns exactly the plain KD-tree search's number: on VSI-Bench's box grids, and
    on random points that reach up to half a box beyond their box (as an annotation box may)."""
    rng = np.random.default_rng(seed)
    if grid:
        pa, pb = box_grid_points(a, grid), box_grid_points(b, grid)
    else:
        pa, pb = (
            box.center + (rng.uniform(-0.5, 0.5, (300, 3)) * box.extents * spread) @ box.rotation.T for box in (a, b)
        )
    plain = cKDTree(pb).query(pa)[0].min()
    assert closest_points_distance(pa, pb, a, b) == plain
    assert closest_points_distance(pa, pb) == plain


def test_box_grid_points_are_a_hollow_shell_inside_the_box():
    box = OrientedBox(center=[1, 2, 0.5], extents=[1.0, 0.6, 0.4], rotation=rot_z(20))
    points = box_grid_points(box)
    local = box.to_local(points)
    assert np.all(np.abs(local) <= box.extents / 2 + 1e-9)
    assert np.all(np.any(np.abs(local) > box.extents / 4, axis=1))  # the core is hollow
    tiny = box_grid_points(OrientedBox(center=[0, 0, 0], extents=[0.01, 0.01, 0.01], rotation=np.eye(3)))
    assert len(tiny) > 0


# --- room area --------------------------------------------------------------------------------------


def test_room_area_of_a_dense_l_shape_is_its_polygon_area():
    g = np.linspace(0, 4, 81)
    xx, yy = np.meshgrid(g, g)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    l_shape = pts[~((pts[:, 0] > 2) & (pts[:, 1] > 2))]  # 16 m² minus the 2×2 corner
    # Small triangles bridge the concave corner (as in the alphashape library): a few hundredths of a m².
    assert room_area(l_shape) == pytest.approx(alphashape.alphashape(l_shape, 5.0).area, rel=1e-9)
    assert 12.0 <= room_area(l_shape) < 12.05
    shape = alpha_shape(l_shape)
    assert shape.footprint().area == pytest.approx(shape.area)


def test_room_area_fills_enclosed_holes_like_alphashape():
    g = np.linspace(0, 5, 101)
    xx, yy = np.meshgrid(g, g)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    ring = pts[(np.abs(pts[:, 0] - 2.5) > 1) | (np.abs(pts[:, 1] - 2.5) > 1)]  # a 2 m empty square inside
    assert room_area(ring) == pytest.approx(25.0, abs=1e-9)
    assert room_area(ring) == pytest.approx(alphashape.alphashape(ring, 5.0).area, rel=1e-9)


def test_room_area_equals_the_alphashape_library_on_the_real_scannet_mesh(realdata):
    plyfile = pytest.importorskip("plyfile")
    ply = plyfile.PlyData.read(str(realdata / "scannet/scene0470_00/scene0470_00_vh_clean_2.ply"))
    v = ply["vertex"]
    xy = np.stack([v["x"], v["y"]], axis=1).astype(np.float64)
    sample = xy[np.random.default_rng(0).choice(len(xy), 10_000)]  # VSI-Bench's 10k points, with replacement
    assert room_area(sample) == pytest.approx(alphashape.alphashape(sample, 5.0).area, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.floats(0, 360), st.floats(-50, 50), st.floats(-50, 50))
def test_room_area_is_invariant_under_rotation_and_translation(seed, yaw, dx, dy):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, [5, 3], size=(800, 2))
    moved = pts @ rot_z(yaw)[:2, :2].T + [dx, dy]
    assert room_area(moved) == pytest.approx(room_area(pts), rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 4))
def test_alpha_shape_equals_the_alphashape_library_on_clustered_clouds(seed, clusters):
    """Clouds with gaps, holes and uneven density: CDT's triangulation gives Qhull's (alphashape's) area,
    and the traced outline encloses exactly that area."""
    rng = np.random.default_rng(seed)
    pts = np.concatenate(
        [rng.normal(rng.uniform(0, 4, 2), rng.uniform(0.2, 1.0), (rng.integers(60, 400), 2)) for _ in range(clusters)]
    )
    shape = alpha_shape(pts)
    assert shape.area == pytest.approx(alphashape.alphashape(pts, 5.0).area, rel=1e-9, abs=1e-12)
    assert shape.footprint().area == pytest.approx(shape.area, rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(3, 600), st.booleans())
@example(seed=10631, count=3, on_a_grid=True)  # drew one point twice before grid points were distinct
def test_delaunay_gives_the_arrays_cdts_own_super_triangle_removal_gives(seed, count, on_a_grid):
    """Dropping the super-triangle's triangles in numpy leaves CDT's own result to the last index (so every
    area is summed in the same order), also on grids, where many points are cocircular."""
    rng = np.random.default_rng(seed)
    if on_a_grid:  # distinct grid points: a room's vertices are never fewer than three distinct ones
        cells = rng.choice(144, size=min(count, 144), replace=False)
        pts = np.stack([cells // 12, cells % 12], axis=1).astype(float)
    else:
        pts = rng.normal(0, 3, (count, 2))
    xy = area_module._xy(pts)
    cdt = pythoncdt.Triangulation(
        pythoncdt.VertexInsertionOrder.AUTO, pythoncdt.IntersectingConstraintEdges.NOT_ALLOWED, 0.0
    )
    cdt.insert_vertices(np.ascontiguousarray(xy))
    cdt.erase_super_triangle()
    reference = cdt.triangles_array()
    if len(reference) == 0:  # collinear
        with pytest.raises(RoomAreaError):
            area_module._delaunay(xy)
        return
    ours = area_module._delaunay(xy)
    assert np.array_equal(ours.simplices, reference["vertices"])
    expected = reference["neighbors"][:, [1, 2, 0]].astype(np.int64)
    expected[expected == pythoncdt.NO_NEIGHBOR] = -1
    assert np.array_equal(ours.neighbors, expected)


def test_room_area_rejects_points_that_span_no_area():
    with pytest.raises(RoomAreaError):
        room_area(np.array([[0, 0], [1, 1], [2, 2], [3, 3.0]]))
    with pytest.raises(RoomAreaError):
        room_area(np.zeros((2, 3)))


# --- directions -------------------------------------------------------------------------------------


def test_direction_angles_by_hand():
    standing, facing = np.array([0, 0]), np.array([0, 1])  # facing +y
    assert direction_angles(standing, facing, np.array([-1, 1])) == pytest.approx(45)  # front-left
    assert direction_angles(standing, facing, np.array([1, 1])) == pytest.approx(315)  # front-right
    assert direction_angles(standing, facing, np.array([-1, -1])) == pytest.approx(135)
    assert sector_of(np.array([45, 135, 225, 315]), HARD).tolist() == [
        "front-left",
        "back-left",
        "back-right",
        "front-right",
    ]
    assert sector_of(np.array([10, 180, 300]), MEDIUM).tolist() == ["left", "back", "right"]


def test_direction_angles_in_a_turned_and_shifted_frame_by_hand():
    # Standing at (1, 2) facing (4, 6): facing along (3, 4). The queried object at (-3, 5) is along (-4, 3), a
    # quarter turn counter-clockwise of (3, 4) (their dot product is 0, the cross product +25): 90°, left. At
    # (5, -1), along (4, -3): a quarter turn clockwise, 270°, right; at (-2, -2), along (-3, -4): 180°, back.
    standing, facing = np.array([1.0, 2.0]), np.array([4.0, 6.0])
    queried = np.array([[-3.0, 5.0], [5.0, -1.0], [-2.0, -2.0]])
    angles = direction_angles(standing, facing, queried)
    assert angles == pytest.approx([90.0, 270.0, 180.0])
    assert sector_of(angles, MEDIUM).tolist() == ["left", "right", "back"]


def test_boundary_margin_both_sides_and_ahead():
    assert boundary_margin(np.array(5.0), HARD) == pytest.approx(5.0)
    assert boundary_margin(np.array(355.0), HARD) == pytest.approx(5.0)  # wraps at 360
    assert boundary_margin(np.array(5.0), HARD, "ahead") == pytest.approx(85.0)  # next boundary is 90
    assert boundary_margin(np.array(85.0), HARD, "ahead") == pytest.approx(5.0)
    assert boundary_margin(np.array(130.0), MEDIUM) == pytest.approx(5.0)


@settings(max_examples=80, deadline=None)
@given(st.tuples(*[st.floats(-5, 5)] * 6))
def test_mirroring_the_scene_swaps_left_and_right(coords):
    p, o, q = np.array(coords[:2]), np.array(coords[2:4]), np.array(coords[4:])
    angle = float(direction_angles(p, o, q))
    if np.linalg.norm(o - p) < 1e-3 or np.linalg.norm(q - p) < 1e-3 or min(angle % 45, 45 - angle % 45) < 1e-6:
        return
    mirror = np.array([-1.0, 1.0])
    mirrored = float(direction_angles(p * mirror, o * mirror, q * mirror))
    assert mirrored == pytest.approx((360 - angle) % 360, abs=1e-6)
    swap = {
        "front-left": "front-right",
        "front-right": "front-left",
        "back-left": "back-right",
        "back-right": "back-left",
    }
    assert str(sector_of(mirrored, HARD)) == swap[str(sector_of(angle, HARD))]


def test_read_direction_counts_corners_in_another_sector():
    queried = OrientedBox(center=[0.2, 2, 0], extents=[1.0, 0.2, 0.2], rotation=np.eye(3))  # straddles ahead
    reading = read_direction(np.zeros(3), np.array([0, 1, 0.0]), queried.center, queried.corners(), HARD)
    assert reading.sector == "front-right"
    assert reading.corners_disagreeing == 4  # the four corners at x = -0.3 are front-left

"""`box_grid` distance: our hollow grid is exactly what open3d's `OrientedBoundingBox.crop` keeps.

VSI-Bench's distances are measured between these grids, and a grid point on a box face survives the crop or
not by the last bit of its projection (docs/answer-rules.md), so "close" is not enough: the point sets must be
equal, point for point and in order. The reference is `vlm3r_rules.cropped_grid` (open3d's crop, as VLM-3R's
`sample_points_in_oriented_bbox_uniform` calls it).
"""

from __future__ import annotations

import json
import math

import numpy as np
import open3d as o3d
from hypothesis import given, settings
from hypothesis import strategies as st

from vlm3r_rules import cropped_grid, o3d_box
from vsi_data.geometry import OrientedBox
from vsi_data.geometry.distance import box_grid_points


def _o3d(box: OrientedBox) -> o3d.geometry.OrientedBoundingBox:
    return o3d.geometry.OrientedBoundingBox(center=box.center, R=box.rotation, extent=box.extents)


def test_every_released_scannet_box_gives_open3ds_grid(realdata):
    meta = json.loads((realdata / "vsibench/scannet_meta_info_val.json").read_text())
    boxes = [raw for scene in meta.values() for raws in scene["object_bbox"].values() for raw in raws]
    assert len(boxes) == 1224
    for raw in boxes:
        ours = box_grid_points(OrientedBox.from_axes_rows(raw["centroid"], raw["axesLengths"], raw["normalizedAxes"]))
        np.testing.assert_array_equal(ours, cropped_grid(o3d_box(raw)))


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cz, sz, cy, sy, cx, sx = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return z @ y @ x


angles = st.one_of(
    st.sampled_from([0.0, math.pi / 2, math.pi, -math.pi / 2, math.pi / 4]),  # faces on exact grid values
    st.floats(-math.pi, math.pi, allow_nan=False),
)
extents = st.one_of(
    st.integers(1, 60).map(lambda k: k * 0.05),  # whole grid steps: the last row lands on the face
    st.floats(0.01, 3.0, allow_nan=False),
)
coordinates = st.one_of(st.integers(-40, 40).map(lambda k: k * 0.05), st.floats(-5, 5, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(coordinates, coordinates, coordinates),
    st.tuples(extents, extents, extents),
    st.tuples(angles, st.sampled_from([0.0, 0.0, math.pi / 2]) | angles, st.sampled_from([0.0]) | angles),
)
def test_the_grid_is_what_open3d_keeps(center, size, rotation):
    box = OrientedBox(center=center, extents=size, rotation=_rotation(*rotation))
    np.testing.assert_array_equal(box_grid_points(box), cropped_grid(_o3d(box)))


def test_a_grid_that_open3d_empties_is_retried_finer():
    # A 1 cm box: ceil(0.01 / 0.05) = 1 value per axis, the centre, which is not beyond a quarter of the
    # extent; the empty grid retries at 2.5 cm, 1.25 cm, ... exactly as VLM-3R's sampler does.
    box = OrientedBox(center=(1.0, 2.0, 0.5), extents=(0.01, 0.01, 0.01), rotation=np.eye(3))
    ours = box_grid_points(box)
    np.testing.assert_array_equal(ours, cropped_grid(_o3d(box)))
    assert len(ours) > 0

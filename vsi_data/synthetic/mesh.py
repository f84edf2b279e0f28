"""Turn a layout into a ScanNet-like annotated mesh: dense triangulated surfaces of the floor, the walls
and every furniture part, over-segmented into patches, with one annotation group per object.

Segment ids are arbitrary vertex indices (as in real `segs.json` files), not 0..K-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import shapely
from scipy.spatial import Delaunay

from vsi_data.synthetic.catalog import FLOOR_COLOR, KINDS, WALL_COLOR
from vsi_data.synthetic.layout import Layout

SURFACE_SPACING = 0.04  # furniture vertex spacing, metres (ScanNet's decimated meshes: ~2-5 cm)
ROOM_SPACING = 0.10  # floor and wall vertex spacing
PATCH = 1.0  # floor and wall over-segments are about this wide

# The six faces of a unit cube as (fixed axis, side, u axis, v axis), outward normals.
_FACES = [(axis, side, (axis + 1) % 3, (axis + 2) % 3) for axis in range(3) for side in (-1.0, 1.0)]


@dataclass
class AnnotatedMesh:
    vertices: list[np.ndarray] = field(default_factory=list)
    colors: list[np.ndarray] = field(default_factory=list)
    faces: list[np.ndarray] = field(default_factory=list)
    segments: list[np.ndarray] = field(default_factory=list)
    groups: list[tuple[str, list[int]]] = field(default_factory=list)  # (raw label, segment ids)
    count: int = 0

    def add(self, vertices: np.ndarray, faces: np.ndarray, color: np.ndarray, patch_of_vertex: np.ndarray) -> list[int]:
        """Append one surface; its patches become segments, each named by its first vertex's index."""
        base = self.count
        _, first, inverse = np.unique(patch_of_vertex, return_index=True, return_inverse=True)
        segment_ids = base + first
        self.vertices.append(vertices)
        self.colors.append(np.broadcast_to(color, vertices.shape).astype(np.uint8))
        self.faces.append(faces + base)
        self.segments.append(segment_ids[inverse])
        self.count += len(vertices)
        return segment_ids.tolist()

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.concatenate(self.vertices),
            np.concatenate(self.colors),
            np.concatenate(self.faces),
            np.concatenate(self.segments),
        )


def _grid_faces(nu: int, nv: int) -> np.ndarray:
    idx = np.arange(nu * nv).reshape(nu, nv)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def box_surface(center: np.ndarray, extents: np.ndarray, rotation: np.ndarray, spacing: float):
    """Vertices, triangles and a per-vertex face index of a box's six subdivided faces."""
    vertices, faces, face_of_vertex, count = [], [], [], 0
    for f, (axis, side, u, v) in enumerate(_FACES):
        nu = max(2, int(np.ceil(extents[u] / spacing)) + 1)
        nv = max(2, int(np.ceil(extents[v] / spacing)) + 1)
        gu, gv = np.meshgrid(np.linspace(-0.5, 0.5, nu), np.linspace(-0.5, 0.5, nv), indexing="ij")
        local = np.zeros((nu * nv, 3))
        local[:, axis] = side * 0.5
        local[:, u], local[:, v] = gu.ravel(), gv.ravel()
        vertices.append(center + (local * extents) @ rotation.T)
        tri = _grid_faces(nu, nv)
        faces.append((tri if side > 0 else tri[:, ::-1]) + count)  # outward winding
        face_of_vertex.append(np.full(nu * nv, f))
        count += nu * nv
    return np.concatenate(vertices), np.concatenate(faces), np.concatenate(face_of_vertex)


def _shade(rng: np.random.Generator, color: tuple[int, int, int], n: int) -> np.ndarray:
    jitter = rng.integers(-10, 11, size=(n, 1))
    return np.clip(np.asarray(color)[None, :] + jitter, 0, 255)


def _floor(layout: Layout, mesh: AnnotatedMesh, rng: np.random.Generator) -> None:
    poly = layout.polygon
    lo_x, lo_y, hi_x, hi_y = poly.bounds
    gx, gy = np.meshgrid(np.arange(lo_x, hi_x, ROOM_SPACING), np.arange(lo_y, hi_y, ROOM_SPACING))
    inside = np.stack([gx.ravel(), gy.ravel()], 1)
    inside = inside[shapely.contains_xy(poly.buffer(-ROOM_SPACING / 3), inside[:, 0], inside[:, 1])]
    ring = np.asarray(poly.exterior.coords)
    edge_points = []
    for start, end in pairwise(ring):
        steps = max(2, int(np.ceil(np.linalg.norm(end - start) / ROOM_SPACING)) + 1)
        edge_points.append(np.linspace(start, end, steps)[:-1])  # each corner once
    xy = np.concatenate([*edge_points, inside])
    tri = Delaunay(xy).simplices
    centroids = xy[tri].mean(axis=1)
    tri = tri[shapely.contains_xy(poly, centroids[:, 0], centroids[:, 1])]
    vertices = np.column_stack([xy, np.zeros(len(xy))])
    patch = np.floor(xy / PATCH).astype(np.int64) @ np.array([1, 10_000])
    segments = mesh.add(vertices, tri, _shade(rng, FLOOR_COLOR, len(xy)), patch)
    mesh.groups.append(("floor", segments))


def _walls(layout: Layout, mesh: AnnotatedMesh, rng: np.random.Generator) -> None:
    ring = np.asarray(layout.polygon.exterior.coords)
    for i in range(len(ring) - 1):
        start, end = ring[i], ring[i + 1]
        length = float(np.linalg.norm(end - start))
        nu = max(2, int(np.ceil(length / ROOM_SPACING)) + 1)
        nv = max(2, int(np.ceil(layout.wall_height / ROOM_SPACING)) + 1)
        s, z = np.meshgrid(np.linspace(0, 1, nu), np.linspace(0, layout.wall_height, nv), indexing="ij")
        xy = start + np.outer(s.ravel(), end - start)
        vertices = np.column_stack([xy, z.ravel()])
        patch = np.floor(s.ravel() * length / PATCH).astype(np.int64)
        segments = mesh.add(vertices, _grid_faces(nu, nv)[:, ::-1], _shade(rng, WALL_COLOR, len(vertices)), patch)
        mesh.groups.append(("wall", segments))


def build_mesh(layout: Layout, rng: np.random.Generator) -> AnnotatedMesh:
    mesh = AnnotatedMesh()
    _floor(layout, mesh, rng)
    _walls(layout, mesh, rng)
    for obj in layout.objects:
        segments: list[int] = []
        for p, (center, extents, rotation) in enumerate(obj.parts_world()):
            vertices, faces, face_of_vertex = box_surface(center, extents, rotation, SURFACE_SPACING)
            color = _shade(rng, KINDS[obj.raw_label].color, len(vertices))
            segments += mesh.add(vertices, faces, color, face_of_vertex + 10 * p)
        mesh.groups.append((obj.raw_label, segments))
    return mesh

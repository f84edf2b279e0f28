"""Room floor area as VSI-Bench defines it: the alpha shape of the scene points' xy projection.

The `alphashape` library keeps the Delaunay triangles whose circumradius is below 1/alpha, polygonizes
their boundary edges and unions the faces; that union fills every hole enclosed by kept triangles.
Here the same set is computed with arrays: kept triangles, plus every connected group of dropped
triangles (connected through shared edges) that does not reach the convex hull. The area is the sum
of those triangles' areas — the same number, in milliseconds on 100k+ points.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError


class RoomAreaError(ValueError):
    """The points do not span an area (fewer than 3 distinct points, or all collinear)."""


def _xy(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise RoomAreaError(f"expected N×2 or N×3 points, got shape {points.shape}")
    xy = points[:, :2]
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    # Mesh vertices stacked on one xy (walls) add nothing to a planar triangulation but its cost; qhull
    # would merge them anyway, so dropping them leaves every triangle, and the area, as it was.
    # (x, y) as one complex number: a plain 1-D sort, several times faster than np.unique(axis=0).
    unique = np.unique(np.ascontiguousarray(xy).view(np.complex128).ravel())
    xy = np.stack([unique.real, unique.imag], axis=1)
    if len(xy) < 3:
        raise RoomAreaError(f"need at least 3 finite points, got {len(xy)}")
    return xy


def _circumradii(triangles: np.ndarray) -> np.ndarray:
    a = np.linalg.norm(triangles[:, 1] - triangles[:, 2], axis=1)
    b = np.linalg.norm(triangles[:, 0] - triangles[:, 2], axis=1)
    c = np.linalg.norm(triangles[:, 0] - triangles[:, 1], axis=1)
    twice_area = np.abs(_cross2(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(twice_area > 0, a * b * c / (2.0 * twice_area), np.inf)


def _cross2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


def _filled_alpha_triangles(xy: np.ndarray, alpha: float) -> tuple[Delaunay, np.ndarray]:
    """Delaunay of the points and the mask of triangles inside the hole-filled alpha shape."""
    try:
        tri = Delaunay(xy)
    except QhullError as exc:
        raise RoomAreaError(f"points do not span an area ({exc.__class__.__name__})") from exc
    if alpha <= 0:  # alphashape's convention: alpha 0 is the convex hull
        return tri, np.ones(len(tri.simplices), dtype=bool)
    kept = _circumradii(xy[tri.simplices]) < 1.0 / alpha
    dropped = np.flatnonzero(~kept)
    if len(dropped) == 0:
        return tri, kept
    # Components of dropped triangles, linked through shared edges (neighbors; -1 = convex hull).
    neighbors = tri.neighbors[dropped]  # (D, 3)
    index_of = np.full(len(tri.simplices), -1)
    index_of[dropped] = np.arange(len(dropped))
    nb = np.where(neighbors >= 0, index_of[np.maximum(neighbors, 0)], -1)
    rows, cols = np.nonzero(nb >= 0)
    graph = coo_matrix((np.ones(len(rows)), (rows, nb[rows, cols])), shape=(len(dropped), len(dropped)))
    n_components, labels = connected_components(graph, directed=False)
    reaches_hull = np.zeros(n_components, dtype=bool)
    reaches_hull[labels[np.any(neighbors < 0, axis=1)]] = True
    filled = kept.copy()
    filled[dropped[~reaches_hull[labels]]] = True  # enclosed holes are part of the room
    return tri, filled


def _triangle_areas(corners: np.ndarray) -> np.ndarray:
    return np.abs(_cross2(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])) / 2.0


def _filled_area(points: np.ndarray, alpha: float) -> tuple[np.ndarray, Delaunay, np.ndarray, float]:
    xy = _xy(points)
    tri, filled = _filled_alpha_triangles(xy, alpha)
    return xy, tri, filled, float(_triangle_areas(xy[tri.simplices[filled]]).sum())


def room_area(points: np.ndarray, alpha: float = 5.0) -> float:
    """Square metres of the alpha shape of the points' xy projection (N×2 or N×3), holes filled.

    Equal to `alphashape.alphashape(xy, alpha).area` (VSI-Bench's room size) on the same points.
    """
    return _filled_area(points, alpha)[3]


def measure_room(points: np.ndarray, alpha: float = 5.0) -> tuple[float, shapely.MultiPolygon]:
    """Area and footprint polygons of the hole-filled alpha shape, from one triangulation."""
    xy, tri, filled, area = _filled_area(points, alpha)
    # Boundary edges: an edge of a filled triangle whose neighbour across it is not filled (or the hull).
    neighbors = tri.neighbors[filled]
    simplices = tri.simplices[filled]
    across_open = (neighbors < 0) | ~filled[np.maximum(neighbors, 0)]
    face, slot = np.nonzero(across_open)
    # The edge opposite vertex `slot` joins the triangle's other two vertices.
    a = simplices[face, (slot + 1) % 3]
    b = simplices[face, (slot + 2) % 3]
    lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    merged = shapely.union_all(shapely.get_parts(shapely.polygonize(lines)))
    footprint = merged if isinstance(merged, shapely.MultiPolygon) else shapely.MultiPolygon([merged])
    return area, footprint


def room_footprint(points: np.ndarray, alpha: float = 5.0) -> shapely.MultiPolygon:
    """The hole-filled alpha shape as polygons (for drawing and for point-in-room tests)."""
    return measure_room(points, alpha)[1]

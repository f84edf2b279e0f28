"""Plausible furnished rooms: a floor polygon (rectangle, L or T shape), walls, and furniture placed by
simple rules (against a wall, next to a related piece, on top of one, or free-standing at any angle),
never overlapping in 3-D. The layout is the ground truth the tests compare parsed scenes against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import affinity

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.synthetic.catalog import KINDS, PROGRAMMES, Kind, part_boxes

ROOM_SHAPES = ("rectangle", "L", "T")
_WALL_GAP = 0.02  # furniture stands this far off the wall
_MAX_TRIES = 60


def rotation_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class PlacedObject:
    raw_label: str
    center: np.ndarray  # box centre, metres
    yaw: float  # rotation about z of the object's frame
    dims: np.ndarray  # width (local x), depth (local y), height
    shape: str

    @property
    def box(self) -> OrientedBox:
        return OrientedBox(center=self.center, extents=self.dims, rotation=rotation_z(self.yaw))

    @property
    def z_range(self) -> tuple[float, float]:
        return self.center[2] - self.dims[2] / 2, self.center[2] + self.dims[2] / 2

    def footprint(self) -> shapely.Polygon:
        w, d = self.dims[0] / 2, self.dims[1] / 2
        rect = shapely.box(-w, -d, w, d)
        return affinity.translate(affinity.rotate(rect, self.yaw, use_radians=True, origin=(0, 0)), *self.center[:2])

    def parts_world(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each part as (center, extents, rotation) in the room frame."""
        rotation = rotation_z(self.yaw)
        base = self.center - np.array([0.0, 0.0, self.dims[2] / 2])  # footprint centre on the object's floor
        out = []
        for lo, hi in part_boxes(self.shape, *self.dims):
            local_center = (lo + hi) / 2
            out.append((base + rotation @ local_center, hi - lo, rotation))
        return out


@dataclass
class Layout:
    scene_id: str
    room_type: str
    room_shape: str
    polygon: shapely.Polygon  # the floor, counter-clockwise, metres
    wall_height: float
    objects: list[PlacedObject] = field(default_factory=list)

    @property
    def floor_area(self) -> float:
        return float(self.polygon.area)


def room_polygon(shape: str, rng: np.random.Generator) -> shapely.Polygon:
    width, depth = rng.uniform(4.0, 7.5), rng.uniform(3.5, 6.0)
    if shape == "rectangle":
        poly = shapely.box(0, 0, width, depth)
    elif shape == "L":  # a corner cut away
        cut_w, cut_d = width * rng.uniform(0.3, 0.5), depth * rng.uniform(0.3, 0.5)
        poly = shapely.box(0, 0, width, depth).difference(shapely.box(width - cut_w, depth - cut_d, width, depth))
    elif shape == "T":  # a wide hall with an alcove on one long side
        alcove_w, alcove_d = width * rng.uniform(0.35, 0.55), rng.uniform(1.6, 2.6)
        x0 = (width - alcove_w) * rng.uniform(0.2, 0.8)
        poly = shapely.union(
            shapely.box(0, 0, width, depth), shapely.box(x0, depth - 0.01, x0 + alcove_w, depth + alcove_d)
        )
        poly = shapely.set_precision(poly, 1e-6)
    else:
        raise ValueError(f"unknown room shape {shape!r}")
    return shapely.geometry.polygon.orient(poly.simplify(1e-9), sign=1.0)


class _Placer:
    def __init__(self, polygon: shapely.Polygon, wall_height: float, rng: np.random.Generator) -> None:
        self.polygon = polygon
        self.inner = polygon.buffer(-0.005)
        self.wall_height = wall_height
        self.rng = rng
        self.placed: list[PlacedObject] = []
        coords = np.asarray(polygon.exterior.coords)
        self.walls = [(coords[i], coords[i + 1]) for i in range(len(coords) - 1)]

    def _fits(self, candidate: PlacedObject, on: PlacedObject | None = None) -> bool:
        foot = candidate.footprint()
        if not foot.within(self.inner) or candidate.z_range[1] > self.wall_height - 0.05:
            return False
        if on is not None and not foot.buffer(-0.01).within(on.footprint()):
            return False
        lo, hi = candidate.z_range
        for other in self.placed:
            o_lo, o_hi = other.z_range
            if lo < o_hi - 1e-6 and o_lo < hi - 1e-6 and foot.intersects(other.footprint().buffer(0.04)):
                return False
        return True

    def _against_wall(self, kind: Kind, dims: np.ndarray, z0: float, flush: bool) -> PlacedObject | None:
        start, end = self.walls[int(self.rng.integers(len(self.walls)))]
        along = end - start
        length = float(np.linalg.norm(along))
        if length < dims[0] + 0.3:
            return None
        along /= length
        inward = np.array([-along[1], along[0]])  # the polygon is counter-clockwise: left of each edge is inside
        s = self.rng.uniform(dims[0] / 2 + 0.1, length - dims[0] / 2 - 0.1)
        offset = dims[1] / 2 + (0.006 if flush else _WALL_GAP)
        xy = start + along * s + inward * offset
        yaw = math.atan2(inward[1], inward[0]) - math.pi / 2  # local +y (the front) faces into the room
        return PlacedObject(kind.raw_label, np.array([*xy, z0 + dims[2] / 2]), yaw, dims, kind.shape)

    def place(self, kind: Kind) -> PlacedObject | None:
        rule, _, target = kind.placement.partition(":")
        parents = [o for o in self.placed if o.raw_label == target]
        if rule in ("near", "on") and not parents:
            rule = "free" if rule == "near" else "none"
        for _ in range(_MAX_TRIES):
            dims = np.array(
                [self.rng.uniform(*kind.width), self.rng.uniform(*kind.depth), self.rng.uniform(*kind.height)]
            )
            parent = parents[int(self.rng.integers(len(parents)))] if parents else None
            if rule == "wall":
                candidate = self._against_wall(kind, dims, 0.0, flush=False)
            elif rule in ("wall_mounted", "door"):
                candidate = self._against_wall(kind, dims, self.rng.uniform(*kind.elevation), flush=True)
            elif rule == "near":
                angle = self.rng.uniform(0, 2 * math.pi)
                reach = max(parent.dims[:2]) / 2 + max(dims[:2]) / 2 + self.rng.uniform(0.1, 0.5)
                xy = parent.center[:2] + reach * np.array([math.cos(angle), math.sin(angle)])
                yaw = math.atan2(*(parent.center[:2] - xy)[::-1]) - math.pi / 2  # facing the parent
                candidate = PlacedObject(kind.raw_label, np.array([*xy, dims[2] / 2]), yaw, dims, kind.shape)
            elif rule == "on":
                top = parent.z_range[1]
                spare = np.maximum(parent.dims[:2] - dims[:2], 0) / 2
                local = np.array([self.rng.uniform(-spare[0], spare[0]), self.rng.uniform(-spare[1], spare[1]), 0.0])
                xy = parent.center[:2] + (rotation_z(parent.yaw) @ local)[:2]
                yaw = parent.yaw + self.rng.uniform(-0.3, 0.3)
                candidate = PlacedObject(kind.raw_label, np.array([*xy, top + dims[2] / 2]), yaw, dims, kind.shape)
            elif rule == "free":
                lo_x, lo_y, hi_x, hi_y = self.polygon.bounds
                xy = np.array([self.rng.uniform(lo_x, hi_x), self.rng.uniform(lo_y, hi_y)])
                candidate = PlacedObject(
                    kind.raw_label,
                    np.array([*xy, dims[2] / 2]),
                    self.rng.uniform(0, 2 * math.pi),
                    dims,
                    kind.shape,
                )
            else:
                return None
            if candidate is not None and self._fits(candidate, on=parent if rule == "on" else None):
                self.placed.append(candidate)
                return candidate
        return None


def make_layout(
    scene_id: str,
    rng: np.random.Generator,
    room_type: str | None = None,
    room_shape: str | None = None,
    room_types: tuple[str, ...] | None = None,
) -> Layout:
    """A furnished room: of `room_type` (default: drawn from `room_types`, default every programme) and shape."""
    room_type = room_type or str(rng.choice(sorted(room_types or PROGRAMMES)))
    room_shape = room_shape or str(rng.choice(ROOM_SHAPES))
    polygon = room_polygon(room_shape, rng)
    wall_height = float(rng.uniform(2.5, 2.9))
    placer = _Placer(polygon, wall_height, rng)
    for raw_label, fewest, most in PROGRAMMES[room_type]:
        for _ in range(int(rng.integers(fewest, most + 1))):
            placer.place(KINDS[raw_label])
    return Layout(scene_id, room_type, room_shape, polygon, wall_height, placer.placed)

"""Helpers every scan parser shares: how a scene's room area is measured from its mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vsi_data.geometry.area import RoomAreaError, measure_room
from vsi_data.scene import Room
from vsi_data.seeding import rng_for
from vsi_data.sources.base import ParseOptions, SceneError


def measure_scene_room(vertices: np.ndarray, scene_id: str, options: ParseOptions, mesh_path: Path) -> Room:
    """The room as VSI-Bench measured it: an alpha shape of the xy projection of every mesh vertex (or of the
    recipe's seeded random sample of them). A room that cannot be measured fails the scene, naming the mesh."""
    points = vertices
    method = f"alpha shape (alpha={options.room_alpha:g}) of the xy projection of all {len(points)} mesh vertices"
    if options.room_max_points is not None and len(points) > options.room_max_points:
        pick = rng_for(options.seed, scene_id, "room").choice(len(points), options.room_max_points, replace=True)
        points = points[pick]
        method = (
            f"alpha shape (alpha={options.room_alpha:g}) of the xy projection of {options.room_max_points} "
            f"mesh vertices sampled with replacement from {len(vertices)}"
        )
    try:
        area, footprint = measure_room(points, options.room_alpha)
    except RoomAreaError as exc:
        raise SceneError(mesh_path, f"cannot measure the room: {exc}") from exc
    return Room(area=area, footprint=footprint, method=method)

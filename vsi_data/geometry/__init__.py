"""Geometry on numpy arrays: boxes, distances, room area, directions. Knows nothing of files or sources."""

from vsi_data.geometry.area import AlphaShape, RoomAreaError, alpha_shape, room_area
from vsi_data.geometry.boxes import BoxFitError, OrientedBox, fit_box
from vsi_data.geometry.direction import (
    DirectionReading,
    DirectionReadings,
    boundary_margin,
    direction_angles,
    read_direction,
    read_directions,
    sector_of,
)
from vsi_data.geometry.distance import (
    DISTANCE_METRICS,
    boxes_overlap,
    center_distance_matrix,
    closest_box_distance_matrix,
    closest_points_distance,
)

__all__ = [
    "DISTANCE_METRICS",
    "AlphaShape",
    "BoxFitError",
    "DirectionReading",
    "DirectionReadings",
    "OrientedBox",
    "RoomAreaError",
    "alpha_shape",
    "boundary_margin",
    "boxes_overlap",
    "center_distance_matrix",
    "closest_box_distance_matrix",
    "closest_points_distance",
    "direction_angles",
    "fit_box",
    "read_direction",
    "read_directions",
    "room_area",
    "sector_of",
]

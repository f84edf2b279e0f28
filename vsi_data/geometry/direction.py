"""Relative direction: where is a queried object for an observer standing by one object and facing another.

Everything happens in the floor plane (xy, z up). The angle of the query is measured counter-clockwise
from the facing direction in [0, 360); counter-clockwise is the observer's left. Sectors are data
(name → [start, end) degrees), so a recipe can define its own levels; the margin to the nearest sector
boundary and the agreement of the queried box's corners say how ambiguous an answer is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Sectors = Mapping[str, tuple[float, float]]


def direction_angles(standing: np.ndarray, facing: np.ndarray, queried: np.ndarray) -> np.ndarray:
    """Counter-clockwise angle in degrees [0, 360) of `queried` (…×2 or …×3) from the facing direction.

    NaN where there is no direction: the facing or the queried point on the standing one in the floor plane
    (NaN is in no sector and has no margin, so no question is read off it).
    """
    standing = np.asarray(standing, dtype=np.float64)[..., :2]
    forward = np.asarray(facing, dtype=np.float64)[..., :2] - standing
    query = np.asarray(queried, dtype=np.float64)[..., :2] - standing
    cross = forward[..., 0] * query[..., 1] - forward[..., 1] * query[..., 0]
    dot = np.sum(forward * query, axis=-1)
    undefined = ~np.any(forward, axis=-1) | ~np.any(query, axis=-1)
    return np.where(undefined, np.nan, np.mod(np.degrees(np.arctan2(cross, dot)), 360.0))


def sector_of(angles: np.ndarray, sectors: Sectors) -> np.ndarray:
    """Name of the sector holding each angle ("" where none does, e.g. a gap a recipe left out)."""
    angles = np.mod(np.asarray(angles, dtype=np.float64), 360.0)
    names = np.full(angles.shape, "", dtype=object)
    for name, (start, end) in sectors.items():
        names[(angles >= start) & (angles < end)] = name
    return names


def sector_boundaries(sectors: Sectors) -> np.ndarray:
    return np.unique(np.mod([edge for span in sectors.values() for edge in span], 360.0))


MarginSide = Literal["both", "ahead"]


def boundary_margin(angles: np.ndarray, sectors: Sectors, side: MarginSide = "both") -> np.ndarray:
    """Angular distance (degrees) from each angle to the nearest sector boundary, wrapping at 360.

    "both" looks either way. "ahead" looks only counter-clockwise, to the next boundary the angle would
    reach, which is how VSI-Bench filters its hard level (an object 1° left of straight ahead passes).
    """
    ahead = np.mod(sector_boundaries(sectors) - np.asarray(angles, dtype=np.float64)[..., None], 360.0)
    if side == "ahead":
        return np.min(np.where(ahead == 0.0, 360.0, ahead), axis=-1)
    return np.min(np.minimum(ahead, 360.0 - ahead), axis=-1)


@dataclass(frozen=True)
class DirectionReading:
    angle: float  # degrees CCW from facing
    sector: str
    margin: float  # degrees to the nearest sector boundary
    corners_disagreeing: int  # corners of the queried box that fall in another sector


@dataclass(frozen=True)
class DirectionReadings:
    """`DirectionReading`s of N observers as arrays, so a scene's every (P, O, Q) is read in one numpy pass."""

    angles: np.ndarray  # (N,) degrees CCW from facing
    sectors: np.ndarray  # (N,) sector names, object dtype
    margins: np.ndarray  # (N,) degrees to the nearest sector boundary
    corners_disagreeing: np.ndarray  # (N,) corners of each queried box that fall in another sector


def read_directions(
    standing: np.ndarray,
    facing: np.ndarray,
    queried: np.ndarray,
    queried_corners: np.ndarray,
    sectors: Sectors,
    margin_side: MarginSide = "both",
) -> DirectionReadings:
    """`read_direction` for N observers at once: points are (N, 2|3), corners (N, K, 2|3)."""
    angles = direction_angles(standing, facing, queried)
    names = sector_of(angles, sectors)
    corner_angles = direction_angles(
        np.asarray(standing)[..., None, :], np.asarray(facing)[..., None, :], queried_corners
    )
    return DirectionReadings(
        angles=angles,
        sectors=names,
        margins=boundary_margin(angles, sectors, margin_side),
        corners_disagreeing=np.count_nonzero(sector_of(corner_angles, sectors) != names[..., None], axis=-1),
    )


def read_direction(
    standing: np.ndarray,
    facing: np.ndarray,
    queried: np.ndarray,
    queried_corners: np.ndarray,
    sectors: Sectors,
    margin_side: MarginSide = "both",
) -> DirectionReading:
    """The centroid's angle and sector, plus how many of the queried box's corners disagree with it."""
    readings = read_directions(
        *(np.asarray(x)[None] for x in (standing, facing, queried, queried_corners)), sectors, margin_side
    )
    return DirectionReading(
        angle=float(readings.angles[0]),
        sector=str(readings.sectors[0]),
        margin=float(readings.margins[0]),
        corners_disagreeing=int(readings.corners_disagreeing[0]),
    )

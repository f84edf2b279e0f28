"""Question generators by VSI-Bench question type."""

from vsi_data.qa.generators.appearance import AppearanceOrder
from vsi_data.qa.generators.base import Candidate, Generator, Params
from vsi_data.qa.generators.counting import ObjectCounting
from vsi_data.qa.generators.direction import RelativeDirection
from vsi_data.qa.generators.distances import AbsoluteDistance, RelativeDistance
from vsi_data.qa.generators.measures import ObjectSize, RoomSize

GENERATORS: dict[str, type[Generator]] = {
    "object_counting": ObjectCounting,
    "object_size_estimation": ObjectSize,
    "room_size_estimation": RoomSize,
    "object_abs_distance": AbsoluteDistance,
    "object_rel_distance": RelativeDistance,
    "object_rel_direction_easy": RelativeDirection,
    "object_rel_direction_medium": RelativeDirection,
    "object_rel_direction_hard": RelativeDirection,
    "obj_appearance_order": AppearanceOrder,
}

__all__ = ["GENERATORS", "Candidate", "Generator", "Params"]

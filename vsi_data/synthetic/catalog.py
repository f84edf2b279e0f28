"""What synthetic rooms are furnished with: object kinds (ScanNet raw labels, sizes, shapes, placement),
room programmes, and the label-table rows those raw labels have in ScanNet's real table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Range = tuple[float, float]


@dataclass(frozen=True)
class Kind:
    raw_label: str  # exactly as ScanNet's aggregation.json writes it
    width: Range  # local x, metres
    depth: Range  # local y (the side facing the room is +y)
    height: Range
    shape: str = "box"  # box, table, chair, bed, couch, shelf
    placement: str = "free"  # free (any yaw), wall, wall_mounted, door, near:<label>, on:<label>
    elevation: Range = (0.0, 0.0)  # bottom height for wall_mounted kinds
    color: tuple[int, int, int] = (150, 150, 150)


KINDS: dict[str, Kind] = {k.raw_label: k for k in [
    Kind("bed", (1.4, 1.8), (1.9, 2.1), (0.9, 1.1), "bed", "wall", color=(120, 90, 160)),
    Kind("nightstand", (0.4, 0.5), (0.35, 0.45), (0.5, 0.6), "box", "near:bed", color=(140, 100, 60)),
    Kind("lamp", (0.25, 0.35), (0.25, 0.35), (0.4, 0.55), "box", "on:nightstand", color=(230, 210, 120)),
    Kind("pillow", (0.5, 0.65), (0.35, 0.45), (0.12, 0.18), "box", "on:bed", color=(235, 235, 225)),
    Kind("closet", (1.0, 1.6), (0.55, 0.65), (1.9, 2.2), "box", "wall", color=(170, 130, 90)),
    Kind("desk", (1.1, 1.5), (0.6, 0.75), (0.72, 0.76), "table", "wall", color=(180, 150, 110)),
    Kind("office chair", (0.55, 0.65), (0.55, 0.65), (0.9, 1.1), "chair", "near:desk", color=(40, 40, 45)),
    Kind("chair", (0.42, 0.5), (0.45, 0.52), (0.8, 0.95), "chair", "near:table", color=(160, 110, 70)),
    Kind("table", (1.2, 1.8), (0.8, 1.0), (0.72, 0.76), "table", "free", color=(190, 160, 120)),
    Kind("couch", (1.8, 2.3), (0.85, 1.0), (0.8, 0.9), "couch", "wall", color=(90, 110, 150)),
    Kind("coffee table", (0.9, 1.2), (0.5, 0.65), (0.4, 0.48), "table", "near:couch", color=(110, 80, 50)),
    Kind("armchair", (0.75, 0.9), (0.75, 0.9), (0.8, 0.95), "chair", "free", color=(150, 70, 60)),
    Kind("tv", (1.0, 1.4), (0.06, 0.1), (0.6, 0.8), "box", "wall_mounted", (0.9, 1.1), (20, 20, 25)),
    Kind("bookshelf", (0.8, 1.2), (0.3, 0.4), (1.6, 2.0), "shelf", "wall", color=(150, 120, 80)),
    Kind("plant", (0.35, 0.5), (0.35, 0.5), (0.6, 1.2), "box", "free", color=(60, 140, 70)),
    Kind("trash can", (0.3, 0.4), (0.3, 0.4), (0.45, 0.65), "box", "free", color=(90, 90, 90)),
    Kind("kitchen counter", (1.8, 2.6), (0.6, 0.65), (0.88, 0.92), "box", "wall", color=(200, 200, 195)),
    Kind("refrigerator", (0.7, 0.85), (0.65, 0.75), (1.7, 1.9), "box", "wall", color=(225, 228, 230)),
    Kind("microwave", (0.45, 0.55), (0.35, 0.4), (0.28, 0.32), "box", "on:kitchen counter", color=(60, 60, 65)),
    Kind("monitor", (0.5, 0.65), (0.15, 0.22), (0.35, 0.45), "box", "on:desk", color=(25, 25, 30)),
    Kind("printer", (0.4, 0.5), (0.35, 0.45), (0.2, 0.3), "box", "on:desk", color=(210, 210, 210)),
    Kind("backpack", (0.3, 0.4), (0.18, 0.25), (0.4, 0.5), "box", "free", color=(180, 60, 50)),
    Kind("radiator", (0.8, 1.2), (0.08, 0.12), (0.5, 0.6), "box", "wall_mounted", (0.1, 0.15), (235, 235, 235)),
    Kind("mirror", (0.5, 0.8), (0.03, 0.05), (0.8, 1.1), "box", "wall_mounted", (0.9, 1.1), (200, 220, 230)),
    Kind("clock", (0.3, 0.35), (0.04, 0.06), (0.3, 0.35), "box", "wall_mounted", (1.8, 2.0), (240, 240, 240)),
    Kind("window", (0.9, 1.5), (0.06, 0.1), (1.1, 1.4), "box", "wall_mounted", (0.8, 1.0), (170, 200, 230)),
    Kind("door", (0.8, 0.95), (0.05, 0.06), (2.0, 2.05), "box", "door", color=(130, 90, 60)),
    # Appliances and fittings ARKitScenes annotates (its 17 classes), so its synthetic rooms have enough categories.
    Kind("stove", (0.55, 0.65), (0.6, 0.65), (0.88, 0.92), "box", "wall", color=(235, 235, 235)),
    Kind("sink", (0.6, 0.9), (0.5, 0.6), (0.85, 0.9), "box", "wall", color=(190, 195, 200)),
    Kind("dishwasher", (0.58, 0.62), (0.58, 0.62), (0.82, 0.86), "box", "wall", color=(210, 212, 215)),
    Kind("oven", (0.55, 0.62), (0.55, 0.62), (0.55, 0.62), "box", "wall", color=(45, 45, 50)),
    Kind("fireplace", (1.2, 1.6), (0.35, 0.5), (1.0, 1.2), "box", "wall", color=(160, 80, 60)),
    Kind("stool", (0.35, 0.42), (0.35, 0.42), (0.45, 0.75), "table", "free", color=(170, 130, 80)),
]}  # fmt: skip

# Pieces ARKitScenes annotates, so its synthetic rooms have enough of its 17 classes. Placed after every other piece:
# the earlier draws, and so every room written before they were added, stay as they were.
_ARKIT_LIVING = [("fireplace", 0, 1), ("stool", 1, 2)]
_ARKIT_KITCHEN = [("stove", 1, 1), ("sink", 1, 1), ("dishwasher", 1, 1), ("oven", 0, 1), ("stool", 0, 2)]

# What each kind of room holds: (raw label, fewest, most). Large pieces first, so they find wall space.
PROGRAMMES: dict[str, list[tuple[str, int, int]]] = {
    "bedroom": [("door", 1, 1), ("bed", 1, 1), ("closet", 0, 1), ("desk", 0, 1), ("nightstand", 1, 2),
                ("window", 1, 2), ("pillow", 1, 3), ("lamp", 0, 1), ("office chair", 0, 1), ("trash can", 0, 1),
                ("mirror", 0, 1), ("backpack", 0, 2), ("radiator", 0, 1), ("clock", 0, 1)],
    "living room": [("door", 1, 2), ("couch", 1, 1), ("bookshelf", 0, 2), ("table", 0, 1), ("coffee table", 1, 1),
                    ("tv", 1, 1), ("window", 1, 3), ("armchair", 0, 2), ("chair", 0, 4), ("plant", 1, 3),
                    ("trash can", 0, 1), ("radiator", 0, 1), ("clock", 0, 1), *_ARKIT_LIVING],
    "office": [("door", 1, 1), ("desk", 2, 4), ("bookshelf", 0, 2), ("office chair", 2, 4), ("monitor", 1, 4),
               ("printer", 0, 1), ("window", 1, 3), ("trash can", 1, 2), ("plant", 0, 2), ("backpack", 0, 2),
               ("radiator", 0, 1), ("clock", 0, 1)],
    "kitchen": [("door", 1, 1), ("kitchen counter", 1, 2), ("refrigerator", 1, 1), ("table", 1, 1), ("chair", 2, 5),
                ("microwave", 1, 1), ("window", 1, 2), ("trash can", 1, 2), ("plant", 0, 1), ("clock", 0, 1),
                ("radiator", 0, 1), *_ARKIT_KITCHEN],
}  # fmt: skip

WALL_COLOR = (215, 210, 200)
FLOOR_COLOR = (150, 130, 110)

# The real scannetv2-labels.combined.tsv values for the raw labels used here:
# (id, raw_category, category, nyu40id, nyu40class, mpcat40, mpcat40index).
LABEL_ROWS = [
    ("1", "wall", "wall", "1", "wall", "wall", "1"),
    ("3", "floor", "floor", "2", "floor", "floor", "2"),
    ("5", "door", "door", "8", "door", "door", "4"),
    ("16", "window", "window", "9", "window", "window", "9"),
    ("11", "bed", "bed", "4", "bed", "bed", "11"),
    ("34", "nightstand", "nightstand", "32", "night stand", "chest_of_drawers", "13"),
    ("28", "lamp", "lamp", "35", "lamp", "lighting", "28"),
    ("13", "pillow", "pillow", "18", "pillow", "cushion", "8"),
    ("57", "closet", "closet", "39", "otherfurniture", "misc", "40"),
    ("56", "trash can", "trash can", "39", "otherfurniture", "objects", "39"),
    ("9", "desk", "desk", "14", "desk", "table", "5"),
    ("2", "chair", "chair", "5", "chair", "chair", "3"),
    ("10", "office chair", "office chair", "5", "chair", "chair", "3"),
    ("6", "couch", "couch", "6", "sofa", "sofa", "10"),
    ("24", "coffee table", "coffee table", "7", "table", "table", "5"),
    ("4", "table", "table", "7", "table", "table", "5"),
    ("23", "armchair", "armchair", "5", "chair", "chair", "3"),
    ("33", "tv", "tv", "25", "television", "tv_monitor", "22"),
    ("40", "plant", "plant", "40", "otherprop", "plant", "14"),
    ("18", "bookshelf", "bookshelf", "10", "bookshelf", "shelving", "31"),
    ("159", "kitchen counter", "kitchen counter", "12", "counter", "counter", "26"),
    ("27", "refrigerator", "refrigerator", "24", "refridgerator", "appliances", "37"),
    ("59", "microwave", "microwave", "40", "otherprop", "appliances", "37"),
    ("50", "printer", "printer", "40", "otherprop", "appliances", "37"),
    ("19", "monitor", "monitor", "40", "otherprop", "objects", "39"),
    ("48", "backpack", "backpack", "40", "otherprop", "objects", "39"),
    ("96", "radiator", "radiator", "39", "otherfurniture", "misc", "40"),
    ("71", "mirror", "mirror", "19", "mirror", "mirror", "21"),
    ("103", "clock", "clock", "40", "otherprop", "objects", "39"),
    ("62", "stove", "stove", "38", "otherstructure", "appliances", "37"),
    ("14", "sink", "sink", "34", "sink", "sink", "15"),
    ("136", "dishwasher", "dishwasher", "38", "otherstructure", "appliances", "37"),
    ("84", "oven", "oven", "38", "otherstructure", "appliances", "37"),
    ("156", "fireplace", "fireplace", "38", "otherstructure", "fireplace", "27"),
    ("38", "stool", "stool", "40", "otherprop", "stool", "19"),
]


def label_table_rows() -> list[dict[str, str]]:
    keys = ("id", "raw_category", "category", "nyu40id", "nyu40class", "mpcat40", "mpcat40index")
    return [{**dict(zip(keys, row, strict=True)), "count": "1"} for row in LABEL_ROWS]


def part_boxes(shape: str, w: float, d: float, h: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The solid parts of a piece of furniture as (lo, hi) boxes in its frame: footprint centred on the
    origin, floor at z=0, back at -y. Every shape's parts reach all six faces of its w×d×h box, so the
    object's tight box is exactly w×d×h."""
    hw, hd = w / 2, d / 2

    def box(x0, y0, z0, x1, y1, z1):
        return np.array([x0, y0, z0], float), np.array([x1, y1, z1], float)

    def legs(leg: float, top: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Four square legs in the footprint's corners, from the floor up to `top`."""
        return [
            box(min(sx * hw, sx * (hw - leg)), min(sy * hd, sy * (hd - leg)), 0,
                max(sx * hw, sx * (hw - leg)), max(sy * hd, sy * (hd - leg)), top)
            for sx in (-1, 1)
            for sy in (-1, 1)
        ]  # fmt: skip

    if shape == "table":
        leg, top = min(0.06, w / 6), 0.04
        return [box(-hw, -hd, h - top, hw, hd, h), *legs(leg, h - top)]
    if shape == "chair":
        seat_z = 0.45 * min(1.0, h / 0.9)
        back = box(-hw, -hd, seat_z, hw, -hd + 0.06, h)
        return [box(-hw, -hd, seat_z, hw, hd, seat_z + 0.05), back, *legs(0.04, seat_z)]
    if shape == "bed":
        return [box(-hw, -hd, 0, hw, hd, 0.5), box(-hw, -hd, 0, hw, -hd + 0.08, h)]
    if shape == "couch":
        arm = 0.18
        return [box(-hw, -hd, 0, hw, hd, 0.45), box(-hw, -hd, 0, hw, -hd + 0.22, h),
                box(-hw, -hd, 0, -hw + arm, hd, 0.62), box(hw - arm, -hd, 0, hw, hd, 0.62)]  # fmt: skip
    if shape == "shelf":
        t = 0.03
        boards = [box(-hw, -hd, z, hw, hd, z + t) for z in np.linspace(0, h - t, 5)]
        return [
            box(-hw, -hd, 0, -hw + t, hd, h),
            box(hw - t, -hd, 0, hw, hd, h),
            box(-hw, -hd, 0, hw, -hd + t, h),
            *boards,
        ]
    return [box(-hw, -hd, 0, hw, hd, h)]

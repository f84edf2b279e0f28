"""The one scene model: every source parser produces a `Scene`, every question generator consumes one.

Coordinates are metres in the scene's aligned frame with z up (ScanNet after `axisAlignment`,
ARKitScenes and ScanNet++ as released). Nothing here knows which source a scene came from beyond the
`dataset` name carried for the output rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely

from vsi_data.geometry.boxes import BoxFit, OrientedBox
from vsi_data.geometry.plausibility import PhysicalBounds
from vsi_data.vocabulary import Vocabulary


@dataclass(frozen=True, eq=False)
class SceneObject:
    instance_id: int
    category: str  # in the recipe's vocabulary
    raw_label: str  # as the source wrote it
    box: OrientedBox
    points: np.ndarray | None = None  # (N, 3) float32 where the source has per-object points


@dataclass(frozen=True, eq=False)
class Room:
    area: float  # square metres
    # Traces the floor polygons when first asked: a build needs only the area, `inspect` draws the footprint.
    trace_footprint: Callable[[], shapely.MultiPolygon] | None = None
    method: str = ""  # how the area was obtained, for the answer's meta

    @cached_property
    def footprint(self) -> shapely.MultiPolygon | None:
        """The floor polygons whose area is `area`; None where the source gives the area only."""
        return None if self.trace_footprint is None else self.trace_footprint()


@dataclass(frozen=True, eq=False)
class DepthStream:
    """A stream's depth camera: frame i's depth map is seen from frame i's pose (the colour camera's; ScanNet
    and the iPhone register depth to colour) through these intrinsics."""

    intrinsics: np.ndarray  # (3, 3)
    width: int
    height: int
    read: Callable[[int], np.ndarray]  # frame index → H×W float32 metres, 0 where nothing was measured


@dataclass(frozen=True, eq=False)
class FrameStream:
    """The scan's camera stream: poses in the scene frame, intrinsics, and a lazy colour-image reader.

    Frames whose pose is not finite (ScanNet writes -inf for tracking failures) stay in the stream, so
    frame i is still the i-th image of the video, but `valid` marks them unusable for geometry. Frame i is
    shown at i / `fps` seconds of the scene's video; questions about the video use that clock.
    """

    poses: np.ndarray  # (N, 4, 4) camera-to-world
    timestamps: np.ndarray  # (N,) seconds
    intrinsics: np.ndarray  # (3, 3) colour camera
    width: int
    height: int
    read_color: Callable[[int], np.ndarray] | None = None  # frame index → H×W×3 uint8 RGB
    # Every colour frame in order, in one sequential pass, each decoded at the smallest size the format can
    # decode to cheaply that is no smaller than the size asked (JPEG DCT scaling): what encoding a video needs.
    color_pass: Callable[[tuple[int, int]], Iterator[np.ndarray]] | None = None
    fps: float = 24.0  # the video's frame rate: VSI-Bench's 24 for ScanNet, the capture's own elsewhere
    depth: DepthStream | None = None
    source_video: Path | None = None  # a video whose i-th frame is frame i, copied as is unless re-encoding is asked

    @property
    def valid(self) -> np.ndarray:
        return np.all(np.isfinite(self.poses.reshape(len(self.poses), -1)), axis=1)

    def __len__(self) -> int:
        return len(self.poses)

    def colors(self, at_least: tuple[int, int]) -> Iterator[np.ndarray]:
        """Every colour frame in order as RGB, at least `at_least` (width, height) where the stream is that large."""
        if self.color_pass is not None:
            return self.color_pass(at_least)
        if self.read_color is None:
            raise ValueError("this frame stream has no colour images")
        return (self.read_color(i) for i in range(len(self)))

    def video_time(self, index: np.ndarray | int) -> np.ndarray | float:
        """Seconds into the scene's video at which frame `index` is shown."""
        return np.asarray(index) / self.fps


@dataclass(eq=False)
class Scene:
    scene_id: str
    dataset: str  # scannet, arkitscenes, scannetpp, synthetic
    split: str  # train / val / test
    objects: list[SceneObject]
    room: Room | None = None
    frames: FrameStream | None = None
    # Categories with an instance the parser could not measure: no question may name them, since even
    # their count would be wrong.
    unreliable_categories: set[str] = field(default_factory=set)
    # Parser counters (labels dropped by the vocabulary, objects too small to box, ...) for the manifest.
    stats: Counter[str] = field(default_factory=Counter)
    # Categories in the order the source lists them, where a rule depends on it (VSI-Bench asks a direction
    # triple's orderings in its meta info's category order, and names an absolute-distance pair's later category
    # first); empty: alphabetical, as `by_category`.
    category_order: tuple[str, ...] = ()

    @cached_property
    def by_category(self) -> dict[str, list[SceneObject]]:
        grouped: dict[str, list[SceneObject]] = {}
        for obj in self.objects:
            grouped.setdefault(obj.category, []).append(obj)
        return dict(sorted(grouped.items()))

    def in_listed_order(self, categories: Iterable[str]) -> list[str]:
        """`categories` in `category_order`; those it does not list after them, alphabetically."""
        rank = {category: i for i, category in enumerate(self.category_order)}
        return sorted(categories, key=lambda category: (rank.get(category, len(rank)), category))

    @property
    def counts(self) -> dict[str, int]:
        """Instances per category. Which categories a question may name is the QA layer's call."""
        return {category: len(objs) for category, objs in self.by_category.items()}


@dataclass(frozen=True)
class ParseOptions:
    """The recipe's say in parsing: categories, box fitting, how the room area is measured, the physical bounds
    a scan must respect, and the build's: whether the camera stream is read at all."""

    vocabulary: Vocabulary
    box_fit: BoxFit = "minimal"
    min_object_points: int = 20  # fewer vertices than this cannot give a trustworthy box
    room_alpha: float = 5.0
    room_max_points: int | None = None  # random subsample (VSI-Bench used 10,000); None keeps all points
    seed: int = 0
    bounds: PhysicalBounds = field(default_factory=PhysicalBounds)
    # Read the camera stream (poses, timestamps, frame index). Only videos and appearance order use it, and
    # indexing a real `.sens` means a seek per frame (~30 ms for 5,000 frames, more from a cold disk).
    frames: bool = True

"""Recipes: which question types, how many, and every threshold, rounding and metric, as YAML data.

    name: vsibench
    vocabulary: vsibench          # recipes/vocabularies/<name>.yaml or a path
    templates: vsibench           # templates/<name>.yaml or a path
    options: letters              # letters ("A. chair", answer "A") or none (answer is the word)
    geometry: {box_fit: minimal, distance: box_grid, min_object_points: 20}
    room: {alpha: 5.0, max_points: 10000}
    plausibility: {max_room_extent_m: 100, max_object_extent_m: 20}   # physical bounds a scan must respect
    types:
      object_counting: {per_scene: 6, min_count: 2}
      ...

Every key is checked on load; a misspelt one is an error naming the file, never silently ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vsi_data.geometry.boxes import BoxFit
from vsi_data.geometry.distance import DistanceMetric
from vsi_data.geometry.plausibility import PhysicalBounds
from vsi_data.qa.generators import GENERATORS, Generator
from vsi_data.qa.generators.base import OURS, VSGRPO_PAPER, VSIBENCH_CODE, setting
from vsi_data.qa.templates import TemplateSet, load_templates
from vsi_data.qa.visible import VisibilitySettings
from vsi_data.resources import load_yaml, resolve_named
from vsi_data.scene import ParseOptions
from vsi_data.settings import check_at_least, option, parse_params
from vsi_data.vocabulary import Vocabulary, load_vocabulary


@dataclass(frozen=True)
class TypeBalance:
    """One question type's rule in `balance.types`."""

    max_share: float = option(help="no answer group keeps more than this share of its type's rows, in (0, 1]")
    bin: float | None = option(
        None, help="numeric answers are grouped in bins this wide (answer units); null: grouped by answer text"
    )

    def __post_init__(self) -> None:
        if not 0 < self.max_share <= 1 or (self.bin is not None and self.bin <= 0):
            raise ValueError(f"needs 0 < max_share <= 1 and bin > 0, not {self.max_share} and {self.bin}")


@dataclass(frozen=True)
class Balance:
    """The recipe's `balance:` section, applied dataset-wide when a build finishes (`output.balance`)."""

    dedup: bool = option(
        True, help="drop rows that repeat an earlier row's scene, question and options exactly (the first is kept)"
    )
    types: Mapping[str, TypeBalance] = field(
        default_factory=dict,
        metadata={
            "help": "question type -> {max_share, bin}: rows of over-common answers dropped (seeded) after all "
            "scenes; skipped by --exhaustive"
        },
    )


@dataclass(frozen=True)
class GeometrySettings:
    """The recipe's `geometry:` section: how objects are boxed and measured (every type shares it)."""

    box_fit: BoxFit = setting(
        "minimal",
        help="minimal: the minimum-volume box of an instance's points (open3d); upright: the smallest box turned "
        "about z only",
        source=f'{VSIBENCH_CODE} (`get_minimal_oriented_bounding_box`); vsi100k: the paper says "3D bounding box"',
    )
    distance: DistanceMetric = setting(
        "closest_points",
        help="object-to-object distance: box_grid (nearest points of hollow 5 cm grids in the two boxes), center, "
        "closest_box (exact), closest_points (the objects' own points); between categories, the nearest instances",
        source=f"{VSIBENCH_CODE} (`cal_3d_bbox_distance_between_categories`); vsi100k: {VSGRPO_PAPER} "
        '("distance between geometric centers")',
    )
    min_object_points: int = setting(
        20,
        help="instances with fewer points are not boxed, and their category is never named",
        source=f"{OURS}: VSI-Bench boxed every instance; a ScanNet instance has at least 20 vertices (its "
        "segmentator's `segMinVerts`), so there this removes nothing",
    )

    def __post_init__(self) -> None:
        check_at_least(self, 0, "min_object_points")


@dataclass(frozen=True)
class RoomSettings:
    """The recipe's `room:` section: the room-size measurement."""

    alpha: float = setting(
        5.0, help="alpha of the alpha shape of the scene points' floor projection", source=f"{VSIBENCH_CODE} (alpha=5)"
    )
    max_points: int | None = setting(
        None,
        help="points drawn (seeded, with replacement) before the alpha shape; null: every mesh vertex",
        source=f"{VSIBENCH_CODE} (10,000 drawn with `np.random.choice`, unseeded); vsi100k: ours",
    )

    def __post_init__(self) -> None:
        check_at_least(self, 0, "alpha", "max_points")


@dataclass(frozen=True, kw_only=True)
class RecipeKeys:
    """The top level of a build recipe, one field per key: its type, default and help (the sections' own keys
    are their settings classes; `types:` takes each question type's `Params`)."""

    name: str | None = option(None, help="the recipe's name in the manifest; null: the file's name")
    description: str = option("", help="one line on what the recipe is for")
    vocabulary: str = option("vsibench", help="recipes/vocabularies/<name>.yaml or a path: category names and merges")
    templates: str | None = option(
        None, help="templates/<name>.yaml or a path: question wording; null: the recipe file's name"
    )
    options: Literal["letters", "none"] = option(
        "letters", help='letters ("A. chair", the answer "A") or none (the answer is the word)'
    )
    geometry: GeometrySettings = option(GeometrySettings(), help="how objects are boxed and measured")
    room: RoomSettings = option(RoomSettings(), help="the room-size measurement")
    plausibility: PhysicalBounds = option(PhysicalBounds(), help="physical bounds a scan must respect")
    types: dict[str, Any] = option(
        help="question type -> its settings (`Params`, below); only the types listed are asked"
    )
    balance: Balance = option(Balance(), help="dataset-wide duplicate removal and answer balancing")
    visibility: VisibilitySettings = option(
        VisibilitySettings(), help="ask only about categories the video shows (docs/answer-rules.md); off by default"
    )


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    vocabulary: Vocabulary
    templates: TemplateSet
    lettered: bool
    geometry: GeometrySettings
    room: RoomSettings
    bounds: PhysicalBounds  # what a scan must measure up to before its numbers become answers
    generators: tuple[Generator, ...]
    balance: Balance  # dataset-wide, after all scenes; skipped by --exhaustive
    visibility: VisibilitySettings  # which types name only categories the video shows

    def parse_options(self, seed: int, frames: bool = True) -> ParseOptions:
        return ParseOptions(
            vocabulary=self.vocabulary,
            box_fit=self.geometry.box_fit,
            min_object_points=self.geometry.min_object_points,
            room_alpha=float(self.room.alpha),
            room_max_points=self.room.max_points,
            seed=seed,
            bounds=self.bounds,
            frames=frames,
        )

    def resolved(self) -> dict[str, Any]:
        """The recipe with every default filled in, as recorded in the manifest."""
        return {
            "name": self.name,
            "source_file": str(self.path),
            "vocabulary": self.vocabulary.name,
            "templates": self.templates.name,
            "options": "letters" if self.lettered else "none",
            "geometry": dataclasses.asdict(self.geometry),
            "room": {"alpha": float(self.room.alpha), "max_points": self.room.max_points},
            "plausibility": dataclasses.asdict(self.bounds),
            "types": {g.question_type: _jsonable(dataclasses.asdict(g.params)) for g in self.generators},
            "balance": _jsonable(dataclasses.asdict(self.balance)),
            # Recorded only when on, so the fingerprint of a build begun before the section existed still matches.
            **({"visibility": _jsonable(dataclasses.asdict(self.visibility))} if self.visibility.on else {}),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A bundled build recipe by name (`vsi100k`, `vsibench`) or a YAML file, every key checked
    (`vsi_data.settings.parse_params`, against `RecipeKeys` and the sections' settings classes)."""
    try:
        path = resolve_named("recipes", name_or_path, listed=lambda p: "kind" not in load_yaml(p))
        data = load_yaml(path)
    except (FileNotFoundError, ValueError) as exc:
        raise RecipeError(str(exc)) from exc
    if "kind" in data:
        raise RecipeError(f"{path}: a training recipe (kind: {data['kind']}); use `vsi-data train-grpo`")
    try:
        keys = parse_params(RecipeKeys, "", data, what="recipe keys")
        if not keys.types:
            raise ValueError("`types` must map question types to their settings")
        for question_type in [*keys.types, *keys.balance.types, *keys.visibility.require_visible]:
            if question_type not in GENERATORS:
                raise ValueError(f"unknown question type {question_type!r}; known: {sorted(GENERATORS)}")
        unasked = [t for t in keys.visibility.require_visible if t not in keys.types]
        if unasked:
            raise ValueError(f"visibility.require_visible lists {', '.join(unasked)}, which `types` does not ask")
        vocabulary = load_vocabulary(keys.vocabulary)
        templates = load_templates(keys.templates or path.stem)
        generators = tuple(
            _generator(question_type, settings, keys, templates) for question_type, settings in keys.types.items()
        )
    except (FileNotFoundError, ValueError, TypeError) as exc:
        raise RecipeError(f"{path}: {exc}") from exc
    return Recipe(
        name=str(keys.name or path.stem),
        path=path,
        vocabulary=vocabulary,
        templates=templates,
        lettered=keys.options == "letters",
        geometry=keys.geometry,
        room=keys.room,
        bounds=keys.plausibility,
        generators=generators,
        balance=keys.balance,
        visibility=keys.visibility,
    )


def _generator(question_type: str, settings: Any, keys: RecipeKeys, templates: TemplateSet) -> Generator:
    if not isinstance(settings, dict | None):
        raise ValueError(f"`types.{question_type}` must be a mapping of its settings, not {settings!r}")
    cls = GENERATORS[question_type]
    params = cls.make_params(question_type, settings or {})
    wording = templates.for_type(question_type, set(cls.fields), keys.geometry.distance)
    return cls(question_type, params, wording, keys.options == "letters")

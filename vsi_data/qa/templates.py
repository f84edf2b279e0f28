"""Question wording from `templates/<name>.yaml`: several paraphrases per question type.

A template is `{id, text}`, and `distance: center | closest` where its words say how distances are measured
("center to center", "from the closest point"): a recipe whose `geometry.distance` measures otherwise is refused
on load, so wording and answers cannot disagree. `text` is a Python format string whose fields each generator
documents (e.g. `{category}`, `{a}`, `{b}`, `{choices}`): plain names only, and every one the type fills except
`{choices}`, so a question always says what it asks about; a template breaking that is refused on load. A recipe
picks the template file; a question picks one paraphrase with its scene's seeded generator and records the
template id in its meta.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from vsi_data.resources import load_yaml, resolve_named

# What a template's `distance` tag promises → the recipe distance metrics that keep the promise.
# Fields a template may leave out: the choices, which a lettered recipe lists as options and some wordings name
# in their own words ("to the left or the right"); every other field says what the question is about.
OPTIONAL_FIELDS = frozenset({"choices"})
DISTANCE_WORDING = {"center": ("center",), "closest": ("closest_box", "closest_points", "box_grid")}


@dataclass(frozen=True)
class Template:
    id: str
    text: str
    distance: str | None = None  # how the wording says distances are measured: a DISTANCE_WORDING key

    def __post_init__(self) -> None:
        """Only plain `{field}`s: a conversion, format spec, index or positional field would fail (or change the
        words) when a scene fills it, far from the file at fault."""
        try:
            parts = list(string.Formatter().parse(self.text))
        except ValueError as exc:
            raise ValueError(f"template {self.id}: {exc} in {self.text!r} (a literal brace is {{{{ or }}}})") from None
        for _, name, spec, conversion in parts:
            if name is not None and (not name.isidentifier() or spec or conversion):
                field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
                raise ValueError(f"template {self.id}: {field} in {self.text!r}; fields are plain names such as {{a}}")

    @property
    def fields(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


@dataclass(frozen=True)
class TemplateSet:
    name: str
    by_type: dict[str, tuple[Template, ...]]
    path: Path

    def for_type(self, question_type: str, needed: set[str], metric: str) -> tuple[Template, ...]:
        """The templates of a type that fills the fields `needed`, in a recipe measuring distances by `metric`."""
        templates = self.by_type.get(question_type)
        if not templates:
            raise ValueError(f"{self.path}: no templates for {question_type}")
        for template in templates:
            unknown = template.fields - needed
            if unknown:
                raise ValueError(
                    f"{self.path}: template {template.id} uses {sorted(unknown)}; "
                    f"{question_type} offers {sorted(needed)}"
                )
            left_out = needed - OPTIONAL_FIELDS - template.fields
            if left_out:
                raise ValueError(
                    f"{self.path}: template {template.id} leaves out {sorted(left_out)}, so its question would not "
                    f"say what it asks about ({template.text!r})"
                )
            if template.distance is not None and metric not in DISTANCE_WORDING[template.distance]:
                raise ValueError(
                    f"{self.path}: template {template.id} words distances as {template.distance} "
                    f"({template.text!r}), but the recipe measures them by geometry.distance {metric}; "
                    f"use templates worded for it, or one of {', '.join(DISTANCE_WORDING[template.distance])}"
                )
        return templates


def load_templates(name_or_path: str | Path) -> TemplateSet:
    path = resolve_named("templates", name_or_path)
    data = load_yaml(path)
    by_type: dict[str, tuple[Template, ...]] = {}
    for question_type, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{path}: {question_type} must be a non-empty list of templates")
        parsed = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                raise ValueError(f"{path}: {question_type}[{i}] needs a `text` string")
            distance = entry.get("distance")
            if distance is not None and distance not in DISTANCE_WORDING:
                raise ValueError(f"{path}: {question_type}[{i}]: distance must be one of {list(DISTANCE_WORDING)}")
            template_id = str(entry.get("id", f"{question_type}-{i}"))
            try:
                parsed.append(Template(id=template_id, text=entry["text"], distance=distance))
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        by_type[question_type] = tuple(parsed)
    return TemplateSet(name=path.stem, by_type=by_type, path=path)

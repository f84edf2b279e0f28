"""Question wording from `templates/<name>.yaml`: several paraphrases per question type.

A template is `{id, text}`; `text` is a Python format string whose fields each generator documents
(e.g. `{category}`, `{a}`, `{b}`, `{choices}`). A recipe picks the template file; a question picks one
paraphrase with its scene's seeded generator and records the template id in its meta.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from vsi_data.resources import load_yaml, resolve_named


@dataclass(frozen=True)
class Template:
    id: str
    text: str

    @property
    def fields(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


@dataclass(frozen=True)
class TemplateSet:
    name: str
    by_type: dict[str, tuple[Template, ...]]
    path: Path

    def for_type(self, question_type: str, needed: set[str]) -> tuple[Template, ...]:
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
            parsed.append(Template(id=str(entry.get("id", f"{question_type}-{i}")), text=entry["text"]))
        by_type[question_type] = tuple(parsed)
    return TemplateSet(name=path.stem, by_type=by_type, path=path)

"""Category vocabularies: which source labels become which question categories, as data.

A vocabulary file (`recipes/vocabularies/<name>.yaml`) has, per source, an ordered list of rules.
Each rule looks a label up in one column of the source's label table (or the raw label itself) and maps
it to a category; the first rule that matches wins. A label mapped to `null` is dropped on purpose (later
rules are not consulted), and a label no rule matches is dropped too (structure such as wall and floor,
and everything outside the vocabulary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vsi_data.resources import load_yaml, resolve_named

RAW = "raw"  # the rule column that means "the label as the source wrote it"


def normalize_label(label: str) -> str:
    return " ".join(str(label).strip().lower().split())


@dataclass(frozen=True)
class LabelRule:
    column: str
    mapping: Mapping[str, str | None]  # normalised label in `column` → category (None: drop)


@dataclass(frozen=True)
class Vocabulary:
    name: str
    rules: Mapping[str, tuple[LabelRule, ...]]  # source → rules
    path: Path
    # Groups of categories a viewer cannot tell apart (chair / office chair): when two of a group share
    # a scene, questions name neither.
    confusable: tuple[frozenset[str], ...] = ()

    def confusable_with(self, category: str) -> frozenset[str]:
        return frozenset().union(*(group for group in self.confusable if category in group)) - {category}

    def categorize(self, source: str, raw_label: str, table_row: Mapping[str, str] | None = None) -> str | None:
        """The category of one label, or None when the vocabulary drops it."""
        rules = self.rules.get(source)
        if rules is None:
            raise KeyError(f"vocabulary {self.name!r} ({self.path}) has no rules for source {source!r}")
        for rule in rules:
            if rule.column == RAW:
                value = raw_label
            elif table_row is not None and rule.column in table_row:
                value = table_row[rule.column]
            else:
                continue
            key = normalize_label(value)
            if key in rule.mapping:
                return rule.mapping[key]
        return None

    def columns(self, source: str) -> set[str]:
        """The label-table columns the rules of `source` read (a table without one would drop every label)."""
        return {rule.column for rule in self.rules.get(source, ()) if rule.column != RAW}

    def categories(self, source: str) -> set[str]:
        return {c for rule in self.rules.get(source, ()) for c in rule.mapping.values() if c is not None}


def load_vocabulary(name_or_path: str | Path) -> Vocabulary:
    path = resolve_named("recipes", name_or_path, subdir="vocabularies")
    data = load_yaml(path)
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ValueError(f"{path}: a vocabulary needs a `sources:` mapping of source → rules")
    rules: dict[str, tuple[LabelRule, ...]] = {}
    for source, source_rules in sources.items():
        if not isinstance(source_rules, list):
            raise ValueError(f"{path}: sources.{source} must be a list of rules")
        parsed = []
        for i, rule in enumerate(source_rules):
            if not isinstance(rule, dict) or "map" not in rule or not isinstance(rule["map"], dict):
                raise ValueError(f"{path}: sources.{source}[{i}] needs `column:` and a `map:` mapping")
            mapping = {normalize_label(k): (None if v is None else str(v)) for k, v in rule["map"].items()}
            parsed.append(LabelRule(column=str(rule.get("column", RAW)), mapping=mapping))
        rules[source] = tuple(parsed)
    groups = data.get("confusable") or []
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise ValueError(f"{path}: `confusable` must be a list of category lists")
    confusable = tuple(frozenset(str(c) for c in group) for group in groups)
    return Vocabulary(name=str(data.get("name", path.stem)), rules=rules, path=path, confusable=confusable)

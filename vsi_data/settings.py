"""Checking YAML values against the annotated settings they fill: one validator for build recipes (a
generator's `Params`, the recipe's physical bounds) and training recipes (`grpo:` against TRL's `GRPOConfig`).

YAML gives plain values; a setting's annotation says what it takes. A value of another type is an error naming
the setting and the value, never passed on: `true` is not a number, `1.5` not a whole number, and `1e-4` is text
in YAML 1.1 (the message says to write `1.0e-4`). Annotations beyond plain types, lists, mappings and their
unions (a `Literal`, a callable) are left to the code that uses the setting. An enum takes one of its values.

A setting's help text is its field's metadata (`option`, as TRL's `GRPOConfig` does with `metadata={"help": ...}`):
the recipe reference (docs/recipes.md, `python -m vsi_data.train.recipe_reference --write`) is generated from it.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import math
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def option(default: Any = dataclasses.MISSING, *, help: str, key: str | None = None) -> Any:
    """A documented setting: its help text (and its YAML key, where that is no Python name, e.g. `as`) as
    field metadata; no default means the recipe must set it."""
    return dataclasses.field(default=default, metadata={"help": help} | ({} if key is None else {"key": key}))


def check_at_least(settings: Any, minimum: int, *names: str) -> None:
    """The range check settings classes run in `__post_init__` once the types are right; an unset (None)
    setting passes."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < minimum:
            bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            raise ValueError(f"{name} {bound}, not {value!r}")


def field_doc(cls: type, name: str) -> dict[str, Any]:
    """A setting's metadata ({help, ...}), from the nearest class in `cls`'s hierarchy that documents it
    (a subclass may only change a default, e.g. room size's `per_scene: 1`)."""
    for klass in cls.__mro__:
        fields = getattr(klass, "__dataclass_fields__", {})
        if name in fields and fields[name].metadata:
            return dict(fields[name].metadata)
    raise LookupError(f"{cls.__name__}.{name} has no help text (declare it with `option(...)` or `setting(...)`)")


def _enum_values(annotation: Any) -> list[Any] | None:
    return [m.value for m in annotation] if isinstance(annotation, type) and issubclass(annotation, enum.Enum) else None


def union_members(annotation: Any) -> tuple[Any, ...]:
    """The members of `A | B` (or `Optional[A]`); empty for any other annotation."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in (types.UnionType, typing.Union) else ()


def _literal_values(annotation: Any) -> list[Any] | None:
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is typing.Literal else None


def _checkable(annotation: Any) -> bool:
    options = union_members(annotation) or (annotation,)
    return annotation is Any or all(
        _literal_values(a) is not None or isinstance(typing.get_origin(a) or a, type) for a in options
    )


def _matches(value: Any, annotation: Any) -> bool:
    """Does a YAML value fit an annotation (int, float, str, bool, list, dict, or a union of them)?"""
    if annotation is Any:
        return True
    options = union_members(annotation)
    if options:
        return any(_matches(value, option) for option in options)
    if annotation is type(None):
        return value is None
    if _enum_values(annotation) is not None:
        return isinstance(value, annotation) or value in _enum_values(annotation)
    if _literal_values(annotation) is not None:
        return value in _literal_values(annotation)
    origin = typing.get_origin(annotation) or annotation
    if origin is float:  # NaN passes every range check a settings class makes: never a setting
        return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):  # YAML writes both as a list; each item checked against the item type
        items = [a for a in typing.get_args(annotation) if a is not Ellipsis] or [Any]
        return isinstance(value, list | tuple) and all(_matches(item, items[0]) for item in value)
    return isinstance(value, origin)


def describe(annotation: Any) -> str:
    """int, float or null, list, ...: the YAML-facing name of an annotation."""
    options = union_members(annotation)
    if options:
        return " or ".join(describe(option) for option in options)
    if annotation is type(None):
        return "null"
    if _enum_values(annotation) is not None:
        return f"one of {_enum_values(annotation)}"
    if _literal_values(annotation) is not None:
        return f"one of {_literal_values(annotation)}"
    if typing.get_origin(annotation) in (list, tuple):
        items = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return f"a list of {describe(items[0])}" if items else "a list"
    return getattr(typing.get_origin(annotation) or annotation, "__name__", str(annotation))


def check_value(name: str, value: Any, annotation: Any) -> None:
    """A `ValueError` naming `name` when `value` does not fit `annotation`."""
    if not _checkable(annotation) or _matches(value, annotation):
        return
    as_text = isinstance(value, str) and "e" in value.lower() and _is_number(value)
    hint = " (write numbers like 1e-4 as 1.0e-4: YAML reads 1e-4 as text)" if as_text else ""
    if isinstance(value, float) and math.isnan(value):
        hint = " (.nan is not a number a setting can take)"
    raise ValueError(f"{name} must be {describe(annotation)}, not {value!r}{hint}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def yaml_key(f: dataclasses.Field) -> str:
    """The key a recipe writes for a setting (`frames.as` fills `input`: `as` is no Python name)."""
    return f.metadata.get("key", f.name)


def section_class(annotation: Any) -> type | None:
    """The settings dataclass a key holds: `Section`, `Section | None`, or each value of `Mapping[str, Section]`
    (a section keyed by names the user chooses, e.g. `balance.types`)."""
    if _is_mapping(annotation):
        options: tuple[Any, ...] = typing.get_args(annotation)[1:]
    else:
        options = union_members(annotation) or (annotation,)
    classes = [a for a in options if dataclasses.is_dataclass(a)]
    return classes[0] if len(classes) == 1 else None


def is_keyed_section(annotation: Any) -> bool:
    """`Mapping[str, Section]`: a section per user-chosen name."""
    return _is_mapping(annotation) and section_class(annotation) is not None


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return isinstance(origin, type) and issubclass(origin, collections.abc.Mapping)


def _value(name: str, value: Any, annotation: Any) -> Any:
    """One setting's value, checked; nested sections parsed, an enum's value made its member, a list given for a
    tuple made a tuple (a settings object stays hashable)."""
    section = section_class(annotation)
    if section is not None and _is_mapping(annotation):  # a keyed section
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a mapping, not {value!r}")
        return {key: parse_params(section, f"{name}.{key}", entry) for key, entry in value.items()}  # type: ignore[arg-type]
    if section is not None and not (value is None and type(None) in union_members(annotation)):
        return parse_params(section, name, value)
    check_value(name, value, annotation)
    if _enum_values(annotation) is not None:
        return annotation(value)
    return tuple(value) if typing.get_origin(annotation) is tuple else value


def parse_params(cls: type[T], where: str, values: Any, *, what: str | None = None) -> T:
    """A settings dataclass (a generator's `Params`, a recipe section, a whole recipe's top level) from YAML
    values: an unknown key, a missing required one or a value of the wrong type is an error naming the setting
    (`where.key`); absent keys take the defaults; the dataclass checks its ranges. `what` names the keys in the
    unknown-key error (default: "`where` settings")."""
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ValueError(f"`{where}` must be a mapping, not {values!r}")
    fields = {yaml_key(f): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown {what or f'`{where}` settings'} {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    parsed = {}
    for key, f in fields.items():
        name = f"{where}.{key}" if where else key
        if key in values:
            parsed[f.name] = _value(name, values[key], hints[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{name} must be set ({describe(hints[f.name])})")
    try:
        return cls(**parsed)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}" if where else str(exc)) from exc

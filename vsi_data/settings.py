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

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def option(default: Any = dataclasses.MISSING, *, help: str, key: str | None = None) -> Any:
    """A documented setting: its help text (and its YAML key, where that is no Python name, e.g. `as`) as
    field metadata; no default means the recipe must set it."""
    return dataclasses.field(default=default, metadata={"help": help} | ({} if key is None else {"key": key}))


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


def _union_options(annotation: Any) -> tuple[Any, ...]:
    """The members of `A | B` (or `Optional[A]`); empty for any other annotation."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in (types.UnionType, typing.Union) else ()


def _checkable(annotation: Any) -> bool:
    options = _union_options(annotation) or (annotation,)
    return annotation is Any or all(isinstance(typing.get_origin(a) or a, type) for a in options)


def _matches(value: Any, annotation: Any) -> bool:
    """Does a YAML value fit an annotation (int, float, str, bool, list, dict, or a union of them)?"""
    if annotation is Any:
        return True
    options = _union_options(annotation)
    if options:
        return any(_matches(value, option) for option in options)
    if annotation is type(None):
        return value is None
    if _enum_values(annotation) is not None:
        return isinstance(value, annotation) or value in _enum_values(annotation)
    origin = typing.get_origin(annotation) or annotation
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin)


def describe(annotation: Any) -> str:
    """int, float or null, list, ...: the YAML-facing name of an annotation."""
    options = _union_options(annotation)
    if options:
        return " or ".join(describe(option) for option in options)
    if annotation is type(None):
        return "null"
    if _enum_values(annotation) is not None:
        return f"one of {_enum_values(annotation)}"
    return getattr(typing.get_origin(annotation) or annotation, "__name__", str(annotation))


def check_value(name: str, value: Any, annotation: Any) -> None:
    """A `ValueError` naming `name` when `value` does not fit `annotation`."""
    if not _checkable(annotation) or _matches(value, annotation):
        return
    as_text = isinstance(value, str) and "e" in value.lower() and _is_number(value)
    hint = " (write numbers like 1e-4 as 1.0e-4: YAML reads 1e-4 as text)" if as_text else ""
    raise ValueError(f"{name} must be {describe(annotation)}, not {value!r}{hint}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_params(cls: type[T], where: str, values: dict[str, Any]) -> T:
    """A settings dataclass (a generator's `Params`, the recipe's physical bounds) from YAML values: an unknown
    key or a value of the wrong type is an error naming `where`; the dataclass checks the ranges."""
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise ValueError(f"{where}: unknown settings {sorted(unknown)}; known: {sorted(hints)}")
    for name, value in values.items():
        check_value(f"{where}.{name}", value, hints[name])
    return cls(**values)

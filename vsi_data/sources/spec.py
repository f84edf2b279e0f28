"""One object per source: everything the rest of the tool needs to know about it, in its own folder.

A `SourceSpec` (after nerfstudio's dataparser configs and their `_target`) names the source, its config
dataclass (whose fields declared with `option(...)` are the source's own options: the CLI's flags, with their
help, type and choices), the parser class (imported only when the source is opened, so listing sources loads no
parser), what `--root` must hold, the vocabulary namespace its labels are looked up in, and the synthetic writer
that produces its file format. The CLI's `--source` choices and source options, `open_source` and the
"expected ..." of an empty root all read `vsi_data.registry`, which lists the specs.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vsi_data.lazy import lazy_attributes, load_target
from vsi_data.settings import union_members

__all__ = ["SourceOption", "SourceSpec", "lazy_attributes", "load_target", "option"]


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Callable[[], Iterable[str]] | None = None,
    min: int | None = None,
) -> Any:
    """A source config field that is one of the source's options: `help` is its CLI help, `flag` its CLI name
    where that is not `--<field-name>`, `choices` gives the values it takes (called when the CLI is built, so it
    may read a registry), `min` the least number it takes."""
    metadata = {"help": help, "flag": flag, "choices": choices, "min": min}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SourceOption:
    """One option of a source, as its config declares it."""

    name: str  # the config field
    flag: str  # --label-table
    type: type  # what a value is (the field's type without None): Path, int, str
    help: str
    default: Any
    choices: Callable[[], Iterable[str]] | None = None
    min: int | None = None


def _value_type(annotation: Any) -> type:
    """`Path | None` -> Path: the type a given value has."""
    members = union_members(annotation)
    if members:
        (value_type,) = [a for a in members if a is not type(None)]
        return value_type
    return annotation


@dataclass(frozen=True)
class SourceSpec:
    name: str  # `--source NAME`, and the `dataset` of a row unless the source says otherwise
    config: type  # a frozen dataclass with a `root` field; its `option(...)` fields are the source's own options
    parser: str  # "module:Class" of its `SceneSource`, constructed with one config
    root: str  # what `--root` is, completing "--source NAME needs --root (...)"
    layout: str  # what a root with no scene should have held: "expected <layout>"
    label_namespace: str | None  # the key of its rules in a vocabulary file (None: decided by the config)
    synthetic_writer: str | None = None  # "module:Class" of the synthetic writer of its file format
    depth_stream: bool = True  # its scenes carry posed depth frames, so what the video shows can be tested
    # Each change since 0.2.0 to the rows this source's scenes give, in a line. Their number is recorded in a
    # build's fingerprint (once there is one), so a build begun before a change is refused rather than resumed
    # into a mix of old and new rows, while builds of the other sources still resume.
    rows_revisions: tuple[str, ...] = ()

    @property
    def rows_revision(self) -> int:
        return len(self.rows_revisions)

    def options(self) -> dict[str, SourceOption]:
        """The source's own options (its config's fields declared with `option(...)`), by field name. Its other
        fields beyond `root` (the synthetic source's `seed`, `count`) are filled by the build from its settings."""
        hints = typing.get_type_hints(self.config)
        return {
            f.name: SourceOption(
                f.name,
                f.metadata.get("flag") or "--" + f.name.replace("_", "-"),
                _value_type(hints[f.name]),
                f.metadata["help"],
                f.default,
                f.metadata.get("choices"),
                f.metadata.get("min"),
            )
            for f in dataclasses.fields(self.config)
            if "help" in f.metadata
        }

    def open(self, **values: Any) -> Any:
        """The source's `SceneSource`, from `values` (the fields of its config it takes; others are ignored)."""
        fields = {f.name for f in dataclasses.fields(self.config)}
        parser: Callable[[Any], Any] = load_target(self.parser)
        return parser(self.config(**{name: value for name, value in values.items() if name in fields}))

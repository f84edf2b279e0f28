"""One object per source: everything the rest of the tool needs to know about it, in its own folder.

A `SourceSpec` (after nerfstudio's dataparser configs and their `_target`) names the source, its config
dataclass (whose fields, with `help` metadata, are the source's options and reach `--help`), the parser class
(imported only when the source is opened, so listing sources loads no parser), what `--root` must hold, the
vocabulary namespace its labels are looked up in, and the synthetic writer that produces its file format.
The CLI's `--source` and `--synthetic-format` choices, `open_source` and the "expected ..." of an empty root
all read `vsi_data.registry`, which lists the specs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vsi_data.lazy import lazy_attributes, load_target

__all__ = ["SourceSpec", "field_help", "lazy_attributes", "load_target"]


def option(default: Any, help: str) -> Any:
    """A source config field whose help text is the CLI option's."""
    return dataclasses.field(default=default, metadata={"help": help})


def field_help(config: type, name: str) -> str:
    """The help text of a source config's field (`field(metadata={"help": ...})`), for its CLI option."""
    return next(f.metadata["help"] for f in dataclasses.fields(config) if f.name == name)


@dataclass(frozen=True)
class SourceSpec:
    name: str  # `--source NAME`, and the `dataset` of a row unless the source says otherwise
    config: type  # a frozen dataclass with a `root` field; its other fields are the source's own options
    parser: str  # "module:Class" of its `SceneSource`, constructed with one config
    root: str  # what `--root` is, completing "--source NAME needs --root (...)"
    layout: str  # what a root with no scene should have held: "expected <layout>"
    label_namespace: str | None  # the key of its rules in a vocabulary file (None: decided by the config)
    synthetic_writer: str | None = None  # "module:Class" of the synthetic writer of its file format
    # Each change since 0.2.0 to the rows this source's scenes give, in a line. Their number is recorded in a
    # build's fingerprint (once there is one), so a build begun before a change is refused rather than resumed
    # into a mix of old and new rows, while builds of the other sources still resume.
    rows_revisions: tuple[str, ...] = ()

    @property
    def rows_revision(self) -> int:
        return len(self.rows_revisions)

    def options(self) -> list[str]:
        """The config's fields beyond `root`: the options this source takes."""
        return [f.name for f in dataclasses.fields(self.config) if f.name != "root"]

    def open(self, **values: Any) -> Any:
        """The source's `SceneSource`, from `values` (the fields of its config it takes; others are ignored)."""
        taken = {name: value for name, value in values.items() if name == "root" or name in self.options()}
        parser: Callable[[Any], Any] = load_target(self.parser)
        return parser(self.config(**taken))

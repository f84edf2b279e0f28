"""Every source a build can read, by name: the scan datasets (`sources/registry.py`) and the synthetic source
that writes their formats. The CLI's choices, `open_source` and the "expected ..." of an empty root read this."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsi_data import synthetic
from vsi_data.errors import SourceUnavailable
from vsi_data.sources.registry import DATASETS, synthetic_writers
from vsi_data.sources.spec import SourceSpec

if TYPE_CHECKING:
    from vsi_data.sources.base import SceneSource

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (*DATASETS, synthetic.SPEC)}
SYNTHETIC_FORMATS: tuple[str, ...] = tuple(synthetic_writers())


def open_source(name: str, root: Path | str | None, **options: Any) -> SceneSource:  # a URL: synthetic only
    """The source `name` reading `root`, with the options its config takes (`label_table`, `frames`, ...;
    the others, meant for other sources, are ignored)."""
    if name not in SOURCES:
        raise SourceUnavailable(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}")
    spec = SOURCES[name]
    if root is None:
        raise SourceUnavailable(f"--source {name} needs --root ({spec.root})")
    if name == synthetic.SPEC.name and options.get("format", "scannet") not in SYNTHETIC_FORMATS:
        raise SourceUnavailable(
            f"--synthetic-format {options['format']} is not available in this version; "
            f"expected one of {', '.join(SYNTHETIC_FORMATS)}"
        )
    return spec.open(root=root, **options)

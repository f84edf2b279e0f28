"""A toy scan source, as a user would add one: this folder (the spec here, the parser in `parser.py`) and one
line in `vsi_data/sources/registry.py` (tests/test_extension.py makes that line at run time)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.spec import SourceSpec, lazy_attributes, option


@dataclass(frozen=True)
class ToyConfig:
    root: Path  # a folder of <scene>.json files
    min_objects: int = option(0, "scenes with fewer objects are not listed.", min=0)  # `--min-objects N`


SPEC = SourceSpec(
    name="toy",
    config=ToyConfig,
    parser="toy_source.parser:ToySource",
    root="a folder of <scene>.json files",
    layout="files such as scene1.json",
    label_namespace="vsibench-meta",  # labels are VSI-Bench category names, so the vsibench vocabulary applies
)

__getattr__ = lazy_attributes(SPEC.parser)

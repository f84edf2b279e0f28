"""Synthetic furnished rooms written in a real dataset's file format and read back through its parser: the
embedded default and the test fixture. Its spec is here; the source is `source.SyntheticSource`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.registry import synthetic_writers
from vsi_data.sources.spec import SourceSpec, lazy_attributes, option


@dataclass(frozen=True)
class SyntheticConfig:
    root: Path | str  # where the dataset-format files go: a folder or an fsspec URL
    count: int = 4  # scenes in the universe the build selects from
    seed: int = 0
    frames: int | None = option(
        None,
        "frames rendered per scene (default: about 15 s of video, the format's own: 360 ScanNet, 180 ARKitScenes, "
        "900 ScanNet++); 0: no colour stream.",
        min=0,
    )
    format: str = option(
        "scannet",
        "which dataset's file format to write and read back.",
        flag="--synthetic-format",
        choices=synthetic_writers,  # the datasets with a synthetic writer, read when the CLI is built
    )


SPEC = SourceSpec(
    name="synthetic",
    config=SyntheticConfig,
    parser="vsi_data.synthetic.source:SyntheticSource",
    root="a folder to write its scans in (default: OUT/.synthetic)",
    layout="synthetic scenes",
    label_namespace=None,  # the namespace of the format it writes
)

__getattr__ = lazy_attributes(SPEC.parser)
__all__ = ["SPEC", "SyntheticConfig", "SyntheticSource"]

"""ScanNet v2: file formats (`formats`, `sens`) and the scene parser (`parser`); its spec is here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.spec import SourceSpec, lazy_attributes, option


@dataclass(frozen=True)
class ScanNetConfig:
    root: Path  # the folder holding `scans/`, or `scans/` itself
    label_table: Path | None = option(None, "ScanNet scannetv2-labels.combined.tsv (default: found next to scans/).")


SPEC = SourceSpec(
    name="scannet",
    config=ScanNetConfig,
    parser="vsi_data.sources.scannet.parser:ScanNetSource",
    root="the folder holding scans/",
    layout="scene folders such as scans/scene0000_00/",
    label_namespace="scannet",
    synthetic_writer="vsi_data.synthetic.scannet_writer:ScanNetFormat",
    rows_revisions=("the other scans of a VSI-Bench room are left out with its benchmark scan",),
)

__getattr__ = lazy_attributes(SPEC.parser)
__all__ = ["SPEC", "ScanNetConfig", "ScanNetSource"]

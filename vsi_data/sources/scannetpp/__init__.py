"""ScanNet++: file formats (`formats`, `depth`) and the scene parser (`parser`); its spec is here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.spec import SourceSpec, lazy_attributes


@dataclass(frozen=True)
class ScannetppConfig:
    root: Path  # the release root holding `data/` (and `splits/`), or `data/` itself


SPEC = SourceSpec(
    name="scannetpp",
    config=ScannetppConfig,
    parser="vsi_data.sources.scannetpp.parser:ScannetppSource",
    root="the ScanNet++ folder holding data/",
    layout="scene folders such as data/<scene_id>/scans/",
    label_namespace="scannetpp",
    synthetic_writer="vsi_data.synthetic.scannetpp_writer:ScannetppFormat",
)

__getattr__ = lazy_attributes(SPEC.parser)
__all__ = ["SPEC", "ScannetppConfig", "ScannetppSource"]

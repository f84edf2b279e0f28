"""Every scan dataset vsi-data reads: one line per source. A new source is a folder under `sources/` whose
`__init__` holds its `SourceSpec`, plus its line here (docs/architecture.md)."""

from __future__ import annotations

from vsi_data.sources import arkitscenes, scannet, scannetpp, vsibench_meta
from vsi_data.sources.spec import SourceSpec

DATASETS: tuple[SourceSpec, ...] = (
    scannet.SPEC,
    arkitscenes.SPEC,
    scannetpp.SPEC,
    vsibench_meta.SPEC,
)


def synthetic_writers() -> dict[str, str]:
    """Dataset name → "module:Class" of the synthetic writer of its format, for the datasets that have one."""
    return {spec.name: spec.synthetic_writer for spec in DATASETS if spec.synthetic_writer}

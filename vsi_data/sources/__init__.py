"""Scene sources: one parser per dataset, all producing the same `Scene`; each described by a `SourceSpec` in its
own folder and listed in `sources/registry.py` (`vsi_data.registry` adds the synthetic source and opens them).
Importing a spec loads no parser: the names below are imported when first used."""

from __future__ import annotations

from vsi_data.errors import SceneError, SourceUnavailable
from vsi_data.sources.spec import SourceSpec, lazy_attributes

__getattr__ = lazy_attributes(
    *(f"vsi_data.sources.base:{name}" for name in ("ParseOptions", "SceneRef", "SceneSource"))
)
__all__ = ["ParseOptions", "SceneError", "SceneRef", "SceneSource", "SourceSpec", "SourceUnavailable"]

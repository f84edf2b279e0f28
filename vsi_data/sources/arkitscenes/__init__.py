"""ARKitScenes (3DOD and raw layouts): file formats (`formats`) and the scene parser (`parser`); its spec is
here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.spec import SourceSpec, lazy_attributes


@dataclass(frozen=True)
class ArkitScenesConfig:
    root: Path  # the folder holding 3dod/ (or raw/), or that folder itself


SPEC = SourceSpec(
    name="arkitscenes",
    config=ArkitScenesConfig,
    parser="vsi_data.sources.arkitscenes.parser:ArkitScenesSource",
    root="the folder holding 3dod/ or raw/",
    layout="video folders such as 3dod/Training/<video_id>/",
    label_namespace="arkitscenes",
    synthetic_writer="vsi_data.synthetic.arkitscenes_writer:ArkitScenesFormat",
    rows_revisions=("the other videos of a VSI-Bench visit are left out with its benchmark video",),
)

__getattr__ = lazy_attributes(SPEC.parser)
__all__ = ["SPEC", "ArkitScenesConfig", "ArkitScenesSource"]

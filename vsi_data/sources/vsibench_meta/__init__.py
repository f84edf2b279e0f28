"""VSI-Bench's released per-scene meta info as scenes (`parser`); its spec is here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsi_data.sources.spec import SourceSpec, lazy_attributes


@dataclass(frozen=True)
class VsiBenchMetaConfig:
    root: Path  # one *_meta_info_val.json file, or a folder of them


SPEC = SourceSpec(
    name="vsibench-meta",
    config=VsiBenchMetaConfig,
    parser="vsi_data.sources.vsibench_meta.parser:VsiBenchMetaSource",
    root="a *_meta_info_val.json file or a folder",
    layout="scene entries in the meta info",
    label_namespace="vsibench-meta",
    depth_stream=False,  # boxes and counts only: no video, no camera
    rows_revisions=(
        "direction triples are read in the meta info's category order, as VSI-Bench asks them",
        "an absolute-distance pair names the category the meta info lists later first, as VSI-Bench asks it",
    ),
)

__getattr__ = lazy_attributes(SPEC.parser)
__all__ = ["SPEC", "VsiBenchMetaConfig", "VsiBenchMetaSource"]

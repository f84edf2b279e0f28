"""Scene sources: one parser per dataset, all producing the same `Scene`."""

from __future__ import annotations

from pathlib import Path

from vsi_data.sources.base import ParseOptions, SceneError, SceneRef, SceneSource

SOURCES = ("scannet", "arkitscenes", "scannetpp", "vsibench-meta", "synthetic")


class SourceUnavailable(ValueError):
    """An unknown source name, or one given without the root it needs."""


def open_source(
    name: str,
    root: Path | str | None,  # a URL for the synthetic source only (its scans kept there)
    *,
    label_table: Path | None = None,
    synthetic_count: int = 4,
    synthetic_frames: int | None = None,
    synthetic_format: str = "scannet",
    seed: int = 0,
) -> SceneSource:
    if name == "scannet":
        from vsi_data.sources.scannet import ScanNetConfig, ScanNetSource

        if root is None:
            raise SourceUnavailable("--source scannet needs --root (the folder holding scans/)")
        return ScanNetSource(ScanNetConfig(root=root, label_table=label_table))
    if name == "arkitscenes":
        from vsi_data.sources.arkitscenes import ArkitScenesConfig, ArkitScenesSource

        if root is None:
            raise SourceUnavailable("--source arkitscenes needs --root (the folder holding 3dod/ or raw/)")
        return ArkitScenesSource(ArkitScenesConfig(root=root))
    if name == "synthetic":
        from vsi_data.synthetic import FORMATS, SyntheticConfig, SyntheticSource

        if root is None:
            raise SourceUnavailable("--source synthetic needs a folder to write its scans in")
        if synthetic_format not in FORMATS:
            raise SourceUnavailable(
                f"--synthetic-format {synthetic_format} is not available in this version; "
                f"expected one of {', '.join(FORMATS)}"
            )
        return SyntheticSource(
            SyntheticConfig(
                root=root, count=synthetic_count, seed=seed, frames=synthetic_frames, format=synthetic_format
            )
        )
    if name == "vsibench-meta":
        from vsi_data.sources.vsibench_meta import VsiBenchMetaConfig, VsiBenchMetaSource

        if root is None:
            raise SourceUnavailable("--source vsibench-meta needs --root (a *_meta_info_val.json file or a folder)")
        return VsiBenchMetaSource(VsiBenchMetaConfig(root=root))
    if name == "scannetpp":
        from vsi_data.sources.scannetpp import ScannetppConfig, ScannetppSource

        if root is None:
            raise SourceUnavailable("--source scannetpp needs --root (the ScanNet++ folder holding data/)")
        return ScannetppSource(ScannetppConfig(root=root))
    raise SourceUnavailable(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}")


__all__ = [
    "SOURCES",
    "ParseOptions",
    "SceneError",
    "SceneRef",
    "SceneSource",
    "SourceUnavailable",
    "open_source",
]

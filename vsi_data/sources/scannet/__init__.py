"""ScanNet v2: file formats (`formats`, `sens`) and the scene parser."""

from vsi_data.sources.scannet.parser import ScanNetConfig, ScanNetSource

__all__ = ["ScanNetConfig", "ScanNetSource"]

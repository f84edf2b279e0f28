"""ScanNet++ (v1 and v2): file formats (`formats`) and the scene parser."""

from vsi_data.sources.scannetpp.parser import ScannetppConfig, ScannetppSource

__all__ = ["ScannetppConfig", "ScannetppSource"]

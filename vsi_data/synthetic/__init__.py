"""Synthetic furnished rooms written in real ScanNet v2 format: the embedded default and the test fixture."""

from vsi_data.synthetic.source import SyntheticConfig, SyntheticSource

__all__ = ["SyntheticConfig", "SyntheticSource"]

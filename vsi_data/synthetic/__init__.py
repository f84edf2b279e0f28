"""Synthetic furnished rooms written in real ScanNet v2 format: the embedded default and the test fixture."""

from vsi_data.synthetic.source import FORMATS, SyntheticConfig, SyntheticSource

__all__ = ["FORMATS", "SyntheticConfig", "SyntheticSource"]

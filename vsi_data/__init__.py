"""vsi-data: 3D indoor scans → video spatial-reasoning QA (VSI-100k / VSI-Bench style) → training, evaluation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vsi-data")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

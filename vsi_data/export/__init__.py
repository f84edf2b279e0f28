"""`vsi-data export`: a build in the layouts where models are trained and evaluated (docs/export.md).

One `ExportFormat` spec per target tool (`spec.py`), one module each (llava, llamafactory, swift, verl,
vsibench, lmms_eval), one registry (`formats.FORMATS`), one streaming writer (`run.run_export`). Nothing is
imported here, so the CLI can read the registry without loading pyarrow.
"""

"""The registry of export formats: adding a target tool is one module with an `ExportFormat` and one line here."""

from __future__ import annotations

from vsi_data.export.llamafactory import LLAMAFACTORY
from vsi_data.export.llava import LLAVA
from vsi_data.export.lmms_eval import LMMS_EVAL
from vsi_data.export.spec import ExportFormat
from vsi_data.export.swift import SWIFT
from vsi_data.export.verl import VERL
from vsi_data.export.vsibench import VSIBENCH

FORMATS: dict[str, ExportFormat] = {spec.name: spec for spec in (LLAVA, LLAMAFACTORY, SWIFT, VERL, VSIBENCH, LMMS_EVAL)}

"""ARKitScenes (3DOD and raw layouts): file formats (`formats`) and the scene parser."""

from vsi_data.sources.arkitscenes.parser import ArkitScenesConfig, ArkitScenesSource

__all__ = ["ArkitScenesConfig", "ArkitScenesSource"]

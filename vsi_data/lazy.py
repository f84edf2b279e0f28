"""Importing on use: a registry names what it lists by "module:attribute", so listing sources or question types
loads none of their libraries (open3d, PyAV, scipy) until one is opened."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def load_target(target: str) -> Any:
    """The object a "module:attribute" reference names, imported now."""
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def lazy_attributes(*targets: str) -> Callable[[str], Any]:
    """A package's module `__getattr__` (PEP 562) that imports each "module:attribute" of `targets` when its
    attribute is first asked for, so importing a source's package for its spec loads none of its parser's
    libraries."""
    modules = dict(reversed(target.split(":")) for target in targets)

    def attribute(name: str) -> Any:
        if name not in modules:
            raise AttributeError(name)
        return getattr(importlib.import_module(modules[name]), name)

    return attribute

"""Errors every layer may raise or catch, kept apart from the layers so none has to import another for them
(`vsi_data.io.OutputError` is the output's own, beside the writes that raise it)."""

from __future__ import annotations

from pathlib import Path


class SceneError(Exception):
    """A scene that cannot be read correctly. `str()` is one line: `<file>: <problem>`."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


class SourceUnavailable(ValueError):
    """An unknown source name, or one given without the root it needs."""

"""Every source a build can read, by name: the scan datasets (`sources/registry.py`) and the synthetic source
that writes their formats. The CLI's choices and source options, `open_source` and the "expected ..." of an empty
root read this."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsi_data import synthetic
from vsi_data.errors import SourceUnavailable
from vsi_data.sources.registry import DATASETS, synthetic_writers
from vsi_data.sources.spec import SourceOption, SourceSpec

if TYPE_CHECKING:
    from vsi_data.sources.base import SceneSource

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (*DATASETS, synthetic.SPEC)}
SYNTHETIC_FORMATS: tuple[str, ...] = tuple(synthetic_writers())


def _shared_options() -> dict[str, dict[str, SourceOption]]:
    """Option name -> {source: its option}. Sources that share an option name share its flag, so they must
    declare it alike."""
    shared: dict[str, dict[str, SourceOption]] = {}
    for name, spec in SOURCES.items():
        for key, option in spec.options().items():
            first = next(iter(shared.setdefault(key, {}).values()), option)
            if (first.flag, first.type) != (option.flag, option.type):
                raise TypeError(f"sources {', '.join(shared[key])} and {name} declare option {key!r} differently")
            shared[key][name] = option
    return shared


SOURCE_OPTIONS: dict[str, dict[str, SourceOption]] = _shared_options()


def _spec(name: str) -> SourceSpec:
    if name not in SOURCES:
        raise SourceUnavailable(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}")
    return SOURCES[name]


def check_options(name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of source `name` (config field -> value): the given ones checked, the others at their
    defaults. An option the source does not take, or a value outside its choices or below its least, is one line
    naming the flag."""
    options = _spec(name).options()
    foreign = [key for key in given if key not in options]
    if foreign:
        raise SourceUnavailable(_not_taken(name, foreign))
    for key, value in given.items():
        option = options[key]
        if option.choices is not None and value not in (choices := tuple(option.choices())):
            raise SourceUnavailable(
                f"{option.flag} {value} is not available in this version; expected one of {', '.join(choices)}"
            )
        if option.min is not None and value is not None and value < option.min:
            raise SourceUnavailable(f"{option.flag} {value}: must be at least {option.min}")
    return {key: given.get(key, option.default) for key, option in options.items()}


def _not_taken(name: str, keys: list[str]) -> str:
    """ "--source scannet does not take --frames, --synthetic-format (options of --source synthetic)"."""
    by_takers: dict[str, list[str]] = {}
    for key in keys:
        takers = SOURCE_OPTIONS.get(key, {})
        flag = next(iter(takers.values())).flag if takers else repr(key)
        by_takers.setdefault(", ".join(takers), []).append(flag)
    parts = [
        f"{', '.join(flags)} ({'an option' if len(flags) == 1 else 'options'} of --source {takers})"
        if takers
        else f"{', '.join(flags)} (no source's option)"
        for takers, flags in by_takers.items()
    ]
    return f"--source {name} does not take {'; '.join(parts)}"


def open_source(
    name: str, root: Path | str | None, options: Mapping[str, Any] | None = None, **supplied: Any
) -> SceneSource:  # a URL: synthetic only
    """The source `name` reading `root`, with its own options (`label_table`, `frames`, ...: see `check_options`)
    and the build's settings its config takes (`seed`, `count`; the others are ignored)."""
    spec = _spec(name)
    if root is None:
        raise SourceUnavailable(f"--source {name} needs --root ({spec.root})")
    return spec.open(**supplied, **check_options(name, options or {}), root=root)

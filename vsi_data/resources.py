"""Find the bundled `templates/` and `recipes/` folders, in a source checkout or an installed wheel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

# libyaml's loader parses our recipes and vocabularies ~10× faster than the pure-Python one; same result.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PACKAGE = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """`templates` or `recipes`: the wheel bundles them under `_bundled/`, a checkout has them at the top."""
    for candidate in (_PACKAGE / "_bundled" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the bundled {kind}/ folder next to {_PACKAGE}")


def resolve_named(
    kind: str, name_or_path: str | Path, subdir: str = "", listed: Callable[[Path], bool] | None = None
) -> Path:
    """A bundled name (`vsi100k`) or a path to a user's YAML file. `listed` picks which bundled files an
    unknown name's error offers (build and training recipes share `recipes/`)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise FileNotFoundError(f"{path}: a folder, not a YAML file")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        return path
    folder = resource_dir(kind) / subdir if subdir else resource_dir(kind)
    bundled = folder / f"{name_or_path}.yaml"
    if not bundled.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml") if listed is None or listed(p))
        raise FileNotFoundError(f"unknown {subdir or kind[:-1]} {name_or_path!r}; bundled ones: {', '.join(known)}")
    return bundled


def load_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data

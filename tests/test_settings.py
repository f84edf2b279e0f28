"""The one validator of recipe values (`vsi_data.settings`): build recipes and training recipes share it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pytest

from vsi_data.models import FrameInput
from vsi_data.settings import check_value, field_doc, option, parse_params


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("movie", FrameInput, r"x must be one of \['video', 'images'\], not 'movie'"),
        (True, float, "x must be float, not True"),
        (1.5, int, "x must be int, not 1.5"),
        ("1e-4", float, "YAML reads 1e-4 as text"),
        (3, str | None, "x must be str or null, not 3"),
    ],
)
def test_a_value_of_another_type_is_named(value, annotation, message):
    with pytest.raises(ValueError, match=message):
        check_value("x", value, annotation)


@pytest.mark.parametrize(
    ("value", "annotation"), [("video", FrameInput), (FrameInput.images, FrameInput), (2, float), (None, str | None)]
)
def test_a_fitting_value_passes(value, annotation):
    check_value("x", value, annotation)


def test_help_and_yaml_key_are_field_metadata():
    @dataclass(frozen=True)
    class Section:
        input: FrameInput = option(FrameInput.video, key="as", help="how frames reach the model")
        bare: int = 1

    assert field_doc(Section, "input") == {"help": "how frames reach the model", "key": "as"}
    with pytest.raises(LookupError, match=r"Section.bare has no help text"):
        field_doc(Section, "bare")


@dataclass(frozen=True)
class _Share:
    max_share: float = option(help="required")
    bin: float | None = option(None, help="optional")

    def __post_init__(self) -> None:
        if not 0 < self.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], not {self.max_share}")


@dataclass(frozen=True, kw_only=True)
class _Recipe:
    mode: Literal["fast", "slow"] = option("fast", help="a literal")
    frames: FrameInput = option(FrameInput.video, key="as", help="an enum under another key")
    modules: tuple[str, ...] = option((), help="a list in YAML, a tuple here")
    share: _Share | None = option(None, help="a nullable section")
    per_type: Mapping[str, _Share] = field(default_factory=dict, metadata={"help": "a section per name"})


def test_parse_params_fills_nested_sections_and_converts_values():
    parsed = parse_params(
        _Recipe,
        "",
        {
            "mode": "slow",
            "as": "images",
            "modules": ["q", "v"],
            "share": {"max_share": 1},
            "per_type": {"a": {"max_share": 0.5, "bin": 2}},
        },
    )
    assert parsed == _Recipe(
        mode="slow", frames=FrameInput.images, modules=("q", "v"), share=_Share(1), per_type={"a": _Share(0.5, 2)}
    )
    assert parsed.frames is FrameInput.images
    assert parse_params(_Recipe, "", {"share": None}).share is None
    assert parse_params(_Recipe, "", None) == _Recipe()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mood": 1}, r"unknown recipe keys \['mood'\]; known: \['as', 'mode', 'modules', 'per_type', 'share'\]"),
        ({"mode": "quick"}, r"mode must be one of \['fast', 'slow'\], not 'quick'"),
        ({"modules": ["q", 3]}, r"modules must be a list of str, not \['q', 3\]"),
        ({"share": {}}, r"share.max_share must be set \(float\)"),
        ({"share": {"max_share": 2}}, r"^share: max_share must be in \(0, 1\], not 2$"),
        ({"share": [1]}, r"`share` must be a mapping, not \[1\]"),
        ({"per_type": {"a": {"share": 1}}}, r"unknown `per_type.a` settings \['share'\]"),
        ({"per_type": {"a": {"max_share": "x"}}}, "per_type.a.max_share must be float, not 'x'"),
        ({"per_type": [1]}, r"per_type must be a mapping, not \[1\]"),
    ],
)
def test_parse_params_names_the_setting_at_fault(values, message):
    with pytest.raises(ValueError, match=message):
        parse_params(_Recipe, "", values, what="recipe keys")

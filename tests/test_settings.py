"""The one validator of recipe values (`vsi_data.settings`): build recipes and training recipes share it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from vsi_data.models import FrameInput
from vsi_data.settings import check_value, field_doc, option


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

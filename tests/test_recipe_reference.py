"""docs/recipes.md lists every key of both kinds of recipe, from the settings' own help, and is current."""

from __future__ import annotations

import dataclasses

import pytest

from vsi_data.qa import recipe as build
from vsi_data.qa.generators import GENERATORS
from vsi_data.settings import option
from vsi_data.train import recipe as train
from vsi_data.train.recipe_reference import DOC, build_rows, reference, settings_rows, table, training_rows
from vsi_data.train.rewards import REWARD_FUNCTIONS


def test_docs_carry_the_current_recipe_reference():
    document = DOC.read_text(encoding="utf-8")
    assert reference(document) == document, "run `python -m vsi_data.train.recipe_reference --write`"


@pytest.mark.parametrize("rows", [build_rows, training_rows])
def test_every_key_has_a_type_default_and_help(rows):
    for key, kind, default, help_text in rows():
        assert kind.strip(), key
        assert default.strip(), key
        assert help_text.strip(), key


def test_every_key_a_recipe_accepts_has_a_row():
    build_keys = {row[0] for row in build_rows()}
    assert build_keys >= {f.name for f in dataclasses.fields(build.RecipeKeys)}
    for question_type, generator in GENERATORS.items():
        for f in dataclasses.fields(generator.Params):
            assert f"types.{question_type}.{f.name}" in build_keys
    assert {"geometry.distance", "room.max_points", "plausibility.obb_mismatch", "balance.types"} <= build_keys
    assert "balance.types.<question type>.max_share" in build_keys
    training_keys = {row[0] for row in training_rows()}
    assert training_keys >= {f.name for f in dataclasses.fields(train.RecipeKeys)}
    assert {f"rewards.{name}" for name in REWARD_FUNCTIONS} | {"rewards.numeric"} <= training_keys
    assert {"prompt.mode", "prompt.system", "frames.as", "frames.num_frames", "lora.r", "lora.dropout"} <= training_keys
    assert {"grpo.beta", "grpo.loss_type", "grpo.output_dir", "grpo.eval_strategy"} <= training_keys


def test_rows_read_type_default_and_help_from_the_fields():
    rows = {row[0]: row[1:] for row in training_rows()}
    assert rows["frames.as"][:2] == ("one of ['video', 'images']", "video")
    assert rows["lora"][:2] == ("mapping or null", "null")
    assert rows["lora.r"][1] == "required"
    assert rows["lora.target_modules"][0] == "list"
    assert rows["grpo.beta"][2].startswith("required: TRL's default 0.0")


def test_a_key_without_help_fails_the_reference():
    @dataclasses.dataclass(frozen=True)
    class Section:
        documented: int = option(1, help="has help")
        bare: int = 2

    with pytest.raises(LookupError, match=r"Section\.bare has no help text"):
        list(settings_rows(Section, "section."))


def test_a_pipe_in_help_does_not_split_the_row():
    assert table(iter([("k", "str", "x", "a | b")])).splitlines()[-1] == "| `k` | str | x | a \\| b |"

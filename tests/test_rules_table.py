"""Every rule is a recipe setting with a documented row, written out in both bundled recipes."""

from __future__ import annotations

import dataclasses

import pytest

from vsi_data.qa import RecipeError, load_recipe
from vsi_data.qa.generators import GENERATORS
from vsi_data.qa.generators.base import OURS
from vsi_data.qa.recipe import GeometrySettings, RoomSettings
from vsi_data.qa.rules_table import BEGIN, DOC, END, field_doc, format_value, rules_table, with_table
from vsi_data.resources import load_yaml, resource_dir

BUNDLED = ("vsibench", "vsi100k")


def _settings() -> list[tuple[str, type]]:
    return [("geometry", GeometrySettings), ("room", RoomSettings)] + [(t, g.Params) for t, g in GENERATORS.items()]


def test_docs_carry_the_current_rules_table():
    document = DOC.read_text(encoding="utf-8")
    assert with_table(document, rules_table()) == document, "run `python -m vsi_data.qa.rules_table --write`"


@pytest.mark.parametrize(("section", "cls"), _settings())
def test_every_setting_says_what_it_does_and_where_its_value_comes_from(section, cls):
    for f in dataclasses.fields(cls):
        doc = field_doc(cls, f.name)
        assert doc["help"].strip(), f"{section}.{f.name}"
        assert doc["source"].strip(), f"{section}.{f.name}"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_recipes_write_out_every_setting(name):
    data = load_yaml(resource_dir("recipes") / f"{name}.yaml")
    for section, cls in _settings():
        values = data["types"].get(section) if section in GENERATORS else data[section]
        if values is None:
            continue  # a type the recipe does not ask
        assert set(values) == {f.name for f in dataclasses.fields(cls)}, f"{name}: {section}"


def test_the_vsibench_recipe_keeps_every_filter_of_ours_off():
    recipe = load_recipe("vsibench")
    checked = []
    for generator in recipe.generators:
        for f in dataclasses.fields(generator.Params):
            doc = field_doc(generator.Params, f.name)
            if doc["source"].startswith(OURS) and "off" in doc:
                assert getattr(generator.params, f.name) == doc["off"], f"{generator.question_type}.{f.name}"
                checked.append(f.name)
    assert set(checked) == {"max_count", "min_size_cm", "min_area", "max_distance", "min_floor_distance"}
    vsi100k = {g.question_type: g.params for g in load_recipe("vsi100k").generators}
    assert vsi100k["object_rel_direction_hard"].min_floor_distance == 0.3  # ours, kept where we chose it
    assert vsi100k["room_size_estimation"].min_area == 1.0


def test_the_table_prints_values_as_the_yaml_reads():
    assert format_value({"left": (0.0, 135.0), "back": (135.0, 225.0)}) == "left [0, 135), back [135, 225)"
    assert [format_value(v) for v in (None, True, 0.15, 10.0, ["left", "right"])] == [
        "null",
        "true",
        "0.15",
        "10",
        "left, right",
    ]
    table = rules_table()
    row = next(line for line in table.splitlines() if "`margin_side` | ahead" in line)
    assert "| ahead | both |" in row
    assert "90 - angle % 90 < 10" in row  # the hard level's one-sided margin, cited
    with pytest.raises(ValueError, match="no"):
        with_table("no markers here", table)
    assert with_table(f"a\n{BEGIN}\nold\n{END}\nb", "new\n") == f"a\n{BEGIN}\nnew\n{END}\nb"


@pytest.mark.parametrize(
    ("sectors", "message"),
    [
        ("{left: [0, 135], right: [120, 360]}", "sectors overlap"),
        ("{left: [0, 400], right: [100, 200]}", r"sector 'left' must be \[start, end\] degrees"),
        ("{left: [90, 0], right: [100, 200]}", r"sector 'left' must be \[start, end\] degrees"),
        ("{left: 45, right: [100, 200]}", r"sector 'left' must be \[start, end\] degrees"),
    ],
)
def test_bad_sectors_fail_naming_the_file(tmp_path, sectors, message):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "templates: vsibench\ntypes:\n  object_rel_direction_easy:\n"
        f"    sectors: {sectors}\n    choices: [left, right]\n"
    )
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path)
    assert "mine.yaml" in str(info.value)

"""Dataset-wide duplicate removal and answer balancing: hand-computed caps, schedule-free choices, and
the recipe section that drives them."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute
import pytest

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.output.balance import Balance, TypeBalance, balance_answers, deduplicate, group_cap
from vsi_data.output.shards import SCHEMA, read_rows
from vsi_data.pipeline import BuildConfig, run_build
from vsi_data.qa import RecipeError, load_recipe


def _rows(answers: list[str], question_type: str = "object_counting", values=None) -> pa.Table:
    values = values or [float(a) if a.replace(".", "").isdigit() else None for a in answers]
    return pa.Table.from_pylist(
        [
            {
                "id": f"scannet-s{i % 7}-{question_type}-{i:04d}",
                "dataset": "scannet",
                "scene_id": f"s{i % 7}",
                "split": "train",
                "question_type": question_type,
                "question": f"q{i}",
                "options": None,
                "answer": answer,
                "answer_value": value,
                "objects": [],
                "video": None,
                "meta": "{}",
            }
            for i, (answer, value) in enumerate(zip(answers, values, strict=True))
        ],
        schema=SCHEMA,
    )


@pytest.mark.parametrize(
    ("sizes", "share", "cap"),
    [
        ([10, 3, 2], 0.5, 5),  # 5 <= 0.5 * (5 + 3 + 2); 6 > 0.5 * (6 + 3 + 2)
        ([10, 10, 10, 10], 0.25, 10),  # already balanced
        ([100, 1, 1, 1], 0.4, 2),  # 2 <= 0.4 * (2 + 3) = 2.0; 3 > 0.4 * 6
        ([6, 2], 0.4, 2),  # two groups cannot reach 40 %: evened out to the smaller
    ],
)
def test_group_cap_by_hand(sizes, share, cap):
    assert group_cap(sizes, share) == cap


def test_counting_answers_are_capped_and_the_choice_is_independent_of_row_order():
    table = _rows(["2"] * 10 + ["3"] * 3 + ["4"] * 2)
    rule = Balance(types={"object_counting": TypeBalance(max_share=0.5)})
    balanced, dropped = balance_answers(table, rule, seed=0)
    assert Counter(balanced.column("answer").to_pylist()) == {"2": 5, "3": 3, "4": 2}
    assert dropped == {"object_counting": 5}
    reversed_table = table.take(list(range(table.num_rows))[::-1])
    again, _ = balance_answers(reversed_table, rule, seed=0)
    assert set(again.column("id").to_pylist()) == set(balanced.column("id").to_pylist())
    other_seed, _ = balance_answers(table, rule, seed=1)
    assert set(other_seed.column("id").to_pylist()) != set(balanced.column("id").to_pylist())


def test_numeric_answers_are_grouped_in_bins():
    values = [1.0, 1.1, 1.2, 1.4, 1.3, 2.6, 3.9]  # bins of 0.5 m: five rows in [1.0, 1.5), then one, one
    table = _rows([f"{v}" for v in values], "object_abs_distance", values)
    balanced, dropped = balance_answers(table, Balance(types={"object_abs_distance": TypeBalance(0.5, 0.5)}), 0)
    assert dropped == {"object_abs_distance": 3}  # cap 2: 2 <= 0.5 * (2 + 1 + 1)
    assert sum(v < 1.5 for v in balanced.column("answer_value").to_pylist()) == 2


def test_exact_duplicates_are_dropped_once():
    table = _rows(["2", "3", "4"])
    doubled = pa.concat_tables([table, table.slice(1, 1)])
    kept, dropped = deduplicate(doubled)
    assert dropped == 1
    assert kept.column("question").to_pylist() == ["q0", "q1", "q2"]


def test_recipe_balance_section_is_checked(tmp_path):
    base = (load_recipe("vsi100k").path).read_text()
    good = tmp_path / "good.yaml"
    good.write_text(base + "balance:\n  types:\n    object_counting: {max_share: 0.3}\n")
    recipe = load_recipe(good)
    assert recipe.balance.types["object_counting"] == TypeBalance(0.3, None)
    assert recipe.resolved()["balance"]["types"]["object_counting"]["max_share"] == 0.3
    for bad, message in [
        ("object_countin: {max_share: 0.3}", "unknown question type"),
        ("object_counting: {max_share: 1.5}", "0 < max_share <= 1"),
        ("object_counting: {share: 0.3}", "unknown `balance.types.object_counting` settings"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(base + f"balance:\n  types:\n    {bad}\n")
        with pytest.raises(RecipeError, match=message) as info:
            load_recipe(path)
        assert str(path) in str(info.value)


def test_a_build_balances_after_all_scenes_and_reports_it(tmp_path):
    root = tmp_path / "scannet"
    write_label_table(root / "scannetv2-labels.combined.tsv")
    for i in range(3):
        write_handmade_scene(root / "scans", f"scene000{i}_00", HANDMADE_ROOM)
    recipe = tmp_path / "balanced.yaml"
    recipe.write_text(
        load_recipe("vsibench").path.read_text()
        + "balance:\n  types:\n    object_abs_distance: {max_share: 0.2, bin: 1.0}\n"
    )
    result = run_build(BuildConfig(source="scannet", root=root, out=tmp_path / "out", recipe=str(recipe), quiet=True))
    manifest = result.manifest
    rows = read_rows(tmp_path / "out")
    dropped = manifest["cleanup"]["balance_dropped"]["object_abs_distance"]
    assert dropped > 0
    # Three identical rooms ask identical questions: every scene keeps its own, nothing is a duplicate.
    assert manifest["cleanup"]["duplicates_dropped"] == 0
    assert rows.num_rows == manifest["rows"] == manifest["rows_before_cleanup"] - dropped
    assert manifest["per_type"] == dict(sorted(Counter(rows.column("question_type").to_pylist()).items()))
    kind = pa.compute.equal(rows.column("question_type"), "object_abs_distance")
    distances = rows.filter(kind).column("answer_value").to_pylist()
    bins = Counter(int(d // 1.0) for d in distances)
    assert max(bins.values()) <= 0.2 * len(distances) or len(set(bins.values())) == 1

"""Dataset-wide duplicate removal and answer balancing: hand-computed caps, schedule-free choices, the recipe
section that drives them, and the streaming clean-up and shard writer equal to the one-table implementation
they replaced (tests/finish_reference.py) row for row and byte for byte."""

from __future__ import annotations

import json
from collections import Counter

import finish_reference
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.output import shards
from vsi_data.output.balance import Balance, Cleanup, TypeBalance, group_cap
from vsi_data.output.shards import SCHEMA, ShardWriter, read_rows, row_bytes, write_shards
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


def _clean(parts: list[pa.Table], balance: Balance, seed: int) -> tuple[pa.Table, dict]:
    """The streaming clean-up over `parts` in order, as a build's finishing runs it."""
    with Cleanup(balance, seed) as cleanup:
        for part in parts:
            cleanup.survey(part.select(list(cleanup.columns)))
        cleanup.settle()
        kept = [cleanup.keep(part) for part in parts]
        return pa.concat_tables([SCHEMA.empty_table(), *kept]), cleanup.dropped()


def balance_answers(table: pa.Table, balance: Balance, seed: int) -> tuple[pa.Table, dict[str, int]]:
    kept, dropped = _clean([table], Balance(dedup=False, types=balance.types), seed)
    return kept, dropped["balance_dropped"]


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
    kept, dropped = _clean([doubled], Balance(), 0)
    assert dropped == {"duplicates_dropped": 1, "balance_dropped": {}}
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


# ------------------------------------------------------------------ the streaming finish equals the one-table one

_TYPES = ("object_counting", "object_abs_distance", "object_rel_distance")
_OPTIONS = (None, [], ["A. chair"], ["A. chair", "B. sofa"], ["A. chair,B. sofa"], ["B. sofa", "A. chair"], [""])


@st.composite
def _parts(draw) -> list[pa.Table]:
    """Parts as scenes commit them (one scene each, scenes in order), with exact duplicates inside a scene, few
    answers so groups get capped, values with and without bins, and now and then a repeated id (a hash tie)."""
    parts = []
    for k in range(draw(st.integers(1, 6))):
        dataset = draw(st.sampled_from(["scannet", "arkitscenes"]))
        rows = []
        for i in range(draw(st.integers(0, 40))):
            question_type = draw(st.sampled_from(_TYPES))
            value = draw(st.one_of(st.none(), st.floats(0, 12, allow_nan=False).map(lambda v: round(v, 1))))
            rows.append(
                {
                    "id": draw(st.sampled_from([f"{dataset}-s{k}-{i}", "tie"])),
                    "dataset": dataset,
                    "scene_id": f"s{k}",
                    "split": draw(st.sampled_from(["train", "val"])),
                    "question_type": question_type,
                    "question": draw(st.sampled_from(["q0", "q1", "q2"])),
                    "options": draw(st.sampled_from(_OPTIONS)),
                    "answer": draw(st.sampled_from(["2", "3", "A", "B"])),
                    "answer_value": value,
                    "objects": [],
                    "video": None,
                    "meta": "{}",
                }
            )
        parts.append(pa.Table.from_pylist(rows, schema=SCHEMA))
    return parts


_RULES = st.dictionaries(
    st.sampled_from(_TYPES),
    st.builds(
        TypeBalance,
        st.sampled_from([0.05, 0.2, 0.34, 0.5, 1.0]),
        st.sampled_from([None, 0.5, 1.0, 2.5]),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=_parts(), dedup=st.booleans(), types=_RULES, seed=st.integers(0, 3))
@pytest.mark.slow
def test_the_streaming_cleanup_keeps_exactly_the_rows_of_the_one_table_cleanup(parts, dedup, types, seed):
    balance = Balance(dedup=dedup, types=types)
    expected, expected_dropped = finish_reference.finish(parts, balance, seed)
    kept, dropped = _clean(parts, balance, seed)
    assert kept.equals(expected)
    assert json.dumps(dropped) == json.dumps(expected_dropped)  # the manifest's bytes: key order included


def test_a_group_larger_than_the_histogram_is_cut_at_the_same_row():
    """150,000 rows of one answer put about two rows in every one of the 65,536 bins, so the last kept row is
    found inside a crowded bin."""
    answers = ["2"] * 150_000 + ["3"] * 20_000 + ["4"] * 5_000
    table = _rows(answers)
    rule = Balance(dedup=False, types={"object_counting": TypeBalance(max_share=0.4)})
    expected, expected_dropped = finish_reference.finish([table], rule, 3)
    halves = [table.slice(0, 90_000), table.slice(90_000)]  # the spill is read back across parts
    kept, dropped = _clean(halves, rule, 3)
    assert dropped == expected_dropped
    assert dropped["balance_dropped"]["object_counting"] > 100_000
    assert kept.equals(expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=_parts(), rows_per_shard=st.integers(1, 60), cuts=st.integers(1, 4))
@pytest.mark.slow
def test_shards_are_byte_for_byte_those_of_the_one_table_writer(tmp_path_factory, parts, rows_per_shard, cuts):
    table = pa.concat_tables([SCHEMA.empty_table(), *parts])
    old, new = tmp_path_factory.mktemp("old"), tmp_path_factory.mktemp("new")
    expected = finish_reference.write_shards(old, table, rows_per_shard)
    step = -(-table.num_rows // cuts) or 1
    written = write_shards(new, [table.slice(k, step) for k in range(0, table.num_rows, step)], rows_per_shard)
    assert written == expected
    for names in written.values():
        for name in names:
            assert (new / name).read_bytes() == (old / name).read_bytes()
    assert sorted(p.name for p in (new / "data").iterdir()) == sorted(p.name for p in (old / "data").iterdir())


def test_row_bytes_by_hand():
    row = {"id": "abc", "dataset": "d", "scene_id": "s", "split": "train", "question_type": "t", "question": "q?"}
    row |= {"options": ["A. x", "B. yz"], "answer": "A", "answer_value": None, "objects": [], "video": None}
    row |= {"meta": "{}"}
    table = pa.Table.from_pylist([row], schema=SCHEMA)
    strings = (4 + 3) + (4 + 1) + (4 + 1) + (4 + 5) + (4 + 1) + (4 + 2) + (4 + 1) + 4 + (4 + 2)  # + video (null)
    lists = (4 + (4 + 4) + (4 + 5)) + 4  # options, objects
    assert row_bytes(table).tolist() == [strings + lists + 8]


def test_shards_are_cut_by_bytes_and_stream_in_row_groups(tmp_path, monkeypatch):
    table = _rows([str(i % 5) for i in range(1000)])
    sizes = row_bytes(table)
    limit = int(sizes[:150].sum())  # about 150 rows a shard
    monkeypatch.setattr(shards, "ROW_GROUP_BYTES", int(sizes[:40].sum()))  # rows wait for 40 at most
    with ShardWriter(tmp_path, rows_per_shard=10_000, bytes_per_shard=limit) as writer:
        for start in range(0, 1000, 7):
            writer.write(table.slice(start, 7))
        written = writer.close()
    names = written["train"]
    assert names[0] == f"data/train-00000-of-{len(names):05d}.parquet"
    files = [pq.ParquetFile(tmp_path / name) for name in names]
    counts = [f.metadata.num_rows for f in files]
    assert sum(counts) == 1000
    ends = list(pyarrow.compute.cumulative_sum(pa.array(counts)).to_pylist())
    for start, end in zip([0, *ends[:-1]], ends, strict=True):
        assert sizes[start:end].sum() <= limit < sizes[start : end + 1].sum() or end == 1000
    assert all(f.metadata.num_row_groups > 2 for f in files[:-1])
    assert pa.concat_tables([f.read() for f in files]).equals(table)


def test_a_row_larger_than_a_shard_gets_a_shard_of_its_own(tmp_path):
    table = _rows(["1", "2", "3"])
    written = write_shards(tmp_path, [table], rows_per_shard=100, bytes_per_shard=1)
    assert [pq.read_metadata(tmp_path / name).num_rows for name in written["train"]] == [1, 1, 1]

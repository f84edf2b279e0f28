"""Questions from a `vsi-data build` output or from VSI-Bench's own test set, read one way.

`stats`, `eval` and `predict` call `read_questions` and never ask where a question came from: a build folder
(also one whose every scene failed: no rows), one of its shard files, or VSI-Bench's test set as .parquet or
.jsonl, or a folder of such parquet files. VSI-Bench's columns are mapped onto the build's (scene_name →
scene_id, ground_truth → answer as text, the number in answer_value for numeric types, split "test", no
objects); its ids become strings, so its 17 and a predictions file's "17" are one question.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from vsi_data.benchmark import VSIBENCH_COLUMNS
from vsi_data.io import Store, is_url
from vsi_data.metrics import parse_number
from vsi_data.output.shards import (
    DATA_DIR,
    MANIFEST,
    SCHEMA,
    NoQuestions,
    NotABuild,
    ShardsMismatch,
    open_build,
    read_rows,
)
from vsi_data.prompts import NUMERIC_TYPES

BUILD_COLUMNS = ("id", "dataset", "scene_id", "question_type", "question", "options", "answer", "video")


class NotQuestions(ValueError):
    """A path that holds no questions vsi-data can read; the message names it and says why."""


@dataclass(frozen=True)
class Questions:
    table: pa.Table  # in the build's column names (VSI-Bench's mapped onto them), `video` null where none
    kind: Literal["build", "vsibench"]
    root: Path | str  # where the rows' relative video paths start: the build folder (or its URL), or the test
    # file's folder


def read_questions(path: Path | str) -> Questions:
    """The questions at `path`: a build folder or shard, or VSI-Bench's test set (file or folder of parquets);
    a build also at an fsspec URL (`s3://`, ...)."""
    if is_url(path):
        try:
            store = open_build(path)
        except NotABuild as exc:
            raise NotQuestions(str(exc)) from None
        return _read_build(store, store.location)
    path = Path(path)
    if path.is_dir():
        if (path / MANIFEST).is_file() or any((path / DATA_DIR).glob("*.parquet")):
            return _read_build(path, path)
        tables = {f: read_table(f) for f in sorted(path.glob("*.parquet"))}
        lacking = {f: sorted(set(VSIBENCH_COLUMNS) - set(t.column_names)) for f, t in tables.items()}
        if tables and not any(lacking.values()):
            return Questions(_from_vsibench([_filled(f, t) for f, t in tables.items()]), "vsibench", path)
        if any(not columns for columns in lacking.values()):  # VSI-Bench files, one of them short of a column
            short, columns = next((f, c) for f, c in lacking.items() if c)
            raise NotQuestions(f"{short}: a VSI-Bench file without column {', '.join(columns)} (in {path})")
        raise NotQuestions(
            f"{path}: not a vsi-data build output (no {MANIFEST} or {DATA_DIR}/*.parquet) "
            f"and not a folder of VSI-Bench .parquet files (columns {', '.join(VSIBENCH_COLUMNS)})"
        )
    if not path.is_file():
        raise NotQuestions(f"{path}: no such file or folder")
    table = read_table(path)
    columns = set(table.column_names)
    if columns >= set(VSIBENCH_COLUMNS):
        return Questions(_from_vsibench([_filled(path, table)]), "vsibench", path.parent)
    if columns >= set(BUILD_COLUMNS):
        return Questions(table, "build", path.parent.parent if path.parent.name == DATA_DIR else path.parent)
    missing = sorted(set(VSIBENCH_COLUMNS) - columns)
    raise NotQuestions(f"{path}: neither a VSI-Bench test file nor a vsi-data shard (no column {', '.join(missing)})")


def _read_build(build: Path | Store, root: Path | str) -> Questions:
    """A build's rows from the shards its manifest lists, checked: a lost shard is an error, never a smaller
    dataset (a build whose every scene failed has no shard: zero rows)."""
    try:
        table = read_rows(build)
    except NoQuestions:
        table = SCHEMA.empty_table()
    except ShardsMismatch as exc:
        raise NotQuestions(str(exc)) from None
    return Questions(table, "build", root)


def read_table(path: Path) -> pa.Table:
    """A question file as a table: Parquet, or JSON Lines (one question per line, as VSI-Bench's test set is
    also shipped); unreadable, a `NotQuestions` naming it."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix in {".jsonl", ".json"}:
            return pa.Table.from_pylist(_json_lines(path, path.read_text(encoding="utf-8")))
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise NotQuestions(f"{path}: cannot read ({exc})") from None
    raise NotQuestions(f"{path}: expected a .parquet or .jsonl file or a build folder")


JSON_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _json_lines(path: Path, text: str) -> list[dict]:
    """Every line's question object. A file that is one JSON document (a pretty-printed list, say) is named as
    such rather than by the parser's complaint about its first line; a cut-off or garbled line, by its number."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            _refuse_one_document(path, text)
            raise NotQuestions(f"{path}:{number}: not a JSON object ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            _refuse_one_document(path, text)
            kind = JSON_KINDS.get(type(row), "null")
            raise NotQuestions(f"{path}:{number}: a JSON {kind}, not a question object (one per line)")
        rows.append(row)
    return rows


def _refuse_one_document(path: Path, text: str) -> None:
    """Raise when `text` as a whole is one JSON value: JSON, but not JSON Lines."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return
    lines = len(text.strip().splitlines())
    spread = f" over {lines} lines" if lines > 1 else ""
    raise NotQuestions(
        f"{path}: one JSON {JSON_KINDS.get(type(document), 'null')}{spread}, not JSON Lines; expected one question "
        "object per line (as VSI-Bench's test.jsonl; `jq -c '.[]'` turns a list into that), a .parquet file or a "
        "vsi-data build folder"
    )


def _filled(path: Path, table: pa.Table) -> pa.Table:
    """`table` when every VSI-Bench field a question needs is there (only `options` may be null): a JSON line
    without its `dataset` or `ground_truth` would otherwise be counted or scored as the text "None"."""
    for column in VSIBENCH_COLUMNS:
        values = table.column(column)
        if column != "options" and values.null_count:
            first = values.is_null().to_pylist().index(True)
            raise NotQuestions(
                f"{path}: {values.null_count} question(s) without {column} (the first: question {first + 1})"
            )
    options = table.schema.field("options").type
    listed = pa.types.is_list(options) or pa.types.is_large_list(options)
    if not (pa.types.is_null(options) or (listed and pa.types.is_string(options.value_type))):
        raise NotQuestions(
            f"{path}: column options holds {options}, not lists of option texts (['A. chair', 'B. sofa', ...])"
        )
    columns = (table.column(name).to_pylist() for name in ("id", "question_type", "ground_truth"))
    for qid, question_type, truth in zip(*columns, strict=True):
        value = parse_number(str(truth)) if question_type in NUMERIC_TYPES else None
        if value is not None and not math.isfinite(value):  # "nan" and "inf" parse, and no statistic takes them
            raise NotQuestions(
                f"{path}: question {qid} ({question_type}) has the ground truth {truth!r}, not a finite number"
            )
    return table


def _from_vsibench(tables: list[pa.Table]) -> pa.Table:
    """VSI-Bench's rows in the build's columns; a `video` column (as `export --format vsibench` writes) is kept."""
    table = pa.concat_tables(
        [t.select([*VSIBENCH_COLUMNS, *(["video"] if "video" in t.column_names else [])]) for t in tables],
        promote_options="default",
    )
    types = table.column("question_type").to_pylist()
    truths = [str(v) for v in table.column("ground_truth").to_pylist()]
    values = [parse_number(v) if t in NUMERIC_TYPES else None for t, v in zip(types, truths, strict=True)]
    videos = table.column("video") if "video" in table.column_names else pa.nulls(table.num_rows, pa.string())
    return pa.table(
        {
            "id": table.column("id").cast(pa.string()),
            "dataset": table.column("dataset"),
            "scene_id": table.column("scene_name"),
            "split": pa.array(["test"] * table.num_rows, pa.string()),
            "question_type": table.column("question_type"),
            "question": table.column("question"),
            "options": table.column("options"),
            "answer": pa.array(truths, pa.string()),
            "answer_value": pa.array(values, pa.float64()),
            "objects": pa.array([[] for _ in range(table.num_rows)], pa.list_(pa.string())),
            "video": videos,
        }
    )

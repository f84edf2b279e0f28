"""The finishing step as it was before it streamed (main at e6cf6be): every row in one table, duplicates found
with Python tuples, balancing with a Python sort per capped group, shards cut from the one table. Kept only as
the oracle that the streaming `Cleanup` and `ShardWriter` must equal row for row and byte for byte."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vsi_data.output.balance import Balance, group_cap
from vsi_data.output.shards import COMPRESSION, DATA_DIR, SCHEMA
from vsi_data.seeding import derive_seed


def deduplicate(table: pa.Table) -> tuple[pa.Table, int]:
    seen: set[tuple] = set()
    keep = np.ones(table.num_rows, dtype=bool)
    columns = [table.column(name).to_pylist() for name in ("dataset", "scene_id", "question", "options")]
    for i, (dataset, scene_id, question, options) in enumerate(zip(*columns, strict=True)):
        key = (dataset, scene_id, question, tuple(options or ()))
        keep[i] = key not in seen
        seen.add(key)
    return table.filter(pa.array(keep)), int((~keep).sum())


def balance_answers(table: pa.Table, balance: Balance, seed: int) -> tuple[pa.Table, dict[str, int]]:
    keep = np.ones(table.num_rows, dtype=bool)
    dropped: dict[str, int] = {}
    types = np.asarray(table.column("question_type").to_pylist(), dtype=object)
    ids = table.column("id").to_pylist()
    answers = table.column("answer").to_pylist()
    values = table.column("answer_value").to_pylist()
    for question_type, rule in sorted(balance.types.items()):
        rows = np.flatnonzero(types == question_type)
        if len(rows) == 0:
            continue
        groups: dict[object, list[int]] = {}
        for i in rows:
            key = answers[i] if rule.bin is None or values[i] is None else math.floor(values[i] / rule.bin)
            groups.setdefault(key, []).append(int(i))
        cap = group_cap([len(g) for g in groups.values()], rule.max_share)
        for members in groups.values():
            if len(members) > cap:
                ranked = sorted(members, key=lambda i: derive_seed(seed, "balance", ids[i]))
                keep[ranked[cap:]] = False
        dropped[question_type] = int((~keep[rows]).sum())
    return table.filter(pa.array(keep)), dropped


def finish(parts: list[pa.Table], balance: Balance, seed: int) -> tuple[pa.Table, dict]:
    """The rows a build kept and its manifest's `cleanup`, as `_finish` computed them."""
    table = pa.concat_tables([SCHEMA.empty_table(), *parts])
    table, duplicates = deduplicate(table) if balance.dedup else (table, 0)
    table, dropped = balance_answers(table, balance, seed)
    return table, {"duplicates_dropped": duplicates, "balance_dropped": dropped}


def write_shards(out_dir: Path, table: pa.Table, rows_per_shard: int) -> dict[str, list[str]]:
    data = out_dir / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for split in sorted(set(table.column("split").to_pylist())):
        rows = table.filter(pc.equal(table.column("split"), split))
        count = max(1, -(-rows.num_rows // rows_per_shard))
        for k in range(count):
            path = data / f"{split}-{k:05d}-of-{count:05d}.parquet"
            pq.write_table(rows.slice(k * rows_per_shard, rows_per_shard), path, compression=COMPRESSION)
            written.setdefault(split, []).append(str(path.relative_to(out_dir)))
    return written

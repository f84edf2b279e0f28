"""Parquet output: the row schema, per-scene parts written atomically, and the final shards.

A build writes each finished scene to `.parts/<dataset>__<scene>.parquet` (temp file + rename, so a
part either exists whole or not at all); finishing reads the parts back in scene order and writes the
zstd shards `data/<split>-NNNNN-of-MMMMM.parquet`. Parts make resuming trivial and make the shards
independent of the order scenes finished in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vsi_data.io import write_atomic, write_text_if_changed  # noqa: F401  (imported from here before vsi_data.io)

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("scene_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("question_type", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("options", pa.list_(pa.string())),
        pa.field("answer", pa.string(), nullable=False),
        pa.field("answer_value", pa.float64()),
        pa.field("objects", pa.list_(pa.string()), nullable=False),
        pa.field("video", pa.string()),
        pa.field("meta", pa.string(), nullable=False),
    ]
)
PARTS_DIR = ".parts"
DATA_DIR = "data"
MANIFEST = "manifest.json"
COMPRESSION = "zstd"


def part_name(dataset: str, scene_id: str) -> str:
    return f"{dataset}__{scene_id}"


def write_part(
    out_dir: Path, dataset: str, scene_id: str, rows: Sequence[dict[str, Any]], info: dict[str, Any]
) -> None:
    """One scene's rows and its build info; the parquet rename is the commit point."""
    parts = out_dir / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    name = part_name(dataset, scene_id)
    write_atomic(parts / f"{name}.json", lambda p: p.write_text(json.dumps(info, sort_keys=True)))
    table = pa.Table.from_pylist(list(rows), schema=SCHEMA)
    write_atomic(parts / f"{name}.parquet", lambda p: pq.write_table(table, p, compression=COMPRESSION))


def part_info(out_dir: Path, dataset: str, scene_id: str) -> dict[str, Any] | None:
    """A finished scene's build info, or None when the scene has not been committed."""
    parts = out_dir / PARTS_DIR
    name = part_name(dataset, scene_id)
    if not (parts / f"{name}.parquet").is_file():
        return None
    return json.loads((parts / f"{name}.json").read_text())


def read_part(out_dir: Path, dataset: str, scene_id: str) -> pa.Table:
    return pq.read_table(out_dir / PARTS_DIR / f"{part_name(dataset, scene_id)}.parquet", schema=SCHEMA)


def write_shards(out_dir: Path, tables: Iterable[pa.Table], rows_per_shard: int) -> dict[str, list[str]]:
    """Split rows by `split` into shards of at most `rows_per_shard` rows in `out_dir/data/` (a build writes
    them into its staging folder, so the shards they replace stay whole until the swap); returns split → shard
    paths relative to `out_dir`."""
    combined = pa.concat_tables([SCHEMA.empty_table(), *tables])
    data = out_dir / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    splits = sorted(set(combined.column("split").to_pylist()))
    for split in splits:
        table = combined.filter(pc.equal(combined.column("split"), split))
        count = max(1, -(-table.num_rows // rows_per_shard))
        for k in range(count):
            chunk = table.slice(k * rows_per_shard, rows_per_shard)
            path = data / f"{split}-{k:05d}-of-{count:05d}.parquet"
            write_atomic(path, lambda p, chunk=chunk: pq.write_table(chunk, p, compression=COMPRESSION))
            written.setdefault(split, []).append(str(path.relative_to(out_dir)))
    return written


class ShardsMismatch(FileNotFoundError):
    """A build's shards are not the ones its manifest lists (a file missing, or holding other rows)."""


def shard_files(out_dir: Path) -> list[Path]:
    """The shards of the build in `out_dir`: those its manifest lists, each checked against the manifest's
    row count for its split (footers only), so a missing or foreign file is an error rather than a
    smaller dataset. Without a manifest, every `data/*.parquet`."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["shards"]
        per_split = manifest["per_split"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return sorted((out_dir / DATA_DIR).glob("*.parquet"))
    files = []
    for split, names in sorted(listed.items()):
        rows = 0
        for name in names:
            try:
                rows += pq.read_metadata(out_dir / name).num_rows
            except FileNotFoundError:
                raise ShardsMismatch(
                    f"{out_dir / name}: missing, but {MANIFEST} lists it; re-run the build to write its shards again"
                ) from None
            except (OSError, pa.ArrowException) as exc:
                raise ShardsMismatch(f"{out_dir / name}: not a readable Parquet file ({exc})") from None
            files.append(out_dir / name)
        if rows != per_split.get(split, 0):
            raise ShardsMismatch(
                f"{out_dir / DATA_DIR}: the {split} shards hold {rows} rows, {MANIFEST} says "
                f"{per_split.get(split, 0)}; re-run the build to write its shards again"
            )
    return files


def read_rows(out_dir: Path) -> pa.Table:
    """Every row of a build's shards (as written by `write_shards` and listed in its manifest)."""
    files = shard_files(out_dir)
    if not files:
        raise FileNotFoundError(f"{out_dir}: no shards in {DATA_DIR}/ (not a vsi-data build output?)")
    return pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files])

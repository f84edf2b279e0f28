"""Parquet output: the row schema, per-scene parts written atomically, and the final shards.

A build writes each finished scene to `.parts/<dataset>__<scene>.parquet` (locally a temp file + rename, on an
object store one upload: a part either exists whole or not at all); finishing reads the parts back in scene order
and writes the zstd shards `data/<split>-NNNNN-of-MMMMM.parquet`. Parts make resuming trivial and make the shards
independent of the order scenes finished in. Every function takes a local folder or a `Store` (any fsspec URL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from vsi_data.io import PARTIAL_SUFFIX, Store, StoreUnavailable, is_url, write_atomic, write_text_if_changed  # noqa: F401  (imported from here before vsi_data.io)

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
FAILURES = "failures.jsonl"
COMPRESSION = "zstd"


def part_name(dataset: str, scene_id: str) -> str:
    return f"{dataset}__{scene_id}"


def write_part(
    out_dir: Path | Store, dataset: str, scene_id: str, rows: Sequence[dict[str, Any]], info: dict[str, Any]
) -> None:
    """One scene's rows and its build info; the parquet, written last, is the commit point."""
    store = Store.at(out_dir)
    store.makedirs(PARTS_DIR)
    name = part_name(dataset, scene_id)
    store.write_text(f"{PARTS_DIR}/{name}.json", json.dumps(info, sort_keys=True))
    table = pa.Table.from_pylist(list(rows), schema=SCHEMA)
    store.write(f"{PARTS_DIR}/{name}.parquet", lambda file: pq.write_table(table, file, compression=COMPRESSION))


def part_info(out_dir: Path | Store, dataset: str, scene_id: str) -> dict[str, Any] | None:
    """A finished scene's build info, or None when the scene has not been committed."""
    store = Store.at(out_dir)
    name = part_name(dataset, scene_id)
    if not store.is_file(f"{PARTS_DIR}/{name}.parquet"):
        return None
    return json.loads(store.read_text(f"{PARTS_DIR}/{name}.json"))


def read_part(out_dir: Path | Store, dataset: str, scene_id: str, columns: Sequence[str] | None = None) -> pa.Table:
    path, filesystem = arrow_path(Store.at(out_dir), f"{PARTS_DIR}/{part_name(dataset, scene_id)}.parquet")
    return pq.read_table(
        path, schema=SCHEMA, columns=list(columns) if columns is not None else None, filesystem=filesystem
    )


def arrow_path(store: Store, name: str) -> tuple[str, pafs.FileSystem | None]:
    """`name` of `store` as Arrow opens it: a local path, or the path and the fsspec filesystem wrapped."""
    if store.local:
        return store.path(name), None
    return store.path(name), pafs.PyFileSystem(pafs.FSSpecHandler(store.fs))


ROW_GROUP_ROWS = 1024 * 1024  # pyarrow's own largest row group
ROW_GROUP_BYTES = 100 * 10**6  # 🤗 datasets' largest row group (config.MAX_ROW_GROUP_SIZE): bounds finishing's memory
DEFAULT_SHARD_BYTES = 500 * 10**6  # 🤗 datasets' shard size (config.MAX_SHARD_SIZE)


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> int:
    """'500MB' (decimal units, as 🤗 datasets reads them), '2GiB' (binary) or a plain byte count, as bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match and match.group(2).upper()
    if not match or unit not in _UNITS or float(match.group(1)) * _UNITS[unit] < 1:
        raise ValueError(f"{text!r} is not a size (such as 500MB, 1GB, 2GiB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[unit])


def row_bytes(table: pa.Table) -> np.ndarray:
    """Each row's in-memory (Arrow) size: string bytes plus offsets, 8 per number. Shards are cut by this, as
    🤗 datasets cuts by its tables' sizes: a function of the rows alone, so the cut does not depend on the
    compressor or on how the rows arrived."""
    sizes = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.itercolumns():
        column = column.combine_chunks()
        if pa.types.is_list(column.type):
            lengths = pc.binary_length(pc.list_flatten(column)).to_numpy(zero_copy_only=False) + 4
            parents = pc.list_parent_indices(column).to_numpy()
            sizes += 4 + np.bincount(parents, weights=lengths, minlength=table.num_rows).astype(np.int64)
        elif pa.types.is_string(column.type):
            sizes += 4 + pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
        else:
            sizes += column.type.bit_width // 8
    return sizes


@dataclass
class _Shard:
    """The shard of one split being written: rows not yet in a row group, and its writer once it has one."""

    index: int
    buffer: list[pa.Table] = field(default_factory=list)
    buffered_rows: int = 0
    buffered_bytes: int = 0
    rows: int = 0
    bytes: int = 0
    writer: pq.ParquetWriter | None = None


class ShardWriter:
    """Rows in, shards out, streaming: each split's rows in order go to `out_dir/data/<split>-NNNNN-of-MMMMM.parquet`
    (zstd), a shard holding at most `rows_per_shard` rows and `bytes_per_shard` bytes (`row_bytes`; at least one
    row). Rows wait in memory only until a row group is full (`ROW_GROUP_BYTES`, `ROW_GROUP_ROWS`), so a shard
    no larger than one row group is written exactly as one `pq.write_table` of its rows would be. Shards are
    written under temp names and named with their count on `close`, which returns split → paths relative to
    `out_dir` (a build writes them into its staging folder, so the shards they replace stay whole)."""

    def __init__(self, out_dir: Path | Store, rows_per_shard: int, bytes_per_shard: int | None = None) -> None:
        self.store = Store.at(out_dir)
        self.rows_per_shard, self.bytes_per_shard = rows_per_shard, bytes_per_shard
        self.store.makedirs(DATA_DIR)
        self.open: dict[str, _Shard] = {}
        self.closed: dict[str, list[str]] = {}

    def write(self, table: pa.Table) -> None:
        splits = table.column("split")
        names = pc.unique(splits).to_pylist()
        for split in names:
            rows = table if len(names) == 1 else table.filter(pc.equal(splits, split))
            self._append(split, rows, row_bytes(rows))

    def _append(self, split: str, rows: pa.Table, sizes: np.ndarray) -> None:
        start = 0
        while start < rows.num_rows:
            shard = self.open.get(split) or self.open.setdefault(split, _Shard(len(self.closed.get(split, []))))
            room = min(self.rows_per_shard - shard.rows, ROW_GROUP_ROWS - shard.buffered_rows)
            taken = np.cumsum(sizes[start : start + room])
            if self.bytes_per_shard is not None:
                fits = int(np.searchsorted(taken, self.bytes_per_shard - shard.bytes, side="right"))
                room = max(fits, 1) if shard.rows == 0 else fits
            room = min(room, rows.num_rows - start)
            if room == 0:  # the shard is full
                self._close(split)
                continue
            shard.buffer.append(rows.slice(start, room))
            added = int(taken[room - 1])
            shard.rows += room
            shard.bytes += added
            shard.buffered_rows += room
            shard.buffered_bytes += added
            start += room
            if shard.buffered_rows >= ROW_GROUP_ROWS or shard.buffered_bytes >= ROW_GROUP_BYTES:
                self._flush(split, shard)

    def _temp(self, split: str, index: int) -> str:
        return f"{DATA_DIR}/{split}-{index:05d}.parquet{PARTIAL_SUFFIX}"

    def _flush(self, split: str, shard: _Shard) -> None:
        """The buffered rows as one row group."""
        if not shard.buffer:
            return
        if shard.writer is None:
            path, filesystem = arrow_path(self.store, self._temp(split, shard.index))
            shard.writer = pq.ParquetWriter(path, SCHEMA, compression=COMPRESSION, filesystem=filesystem)
        shard.writer.write_table(pa.concat_tables(shard.buffer))
        shard.buffer, shard.buffered_rows, shard.buffered_bytes = [], 0, 0

    def _close(self, split: str) -> None:
        shard = self.open.pop(split)
        self._flush(split, shard)
        shard.writer.close()
        self.closed.setdefault(split, []).append(self._temp(split, shard.index))

    def close(self) -> dict[str, list[str]]:
        for split in list(self.open):
            self._close(split)
        written: dict[str, list[str]] = {}
        for split, temps in sorted(self.closed.items()):
            for k, temp in enumerate(temps):
                name = f"{DATA_DIR}/{split}-{k:05d}-of-{len(temps):05d}.parquet"
                self.store.move(temp, name)
                written.setdefault(split, []).append(name)
        return written

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close what is still open after a failure (its temp files go with the staging folder)."""
        for shard in self.open.values():
            if shard.writer is not None:
                shard.writer.close()
        self.open.clear()


def write_shards(
    out_dir: Path | Store, tables: Iterable[pa.Table], rows_per_shard: int, bytes_per_shard: int | None = None
) -> dict[str, list[str]]:
    """`tables`' rows as the shards of `out_dir` (`ShardWriter`); returns split → shard paths."""
    with ShardWriter(out_dir, rows_per_shard, bytes_per_shard) as writer:
        for table in tables:
            writer.write(table)
        return writer.close()


class ShardsMismatch(FileNotFoundError):
    """A build's shards are not the ones its manifest lists (a file missing, or holding other rows)."""


def unreadable_shard(store: Store, name: str, exc: BaseException) -> ShardsMismatch:
    """Shard `name` of `store` that Arrow failed to read, as one line naming it (Arrow's message may span lines)."""
    return ShardsMismatch(f"{store}/{name}: not a readable Parquet file ({' '.join(str(exc).split())})")


def _listed_shards(manifest: object) -> dict[str, list[str]] | None:
    """A manifest's `shards` (split -> shard names, each `data/<name>.parquet`), or None where the manifest is
    not that shape (edited by hand): nothing it names outside `data/` is ever read or deleted."""
    listed = manifest.get("shards") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict):
        return None
    for names in listed.values():
        if not isinstance(names, list):
            return None
        for name in names:
            if not isinstance(name, str) or not re.fullmatch(rf"{DATA_DIR}/[^/]+\.parquet", name) or ".." in name:
                return None
    return listed


def _manifest_listing(store: Store) -> tuple[dict[str, list[str]], dict[str, int]] | None:
    """The shards a build's manifest lists and its rows per split; None without a manifest. A damaged or
    misshapen manifest is refused naming what is wrong: read past, a listing of `data/` (a user's own parquet
    among the shards) would stand in for the build."""
    where = f"{store}/{MANIFEST}"
    try:
        manifest = json.loads(store.read_text(MANIFEST))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ShardsMismatch(f"{where}: not valid JSON ({exc}); re-run the build to write it again") from None
    listed = _listed_shards(manifest)
    if listed is None:
        raise ShardsMismatch(
            f'{where}: "shards" must map each split to its {DATA_DIR}/*.parquet files (edited by hand?); '
            "re-run the build to write it again"
        )
    per_split = manifest.get("per_split")
    if not isinstance(per_split, dict) or not all(type(rows) is int for rows in per_split.values()):
        raise ShardsMismatch(
            f'{where}: "per_split" must map each split to its row count (edited by hand?); '
            "re-run the build to write it again"
        )
    return listed, per_split


def shard_names(out_dir: Path | Store) -> list[str]:
    """The shards of the build in `out_dir`: those its manifest lists, each checked against the manifest's
    row count for its split (footers only), so a missing or foreign file is an error rather than a
    smaller dataset; a listing is never trusted over the manifest (on an object store it may even lag).
    Without a manifest, every `data/*.parquet`. Names are relative to the build."""
    store = Store.at(out_dir)
    listing = _manifest_listing(store)
    if listing is None:
        return [name for name in store.files(DATA_DIR) if name.count("/") == 1 and name.endswith(".parquet")]
    listed, per_split = listing
    names = []
    for split, shards in sorted(listed.items()):
        rows = 0
        for name in shards:
            if not store.is_file(name):
                raise ShardsMismatch(
                    f"{store}/{name}: missing, but {MANIFEST} lists it; re-run the build to write its shards again"
                )
            try:
                path, filesystem = arrow_path(store, name)
                rows += pq.read_metadata(path, filesystem=filesystem).num_rows
            except (OSError, pa.ArrowException) as exc:
                raise unreadable_shard(store, name, exc) from None
            names.append(name)
        if rows != per_split.get(split, 0):
            raise ShardsMismatch(
                f"{store}/{DATA_DIR}: the {split} shards hold {rows} rows, {MANIFEST} says "
                f"{per_split.get(split, 0)}; re-run the build to write its shards again"
            )
    return names


class NoQuestions(FileNotFoundError):
    """A finished build without a shard: every scene failed, or none gave a question. Not "no build": its
    manifest and failures.jsonl are there, and the message says what they hold."""


def empty_build_summary(failed: int) -> str:
    """A build without questions in one phrase, as `stats` heads its report and every other reader refuses it."""
    return f"0 questions; {failed} failed scenes"


def no_questions(store: Store) -> NoQuestions:
    """Why the build at `store`, which has a manifest but no shard, cannot be read: counted as `stats` counts it."""
    failed = sum(1 for line in store.read_text(FAILURES).splitlines() if line.strip()) if store.is_file(FAILURES) else 0
    why = f"why each failed: {store}/{FAILURES}" if failed else f"why no type has one: vsi-data stats {store}"
    return NoQuestions(f"{store}: the build holds no questions ({empty_build_summary(failed)}; {why})")


class NotABuild(FileNotFoundError):
    """No build at the location a reader was given; the message names it and says why in one line."""


def open_build(where: Path | str | Store) -> Store:
    """The build a reader was given (a local folder or any fsspec URL) as a `Store`, or `NotABuild`: a filesystem
    fsspec cannot open or reach, nothing there, or no manifest (a local folder may instead hold only shards, as
    builds before the manifest did; a URL's listing is never trusted to say what a build holds)."""
    if not isinstance(where, Store) and not is_url(where) and not Path(where).is_dir():
        raise NotABuild(f"{where}: no such build folder")
    try:
        store = Store.at(where)
    except StoreUnavailable as exc:  # an unknown protocol, its package not installed
        raise NotABuild(str(exc)) from None
    try:
        store.read_bytes(MANIFEST)
    except FileNotFoundError:
        if store.local and shard_names(store):
            return store
        if store.local:
            raise NotABuild(f"{store}: not a vsi-data build output (no {MANIFEST} or {DATA_DIR}/*.parquet)") from None
        raise NotABuild(f"{store}: no {MANIFEST} there (not a vsi-data build output?)") from None
    except OSError as exc:  # a host that does not answer, no access
        raise NotABuild(f"{store}: cannot read {MANIFEST} ({exc})") from None
    return store


def shards_to_read(store: Store) -> list[str]:
    """`shard_names`, at least one: a finished build (its manifest there) without a shard is `no_questions`,
    a folder with neither is no build."""
    names = shard_names(store)
    if not names and store.is_file(MANIFEST):
        raise no_questions(store)
    if not names:
        raise FileNotFoundError(f"{store}: no shards in {DATA_DIR}/ (not a vsi-data build output?)")
    return names


def read_rows(out_dir: Path | str | Store) -> pa.Table:
    """Every row of a build's shards (as written by `write_shards` and listed in its manifest), from a local
    folder or any fsspec URL."""
    store = Store.at(out_dir)
    names = shards_to_read(store)
    tables = []
    for name in names:
        path, filesystem = arrow_path(store, name)
        try:
            tables.append(pq.read_table(path, schema=SCHEMA, filesystem=filesystem))
        except (OSError, pa.ArrowException) as exc:  # a whole footer over garbled pages
            raise unreadable_shard(store, name, exc) from None
    return pa.concat_tables(tables)

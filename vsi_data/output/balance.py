"""Dataset-wide clean-up after every scene is built: exact-duplicate removal and answer balancing, in memory
that does not grow with the number of rows.

Both decide row by row from the row's own content and the global seed, so the result does not depend on how
many workers built the scenes or in which order. They run over the parts one at a time, in scene order:

- **Duplicates** are rows that repeat an earlier row's dataset, scene, question and options exactly (the first
  is kept). A scene's rows all live in its one part, so a part is deduplicated on its own (an Arrow group-by).
- **Balancing** down-samples over-common answers per question type: the rows of a type are grouped by answer
  (the answer text, i.e. the letter for lettered questions, or the numeric value in bins of `bin`), and every
  group is capped at the largest size `c` for which `c ≤ max_share × (rows kept)`. Within a capped group the
  rows kept are those with the smallest hash of (seed, id) (ties, which need equal ids, by row order): a fixed,
  schedule-free choice. When there are fewer groups than `1 / max_share`, no cap can reach the share and the
  groups are evened out to the smallest one.

`Cleanup` makes the decisions in two passes. `survey` counts the groups and spills each balanced row's group
and hash (12 bytes) to a local temp file; `settle` finds, per capped group, the hash of its last kept row with
a 65,536-bin histogram of the spilled hashes and one more read of the rows in the boundary bin (a capped group
is larger than its cap, and caps sum to at least `rows × max_share`, so a type has fewer than `1 / max_share`
capped groups); `keep` then filters each part as it is written. Memory: one part, the group counts and the
histograms, whatever the number of rows.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vsi_data.qa.recipe import Balance, TypeBalance  # noqa: F401  (the recipe's rule, applied here)
from vsi_data.seeding import derive_seed

DEDUP_COLUMNS = ("dataset", "scene_id", "question", "options")
BALANCE_COLUMNS = ("id", "question_type", "answer", "answer_value")
_SPILL = np.dtype([("group", "<u4"), ("hash", "<u8")])
_CHUNK = 1 << 20  # spilled rows per read
_BIN_BITS = 16  # the histogram's bins: the hash's top bits


def first_occurrences(table: pa.Table) -> np.ndarray:
    """Which rows of `table` are the first with their dataset, scene, question and options (no options and
    an empty list count as the same)."""
    if table.num_rows == 0:
        return np.ones(0, dtype=bool)
    options = table.column("options").combine_chunks()
    codes = pc.dictionary_encode(options.values, null_encoding="encode").indices.cast(pa.string())
    joined = pc.binary_join(pa.ListArray.from_arrays(options.offsets, codes, mask=options.is_null()), ",")
    keys = pa.table(
        {
            "dataset": table.column("dataset"),
            "scene_id": table.column("scene_id"),
            "question": table.column("question"),
            "options": pc.fill_null(joined, ""),  # option strings numbered: "3,0,7" names one list only
            "row": pa.array(np.arange(table.num_rows)),
        }
    )
    first = keys.group_by(list(DEDUP_COLUMNS), use_threads=False).aggregate([("row", "min")]).column("row_min")
    keep = np.zeros(table.num_rows, dtype=bool)
    keep[first.to_numpy()] = True
    return keep


def group_cap(sizes: list[int], max_share: float) -> int:
    """The largest cap c with c ≤ max_share × Σ min(size, c); the smallest group when none exists."""
    sizes_arr = np.asarray(sizes)
    lo, hi = 0, int(sizes_arr.max())
    while lo < hi:  # the condition holds on an initial run of c (Σ min(size, c) / c never increases)
        mid = (lo + hi + 1) // 2
        if mid <= max_share * np.minimum(sizes_arr, mid).sum() + 1e-9:
            lo = mid
        else:
            hi = mid - 1
    return lo if lo >= 1 else int(sizes_arr.min())


class Cleanup:
    """The clean-up's decisions for a stream of parts: `survey` each part (its `columns` suffice), `settle`,
    then `keep` each part in the same order. `dropped()` says what went, for the manifest."""

    columns = tuple(dict.fromkeys(DEDUP_COLUMNS + BALANCE_COLUMNS))

    def __init__(self, balance: Balance, seed: int) -> None:
        self.balance, self.seed = balance, seed
        self.duplicates = 0
        self.groups: dict[tuple[str, Any], int] = {}  # (question type, answer or bin) → group number
        self.sizes: list[int] = []  # rows per group
        self.spill: IO[bytes] | None = None
        self.spilled = 0  # rows read back by `keep` so far
        self.cut: dict[int, tuple[int, int]] = {}  # capped group → (hash, spill index) of its last kept row
        self.balance_dropped: dict[str, int] = {}

    @property
    def needed(self) -> bool:
        """Whether anything can be dropped (else no survey is needed and `keep` keeps every row)."""
        return self.balance.dedup or bool(self.balance.types)

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.spill is not None:
            self.spill.close()

    def _unique(self, table: pa.Table) -> pa.Table:
        return table.filter(first_occurrences(table)) if self.balance.dedup else table

    def _groups(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Rows of balanced types: their positions in `table` and their group numbers (new groups numbered)."""
        types = self.balance.types
        rows = self._balanced_rows(table)
        if len(rows) == 0:
            return rows, np.zeros(0, dtype=np.uint32)
        picked = table.select(BALANCE_COLUMNS[1:]).take(pa.array(rows))
        widths = [types[t].bin for t in picked.column("question_type").to_pylist()]
        # Null for types grouped by text and rows without a value: those group by the answer text.
        binned = pc.cast(pc.floor(pc.divide(picked.column("answer_value"), pa.array(widths, pa.float64()))), pa.int64())
        by_text = pc.is_null(binned)
        keys = pa.table(
            {
                "type": picked.column("question_type"),
                "bin": binned,
                "answer": pc.if_else(by_text, picked.column("answer"), pa.scalar(None, pa.string())),
                "row": pa.array(np.arange(len(rows))),
            }
        )
        found = keys.group_by(["type", "bin", "answer"], use_threads=False).aggregate([("row", "list")])
        number = np.zeros(len(rows), dtype=np.uint32)
        columns = (found.column(name).to_pylist() for name in ("type", "bin", "answer", "row_list"))
        for question_type, bin_, answer, members in zip(*columns, strict=True):
            key = (question_type, answer if bin_ is None else bin_)
            if key not in self.groups:
                self.groups[key] = len(self.sizes)
                self.sizes.append(0)
            self.sizes[self.groups[key]] += len(members)
            number[members] = self.groups[key]
        return rows, number

    def survey(self, table: pa.Table) -> None:
        """First pass, one part at a time in scene order."""
        unique = self._unique(table)
        self.duplicates += table.num_rows - unique.num_rows
        if not self.balance.types:
            return
        rows, groups = self._groups(unique)
        spilled = np.empty(len(rows), dtype=_SPILL)
        spilled["group"] = groups
        spilled["hash"] = [derive_seed(self.seed, "balance", i) for i in unique.column("id").take(rows).to_pylist()]
        if self.spill is None:
            self.spill = tempfile.TemporaryFile(prefix="vsi-data-balance-")  # noqa: SIM115  (closed on exit)
        self.spill.write(spilled.tobytes())

    def settle(self) -> None:
        """Between the passes: each type's cap, and the last kept row of every capped group."""
        capped: dict[int, int] = {}  # group → rows it keeps
        for question_type, rule in sorted(self.balance.types.items()):
            members = [g for (t, _), g in self.groups.items() if t == question_type]
            if not members:
                continue  # a type without rows is not reported
            sizes = [self.sizes[g] for g in members]
            cap = group_cap(sizes, rule.max_share)
            capped.update({g: cap for g, size in zip(members, sizes, strict=True) if size > cap})
            self.balance_dropped[question_type] = sum(max(0, size - cap) for size in sizes)
        if not capped:
            return
        slot = np.full(len(self.sizes), -1, dtype=np.int64)
        slot[list(capped)] = np.arange(len(capped))
        counts = np.zeros((len(capped), 1 << _BIN_BITS), dtype=np.int64)
        for chunk, _ in self._chunks():
            where = slot[chunk["group"]]
            chosen = where >= 0
            np.add.at(counts, (where[chosen], chunk["hash"][chosen] >> np.uint64(64 - _BIN_BITS)), 1)
        cumulative = np.cumsum(counts, axis=1)
        caps = np.array(list(capped.values()))
        boundary = np.argmax(cumulative >= caps[:, None], axis=1)  # the bin that holds each group's last kept row
        before = np.where(boundary > 0, cumulative[np.arange(len(caps)), boundary - 1], 0)
        in_boundary: list[list[np.ndarray]] = [[] for _ in capped]
        for chunk, start in self._chunks():
            where = slot[chunk["group"]]
            chosen = np.flatnonzero(where >= 0)
            chosen = chosen[(chunk["hash"][chosen] >> np.uint64(64 - _BIN_BITS)) == boundary[where[chosen]]]
            for s in np.unique(where[chosen]):
                rows = chosen[where[chosen] == s]
                in_boundary[s].append(np.stack([chunk["hash"][rows], (start + rows).astype(np.uint64)], axis=1))
        for group, s in zip(capped, range(len(capped)), strict=True):
            candidates = np.concatenate(in_boundary[s])
            ranked = candidates[np.lexsort((candidates[:, 1], candidates[:, 0]))]
            last = ranked[caps[s] - before[s] - 1]
            self.cut[group] = (int(last[0]), int(last[1]))
        self.spill.seek(0)

    def _chunks(self):
        """The spilled rows in order, a chunk at a time, with the spill index of each chunk's first row."""
        self.spill.seek(0)
        start = 0
        while block := self.spill.read(_CHUNK * _SPILL.itemsize):
            chunk = np.frombuffer(block, dtype=_SPILL)
            yield chunk, start
            start += len(chunk)

    def keep(self, table: pa.Table) -> pa.Table:
        """Second pass: the part's rows that stay, in order."""
        unique = self._unique(table)
        if not self.cut:
            return unique
        rows = self._balanced_rows(unique)  # their groups and hashes are read back from the spill
        if len(rows) == 0:
            return unique
        block = self.spill.read(len(rows) * _SPILL.itemsize)
        spilled = np.frombuffer(block, dtype=_SPILL)
        index = np.arange(self.spilled, self.spilled + len(rows), dtype=np.uint64)
        self.spilled += len(rows)
        keep = np.ones(unique.num_rows, dtype=bool)
        for group, (last_hash, last_index) in self.cut.items():
            mine = spilled["group"] == group
            hashes = spilled["hash"][mine]
            after = (hashes > last_hash) | ((hashes == last_hash) & (index[mine] > last_index))
            keep[rows[mine][after]] = False
        return unique.filter(pa.array(keep))

    def _balanced_rows(self, table: pa.Table) -> np.ndarray:
        """Positions of the rows whose type the recipe balances."""
        types = pa.array(sorted(self.balance.types), pa.string())
        return np.flatnonzero(pc.is_in(table.column("question_type"), value_set=types).to_numpy(zero_copy_only=False))

    def dropped(self) -> dict[str, Any]:
        """What the clean-up removed: exact duplicates, and per balanced type (with rows) the rows balancing took."""
        return {"duplicates_dropped": self.duplicates, "balance_dropped": dict(sorted(self.balance_dropped.items()))}

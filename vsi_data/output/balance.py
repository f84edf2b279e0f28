"""Dataset-wide clean-up after every scene is built: exact-duplicate removal and answer balancing.

Both run on the rows in scene order and decide row by row from the row's own content and the global
seed, so the result does not depend on how many workers built the scenes or in which order.

Balancing down-samples over-common answers per question type: the rows of a type are grouped by answer
(the answer text, i.e. the letter for lettered questions, or the numeric value in bins of `bin`), and
every group is capped at the largest size `c` for which `c ≤ max_share × (rows kept)`. Within a capped
group the rows kept are those with the smallest hash of (seed, id): a fixed, schedule-free choice. When
there are fewer groups than `1 / max_share`, no cap can reach the share and the groups are evened out to
the smallest one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vsi_data.seeding import derive_seed


@dataclass(frozen=True)
class TypeBalance:
    max_share: float  # no answer group keeps more than this share of its type's rows
    bin: float | None = None  # numeric answers grouped in bins this wide (answer units); None: by answer text


@dataclass(frozen=True)
class Balance:
    dedup: bool = True
    types: Mapping[str, TypeBalance] = field(default_factory=dict)


def deduplicate(table: pa.Table) -> tuple[pa.Table, int]:
    """Drop rows that repeat an earlier row's scene, question and options exactly (the first is kept)."""
    seen: set[tuple] = set()
    keep = np.ones(table.num_rows, dtype=bool)
    columns = [table.column(name).to_pylist() for name in ("dataset", "scene_id", "question", "options")]
    for i, (dataset, scene_id, question, options) in enumerate(zip(*columns, strict=True)):
        key = (dataset, scene_id, question, tuple(options or ()))
        keep[i] = key not in seen
        seen.add(key)
    return table.filter(pa.array(keep)), int((~keep).sum())


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

"""Finishing a build's rows: the committed parts, streamed in scene order through the clean-up
(`balance.Cleanup`) into the shards (`shards.ShardWriter`). Memory holds one part, the clean-up's counts and
histograms, and at most a row group per split, however many rows the build has (docs/performance.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vsi_data.output.balance import Balance, Cleanup
from vsi_data.output.shards import ShardWriter

Parts = Callable[[tuple[str, ...] | None], Iterator[pa.Table]]  # the parts in scene order, these columns (None: all)


@dataclass(frozen=True)
class FinishedRows:
    shards: dict[str, list[str]]  # split → shard paths relative to the folder written
    per_type: dict[str, int]
    per_split: dict[str, int]
    cleanup: dict[str, Any]  # the manifest's "cleanup": what deduplication and balancing dropped


def finish_rows(
    parts: Parts, balance: Balance, seed: int, out_dir: Path, rows_per_shard: int, bytes_per_shard: int | None
) -> FinishedRows:
    """Two passes over `parts` (the clean-up's columns, then whole rows) into the shards of `out_dir`."""
    per_type: Counter[str] = Counter()
    per_split: Counter[str] = Counter()
    with Cleanup(balance, seed) as cleanup:
        if cleanup.needed:
            for part in parts(cleanup.columns):
                cleanup.survey(part)
            cleanup.settle()
        with ShardWriter(out_dir, rows_per_shard, bytes_per_shard) as writer:
            for part in parts(None):
                kept = cleanup.keep(part)
                per_type.update(_counts(kept.column("question_type")))
                per_split.update(_counts(kept.column("split")))
                writer.write(kept)
            shards = writer.close()
        return FinishedRows(shards, dict(sorted(per_type.items())), dict(sorted(per_split.items())), cleanup.dropped())


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(column)
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))

"""Counts over a build output (the core of `vsi-data stats`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from vsi_data.output.shards import read_rows


def dataset_stats(out_dir: Path) -> dict[str, Any]:
    table = read_rows(out_dir)
    types = table.column("question_type").to_pylist()
    answers = table.column("answer").to_pylist()
    options = table.column("options").to_pylist()
    letters: dict[str, Counter[str]] = {}
    for question_type, answer, opts in zip(types, answers, options, strict=True):
        if opts is not None:
            letters.setdefault(question_type, Counter())[answer] += 1
    categories = Counter(c for objs in table.column("objects").to_pylist() for c in objs)
    scenes = Counter(table.column("scene_id").to_pylist())
    return {
        "rows": table.num_rows,
        "per_type": dict(sorted(Counter(types).items())),
        "per_split": dict(sorted(Counter(table.column("split").to_pylist()).items())),
        "per_source": dict(sorted(Counter(table.column("dataset").to_pylist()).items())),
        "scenes": len(scenes),
        "questions_per_scene": {"min": min(scenes.values()), "max": max(scenes.values())} if scenes else {},
        "letter_balance": {t: dict(sorted(c.items())) for t, c in sorted(letters.items())},
        "categories": dict(categories.most_common()),
    }

"""The dataset card (`README.md` in the output folder): how the data was made, and the `configs` header
that lets `datasets.load_dataset(out_dir)` find the shards and their splits."""

from __future__ import annotations

from typing import Any

import yaml


def dataset_card(manifest: dict[str, Any], shards: dict[str, list[str]]) -> str:
    # One name per split everywhere: `--split val`, data/val-*.parquet, the `split` column, load_dataset(...)["val"].
    data_files = [{"split": split, "path": f"data/{split}-*.parquet"} for split in sorted(shards)]
    header = {
        "configs": [{"config_name": "default", "data_files": data_files}],
        "task_categories": ["visual-question-answering"],
    }
    per_type = "\n".join(f"| {t} | {n} |" for t, n in sorted(manifest["per_type"].items()))
    recipe = manifest["recipe"]
    return f"""---
{yaml.safe_dump(header, sort_keys=False).strip()}
---
# Spatial questions built by vsi-data

{manifest["rows"]} questions from {manifest["scenes"]["built"]} {manifest["source"]} scenes, recipe `{recipe["name"]}`
(options: {recipe["options"]}, distances: {recipe["geometry"]["distance"]}), seed {manifest["seed"]}.

| question type | rows |
|---|---|
{per_type}

Each row's `meta` column says how its answer was computed (distances, angles, margins, instance ids,
template). `manifest.json` holds the resolved recipe, the scene counts, the parser statistics and the
software versions; `failures.jsonl` lists scenes that could not be built and why.

Load with `datasets.load_dataset("<this folder>")`. The answers are derived from the source scans;
the source dataset's terms of use apply to this data.
"""

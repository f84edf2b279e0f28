"""What a question set holds (the core of `vsi-data stats`): pure counting, no printing or plotting.

The report is a plain JSON-able dict so that the terminal tables, the `--json` output and the figures
all read the same numbers. It answers the questions one asks before training on a set: how many
questions of each type and from where, whether one answer dominates a type (is "2" most counts? is "A"
right too often?), which categories dominate, and which scenes failed to build.

Two inputs are understood: a `vsi-data build` output folder (also one whose every scene failed: zero questions,
its failures and the reasons each question type is missing), and VSI-Bench's own test set as .parquet or .jsonl
(columns id, dataset, scene_name, question_type, question, options, ground_truth), so a build can be compared
with the benchmark it imitates.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vsi_data.io import Store
from vsi_data.output.shards import MANIFEST
from vsi_data.questions import NotQuestions, read_questions

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_ANSWERS = 10
COUNT_TYPES = frozenset({"object_counting"})  # answers that are counts: one histogram bin per count, however many


NotADataset = NotQuestions  # the name `stats`' callers catch


def numeric_summary(values: np.ndarray, per_number: bool = False) -> dict[str, Any]:
    """Quantiles and an even-width histogram: enough to see a skewed or lumpy answer distribution.

    Whole numbers get one bin per number, centred on it, so "2" is a bar: counts (`per_number`) always, other
    whole numbers over a short range."""
    lo, hi = float(values.min()), float(values.max())
    if np.all(values == np.round(values)) and (per_number or hi - lo < HISTOGRAM_BINS):
        bins: int | np.ndarray = np.arange(lo - 0.5, hi + 1.0)
    else:
        bins = min(HISTOGRAM_BINS, len(np.unique(values)))
    counts, edges = np.histogram(values, bins=bins)
    return {
        "n": len(values),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "quantiles": {
            f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
        },
        "histogram": {"edges": edges.round(6).tolist(), "counts": counts.tolist()},
    }


def answer_words(answer: str, options: list[str] | None) -> str:
    """The answer as words: the chosen option's text where there are lettered options, else the answer."""
    for option in options or []:
        letter, _, text = option.partition(". ")
        if letter == answer and text:
            return text
    return answer


def _answer_distributions(types: list[str], texts: list[str], values: list[float | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for question_type in sorted(set(types)):
        picked = [i for i, t in enumerate(types) if t == question_type]
        top = Counter(texts[i] for i in picked).most_common(TOP_ANSWERS)
        numbers = np.array([values[i] for i in picked if values[i] is not None], dtype=np.float64)
        entry: dict[str, Any] = {"kind": "numeric" if len(numbers) else "choice", "top": dict(top)}
        if len(numbers):
            entry.update(numeric_summary(numbers, per_number=question_type in COUNT_TYPES))
        out[question_type] = entry
    return out


def read_failures(out_dir: Path | str) -> list[dict[str, Any]]:
    """failures.jsonl of a build (empty when there is none); a damaged line is reported, not skipped."""
    store = Store.at(out_dir)
    path = f"{store}/failures.jsonl"
    if not store.is_file("failures.jsonl"):
        return []
    failures = []
    for number, line in enumerate(store.read_text("failures.jsonl").splitlines(), 1):
        if line.strip():
            try:
                failures.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise NotADataset(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
    return failures


def reasons_text(reasons: dict[str, int]) -> str:
    """`reason (N scenes); ...`: why a question type has no row, as a build's manifest counts it."""
    return "; ".join(f"{reason} ({n} scene{'s' if n != 1 else ''})" for reason, n in reasons.items())


def read_manifest(out_dir: Path | str) -> dict[str, Any]:
    """A build's manifest.json (empty when there is none); a damaged one is reported, not skipped."""
    store = Store.at(out_dir)
    path = f"{store}/{MANIFEST}"
    if not store.is_file(MANIFEST):
        return {}
    try:
        manifest = json.loads(store.read_text(MANIFEST))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotADataset(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise NotADataset(f"{path}: not a vsi-data manifest (no JSON object)")
    return manifest


def dataset_stats(path: Path | str) -> dict[str, Any]:
    questions = read_questions(path)
    table, kind = questions.table, questions.kind
    types = table.column("question_type").to_pylist()
    answers = table.column("answer").to_pylist()
    options = table.column("options").to_pylist()
    sources = table.column("dataset").to_pylist()
    splits = table.column("split").to_pylist()
    objects = table.column("objects").to_pylist()
    letters: dict[str, Counter[str]] = {}
    for question_type, answer, opts in zip(types, answers, options, strict=True):
        if opts:
            letters.setdefault(question_type, Counter())[answer] += 1
    overall_letters = sum(letters.values(), Counter())
    per_type_categories: dict[str, Counter[str]] = {}
    for question_type, objs in zip(types, objects, strict=True):
        per_type_categories.setdefault(question_type, Counter()).update(objs)
    per_source_split: dict[str, Counter[str]] = {}
    for source, split in zip(sources, splits, strict=True):
        per_source_split.setdefault(source, Counter())[split] += 1
    scenes = Counter(zip(sources, table.column("scene_id").to_pylist(), strict=True))
    per_scene = np.array(list(scenes.values()))
    failures = read_failures(path) if kind == "build" else []
    manifest = read_manifest(path) if kind == "build" else {}
    return {
        "input": kind,
        "rows": table.num_rows,
        "per_type": dict(sorted(Counter(types).items())),
        "per_split": dict(sorted(Counter(splits).items())),
        "per_source": dict(sorted(Counter(sources).items())),
        "per_source_split": {s: dict(sorted(c.items())) for s, c in sorted(per_source_split.items())},
        "scenes": len(scenes),
        "questions_per_scene": {
            "min": int(per_scene.min()),
            "median": float(np.median(per_scene)),
            "mean": round(float(per_scene.mean()), 3),
            "max": int(per_scene.max()),
        }
        if len(per_scene)
        else {},
        "answers": _answer_distributions(
            types,
            [answer_words(a, o) for a, o in zip(answers, options, strict=True)],
            table.column("answer_value").to_pylist(),
        ),
        "letter_balance": {
            **{t: dict(sorted(c.items())) for t, c in sorted(letters.items())},
            **({"overall": dict(sorted(overall_letters.items()))} if overall_letters else {}),
        },
        "categories": dict(Counter(c for objs in objects for c in objs).most_common()),
        "categories_per_type": {
            t: dict(c.most_common(TOP_ANSWERS)) for t, c in sorted(per_type_categories.items()) if c
        },
        "missing_types": manifest.get("missing_types", {}),
        "failures": {
            "count": len(failures),
            "per_source": dict(sorted(Counter(f.get("source", "?") for f in failures).items())),
            "scenes": [{k: f.get(k) for k in ("scene_id", "source", "error")} for f in failures],
        },
    }

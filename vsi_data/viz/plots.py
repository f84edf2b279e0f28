"""`vsi-data stats --plots`: PNG figures drawn from the stats report (so they show exactly its numbers).

Figures: questions per type, the numeric answers' histograms, answer-letter balance per lettered type,
and the most named categories. matplotlib runs headless (Agg); nothing opens a window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vsi_data.io import write_atomic

TOP_CATEGORIES = 30


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def _barh(labels: list[str], counts: list[int], title: str, xlabel: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(labels) + 1.2))
    y = np.arange(len(labels))
    ax.barh(y, counts, color="#4c72b0")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for yi, c in zip(y, counts, strict=True):
        ax.text(c, yi, f" {c}", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.12)
    return _save(fig, path)


def plot_type_counts(report: dict[str, Any], path: Path) -> Path:
    return _barh(list(report["per_type"]), list(report["per_type"].values()), "questions per type", "rows", path)


def plot_numeric_answers(report: dict[str, Any], path: Path) -> Path | None:
    numeric = {t: a for t, a in report["answers"].items() if a["kind"] == "numeric"}
    if not numeric:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(numeric), figsize=(3.6 * len(numeric), 3.0), squeeze=False)
    for ax, (question_type, entry) in zip(axes[0], numeric.items(), strict=True):
        edges = np.array(entry["histogram"]["edges"])
        ax.bar(
            edges[:-1], entry["histogram"]["counts"], width=np.diff(edges), align="edge", color="#55a868", ec="white"
        )
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.axvline(
            entry["quantiles"]["p50"], color="black", lw=1, ls="--", label=f"median {entry['quantiles']['p50']:g}"
        )
        ax.set_title(question_type, fontsize=9)
        ax.set_xlabel("answer")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("questions")
    fig.suptitle("numeric answers")
    return _save(fig, path)


def plot_letter_balance(report: dict[str, Any], path: Path) -> Path | None:
    """Share of each answer letter per lettered type (and over all of them): balanced bars are even."""
    balance = report["letter_balance"]
    if not balance:
        return None
    plt = _pyplot()
    letters = sorted({letter for counts in balance.values() for letter in counts})
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(balance) + 1.2))
    left = np.zeros(len(balance))
    shares = np.array([[counts.get(x, 0) for x in letters] for counts in balance.values()], dtype=np.float64)
    shares /= np.maximum(shares.sum(axis=1, keepdims=True), 1)
    y = np.arange(len(balance))
    for k, letter in enumerate(letters):
        ax.barh(y, shares[:, k], left=left, label=letter)
        left += shares[:, k]
    ax.set_yticks(y, list(balance))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of questions whose answer is this letter")
    ax.legend(ncols=len(letters), loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8)
    return _save(fig, path)


def plot_categories(report: dict[str, Any], path: Path) -> Path | None:
    top = list(report["categories"].items())[:TOP_CATEGORIES]
    if not top:
        return None
    labels, counts = zip(*top, strict=True)
    title = f"most named categories (top {len(top)} of {len(report['categories'])})"
    return _barh(list(labels), list(counts), title, "mentions in questions", path)


def write_plots(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every figure the report supports (a set without numeric or lettered questions skips those)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = [
        plot_type_counts(report, out_dir / "types.png"),
        plot_numeric_answers(report, out_dir / "numeric_answers.png"),
        plot_letter_balance(report, out_dir / "letter_balance.png"),
        plot_categories(report, out_dir / "categories.png"),
    ]
    return [f for f in figures if f is not None]

"""`vsi-data stats` in the terminal: the report dict of `vsi_data.stats` as rich tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vsi_data.output.shards import empty_build_summary
from vsi_data.stats import reasons_text

TOP_CATEGORIES = 15
TOP_ANSWERS_SHOWN = 3


def _share(counts: dict[str, int], total: int | None = None) -> str:
    """`key:count (percent)` items; percentages of `total` (default: of these counts)."""
    total = total or sum(counts.values()) or 1
    return " ".join(f"{k}:{v} ({100 * v / total:.0f}%)" for k, v in counts.items())


def _spread(entry: dict[str, Any]) -> str:
    if entry["kind"] != "numeric":
        return ""
    q = entry["quantiles"]
    return f"{q['p50']:.4g} ({entry['min']:g}–{entry['max']:g}), IQR {q['p25']:.4g}–{q['p75']:.4g}"


def _table(title: str) -> Table:
    """A table at least as wide as its title, so the title never wraps above a narrow table."""
    return Table(title=title, min_width=len(title))


def stats_tables(report: dict[str, Any], wrap: bool = True) -> Group:
    """One renderable for the whole report, so the CLI prints it in one call. A build without questions gets no
    empty tables, only why: its failed scenes and the reasons each question type is missing. `wrap` keeps the
    wide columns narrow (cells wrap) for a terminal; without it every row is one line, for files and pipes."""
    if report["rows"] == 0:
        return Group(empty_build_summary(report["failures"]["count"]), *_why_missing(report))
    types = _table(f"{report['rows']} questions, {report['scenes']} scenes ({report['input']})")
    types.add_column("question type")
    types.add_column("rows", justify="right")
    types.add_column("median (range), IQR")
    types.add_column(
        f"most common answers (top {TOP_ANSWERS_SHOWN}, share of the type)", max_width=36 if wrap else None
    )
    types.add_column("answer letters", max_width=30 if wrap else None)
    for question_type, count in report["per_type"].items():
        entry = report["answers"][question_type]
        top = dict(list(entry["top"].items())[:TOP_ANSWERS_SHOWN])
        types.add_row(
            question_type,
            str(count),
            _spread(entry),
            _share(top, count),
            _share(report["letter_balance"].get(question_type, {})),
        )
    if "overall" in report["letter_balance"]:
        types.add_row("[bold]all lettered[/bold]", "", "", "", _share(report["letter_balance"]["overall"]))

    sources = _table("per source and split")
    splits = sorted(report["per_split"])
    sources.add_column("source")
    for split in splits:
        sources.add_column(split, justify="right")
    sources.add_column("total", justify="right")
    for source, counts in report["per_source_split"].items():
        sources.add_row(source, *(str(counts.get(s, 0)) for s in splits), str(sum(counts.values())))

    shown = min(TOP_CATEGORIES, len(report["categories"]))
    categories = _table(f"categories named (top {shown} of {len(report['categories'])})")
    categories.add_column("category")
    categories.add_column("mentions", justify="right")
    for category, count in list(report["categories"].items())[:TOP_CATEGORIES]:
        categories.add_row(category, str(count))

    per_scene = report["questions_per_scene"]
    lines = [types, sources]
    if report["categories"]:
        lines.append(categories)
    if per_scene:
        lines.append(
            f"questions per scene: min {per_scene['min']}, median {per_scene['median']:g}, "
            f"mean {per_scene['mean']:g}, max {per_scene['max']}"
        )
    lines.append(f"failed scenes: {report['failures']['count']}")
    return Group(*lines, *_why_missing(report))


def _why_missing(report: dict[str, Any]) -> list[Text]:
    """Each failed scene with its error, and each question type the recipe asks for that has no row, with how
    many scenes gave none for each reason (plain text: errors hold brackets that are not markup)."""
    lines = [Text(f"  {f['source']}/{f['scene_id']}: {f['error']}") for f in report["failures"]["scenes"]]
    for question_type, reasons in report.get("missing_types", {}).items():
        lines.append(Text(f"no {question_type} questions: {reasons_text(reasons)}"))
    return lines


def print_stats(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(stats_tables(report, wrap=console.is_terminal), highlight=False)

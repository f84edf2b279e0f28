"""Terminal tables for `vsi-data eval`: one report, or two prediction files side by side."""

from __future__ import annotations

from rich.table import Table

from vsi_data.eval.scoring import EvalReport, task_of


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _delta(value: float | None) -> str:
    if value is None:
        return "–"
    colour = "green" if value > 0 else "red" if value < 0 else "dim"
    return f"[{colour}]{value:+.1f}[/{colour}]"


def report_table(report: EvalReport, title: str) -> Table:
    """Tasks with their question types indented under them (the relative-direction levels), then overall."""
    table = Table(title=title)
    table.add_column("task / question type")
    table.add_column("n", justify="right")
    table.add_column("score", justify="right")
    for task, score in report.tasks.items():
        levels = [t for t in report.per_type if task_of(t) == task and t != task]
        n = sum(report.per_type_n[t] for t in report.per_type if task_of(t) == task)
        table.add_row(task, str(n), _score(score))
        for level in levels:
            table.add_row(f"  {level}", str(report.per_type_n[level]), _score(report.per_type[level]), style="dim")
    table.add_section()
    table.add_row("[bold]overall[/bold]", str(report.n), f"[bold]{_score(report.overall)}[/bold]")
    return table


def report_footer(report: EvalReport) -> str:
    notes = [f"{report.missing} missing", f"{report.unparsable} unparsable"]
    if report.unknown_ids:
        notes.append(f"{report.unknown_ids} predictions for ids not in the data (ignored)")
    return "predictions: " + ", ".join(notes) + " (each scores 0)"


def comparison_table(comparison: dict, baseline: str, candidate: str) -> Table:
    """`scoring.compare`'s result: baseline and candidate scores per task and the change."""
    table = Table(title=f"{baseline} → {candidate}")
    table.add_column("task")
    table.add_column(baseline, justify="right")
    table.add_column(candidate, justify="right")
    table.add_column("Δ", justify="right")
    for task, row in comparison["tasks"].items():
        table.add_row(task, _score(row["baseline"]), _score(row["candidate"]), _delta(row["delta"]))
    table.add_section()
    row = comparison["overall"]
    table.add_row("[bold]overall[/bold]", _score(row["baseline"]), _score(row["candidate"]), _delta(row["delta"]))
    return table

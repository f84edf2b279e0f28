"""`vsi-data verify` shown: the report as terminal tables, and (`--pictures`) a top-down picture per scene.

In a picture our boxes are drawn solid, the released ones dashed; a thin line joins each matched pair (red
where the pair disagrees), and boxes without a partner are filled red. The caption lists the differences.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vsi_data.io import write_atomic
from vsi_data.scene import Scene
from vsi_data.verify import SceneResult, VerifyReport
from vsi_data.viz.inspect import _box_outline, _pyplot

OURS, META, WRONG = "#1f77b4", "#e08a00", "#d62728"


def draw_verified_scene(result: SceneResult, ours: Scene, meta: Scene, path: Path) -> Path:
    plt = _pyplot()
    fig, (ax, text) = plt.subplots(1, 2, figsize=(13, 7), width_ratios=[1.6, 1])
    unmatched = {(c.category, i) for c in result.categories for i in c.unmatched_ours}
    unmatched_meta = {(c.category, j) for c in result.categories for j in c.unmatched_meta}
    for scene, colour, style, missing in ((ours, OURS, "-", unmatched), (meta, META, "--", unmatched_meta)):
        for obj in scene.objects:
            outline = _box_outline(obj)
            key = (obj.category, obj.instance_id if scene is ours else scene.by_category[obj.category].index(obj))
            ax.plot(outline[:, 0], outline[:, 1], color=colour, ls=style, lw=1.2, zorder=3)
            if key in missing:
                ax.fill(outline[:, 0], outline[:, 1], color=WRONG, alpha=0.3, zorder=2)
            if scene is ours or key in missing:
                ax.annotate(obj.category, obj.box.center[:2], ha="center", fontsize=6, color="#444444", zorder=5)
    for category in result.categories:
        mine = {o.instance_id: o for o in ours.by_category.get(category.category, [])}
        theirs = meta.by_category.get(category.category, [])
        for pair in category.pairs:
            a, b = mine[pair.ours].box.center, theirs[pair.meta].box.center
            ax.plot([a[0], b[0]], [a[1], b[1]], color=OURS if pair.agrees else WRONG, lw=0.8, zorder=4)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{result.dataset}/{result.scene_id}: ours solid, released dashed", fontsize=10)
    text.axis("off")
    lines = result.differences or ["everything agrees within the tolerances"]
    shown = [textwrap.fill(line, 60, subsequent_indent="  ") for line in lines[:30]]
    if len(lines) > 30:
        shown.append(f"... and {len(lines) - 30} more")
    text.text(0, 1, "\n".join(shown), va="top", family="monospace", fontsize=8, transform=text.transAxes)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight"))
    plt.close(fig)
    return path


def _worst(result: SceneResult) -> str:
    pairs = [p for c in result.categories for p in c.pairs]
    if not pairs:
        return "-"
    centre, side, turn = (max(getattr(p, name) for p in pairs) for name in ("centre_m", "extent_m", "rotation_deg"))
    return f"{centre:.3f} m {side:.3f} m {turn:.1f}°"


def print_verify_report(report: VerifyReport, console: Console) -> None:
    """Per scene, then in total: what agrees within the tolerances; then every difference, scene by scene."""
    t = report.tolerances
    table = Table(
        title=f"ours vs VSI-Bench's released boxes (centre ≤ {t.centre_m} m, sides ≤ {t.extent_m} m, rotation ≤ "
        f"{t.rotation_deg}°; room ≤ {t.room_rel:.0%}; distances ≤ {t.distance_m} m)"
    )
    table.add_column("scene", no_wrap=True)
    for column in ("counts", "objects ours/meta", "boxes", "worst box: centre side turn", "room m² ours/meta",
                   "answers"):  # fmt: skip
        table.add_column(column, justify="right")
    table.add_column("verdict")
    for s in report.scenes:
        if s.error:
            table.add_row(f"{s.dataset}/{s.scene_id}", *["-"] * 6, "[red]unreadable[/red]")
            continue
        pairs = [p for c in s.categories for p in c.pairs]
        compared = [a for a in s.answers if a.status != "not comparable"]
        table.add_row(
            f"{s.dataset}/{s.scene_id}",
            f"{sum(c.ours == c.meta for c in s.categories)}/{len(s.categories)}",
            f"{sum(c.ours for c in s.categories)}/{sum(c.meta for c in s.categories)}",
            f"{sum(p.agrees for p in pairs)}/{len(pairs)}",
            _worst(s),
            f"{s.room_ours:.1f}/{s.room_meta:.1f}" if s.room_ours is not None and s.room_meta is not None else "-",
            f"{sum(a.status == 'agree' for a in compared)}/{len(compared)}",
            "[green]agrees[/green]" if s.agrees else f"[red]{len(s.differences)} differ[/red]",
        )
    console.print(table)
    n = report.totals()
    console.print(
        f"[bold]total[/bold]: {n['scenes_agreeing']}/{n['scenes']} scenes agree; category counts "
        f"{n['category_counts_agreeing']}/{n['categories']}; boxes {n['boxes_agreeing']}/{n['boxes_matched']} "
        f"matched within tolerance ({n['boxes_unmatched_ours']} of ours and {n['boxes_unmatched_meta']} released "
        f"without a partner); rooms {n['rooms_agreeing']}/{n['scenes']}; answers {n['answers_agreeing']} agree, "
        f"{n['answers_differing']} differ, {n['answers_not_comparable']} not comparable; "
        f"{n['scenes_not_in_meta']} of our scenes not in the meta info, {n['meta_scenes_not_built']} of its not ours",
        highlight=False,
    )
    for s in report.scenes:
        for line in s.differences:
            console.print(f"  [red]differs[/red] {s.dataset}/{s.scene_id}: {line}", highlight=False, soft_wrap=True)
        for line in s.notes:
            console.print(f"  [dim]note[/dim] {s.dataset}/{s.scene_id}: {line}", highlight=False, soft_wrap=True)

"""The `vsi-data` command line."""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="3D indoor scans → VSI-style spatial QA → training.")
console = Console(stderr=True)


class Source(StrEnum):
    scannet = "scannet"
    arkitscenes = "arkitscenes"
    scannetpp = "scannetpp"
    vsibench_meta = "vsibench-meta"
    synthetic = "synthetic"


class SyntheticFormat(StrEnum):
    scannet = "scannet"
    arkitscenes = "arkitscenes"
    scannetpp = "scannetpp"


class Split(StrEnum):
    train = "train"
    val = "val"
    all = "all"


class Executor(StrEnum):
    local = "local"
    ray = "ray"


def _logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
        force=True,
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def build(
    source: Annotated[Source, typer.Option(help="Which scan dataset to read.")],
    out: Annotated[Path, typer.Option(help="Output folder (shards, videos, manifest, dataset card).")],
    root: Annotated[
        Path | None,
        typer.Option(
            help="ScanNet: the folder holding scans/. ARKitScenes: the folder holding 3dod/ (or raw/). "
            "ScanNet++: the release root holding data/. vsibench-meta: a *_meta_info_val.json file or a folder of "
            "them. Synthetic: where to write its scans (default: OUT/.synthetic)."
        ),
    ] = None,
    recipe: Annotated[str, typer.Option(help="vsi100k, vsibench, or a path to a recipe YAML.")] = "vsi100k",
    split: Annotated[Split, typer.Option(help="Official split to build.")] = Split.train,
    scenes: Annotated[int | None, typer.Option(min=1, help="Build at most this many scenes (in id order).")] = None,
    scene_list: Annotated[Path | None, typer.Option(help="File with one scene id per line to build.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Scenes built in parallel (default: the machine's cores).")
    ] = None,
    executor: Annotated[Executor, typer.Option(help="Where scenes run.")] = Executor.local,
    seed: Annotated[int, typer.Option(help="Global seed; every scene derives its own from it.")] = 0,
    exhaustive: Annotated[bool, typer.Option(help="Every question that passes the filters; no sampling.")] = False,
    video: Annotated[bool, typer.Option("--video/--no-video", help="Encode scene videos where streams exist.")] = True,
    allow_benchmark_scenes: Annotated[bool, typer.Option(help="Include the VSI-Bench evaluation scenes.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Delete an earlier build in --out and start afresh.")] = False,
    label_table: Annotated[
        Path | None,
        typer.Option(help="ScanNet scannetv2-labels.combined.tsv (default: found next to scans/)."),
    ] = None,
    frames: Annotated[int, typer.Option(min=0, help="Synthetic source: frames rendered per scene.")] = 180,
    synthetic_format: Annotated[
        SyntheticFormat, typer.Option(help="Synthetic source: which dataset's file format to write and read back.")
    ] = SyntheticFormat.scannet,
    shard_rows: Annotated[int, typer.Option(min=1, help="Rows per output shard at most.")] = 100_000,
    quiet: Annotated[bool, typer.Option(help="No progress bar; warnings and errors only.")] = False,
) -> None:
    """Build a VSI-style question dataset from scans."""
    from vsi_data.executors import ExecutorUnavailable, default_workers
    from vsi_data.pipeline import BuildConfig, BuildError, run_build
    from vsi_data.qa import RecipeError
    from vsi_data.sources import SceneError, SourceUnavailable

    _logging(quiet)
    config = BuildConfig(
        source=source.value,
        out=out,
        root=root,
        recipe=recipe,
        split=split.value,
        scenes=scenes,
        scene_list=scene_list,
        seed=seed,
        exhaustive=exhaustive,
        video=video,
        allow_benchmark_scenes=allow_benchmark_scenes,
        overwrite=overwrite,
        label_table=label_table,
        synthetic_frames=frames,
        synthetic_format=synthetic_format.value,
        workers=workers or default_workers(),
        executor=executor.value,
        shard_rows=shard_rows,
        quiet=quiet,
    )
    try:
        result = run_build(config)
    except (BuildError, RecipeError, SourceUnavailable, SceneError, ExecutorUnavailable) as exc:
        raise _fail(str(exc)) from None
    scenes_info = result.manifest["scenes"]
    console.print(
        f"[bold]{result.manifest['rows']}[/bold] questions from {scenes_info['built']} scenes "
        f"({scenes_info['failed']} failed) → {out}",
        highlight=False,
    )
    for failure in result.failures:
        console.print(
            f"  [yellow]failed[/yellow] {failure['scene_id']}: {failure['error']}", highlight=False, soft_wrap=True
        )
    raise typer.Exit(result.exit_code)


@app.command()
def stats(
    directory: Annotated[Path, typer.Argument(help="A build output folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
    plots: Annotated[Path | None, typer.Option(help="Write PNG figures to this folder (not available yet).")] = None,
) -> None:
    """Count the questions of a build by type, split, source, answer letter and category."""
    from vsi_data.stats import dataset_stats

    if plots is not None:
        raise _fail("--plots is not available in this version yet")
    try:
        report = dataset_stats(directory)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"{report['rows']} questions, {report['scenes']} scenes")
    table.add_column("question type")
    table.add_column("rows", justify="right")
    table.add_column("answer letters")
    for question_type, count in report["per_type"].items():
        letters = report["letter_balance"].get(question_type, {})
        table.add_row(question_type, str(count), " ".join(f"{k}:{v}" for k, v in letters.items()))
    Console().print(table)
    Console().print("splits: " + ", ".join(f"{k} {v}" for k, v in report["per_split"].items()), highlight=False)


def _not_yet(command: str) -> typer.Exit:
    return _fail(f"`vsi-data {command}` is not available in this version yet")


@app.command()
def inspect(
    directory: Annotated[Path, typer.Argument()],
    id: Annotated[str, typer.Option("--id", help="Question id.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")],
) -> None:
    """Draw one question over its scene (not available yet)."""
    raise _not_yet("inspect")


@app.command("train-grpo")
def train_grpo(
    recipe: Annotated[
        str, typer.Option(help="Training recipe: tiny-cpu, vsgrpo-qwen2vl-2b, vsgrpo-qwen2vl-7b, or a path to a YAML.")
    ],
    data: Annotated[Path, typer.Option(help="A build output folder (its train-split rows, with video).")],
    output: Annotated[Path, typer.Option(help="Run folder: checkpoints, logs, final model. Re-running resumes.")],
    model: Annotated[
        Path | None, typer.Option(help="Local checkpoint folder (Qwen2-VL / Qwen2.5-VL); overrides the recipe's.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps.")] = None,
    quiet: Annotated[bool, typer.Option(help="Warnings and errors only.")] = False,
) -> None:
    """GRPO fine-tuning (vsGRPO) of a Qwen-VL model on a build's questions, with TRL."""
    from vsi_data.models import ModelLoadError
    from vsi_data.train.data import TrainDataError
    from vsi_data.train.recipe import TrainRecipeError
    from vsi_data.train.trainer import train_grpo as run_training

    _logging(quiet)
    try:
        result = run_training(recipe, data, output, model=model, max_steps=max_steps)
    except (TrainRecipeError, TrainDataError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None
    if not result.is_main_process:
        return
    last = result.last_log
    summary = ", ".join(f"{key} {last[key]:.4g}" for key in ("loss", "kl", "reward") if key in last)
    resumed = f" (resumed from {result.resumed_from.name})" if result.resumed_from else ""
    console.print(f"step {result.global_step}{resumed}: {summary} → {output}", highlight=False)


@app.command()
def predict(
    model: Annotated[Path, typer.Option()],
    data: Annotated[Path, typer.Option()],
    out: Annotated[Path, typer.Option()],
    frames: Annotated[int, typer.Option()] = 16,
) -> None:
    """Answer a build's questions with a model (not available yet)."""
    raise _not_yet("predict")


@app.command("eval")
def evaluate(
    data: Annotated[Path, typer.Option()],
    predictions: Annotated[Path, typer.Option()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score predictions the VSI-Bench way (not available yet)."""
    raise _not_yet("eval")


if __name__ == "__main__":
    app()

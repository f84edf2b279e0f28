"""The `vsi-data` command line. Results go to stdout (tables as wide as they need when piped); progress, logs and
errors to stderr, as plain one-line records when stderr is not a terminal."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from enum import StrEnum
from inspect import Parameter, Signature
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from vsi_data.models import FrameInput
from vsi_data.registry import SOURCE_OPTIONS, SOURCES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="3D indoor scans → VSI-style spatial QA → training.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True)
PIPED_WIDTH = 1000  # a table piped to a file or a pager is as wide as its content, never wrapped at 80 columns


def _stdout() -> Console:
    """Where results go: the terminal, or, piped, a console wide enough that no table cell wraps."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


def _version(value: bool) -> None:
    if value:
        from vsi_data import __version__

        typer.echo(f"vsi-data {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """3D indoor scans → VSI-style spatial QA → training."""


# The choices and source options come from the source specs (`vsi_data.registry`), which load no parser.
Source = StrEnum("Source", {name: name for name in SOURCES})
ROOT_HELP = " ".join(f"{name}: {spec.root}." for name, spec in SOURCES.items())


def _source_option(name: str) -> Parameter:
    """The CLI parameter of a source option (`registry.SOURCE_OPTIONS`): its flag, type (choices as an enum),
    least value, default and help, which names the sources that take it."""
    takers = SOURCE_OPTIONS[name]
    option = next(iter(takers.values()))
    helps: dict[str, list[str]] = {}
    for source, declared in takers.items():
        helps.setdefault(declared.help, []).append(source)
    defaults = {declared.default for declared in takers.values()}
    default = next(iter(defaults)) if len(defaults) == 1 else None  # sources that differ: each its own
    value_type: Any = option.type
    if option.choices is not None:
        value_type = StrEnum(name.title().replace("_", ""), {choice: choice for choice in option.choices()})
        default = None if default is None else value_type(default)
    typer_option = typer.Option(
        option.flag,
        help=" ".join(f"{'|'.join(sources)}: {text}" for text, sources in helps.items()),
        min=option.min,
        rich_help_panel="Options of one source",
    )
    return Parameter(
        name, Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[value_type | None, typer_option]
    )


def _with_source_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` taking every registered source's own options (`--label-table`, `--frames`, a new source's);
    it receives those given on the command line as `**source_options` (config field -> plain value), so that a
    source's own default applies to the others and an option its source does not take can be refused."""
    signature = Signature.from_callable(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not Parameter.VAR_KEYWORD]
    names = {p.name for p in own}
    clash = {option.flag for takers in SOURCE_OPTIONS.values() for option in takers.values()
             if names & {option.name, option.flag[2:].replace("-", "_")}}  # fmt: skip
    if clash:
        raise TypeError(f"source options {sorted(clash)} clash with {command.__name__}'s own options")

    @functools.wraps(command)
    def with_options(source_context: typer.Context, **values: Any) -> None:
        options = {name: values.pop(name) for name in SOURCE_OPTIONS}
        given = {
            name: value.value if isinstance(value, StrEnum) else value
            for name, value in options.items()
            if source_context.get_parameter_source(name).name != "DEFAULT"  # on the command line (or from $ENV)
        }
        command(**values, **given)

    context = Parameter("source_context", Parameter.KEYWORD_ONLY, annotation=typer.Context)  # typer passes it
    with_options.__signature__ = signature.replace(  # type: ignore[attr-defined]  # what typer reads
        parameters=[*own, *(_source_option(name) for name in SOURCE_OPTIONS), context]
    )
    return with_options


class Split(StrEnum):
    train = "train"
    val = "val"
    all = "all"


class VideoPreset(StrEnum):
    """x264's presets, fastest first (`vsi_data.video.VIDEO_PRESETS`, named here so the CLI loads no codec)."""

    ultrafast = "ultrafast"
    superfast = "superfast"
    veryfast = "veryfast"
    faster = "faster"
    fast = "fast"
    medium = "medium"
    slow = "slow"
    slower = "slower"
    veryslow = "veryslow"


class Executor(StrEnum):
    local = "local"
    ray = "ray"


def _logging(quiet: bool) -> None:
    """Logs on stderr: rich in a terminal; elsewhere one plain line per record, never wrapped, so a log file keeps
    each message (a failure naming its file) on one line."""
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False, show_time=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, handlers=[handler], force=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _interrupted(exc: KeyboardInterrupt, resumes: bool = True) -> typer.Exit:
    """Ctrl-C as one line and exit status 130: what the command leaves (the interrupt's message), and whether
    running it again goes on from there."""
    said = [part for part in (str(exc), resumes and "run the same command again to resume") if part]
    console.print(f"interrupted: {'; '.join(said)}", markup=False, soft_wrap=True)
    return typer.Exit(130)


@app.command()
@_with_source_options
def build(
    source: Annotated[Source, typer.Option(help="Which scan dataset to read.")],
    out: Annotated[
        str,
        typer.Option(
            help="Output folder (shards, videos, manifest, dataset card): a path, or an fsspec URL "
            "(s3://bucket/build, gs://..., file:///shared/build)."
        ),
    ],
    root: Annotated[
        Path | None,
        typer.Option(help=ROOT_HELP),
    ] = None,
    recipe: Annotated[str, typer.Option(help="vsi100k, vsibench, or a path to a recipe YAML.")] = "vsi100k",
    split: Annotated[Split, typer.Option(help="Official split to build.")] = Split.train,
    scenes: Annotated[int | None, typer.Option(min=1, help="Build at most this many scenes (in id order).")] = None,
    scene_list: Annotated[Path | None, typer.Option(help="File with one scene id per line to build.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Scenes built in parallel, each in a worker process (default: the machine's cores); "
            "0 builds in this process (no time limit, and a crash ends the build).",
        ),
    ] = None,
    executor: Annotated[Executor, typer.Option(help="Where scenes run.")] = Executor.local,
    scene_timeout: Annotated[
        float,
        typer.Option(min=0, help="Seconds a scene may take before it is stopped and recorded as failed; 0: no limit."),
    ] = 3600,
    scene_memory: Annotated[
        float, typer.Option(min=0, help="Ray: GiB of memory each scene's task asks the cluster for.")
    ] = 2.0,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray: the cluster to join (host:port, or auto for the one on this machine); "
            "default $RAY_ADDRESS, else a local cluster of --workers CPUs."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Global seed; every scene derives its own from it.")] = 0,
    exhaustive: Annotated[bool, typer.Option(help="Every question that passes the filters; no sampling.")] = False,
    video: Annotated[bool, typer.Option("--video/--no-video", help="Encode scene videos where streams exist.")] = True,
    reencode_video: Annotated[
        bool,
        typer.Option(help="ScanNet++: re-encode the iPhone video at 640×480 instead of copying it as is."),
    ] = False,
    video_preset: Annotated[
        VideoPreset | None,
        typer.Option(
            help="x264 preset for encoded videos (default: ultrafast, about the cost of decoding the frames); "
            "slower presets give smaller files (docs/performance.md)."
        ),
    ] = None,
    allow_benchmark_scenes: Annotated[
        bool, typer.Option(help="Include the VSI-Bench evaluation scenes and the other scans of their rooms.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Replace an earlier build in --out: the new one is built beside it and swapped in when complete."
        ),
    ] = False,
    shard_rows: Annotated[int, typer.Option(min=1, help="Rows per output shard at most.")] = 100_000,
    shard_bytes: Annotated[
        str,
        typer.Option(
            help="Size of a shard's rows in memory at most, as 🤗 datasets counts max_shard_size "
            "(500MB, 1GB, 2GiB, or bytes); the zstd files are smaller."
        ),
    ] = "500MB",
    quiet: Annotated[bool, typer.Option(help="No progress bar; warnings and errors only.")] = False,
    **source_options: Any,
) -> None:
    """Build a VSI-style question dataset from scans."""
    from vsi_data.errors import SceneError, SourceUnavailable
    from vsi_data.executors import ExecutorUnavailable, default_workers
    from vsi_data.io import OutputError, location
    from vsi_data.output.folder import FolderRefused
    from vsi_data.output.shards import ShardsMismatch, parse_size
    from vsi_data.pipeline import BuildConfig, BuildError, run_build
    from vsi_data.qa import RecipeError
    from vsi_data.stats import reasons_text

    _logging(quiet)
    try:
        bytes_per_shard = parse_size(shard_bytes)
    except ValueError as exc:
        raise _fail(f"--shard-bytes: {exc}") from None
    config = BuildConfig(
        source=source.value,
        out=location(out),
        root=root,
        recipe=recipe,
        split=split.value,
        scenes=scenes,
        scene_list=scene_list,
        seed=seed,
        exhaustive=exhaustive,
        video=video,
        reencode_video=reencode_video,
        **({"video_preset": video_preset.value} if video_preset else {}),
        allow_benchmark_scenes=allow_benchmark_scenes,
        overwrite=overwrite,
        source_options=source_options,
        workers=default_workers() if workers is None else workers,
        executor=executor.value,
        scene_timeout_s=scene_timeout or None,
        scene_memory_gib=scene_memory,
        ray_address=ray_address,
        shard_rows=shard_rows,
        shard_bytes=bytes_per_shard,
        quiet=quiet,
    )
    try:
        result = run_build(config)
    except (
        BuildError,
        FolderRefused,
        ShardsMismatch,
        RecipeError,
        SourceUnavailable,
        SceneError,
        ExecutorUnavailable,
    ) as exc:
        raise _fail(str(exc)) from None
    except OutputError as exc:
        todo = "free some space, then re-run the same command" if exc.full else "choose a folder you can write to"
        raise _fail(f"{exc}; nothing already written is lost: {todo}") from None

    except KeyboardInterrupt as exc:  # the workers are stopped already; what is committed stays
        raise _interrupted(exc) from None
    scenes_info = result.manifest["scenes"]
    stdout = _stdout()
    stdout.print(
        f"[bold]{result.manifest['rows']}[/bold] questions from {scenes_info['built']} scenes "
        f"({scenes_info['failed']} failed) → {escape(out)}",
        highlight=False,
    )
    for failure in result.failures:
        line = f"  [yellow]failed[/yellow] {escape(failure['scene_id'])}: {escape(failure['error'])}"
        stdout.print(line, highlight=False, soft_wrap=True)
    for question_type, reasons in result.manifest["missing_types"].items():
        line = f"  [yellow]no {question_type} questions[/yellow]: {escape(reasons_text(reasons))}"
        stdout.print(line, highlight=False, soft_wrap=True)
    other_split = result.manifest["other_split_scenes"]
    if other_split:
        named = ", ".join(f"{scene} ({split})" for scene, split in list(other_split.items())[:10])
        more = f", … ({len(other_split) - 10} more)" if len(other_split) > 10 else ""
        stdout.print(
            f"  [yellow]not built[/yellow] {len(other_split)} scene{'s' if len(other_split) > 1 else ''} of "
            f"{escape(str(scene_list))} in another split than {split.value}: {escape(named)}{more}",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(result.exit_code)


@app.command()
def stats(
    directory: Annotated[
        str,
        typer.Argument(help="A build output folder or URL (s3://...), or VSI-Bench's test parquet (file or folder)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
    plots: Annotated[Path | None, typer.Option(help="Also write PNG figures to this folder.")] = None,
) -> None:
    """Questions per type, source and split; answer distributions, letter balance, categories, failures."""
    from vsi_data.io import OutputError, check_output_path, is_url, location
    from vsi_data.stats import NotADataset, dataset_stats

    try:
        if plots is not None:
            check_output_path(plots, folder=True)
        report = dataset_stats(location(directory) if is_url(directory) else Path(directory))
    except (NotADataset, OutputError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from vsi_data.viz.report import print_stats

        print_stats(report, _stdout())
    if plots is not None:
        from vsi_data.viz.plots import write_plots

        try:
            figures = write_plots(report, plots)
        except OutputError as exc:
            raise _fail(str(exc)) from None
        for figure in figures:
            console.print(f"wrote {figure}", markup=False, highlight=False)


@app.command()
def inspect(
    directory: Annotated[str, typer.Argument(help="A build output folder or URL (s3://...).")],
    id: Annotated[str, typer.Option("--id", help="Question id (the `id` column).")],
    out: Annotated[Path, typer.Option(help="PNG to write.")],
) -> None:
    """Draw one question over its scene: top-down boxes, the quantity behind the answer, a few video frames."""
    from vsi_data.io import OutputError, check_output_path
    from vsi_data.viz.inspect import InspectError, inspect_question

    _logging(quiet=True)
    try:
        check_output_path(out)
        written = inspect_question(directory, id, out)
    except (InspectError, OutputError) as exc:
        raise _fail(str(exc)) from None
    _stdout().print(f"wrote {written}", markup=False, highlight=False, soft_wrap=True)


@app.command("train-grpo")
def train_grpo(
    recipe: Annotated[
        str, typer.Option(help="Training recipe: tiny-cpu, vsgrpo-qwen2vl-2b, vsgrpo-qwen2vl-7b, or a path to a YAML.")
    ],
    data: Annotated[str, typer.Option(help="A build output folder or URL (its train-split rows, with video).")],
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
        result = run_training(recipe, data, output, model=model, max_steps=max_steps, quiet=quiet)
    except (TrainRecipeError, TrainDataError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None
    if not result.is_main_process:
        return
    last = result.last_log
    summary = ", ".join(f"{key} {last[key]:.4g}" for key in ("loss", "kl", "reward") if key in last)
    resumed = f" (resumed from {result.resumed_from.name})" if result.resumed_from else ""
    _stdout().print(
        f"step {result.global_step}{resumed}: {summary} → {output}", markup=False, highlight=False, soft_wrap=True
    )


@app.command("merge-lora")
def merge_lora(
    run: Annotated[Path, typer.Argument(help="A train-grpo run folder of a LoRA recipe (holds final-adapter/).")],
) -> None:
    """Merge a run's LoRA adapter into its base model: RUN/final, whole (for ZeRO-3 and FSDP LoRA runs)."""
    from vsi_data.models import ModelLoadError
    from vsi_data.train.recipe import TrainRecipeError
    from vsi_data.train.trainer import merge_lora as merge

    _logging(quiet=True)
    try:
        final = merge(run)
    except (TrainRecipeError, ModelLoadError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"merged → {final}", markup=False, highlight=False)


class Dtype(StrEnum):
    auto = "auto"
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


@app.command()
def predict(
    model: Annotated[Path, typer.Option(help="Local Qwen2-VL / Qwen2.5-VL checkpoint folder.")],
    data: Annotated[str, typer.Option(help="A build folder or URL, a shard, or VSI-Bench's test .parquet/.jsonl.")],
    out: Annotated[Path, typer.Option(help="Predictions JSONL; appended to, ids already there are skipped.")],
    frames: Annotated[
        int | None,
        typer.Option(min=1, help="Frames sampled uniformly per video (default: the model's run's, else 16)."),
    ] = None,
    input_mode: Annotated[
        FrameInput | None,
        typer.Option(
            "--input",
            help="Frames as one video (Qwen's native video tokens, as lmms-eval) or one image each "
            "(default: the model's train-grpo run's, else video).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Questions per generate call.")] = 4,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Generated tokens at most (VSI-Bench: 16).")] = 16,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).")] = None,
    dtype: Annotated[Dtype, typer.Option(help="Model weights' dtype.")] = Dtype.auto,
    min_pixels: Annotated[
        int | None, typer.Option(min=1, help="Per-frame pixel budget, lower bound (default: the run's).")
    ] = None,
    max_pixels: Annotated[
        int | None, typer.Option(min=1, help="Per-frame pixel budget, upper bound (default: the run's).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Answer at most this many new questions.")] = None,
    video_root: Annotated[
        Path | None,
        typer.Option(
            help="Where videos live: VSI-Bench's, and a video-less build's, as ROOT/<dataset>/<scene>.mp4 "
            "(default: beside the file)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar; warnings and errors only.")] = False,
) -> None:
    """Answer the questions with a local model: VSI-Bench's prompt, greedy decoding, N frames per video."""
    from rich.progress import Progress

    from vsi_data.eval import DataError, PredictionsError
    from vsi_data.eval.predict import PredictConfig, PredictError, run_predict
    from vsi_data.models import ModelLoadError
    from vsi_data.train.recipe import TrainRecipeError
    from vsi_data.video.sampler import VideoReadError

    _logging(quiet)
    config = PredictConfig(
        model=model,
        data=data,
        out=out,
        frames=frames,
        input=input_mode,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        device=device,
        dtype=dtype.value,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        limit=limit,
        video_root=video_root,
    )
    with Progress(console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("predicting", total=None)
        try:
            result = run_predict(config, lambda done, total: progress.update(task, completed=done, total=total))
        except (DataError, PredictionsError, PredictError, ModelLoadError, VideoReadError, TrainRecipeError) as exc:
            raise _fail(str(exc)) from None
        except KeyboardInterrupt as exc:  # the answered batches stay in --out
            raise _interrupted(exc) from None
    _stdout().print(
        f"[bold]{result.written}[/bold] questions answered, {result.already} already in {escape(str(out))} "
        f"({result.total} in the data)",
        highlight=False,
    )


@app.command("eval")
def evaluate(
    data: Annotated[str, typer.Option(help="A build folder or URL, a shard, or VSI-Bench's test .parquet/.jsonl.")],
    predictions: Annotated[Path, typer.Option(help='JSONL with {"id", "prediction"} per line.')],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
    compare: Annotated[
        Path | None, typer.Option(help="A baseline predictions file: per-task scores side by side, with the change.")
    ] = None,
) -> None:
    """Score predictions the VSI-Bench way: first token, letters, MRA, tasks averaged into overall."""
    from vsi_data.eval import DataError, PredictionsError, answers_for, load_items
    from vsi_data.eval.report import comparison_table, report_footer, report_table
    from vsi_data.eval.scoring import compare as compare_reports
    from vsi_data.eval.scoring import evaluate as score

    _logging(quiet=as_json)
    try:
        items = load_items(data)
        ids = [item.id for item in items]
        report = score(items, answers_for(predictions, data, ids))
        baseline = score(items, answers_for(compare, data, ids)) if compare else None
    except (DataError, PredictionsError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        result = report.to_json()
        if baseline is not None:
            result["baseline"] = {"predictions": str(compare), **baseline.to_json()}
            result["comparison"] = compare_reports(baseline, report)
        typer.echo(json.dumps(result, indent=2))
        return
    stdout = _stdout()
    stdout.print(report_table(report, escape(f"VSI-Bench scores of {predictions.name} on {Path(data).name}")))
    stdout.print(report_footer(report), highlight=False)
    if baseline is not None:
        stdout.print(
            comparison_table(compare_reports(baseline, report), escape(compare.name), escape(predictions.name))
        )


def _export_choices() -> tuple[str, str, str, str]:
    """`export`'s choices and its --help list of formats, read from the export registry (adding a format
    adds its choice)."""
    from vsi_data.export.formats import FORMATS
    from vsi_data.export.spec import PromptChoice, VideoPath

    listing = "\n\n".join(f"{name}: {spec.summary}" for name, spec in FORMATS.items())
    return " | ".join(FORMATS), " | ".join(PromptChoice), " | ".join(VideoPath), listing


EXPORT_FORMATS, EXPORT_PROMPTS, EXPORT_VIDEO_PATHS, EXPORT_LISTING = _export_choices()


@app.command(epilog=EXPORT_LISTING)
def export(
    build: Annotated[str, typer.Argument(help="A build output folder or URL (s3://...).")],
    fmt: Annotated[str, typer.Option("--format", help=f"Target tool's layout: {EXPORT_FORMATS} (docs/export.md).")],
    out: Annotated[str, typer.Option(help="New local folder to write (must not exist, or be empty).")],
    split: Annotated[Split, typer.Option(help="Which split(s); each split becomes its own file.")] = Split.all,
    prompt: Annotated[
        str | None,
        typer.Option(
            help=f"{EXPORT_PROMPTS}: vsGRPO's training prompt or VSI-Bench's "
            "(default: vanilla; vsibench for the vsibench and lmms-eval formats)."
        ),
    ] = None,
    video_path: Annotated[
        str,
        typer.Option(
            help=f"{EXPORT_VIDEO_PATHS}: paths into the build, or relative to --out with the videos linked "
            "(or copied) there."
        ),
    ] = "absolute",
    copy_videos: Annotated[
        bool, typer.Option(help="Copy the videos into --out instead of linking or referring.")
    ] = False,
    frames: Annotated[
        int | None, typer.Option(min=1, help="Pre-extract N uniform frames per video (JPEG) and use them instead.")
    ] = None,
    frames_dir: Annotated[
        Path | None, typer.Option(help="Where --frames writes its JPEGs (default: OUT/frames).")
    ] = None,
    allow_missing_video: Annotated[
        bool, typer.Option(help="Leave out (and count) questions whose video is missing instead of failing.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(help="Data set name in lmms-eval task and LLaMA-Factory dataset names (default: BUILD's)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar; warnings and errors only.")] = False,
) -> None:
    """Write a build in the layout of a training or evaluation tool (llava, llamafactory, swift, verl, …)."""
    from rich.progress import Progress

    from vsi_data.export.run import ExportConfig, run_export
    from vsi_data.export.spec import ExportError

    _logging(quiet)
    config = ExportConfig(
        build=build,
        format=fmt,
        out=out,
        split=split.value,
        prompt=prompt,
        video_path=video_path,
        copy_videos=copy_videos,
        frames=frames,
        frames_dir=frames_dir,
        allow_missing_video=allow_missing_video,
        name=name,
    )
    with Progress(console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("exporting", total=None)
        try:
            result = run_export(config, lambda done, total: progress.update(task, completed=done, total=total))
        except ExportError as exc:
            raise _fail(str(exc)) from None
        except KeyboardInterrupt as exc:  # the temp folder is removed: nothing to resume
            raise _interrupted(exc, resumes=False) from None
    counts = ", ".join(f"{split_name} {count}" for split_name, count in result.rows.items())
    skipped = f"; {result.skipped} left out without video" if result.skipped else ""
    written = f"{escape(str(result.out))} ({result.format}){skipped}"
    console.print(
        f"[bold]{sum(result.rows.values())}[/bold] questions ({counts}) → {written}", highlight=False, soft_wrap=True
    )


@app.command()
@_with_source_options
def verify(
    meta: Annotated[Path, typer.Option(help="VSI-Bench's *_meta_info_val.json (or a folder of them).")],
    build: Annotated[Path | None, typer.Option(help="A build output folder: its scenes are re-opened.")] = None,
    root: Annotated[
        Path | None, typer.Option(help="Raw scans to parse now instead of a build (with --source).")
    ] = None,
    source: Annotated[Source | None, typer.Option(help="The dataset of --root.")] = None,
    recipe: Annotated[str, typer.Option(help="With --root: the recipe to parse and ask by.")] = "vsibench",
    seed: Annotated[int, typer.Option(help="With --root: the seed a build would use.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout.")] = False,
    pictures: Annotated[Path | None, typer.Option(help="Write a top-down PNG per scene with both boxes here.")] = None,
    centre_tolerance: Annotated[
        float | None, typer.Option(min=0, help="Box centres at most this far apart, metres (default 0.05).")
    ] = None,
    extent_tolerance: Annotated[
        float | None, typer.Option(min=0, help="Box sides and size answers within this, metres (default 0.05).")
    ] = None,
    rotation_tolerance: Annotated[
        float | None, typer.Option(min=0, help="Box rotation within this, degrees (default 5).")
    ] = None,
    room_tolerance: Annotated[
        float | None, typer.Option(min=0, help="Room area within this fraction of the released one (default 0.02).")
    ] = None,
    distance_tolerance: Annotated[
        float | None, typer.Option(min=0, help="Distance answers within this, metres (default 0.1).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    **source_options: Any,
) -> None:
    """Compare a build's (or raw scans') objects and answers with VSI-Bench's released boxes, scene by scene.

    Exit status: 0 everything agrees within the tolerances, 1 something differs, 2 verification could not run.
    """
    from rich.progress import Progress

    from vsi_data.io import OutputError, check_output_path
    from vsi_data.verify import Tolerances, VerifyError, from_build, from_scans, run_verify
    from vsi_data.viz.verify import draw_verified_scene, print_verify_report

    _logging(quiet=True)
    if (build is None) == (root is None) or (root is not None and source is None):
        raise _fail("give --build DIR, or --root PATH with --source", code=2)
    try:
        if pictures is not None:
            check_output_path(pictures, folder=True)
    except OutputError as exc:
        raise _fail(str(exc), code=2) from None
    if build is not None and source_options:
        flags = ", ".join(next(iter(SOURCE_OPTIONS[name].values())).flag for name in source_options)
        verb = "goes" if len(source_options) == 1 else "go"
        raise _fail(f"{flags} {verb} with --root; a build's source options are in its manifest", code=2)
    given = {"centre_m": centre_tolerance, "extent_m": extent_tolerance, "rotation_deg": rotation_tolerance,
             "room_rel": room_tolerance, "distance_m": distance_tolerance}  # fmt: skip
    tolerances = Tolerances(**{k: v for k, v in given.items() if v is not None})  # the report prints them all
    try:
        ours = from_build(build) if build is not None else from_scans(source.value, root, recipe, seed, source_options)
        with Progress(console=console, disable=quiet or as_json, transient=True) as progress:
            task = progress.add_task("verifying scenes", total=None)
            report = run_verify(
                ours,
                meta,
                tolerances,
                None
                if pictures is None
                else lambda result, scene, meta_scene: draw_verified_scene(
                    result, scene, meta_scene, pictures / f"{scene.dataset}__{scene.scene_id}.png"
                ),
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    except VerifyError as exc:
        raise _fail(str(exc), code=2) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        stdout = Console()
        print_verify_report(report, stdout if stdout.is_terminal else Console(width=150))  # a file gets whole rows
    raise typer.Exit(0 if report.agrees else 1)


if __name__ == "__main__":
    app()

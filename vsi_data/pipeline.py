"""`vsi-data build`: scenes → questions → Parquet shards, resumable and deterministic.

Each scene is one unit of work (`build_scene`: parse → questions → video → rows), committed as an
atomic part file; a scene that fails is recorded as one line and the build goes on. Finishing reads the
parts back in scene order, so the shards do not depend on which scene finished first, and a re-run of
the same command skips every scene already committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import posixpath
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vsi_data import __version__
from vsi_data.benchmark import is_benchmark_scan
from vsi_data.executors import Executor, Limits, Lost, make_executor
from vsi_data.io import OutputError, Store, location
from vsi_data.output.balance import Balance
from vsi_data.output.card import dataset_card
from vsi_data.output.finish import finish_rows
from vsi_data.output.folder import BuildTree, OutputFolder, scene_video
from vsi_data.output.shards import (
    DEFAULT_SHARD_BYTES,
    MANIFEST,
    part_info,
    part_name,
    read_part,
    write_part,
)
from vsi_data.qa import NO_VIDEO, Recipe, generate_questions, load_recipe, question_id
from vsi_data.registry import SOURCES, check_options, open_source
from vsi_data.sources import SceneError, SceneRef, SceneSource
from vsi_data.sources.base import ParseOptions
from vsi_data.video import DEFAULT_VIDEO_PRESET, write_scene_video
from vsi_data.video.frame_table import sidecar_path

log = logging.getLogger(__name__)

SYNTHETIC_DIR = ".synthetic"  # default home of the synthetic source's ScanNet files, reused across builds
EXIT_OK, EXIT_NOTHING, EXIT_PARTIAL = 0, 1, 2
PROGRESS_LINES = 20  # outside a terminal: about this many progress lines per build ...
PROGRESS_LINES_EVERY_MAX = 100  # ... but one at least every this many scenes


class BuildError(Exception):
    """The build cannot start (bad arguments, an output folder from another build)."""


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C during the scenes: the workers are stopped, every committed scene stays for a re-run to resume."""


@dataclass
class BuildConfig:
    source: str
    out: Path | str  # a folder, or any fsspec URL (s3://bucket/build, memory://build)
    root: Path | None = None
    recipe: str = "vsi100k"
    split: str = "train"
    scenes: int | None = None
    scene_list: Path | None = None
    seed: int = 0
    exhaustive: bool = False
    video: bool = True
    reencode_video: bool = False  # ScanNet++: re-encode the iPhone video instead of copying it
    video_preset: str = DEFAULT_VIDEO_PRESET  # x264's speed/size trade-off for encoded videos
    allow_benchmark_scenes: bool = False
    overwrite: bool = False
    source_options: dict[str, Any] = field(default_factory=dict)  # the source's own (config field -> value)
    workers: int = 0  # 0: in this process; N: N worker processes (each scene time-limited, crashes survived)
    executor: str = "local"
    scene_timeout_s: float | None = 3600.0  # a scene still running after this is stopped and recorded as failed
    scene_memory_gib: float = 2.0  # Ray: memory each scene's task asks for
    ray_address: str | None = None  # Ray: the cluster to join (host:port or auto); default $RAY_ADDRESS, else local
    shard_rows: int = 100_000
    shard_bytes: int | None = DEFAULT_SHARD_BYTES  # a shard's rows' in-memory size at most (None: rows only)
    bucketed_videos: bool = False  # set by the build from its record: videos in buckets (`output.folder.scene_video`)
    quiet: bool = False

    PATHS: ClassVar[tuple[str, ...]] = ("out", "root", "scene_list")  # recorded as strings

    def record(self) -> dict[str, Any]:
        """The config as the manifest records it: JSON, paths as strings."""

        def plain(value: Any) -> Any:
            return str(value) if isinstance(value, Path) else value

        recorded = {k: plain(v) for k, v in asdict(self).items()}
        recorded["source_options"] = {k: plain(v) for k, v in self.source_options.items()}
        return recorded

    @classmethod
    def from_record(cls, recorded: dict[str, Any]) -> BuildConfig:
        """The config a manifest recorded (`"config"`), paths as paths; settings this version lacks are ignored."""
        known = {f.name for f in fields(cls)}
        config = {k: Path(v) if k in cls.PATHS and v is not None else v for k, v in recorded.items() if k in known}
        options = SOURCES[recorded["source"]].options() if recorded.get("source") in SOURCES else {}
        given = recorded.get("source_options")
        if given is None:  # recorded by 0.2.0, under the keys of `_RECORDED_OPTIONS`, for every source alike
            given = {name: recorded.get(_option_key(option.flag)) for name, option in options.items()}
            given = {name: value for name, value in given.items() if value is not None}
        paths = {name for name, option in options.items() if option.type is Path}
        config["source_options"] = {k: Path(v) if k in paths and v is not None else v for k, v in given.items()}
        return cls(**config)


def recorded_build(manifest: Any) -> tuple[dict[str, Any], int, BuildConfig]:
    """What a build's manifest records of how it was made, for the commands that re-open its scenes: the resolved
    recipe, the seed and the config. A `ValueError` says which is missing or misshapen (a hand-edited file)."""
    if not isinstance(manifest, dict):
        raise ValueError("not a vsi-data manifest (no JSON object)")
    missing = [key for key in ("source", "recipe", "seed", "config") if key not in manifest]
    if missing:
        raise ValueError(f"not a vsi-data manifest (no {', '.join(missing)})")
    recipe, seed, config = manifest["recipe"], manifest["seed"], manifest["config"]
    shaped = isinstance(recipe, dict) and isinstance(recipe.get("types"), dict)
    if not shaped or not all(isinstance(recipe.get(key), str) for key in ("name", "source_file")):
        raise ValueError('"recipe" is not the resolved recipe a build records (edited by hand?)')
    if type(seed) is not int:
        raise ValueError(f'"seed" must be an integer, not {seed!r}')
    try:
        if not isinstance(config, dict) or not isinstance(config.get("source_options"), dict | None):
            raise TypeError("not an object")
        return recipe, seed, BuildConfig.from_record(config)
    except TypeError as exc:
        raise ValueError(f'"config" is not the settings a build records ({exc}; edited by hand?)') from None


@dataclass
class BuildResult:
    exit_code: int
    manifest: dict[str, Any]
    failures: list[dict[str, str]] = field(default_factory=list)


def build_scene(source: SceneSource, ref: SceneRef, recipe: Recipe, options: ParseOptions, config: BuildConfig) -> dict:
    """One scene, start to finish; commits its part file and returns its build info."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    scene = source.load(ref, options)
    timings["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    why_none: dict[str, str] = {}
    questions = generate_questions(scene, recipe, config.seed, config.exhaustive, config.video, why_none)
    timings["questions"] = time.perf_counter() - start
    video = None
    frames = scene.frames
    if config.video and frames is not None and (frames.read_color is not None or frames.source_video is not None):
        start = time.perf_counter()
        video = scene_video(scene.dataset, scene.scene_id, config.bucketed_videos)
        # PyAV writes local files: on a remote store, into a temp folder uploaded when both files are whole.
        with Store.at(config.out).local_folder(posixpath.dirname(video)) as folder:
            written = write_scene_video(
                frames, folder / posixpath.basename(video), config.reencode_video, config.video_preset
            )
        if written:
            timings["video"] = time.perf_counter() - start
    per_type = Counter(q.question_type for q in questions)
    index: Counter[str] = Counter()
    rows = []
    for q in questions:
        rows.append(
            q.to_row(
                question_id(scene.dataset, scene.scene_id, q.question_type, index[q.question_type]),
                scene.dataset,
                scene.scene_id,
                scene.split,
                video,
            )
        )
        index[q.question_type] += 1
    info = {
        "scene_id": scene.scene_id,
        "split": scene.split,
        "rows": len(rows),
        "per_type": dict(per_type),
        "empty_types": why_none,
        "objects": len(scene.objects),
        "video": video,
        "frames": len(scene.frames) if scene.frames is not None else 0,
        "invalid_poses": int((~scene.frames.valid).sum()) if scene.frames is not None else 0,
        "stats": dict(scene.stats),
        "timings": timings,
    }
    write_part(Store.at(config.out), source.name, scene.scene_id, rows, info)
    return info


def _absolute(config: BuildConfig, recipe: Recipe) -> BuildConfig:
    """The config with absolute paths (a user's recipe file included), so that the fingerprint and the
    manifest name the same files from any working directory, and `inspect` and a resume find them."""
    paths: dict[str, Any] = {
        name: getattr(config, name).resolve() for name in ("root", "scene_list") if getattr(config, name) is not None
    }
    paths["out"] = location(config.out)
    paths["source_options"] = {k: v.resolve() if isinstance(v, Path) else v for k, v in config.source_options.items()}
    user_recipe = recipe.path == Path(config.recipe)
    return replace(config, **paths, recipe=str(recipe.path.resolve()) if user_recipe else config.recipe)


def _scene_list(config: BuildConfig) -> list[str] | None:
    """The ids `--scene-list` names, in its order, once each."""
    if config.scene_list is None:
        return None
    try:
        lines = config.scene_list.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BuildError(f"{config.scene_list}: cannot read the scene list ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise BuildError(f"{config.scene_list}: not a text file of scene ids ({exc.reason})") from exc
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def _fingerprint(config: BuildConfig, recipe: Recipe, scene_list: list[str] | None) -> dict[str, Any]:
    """Everything that decides which rows a build holds; a re-run into the same folder must match it exactly."""
    resolved = recipe.resolved()
    resolved.pop("source_file")
    return {
        "vsi_data_version": __version__,
        "source": config.source,
        **_rows_revision(config.source),
        "root": str(config.root) if config.root is not None else None,
        "recipe": resolved,
        "vocabulary_sha256": _sha256(recipe.vocabulary.path),
        "templates_sha256": _sha256(recipe.templates.path),
        "split": config.split,
        "scenes": config.scenes,
        "scene_list": hashlib.sha256("\n".join(scene_list).encode()).hexdigest() if scene_list is not None else None,
        "allow_benchmark_scenes": config.allow_benchmark_scenes,
        "seed": config.seed,
        "exhaustive": config.exhaustive,
        "video": config.video,
        "reencode_video": config.reencode_video,
        "video_preset": config.video_preset if config.video else None,
        **_recorded_options(config),
    }


# Where 0.2.0 recorded the built-in sources' options (flag -> key), in every build's fingerprint and manifest
# config. Every fingerprint still holds these keys (None where the source does not take the option), so that
# 0.2.0's builds resume; any other option is recorded under its flag's name (`--toy-scale`: toy_scale).
_RECORDED_OPTIONS = {
    "--label-table": "label_table",
    "--frames": "synthetic_frames",
    "--synthetic-format": "synthetic_format",
}


def _recorded_options(config: BuildConfig) -> dict[str, Any]:
    """The source's options, given or at their defaults, as the fingerprint records them."""
    values = check_options(config.source, config.source_options)  # an unknown source or option: one line
    options = SOURCES[config.source].options()
    recorded = {_option_key(options[k].flag): str(v) if isinstance(v, Path) else v for k, v in values.items()}
    return dict.fromkeys(_RECORDED_OPTIONS.values()) | recorded


def _option_key(flag: str) -> str:
    return _RECORDED_OPTIONS.get(flag, flag.removeprefix("--").replace("-", "_"))


def _rows_revision(source: str) -> dict[str, int]:
    """The source's rows revision, recorded once it has one: a build of 0.2.0 recorded none."""
    spec = SOURCES.get(source)
    return {"rows_revision": spec.rows_revision} if spec is not None and spec.rows_revision else {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_SETTING_NAMES = {
    "vsi_data_version": "vsi-data version",
    **{key: flag for flag, key in _RECORDED_OPTIONS.items()},
    "vocabulary_sha256": "the recipe's vocabulary file",
    "templates_sha256": "the recipe's templates file",
}


def _setting_change(key: str, there: Any, here: Any, source: str) -> str:
    """One changed setting as the user knows it: the flag, with both values where they are short."""
    name = _SETTING_NAMES.get(key, "--" + key.replace("_", "-"))
    if key in ("recipe", "scene_list") or key.endswith("sha256"):
        return name
    if key == "rows_revision":  # with what changed since, from the source's own list
        changes = SOURCES[source].rows_revisions[there:here] if isinstance(there, int) else ()
        return f"rows of --source {source}: revision {there} there, {here} here" + "".join(f", {c}" for c in changes)
    return f"{name}: {'not set' if there is None else there} there, {'not set' if here is None else here} here"


def _refuse_other_builds(folder: OutputFolder, fingerprint: dict[str, Any], config: BuildConfig) -> None:
    """A folder holding something else, or a build made with other settings (unless --overwrite), is refused
    before anything is written: the build it holds is never changed by a command that would change its rows."""
    record = folder.refuse_unless_build()
    if record is None or config.overwrite or record.fingerprint == fingerprint:
        return
    previous = {"rows_revision": 0, **record.fingerprint}  # recorded only once the source's rows changed
    changed = [
        _setting_change(k, previous[k], v, config.source)
        for k, v in fingerprint.items()
        if k in previous and previous[k] != v
    ]
    if fingerprint.keys() - previous.keys():
        changed.append(f"settings an older vsi-data ({previous.get('vsi_data_version')}) did not record")
    staged = folder.staged_record()
    resumes = staged is not None and staged.fingerprint == fingerprint
    hint = " (that resumes the interrupted --overwrite with these settings)" if resumes else ""
    raise BuildError(
        f"{config.out} holds a build with different settings ({'; '.join(changed)}); "
        f"use another --out, or --overwrite to replace it{hint}"
    )


@dataclass(frozen=True)
class Selection:
    """Which of the listed scenes a build holds, and the ones left out by name."""

    listed: list[SceneRef]
    selected: list[SceneRef]
    # VSI-Bench scenes and the other scans of their rooms, left out unless --allow-benchmark-scenes
    benchmark: list[SceneRef]
    other_split: list[SceneRef]  # named by --scene-list, but in another split than --split


def _select(listed: list[SceneRef], config: BuildConfig, scene_list: list[str] | None, root: Path) -> Selection:
    """The scenes to build, in id order. Every id of `--scene-list` must exist; those of another split are kept
    aside by name."""
    refs, other_split = listed, []
    if scene_list is not None:
        known = {r.scene_id for r in listed}
        missing = [scene_id for scene_id in scene_list if scene_id not in known]
        if missing:
            more = f", … ({len(missing) - 10} more)" if len(missing) > 10 else ""
            raise BuildError(
                f"{config.scene_list}: {len(missing)} scene ids of the list are not among the {len(listed)} "
                f"scenes in {root}: {', '.join(missing[:10])}{more}"
            )
        wanted = set(scene_list)
        refs = [r for r in refs if r.scene_id in wanted]
        other_split = [r for r in refs if config.split != "all" and r.split != config.split]
    if config.split != "all":
        refs = [r for r in refs if r.split == config.split]
    refs = sorted(refs, key=lambda r: (r.scene_id, r.dataset))
    benchmark = [] if config.allow_benchmark_scenes else [r for r in refs if is_benchmark_scan(r.dataset, r.scene_id)]
    left_out = set(benchmark)
    refs = [r for r in refs if r not in left_out]
    selected = refs[: config.scenes] if config.scenes is not None else refs
    return Selection(listed, selected, benchmark, sorted(other_split, key=lambda r: r.scene_id))


def _synthetic_universe(config: BuildConfig) -> int:
    """How many synthetic scenes to create so that `--scenes` of the requested split exist."""
    wanted = config.scenes or 4
    if config.split == "all":
        return wanted
    per_five = 1 if config.split == "val" else 4  # every fifth synthetic scene is val
    return -(-wanted // per_five) * 5


def _versions() -> dict[str, str]:
    out = {"vsi-data": __version__, "python": platform.python_version()}
    for package in ("numpy", "scipy", "open3d-cpu", "open3d", "trimesh", "shapely", "pyarrow", "av"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out


def _worker_environment() -> dict[str, str]:
    """What must be the same on the driver and every Ray node for their rows to be the same: the versions
    the manifest records, and a digest of vsi-data's own files (two checkouts of one version can differ)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".yaml")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return {**_versions(), "vsi-data files": digest.hexdigest()[:12]}


def open_build_source(config: BuildConfig) -> SceneSource:
    """The build's source, opened identically in the parent, in every worker, and by `inspect` later."""
    root = config.root
    if root is None and config.source == "synthetic":
        root = synthetic_root(config.out)
    return open_source(config.source, root, config.source_options, seed=config.seed, count=_synthetic_universe(config))


def synthetic_root(out: Path | str) -> Path | str:
    """Where the synthetic source keeps its scans by default: in the output folder (reused by the next build into
    it), a path or a URL (then each worker works in a local copy: `synthetic.source`)."""
    return out / SYNTHETIC_DIR if isinstance(out, Path) else f"{out}/{SYNTHETIC_DIR}"


@dataclass(frozen=True)
class SceneJob:
    config: BuildConfig
    ref: SceneRef

    def __str__(self) -> str:
        return f"{self.ref.dataset or self.config.source}/{self.ref.scene_id}"


@dataclass(frozen=True)
class SceneOutcome:
    ref: SceneRef
    info: dict | None = None
    failure: dict[str, str] | None = None
    traceback: str | None = None  # for failures that are bugs rather than bad input


_WORKER_CONTEXT: dict[str, tuple[SceneSource, Recipe, ParseOptions]] = {}


def _parse_options(config: BuildConfig, recipe: Recipe) -> ParseOptions:
    """How a build parses its scenes. No video: no camera stream, unless the recipe asks what the video would show."""
    return recipe.parse_options(config.seed, frames=config.video or recipe.visibility.on)


def run_scene(job: SceneJob) -> SceneOutcome:
    """The unit every executor runs: one scene built and committed, or its failure described.

    A worker opens the source and loads the recipe once per build and keeps them for its next scenes.
    """
    key = json.dumps(asdict(job.config), default=str, sort_keys=True)
    if key not in _WORKER_CONTEXT:
        recipe = load_recipe(job.config.recipe)
        _WORKER_CONTEXT.clear()
        options = _parse_options(job.config, recipe)
        _WORKER_CONTEXT[key] = (open_build_source(job.config), recipe, options)
    source, recipe, options = _WORKER_CONTEXT[key]
    ref = job.ref
    try:
        return SceneOutcome(ref, info=build_scene(source, ref, recipe, options, job.config))
    except SceneError as exc:  # bad input: listed in the summary and failures.jsonl
        return SceneOutcome(ref, failure={"scene_id": ref.scene_id, "source": source.name, "error": str(exc)})
    except OutputError:  # a full disk or a read-only folder: not this scene's fault, every next scene would fail
        raise
    except Exception as exc:  # a bug or an unforeseen input: report it, build the rest
        message = f"{ref.path}: unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"
        return SceneOutcome(
            ref,
            failure={"scene_id": ref.scene_id, "source": source.name, "error": message},
            traceback=traceback.format_exc(),
        )


def run_build(config: BuildConfig) -> BuildResult:
    started = time.perf_counter()
    recipe = load_recipe(config.recipe)
    if recipe.visibility.on and config.source in SOURCES and not SOURCES[config.source].depth_stream:
        raise BuildError(
            f"{recipe.path}: visibility.require_visible needs depth frames, and --source {config.source} has none"
        )
    config = _absolute(config, recipe)
    scene_list = _scene_list(config)
    fingerprint = _fingerprint(config, recipe, scene_list)
    folder = OutputFolder(config.out)
    if not folder.swap_pending():  # else decided under the lock, once the swap a killed build left is complete
        _refuse_other_builds(folder, fingerprint, config)
    limits = Limits(config.scene_timeout_s, config.scene_memory_gib)
    # Fails early when Ray is missing.
    executor = make_executor(config.executor, config.workers, limits, config.ray_address, _worker_environment)
    source = open_build_source(config)
    listed = source.list_scenes()
    root = config.root if config.root is not None else synthetic_root(config.out)
    if not listed:
        raise BuildError(f"{root}: no scenes found (expected {SOURCES[config.source].layout})")
    if config.split == "val" and config.source == "scannet" and not source.splits.by_scene:
        raise BuildError(f"{root}: no ScanNet split lists (scannetv2_val.txt) found, so --split val is unknown")
    if source.label_namespace not in recipe.vocabulary.rules:
        raise BuildError(
            f"{recipe.vocabulary.path}: vocabulary {recipe.vocabulary.name!r} has no rules for {config.source} labels; "
            "use a recipe whose vocabulary covers this source (e.g. --recipe vsibench)"
        )
    source.check(_parse_options(config, recipe))  # a bad label table: one error, not N
    selection = _select(listed, config, scene_list, root)
    selected = selection.selected
    if not selected:
        filters = f"split {config.split}" + (f" and {config.scene_list}" if config.scene_list else "")
        left_out = (
            f" ({len(selection.benchmark)} VSI-Bench scenes or scans of their rooms left out; "
            "--allow-benchmark-scenes keeps them)"
            if selection.benchmark
            else ""
        )
        splits = Counter(r.split for r in listed)
        where = ", ".join(f"{count} in split {split}" for split, count in sorted(splits.items()))
        raise BuildError(f"{root}: {len(listed)} scenes found ({where}), none to build in {filters}{left_out}")
    # Ray connects, and checks its nodes run this code, before anything is written.
    with executor, folder.locked():
        _refuse_other_builds(folder, fingerprint, config)
        tree = folder.tree(fingerprint, config.overwrite)
        per_dataset = max(Counter(ref.dataset for ref in selected).values())
        # Scenes go to the tree; the source stays where it is.
        work = replace(config, out=tree.path.location, root=root, bucketed_videos=tree.bucketed_videos(per_dataset))
        tree.record(
            {part_name(source.name, ref.scene_id): _scene_files(ref, work) for ref in selected},
            [SYNTHETIC_DIR] if config.source == "synthetic" and config.root is None else [],
            work.bucketed_videos,
        )
        failures: list[dict[str, str]] = []
        infos: dict[str, dict] = {}
        todo = []
        for ref in selected:
            done = part_info(tree.path, source.name, ref.scene_id)
            if done is None:
                todo.append(SceneJob(work, ref))
            else:
                infos[ref.scene_id] = done
        resumed = len(infos)
        todo.sort(key=lambda job: -source.size_hint(job.ref))  # the longest first: no long scene starts last
        try:
            _run_scenes(executor, source, todo, infos, failures, len(selected), config.quiet)
        except KeyboardInterrupt:
            # Counted on disk: a worker may have committed its scene after the last outcome was read.
            done = sum(part_info(tree.path, source.name, ref.scene_id) is not None for ref in selected)
            raise BuildInterrupted(f"{done} of {len(selected)} scenes are committed in {config.out}") from None
        finally:  # every worker has stopped: what a stopped one was writing is garbage
            tree.remove_temp_files()
        order = {ref.scene_id: i for i, ref in enumerate(selected)}
        failures.sort(key=lambda f: order[f["scene_id"]])
        config = replace(config, bucketed_videos=work.bucketed_videos)  # the manifest records where videos went
        return _finish(config, tree, recipe, source, BuiltScenes(selection, infos, failures, resumed, started))


def _scene_files(ref: SceneRef, config: BuildConfig) -> list[str]:
    """What building `ref` may write besides its part: its video and the video's sidecar."""
    if not config.video:
        return []
    video = scene_video(ref.dataset, ref.scene_id, config.bucketed_videos)
    return [video, str(sidecar_path(Path(video)))]


def _run_scenes(
    executor: Executor,
    source: SceneSource,
    todo: list[SceneJob],
    infos: dict[str, dict],
    failures: list[dict[str, str]],
    total: int,
    quiet: bool,
) -> None:
    """Every scene of `todo` through the executor, into `infos` (built) or `failures` (one line each); progress
    is a bar in a terminal, and a plain log line every few scenes in a log file."""
    started = time.perf_counter()
    stderr = Console(stderr=True)
    plain = not stderr.is_terminal
    every = max(1, min(PROGRESS_LINES_EVERY_MAX, total // PROGRESS_LINES))
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr,
        disable=quiet or plain,
    ) as progress:
        task = progress.add_task("scenes", total=total, completed=len(infos), status="")
        for done, (job, outcome) in enumerate(executor.map_unordered(run_scene, todo), len(infos) + 1):
            if isinstance(outcome, Lost):  # the worker died on it, or it ran out of time
                failure = {
                    "scene_id": job.ref.scene_id,
                    "source": source.name,
                    "error": f"{job.ref.path}: {outcome.reason}",
                }
                outcome = SceneOutcome(job.ref, failure=failure)
            if outcome.info is not None:
                infos[outcome.ref.scene_id] = outcome.info
            else:
                failures.append(outcome.failure)
                if outcome.traceback:
                    log.error("scene %s failed unexpectedly:\n%s", outcome.ref.scene_id, outcome.traceback)
                log.debug("scene %s failed: %s", outcome.ref.scene_id, outcome.failure["error"])
            status = f"{sum(i['rows'] for i in infos.values())} questions, {len(failures)} failed"
            progress.update(task, advance=1, status=status)
            if plain and (done % every == 0 or done == total):
                log.info("scenes %d/%d: %s (%.0f s)", done, total, status, time.perf_counter() - started)


def _skipped_types(config: BuildConfig, recipe: Recipe) -> dict[str, str]:
    """The recipe's types this build does not ask at all, and why (per-scene gaps are in parse_stats)."""
    if config.video:
        return {}
    return {g.question_type: NO_VIDEO for g in recipe.generators if g.needs_video}


def _missing_types(
    recipe: Recipe, per_type: dict[str, int], infos: dict[str, dict], failures: list[dict]
) -> dict[str, dict[str, int]]:
    """The recipe's types without a single row in the build, each with how many scenes gave none for each
    reason, so a type never vanishes silently."""
    missing = {}
    for generator in recipe.generators:
        question_type = generator.question_type
        if per_type.get(question_type):
            continue
        reasons: Counter[str] = Counter()
        for info in infos.values():
            if info["per_type"].get(question_type):
                reasons["every row removed by deduplication or answer balancing"] += 1
            else:  # parts written before reasons were recorded have none
                reasons[info.get("empty_types", {}).get(question_type, "not recorded (built by an older version)")] += 1
        if failures:
            reasons["the scene failed to build (failures.jsonl)"] += len(failures)
        missing[question_type] = dict(reasons.most_common())
    return missing


@dataclass(frozen=True)
class BuiltScenes:
    """What the scenes of a build left for finishing to account for."""

    selection: Selection
    infos: dict[str, dict]  # scene id → the build info of its committed part
    failures: list[dict[str, str]]  # in scene order
    resumed: int  # scenes committed by an earlier run
    started: float  # `time.perf_counter()` when the build began


def _finish(
    config: BuildConfig, tree: BuildTree, recipe: Recipe, source: SceneSource, built: BuiltScenes
) -> BuildResult:
    """Shards, manifest, failures and card from the committed parts, streamed one part at a time
    (`output/finish.finish_rows`: memory does not grow with the rows), written beside the build they replace and
    swapped in together."""
    selection, infos, failures, resumed, started = (
        built.selection, built.infos, built.failures, built.resumed, built.started
    )  # fmt: skip
    names = list(dict.fromkeys(ref.scene_id for ref in selection.selected if ref.scene_id in infos))

    def parts(columns: tuple[str, ...] | None) -> Iterator[pa.Table]:
        for scene_id in names:
            yield read_part(tree.path, source.name, scene_id, columns)

    stats: Counter[str] = Counter()
    timings: Counter[str] = Counter()
    for info in infos.values():
        stats.update(info["stats"])
        timings.update(info["timings"])
    rules = Balance(dedup=False) if config.exhaustive else recipe.balance
    with tree.finishing() as stage:
        rows = finish_rows(parts, rules, config.seed, stage, config.shard_rows, config.shard_bytes)
        shards = rows.shards
        elapsed = time.perf_counter() - started  # the total includes finishing, all but the last few writes
        manifest = {
            "vsi_data_version": __version__,
            "source": config.source,
            "root": str(config.root) if config.root is not None else None,
            "recipe": recipe.resolved(),
            "seed": config.seed,
            "split": config.split,
            "scene_list": str(config.scene_list) if config.scene_list is not None else None,
            "exhaustive": config.exhaustive,
            "video": config.video,
            "skipped_types": _skipped_types(config, recipe),
            "scenes": {
                "listed": len(selection.listed),
                "selected": len(selection.selected),
                "built": len(infos),
                "resumed": resumed,
                "failed": len(failures),
                "excluded_benchmark": len(selection.benchmark),
                "other_split": len(selection.other_split),
                "with_video": sum(1 for i in infos.values() if i.get("video")),
                "invalid_poses": sum(i.get("invalid_poses", 0) for i in infos.values()),
            },
            "excluded_benchmark_scenes": [f"{r.dataset}/{r.scene_id}" for r in selection.benchmark],
            "other_split_scenes": {r.scene_id: r.split for r in selection.other_split},
            "rows": sum(rows.per_split.values()),
            "rows_before_cleanup": sum(info["rows"] for info in infos.values()),
            "cleanup": rows.cleanup,
            "per_type": rows.per_type,
            "missing_types": _missing_types(recipe, rows.per_type, infos, failures),
            "per_split": rows.per_split,
            "shards": shards,
            "parse_stats": dict(sorted(stats.items())),
            "timings_s": {"total": round(elapsed, 3), **{k: round(v, 3) for k, v in sorted(timings.items())}},
            "versions": _versions(),
            "config": config.record(),
        }
        stage.write_text(MANIFEST, json.dumps(manifest, indent=2) + "\n")
        stage.write_text("failures.jsonl", "".join(json.dumps(f) + "\n" for f in failures))
        stage.write_text("README.md", dataset_card(manifest, shards))
    tree.commit()
    code = EXIT_NOTHING if not infos else EXIT_PARTIAL if failures else EXIT_OK
    return BuildResult(code, manifest, failures)

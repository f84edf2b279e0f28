"""`vsi-data export`: a build's shards, streamed through one format into a folder that appears whole or not at all.

Rows are read in Arrow record batches (a few thousand rows at a time, only the columns a format needs) and
each batch's records are appended to the split's file before the next is read, so memory does not grow with
the build. Everything is written into a temp folder beside `--out` and renamed into place at the end: bad
input (not a build, a missing video, nothing to export) leaves no partial export, and an interrupted export
leaves only the temp folder, which the next export to the same `--out` removes once its process is gone (the
temp name holds the machine and the pid). Pre-extracted frames written to a `--frames-dir` outside `--out` are the
exception: each JPEG is written atomically and kept, like a cache.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vsi_data import __version__
from vsi_data.export.formats import FORMATS
from vsi_data.export.spec import (
    ExportError,
    ExportFormat,
    ExportRow,
    Finished,
    Media,
    PromptChoice,
    RecordWriter,
    VideoPath,
    prompter,
    target_text,
)
from vsi_data.io import (
    OutputError,
    Store,
    check_output_path,
    child,
    copy_file,
    given_location,
    is_file,
    is_url,
    process_alive,
)
from vsi_data.output.shards import (
    arrow_path,
    open_build,
    shards_to_read,
    unreadable_shard,
    write_atomic,
)

READ_COLUMNS = ("id", "dataset", "scene_id", "split", "question_type", "question", "options", "answer", "video")
MANIFEST = "export.json"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportConfig:
    build: Path | str  # a build folder, or its fsspec URL (s3://bucket/build)
    format: str
    out: Path | str  # a local folder (a URL is refused: the formats' readers open local files)
    split: str = "all"  # train | val | all (every split, one file each)
    prompt: str | None = None  # default: the format's
    video_path: str = VideoPath.absolute
    copy_videos: bool = False
    frames: int | None = None  # pre-extract this many uniform frames per video, used instead of the video
    frames_dir: Path | None = None  # default: OUT/frames
    allow_missing_video: bool = False
    name: str | None = None  # data set name in task / dataset_info keys; default: the build folder's
    batch_rows: int = 4096


@dataclass(frozen=True)
class ExportResult:
    out: Path
    format: str
    rows: dict[str, int]  # split → rows written
    skipped: int  # rows left out because their video is missing (--allow-missing-video)
    videos: int  # distinct videos the rows refer to


class ExportInterrupted(KeyboardInterrupt):
    """Ctrl-C during an export; the message says what it leaves: nothing in --out."""


def run_export(config: ExportConfig, progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write `config.build` in `config.format` to `config.out`; `progress(rows read, rows in the build)`."""
    try:
        return _export(config, progress)
    except KeyboardInterrupt:
        out = Path(config.out).absolute()
        frames = Path(config.frames_dir).absolute() if config.frames is not None and config.frames_dir else out
        kept = "" if frames.is_relative_to(out) else f"; the frames cut so far stay in {frames}"
        raise ExportInterrupted(f"nothing was written to {out}, its temp folder is removed{kept}") from None


def _export(config: ExportConfig, progress: Callable[[int, int], None] | None) -> ExportResult:
    spec = FORMATS.get(config.format)
    if spec is None:
        raise ExportError(f"unknown export format {config.format!r} (choose from {', '.join(FORMATS)})")
    prompt = _prompt(spec, config.prompt)
    if is_url(config.out):
        raise ExportError(f"{config.out}: --out is a local folder (the tools read local files); export, then upload it")
    _check_options(spec, config)
    build = given_location(config.build)
    shards = _shards(build)
    out = Path(config.out).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: already exists and is not an empty folder (choose another --out)")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = out.parent / f".{out.name}.export-{socket.gethostname()}-{os.getpid()}.tmp"
    staging.mkdir()
    try:
        result = _write(spec, prompt, config, build, shards, staging, out, progress)
        staging.rename(out)  # an empty `out` is replaced; the rename is the commit point
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the temp folders (or files) beside `out` that exports to `out` killed on this machine left
    (`kill -9`, a lost power supply); what was removed. One whose process still runs, one from another machine
    (its pid says nothing here) and anything not named as an export's temp are left alone."""
    stale = re.compile(rf"\.{re.escape(out.name)}\.export-(?:(?P<host>.+)-)?(?P<pid>\d+)\.tmp")
    removed = []
    for path in sorted(out.parent.glob(f".{glob.escape(out.name)}.export-*.tmp")):
        found = stale.fullmatch(path.name)
        if found is None or found["host"] not in (None, socket.gethostname()):
            continue
        pid = int(found["pid"])
        if pid != os.getpid() and process_alive(pid):  # our own pid: a dead process's, reused
            continue
        kind = "folder" if path.is_dir() and not path.is_symlink() else "file"
        try:
            if kind == "folder":
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("%s: cannot remove this stale export temp %s (%s)", path, kind, exc.strerror or exc)
            continue
        log.info("removed %s, the temp %s of an export (process %s) that is no longer running", path, kind, pid)
        removed.append(path)
    return removed


def _found(video: Path | str) -> bool:
    """Whether a row's video is there; a build at a URL that cannot be read is one line naming it."""
    try:
        return is_file(video)
    except OSError as exc:
        raise ExportError(f"{video}: cannot read ({exc})") from None


def _prompt(spec: ExportFormat, asked: str | None) -> PromptChoice:
    if asked is None:
        return spec.default_prompt
    if asked not in PromptChoice.__members__:
        raise ExportError(f"unknown --prompt {asked!r} (choose from {', '.join(PromptChoice)})")
    prompt = PromptChoice(asked)
    if prompt not in spec.prompts:
        raise ExportError(
            f"--prompt {prompt}: the {spec.name} format takes {', '.join(spec.prompts)} (its readers build the prompt)"
        )
    return prompt


def _check_options(spec: ExportFormat, config: ExportConfig) -> None:
    if config.video_path not in VideoPath.__members__:
        raise ExportError(f"unknown --video-path {config.video_path!r} (choose from {', '.join(VideoPath)})")
    if config.frames is not None:
        if not spec.frames:
            raise ExportError(f"--frames: the {spec.name} format refers to videos, not frames")
        if config.frames < 1:
            raise ExportError(f"--frames must be at least 1, got {config.frames}")
        if config.copy_videos:
            raise ExportError("--copy-videos and --frames exclude each other: with --frames rows refer to frames")
    elif config.frames_dir is not None:
        raise ExportError("--frames-dir needs --frames N")
    if config.split != "all" and not _SAFE_NAME.fullmatch(config.split):
        raise ExportError(f"--split {config.split!r}: expected train, val or all")
    try:  # a file where a folder goes: found only mid-export, it was an OS error
        check_output_path(Path(config.out).absolute().parent, folder=True)
        if config.frames_dir is not None:
            check_output_path(Path(config.frames_dir).absolute(), folder=True)
    except OutputError as exc:
        raise ExportError(str(exc)) from None


@dataclass(frozen=True)
class BuildShards:
    """The shards an export reads: shard name in the build → its opened file."""

    store: Store
    files: dict[str, pq.ParquetFile]

    @property
    def rows(self) -> int:
        return sum(shard.metadata.num_rows for shard in self.files.values())

    def batches(self, rows: int) -> Iterator[pa.RecordBatch]:
        """The shards' rows, `rows` at a time; a shard that cannot be read half-way (garbled pages under a whole
        footer, a lost connection) is one line naming it, as `stats` says it."""
        for name, shard in self.files.items():
            try:
                yield from shard.iter_batches(batch_size=rows, columns=list(READ_COLUMNS))
            except (OSError, pa.ArrowException) as exc:
                raise ExportError(str(unreadable_shard(self.store, name, exc))) from None


def _shards(build: Path | str) -> BuildShards:
    """The shards the build's manifest lists (a local folder or a URL, read as `stats` reads it), refused with
    one line when `build` is not a build, a listed shard is missing or unreadable, or the shards disagree with
    the manifest (never a smaller export)."""
    try:
        store = open_build(build)
        names = shards_to_read(store)
    except FileNotFoundError as exc:  # not a build, no question in it, its shards not the manifest's: one line
        raise ExportError(str(exc)) from None
    shards = {}
    for name in names:
        try:
            path, filesystem = arrow_path(store, name)
            shard = pq.ParquetFile(path, filesystem=filesystem)
        except (OSError, pa.ArrowException) as exc:
            raise ExportError(str(unreadable_shard(store, name, exc))) from None
        missing = [c for c in READ_COLUMNS if c not in shard.schema_arrow.names]
        if missing:
            raise ExportError(f"{store}/{name}: not a vsi-data shard (no column {', '.join(missing)})")
        shards[name] = shard
    return BuildShards(store, shards)


def data_set_name(build: Path | str, name: str | None) -> str:
    """A name safe in task names and dataset keys: letters, digits and underscores."""
    text = name or (str(build).rsplit("/", 1)[-1] if is_url(build) else Path(build).absolute().name)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "build"


def _write(
    spec: ExportFormat,
    prompt: PromptChoice,
    config: ExportConfig,
    build: Path | str,
    shards: BuildShards,
    staging: Path,
    out: Path,
    progress: Callable[[int, int], None] | None,
) -> ExportResult:
    placer = MediaPlacer(spec, config, build, staging, out)
    ask = prompter(prompt)
    frames = config.frames is not None
    writers: dict[str, RecordWriter] = {}
    rows: Counter[str] = Counter()
    question_types: dict[str, set[str]] = {}
    splits_seen: set[str] = set()
    total, read = shards.rows, 0
    try:
        for batch in shards.batches(config.batch_rows):
            read += batch.num_rows
            splits_seen.update(batch.column("split").unique().to_pylist())
            if config.split != "all":
                batch = batch.filter(pc.equal(batch.column("split"), config.split))
            records: dict[str, list[dict]] = {}
            for row in batch.to_pylist():
                media = placer.media(row)
                if media is None:
                    continue
                records.setdefault(row["split"], []).append(spec.record(_export_row(row, media, ask, prompt)))
                question_types.setdefault(row["split"], set()).add(row["question_type"])
            for split, split_records in records.items():
                if split not in writers:
                    if not _SAFE_NAME.fullmatch(split):
                        raise ExportError(f"{build}: split name {split!r} cannot be a file name")
                    writers[split] = spec.container.open(staging / f"{split}{spec.container.suffix}", frames)
                writers[split].write(split_records)
                rows[split] += len(split_records)
            if progress:
                progress(read, total)
    finally:
        for writer in writers.values():
            writer.close()
    if not rows:
        skipped = f", {placer.skipped} left out for a missing video" if placer.skipped else ""
        raise ExportError(
            f"{build}: nothing to export for --split {config.split} (splits in the build: "
            f"{', '.join(sorted(splits_seen)) or 'none'}{skipped})"
        )
    files = {split: f"{split}{spec.container.suffix}" for split in sorted(writers)}
    name = data_set_name(build, config.name)
    types = {split: sorted(question_types[split]) for split in files}
    if spec.finish:
        spec.finish(Finished(staging, out, name, files, types))
    result = ExportResult(out, spec.name, dict(sorted(rows.items())), placer.skipped, placer.videos)
    _write_manifest(staging, config, spec, prompt, build, name, files, result)
    return result


def _export_row(
    row: dict, media: Media, ask: Callable[[str, list[str] | None, str], str], prompt: PromptChoice
) -> ExportRow:
    return ExportRow(
        id=row["id"],
        dataset=row["dataset"],
        scene_id=row["scene_id"],
        split=row["split"],
        question_type=row["question_type"],
        question=row["question"],
        options=row["options"],
        answer=row["answer"],
        prompt=ask(row["question"], row["options"], row["question_type"]),
        target=target_text(row["answer"], prompt),
        media=media,
    )


def _write_manifest(
    staging: Path,
    config: ExportConfig,
    spec: ExportFormat,
    prompt: PromptChoice,
    build: Path | str,
    name: str,
    files: dict[str, str],
    result: ExportResult,
) -> None:
    """export.json: what was exported from where, with which settings, so the folder explains itself."""
    manifest = {
        "format": spec.name,
        "build": str(build if is_url(build) else build.absolute()),
        "name": name,
        "files": files,
        "rows": result.rows,
        "skipped_missing_video": result.skipped,
        "videos": result.videos,
        "split": config.split,
        "prompt": prompt.value,
        "video_path": str(config.video_path),
        "copy_videos": config.copy_videos,
        "frames": config.frames,
        "frames_dir": str(config.frames_dir.absolute()) if config.frames_dir else None,
        "vsi_data_version": __version__,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


class MediaPlacer:
    """Each distinct video of the build, resolved once: checked, linked or copied into the export, or cut
    into frames, and written as the path the format records."""

    def __init__(self, spec: ExportFormat, config: ExportConfig, build: Path | str, staging: Path, out: Path):
        self.spec, self.config, self.build, self.staging, self.out = spec, config, build, staging, out
        self.relative = VideoPath(config.video_path) is VideoPath.relative
        self.place = self.relative or config.copy_videos
        frames_dir = Path(config.frames_dir).absolute() if config.frames_dir else out / "frames"
        # Frames inside --out are written into the staging folder, so they move with it.
        self.frames_final = frames_dir
        self.frames_written = staging / frames_dir.relative_to(out) if frames_dir.is_relative_to(out) else frames_dir
        self.cache: dict[str, Media | None] = {}
        self.skipped = 0

    @property
    def videos(self) -> int:
        return sum(media is not None for media in self.cache.values())

    def media(self, row: dict) -> Media | None:
        """The row's media, or None when its video is missing and --allow-missing-video leaves it out."""
        video = row["video"]
        if video is None:
            if self.spec.video_optional:
                return Media(None)
            return self._missing(
                f"{self.build}: question {row['id']} has no video (a --no-video build?); "
                f"the {self.spec.name} format needs one"
            )
        if video not in self.cache:
            source = child(self.build, video)
            self.cache[video] = self._resolve(source, row["dataset"], row["scene_id"]) if _found(source) else None
        media = self.cache[video]
        if media is None:
            return self._missing(f"{child(self.build, video)}: video file missing (question {row['id']})")
        return media

    def _missing(self, message: str) -> None:
        if not self.config.allow_missing_video:
            raise ExportError(f"{message}; pass --allow-missing-video to leave such questions out")
        self.skipped += 1
        return None

    def _path(self, final: Path) -> str:
        """How the export refers to a file that will be at `final`."""
        return Path(os.path.relpath(final, self.out)).as_posix() if self.relative else str(final)

    def _resolve(self, source: Path | str, dataset: str, scene_id: str) -> Media:
        """`source` (a path, or a URL in a build at a URL) as the export refers to it."""
        remote = isinstance(source, str)
        if self.config.frames is not None:
            return Media(None, frames=self._cut_frames(source, Path(dataset, scene_id)))
        if not self.place:
            if remote and not self.videos:  # said once, at the first video
                log.warning(
                    "%s: the rows name the build's videos by URL; most trainers open local files only (FFmpeg-based "
                    "readers also take http(s) URLs): --copy-videos or --frames N puts local files in the export",
                    self.build,
                )
            return Media(source if remote else str(source.resolve()))
        inside = Path(self.spec.video_dir, dataset, PurePosixPath(str(source)).name)
        target = self.staging / inside
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.config.copy_videos:
            try:
                copy_file(source, target)
            except OSError as exc:
                raise ExportError(f"{source}: cannot copy ({exc})") from None
        elif remote:
            raise ExportError(
                f"{self.build}: --video-path relative links the build's videos into --out, and a link cannot point "
                "at a URL; add --copy-videos to copy them there, or use --video-path absolute to name them by URL"
            )
        else:
            target.symlink_to(source.resolve())
        return Media(self._path(self.out / inside))

    def _cut_frames(self, source: Path | str, folder: Path) -> tuple[str, ...]:
        """`--frames` uniform frames as JPEGs at the video's size (sides rounded to 28-pixel cells, as every
        frame the toolkit hands a Qwen-VL model), named by their frame number."""
        from PIL import Image

        from vsi_data.video.sampler import PATCH, VideoReadError, sample_frames

        try:
            sampled = sample_frames(source, self.config.frames, min_pixels=PATCH * PATCH, max_pixels=1 << 40)
        except VideoReadError as exc:
            raise ExportError(str(exc)) from None
        paths = []
        for index, image in zip(sampled.indices.tolist(), sampled.images, strict=True):
            name = folder / f"{index:06d}.jpg"
            written = self.frames_written / name
            written.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(written, lambda tmp, image=image: Image.fromarray(image).save(tmp, format="JPEG", quality=95))
            paths.append(self._path(self.frames_final / name))
        return tuple(paths)

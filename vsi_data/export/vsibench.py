"""VSI-Bench's own test-file layout, so VSI-Bench tooling and `predict`/`eval` read a build as the benchmark.

Columns `id, dataset, scene_name, question_type, question, options, ground_truth` (nyu-visionx/VSI-Bench's
test parquet) plus `video`, the row's video (absolute, or relative to the file's folder; null where the
build has none, as for `--source vsibench-meta`: readers then look for `<root>/<dataset>/<scene_name>.mp4`,
the benchmark's own layout). Ids stay the build's strings. `--video-path relative` lays the videos out as
the benchmark does, `DIR/<dataset>/<scene_name>.mp4`. The prompt is not stored: readers build VSI-Bench's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsi_data.export.spec import ExportFormat, ExportRow, Parquet, PromptChoice

if TYPE_CHECKING:
    import pyarrow as pa


def schema(frames: bool) -> pa.Schema:
    """VSI-Bench's columns; `frames` is never set (the format takes videos only)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("dataset", pa.string()),
            ("scene_name", pa.string()),
            ("question_type", pa.string()),
            ("question", pa.string()),
            ("options", pa.list_(pa.string())),
            ("ground_truth", pa.string()),
            ("video", pa.string()),
        ]
    )


def record(row: ExportRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "dataset": row.dataset,
        "scene_name": row.scene_id,
        "question_type": row.question_type,
        "question": row.question,
        "options": row.options,
        "ground_truth": row.answer,
        "video": row.media.video,
    }


VSIBENCH = ExportFormat(
    name="vsibench",
    summary="DIR/<split>.parquet with VSI-Bench's test columns (+ video), read by predict/eval and VSI-Bench tools",
    container=Parquet(schema),
    record=record,
    prompts=(PromptChoice.vsibench,),
    default_prompt=PromptChoice.vsibench,
    video_dir="",
    frames=False,
    video_optional=True,
)

"""LLaVA-NeXT / LLaVA-Video SFT: one JSON list per split.

Each record is `{"id", "video", "conversations": [{"from": "human", "value": "<image>\\n…"}, {"from": "gpt",
"value": answer}]}`: LLaVA's trainer (llava/train/train.py, `LazySupervisedDataset`) reads a row with a
`video` key as a video, joins it to `--video_folder` (an absolute path stays as is) and keeps the `<image>`
placeholder for the sampled frames. With `--frames N` the record carries `"image": [N JPEGs]` and one
`<image>` per frame instead (LLaVA-OneVision's multi-image form).
"""

from __future__ import annotations

from typing import Any

from vsi_data.export.spec import ExportFormat, ExportRow, JsonArray

IMAGE_TOKEN = "<image>"


def record(row: ExportRow) -> dict[str, Any]:
    if row.media.frames is not None:
        placeholders, media = (IMAGE_TOKEN + "\n") * len(row.media.frames), {"image": list(row.media.frames)}
    else:
        placeholders, media = IMAGE_TOKEN + "\n", {"video": row.media.video}
    return {
        "id": row.id,
        **media,
        "conversations": [
            {"from": "human", "value": placeholders + row.prompt},
            {"from": "gpt", "value": row.target},
        ],
    }


LLAVA = ExportFormat(
    name="llava",
    summary="DIR/<split>.json: LLaVA-NeXT / LLaVA-Video SFT conversations with a video path",
    container=JsonArray(),
    record=record,
)

"""LLaMA-Factory: sharegpt-form JSON per split and the `dataset_info.json` that registers each split.

Records are `{"messages": [{"role": "user", "content": "<video>…"}, {"role": "assistant", "content": …}],
"videos": [path]}` (LLaMA-Factory's data/README.md, "Multimodal Video Dataset", and its `mllm_video_demo`
entry: `formatting: sharegpt`, columns `messages`/`videos`, role/content tags). Relative paths resolve
against `media_dir`, which defaults to `dataset_dir`, the export folder. With `--frames N` a video is the list
of its frames (`"videos": [[f1, …, fN]]`), which LLaMA-Factory's converter accepts as a processed video.
"""

from __future__ import annotations

import json
from typing import Any

from vsi_data.export.spec import ExportFormat, ExportRow, Finished, JsonArray, chat_messages, video_media

DATASET_INFO = "dataset_info.json"
TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}


def record(row: ExportRow) -> dict[str, Any]:
    return {"messages": chat_messages(row), "videos": [video_media(row)]}


def dataset_name(name: str, split: str) -> str:
    return f"vsi_data_{name}_{split}"


def write_dataset_info(done: Finished) -> None:
    info = {
        dataset_name(done.name, split): {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "videos": "videos"},
            "tags": TAGS,
        }
        for split, file_name in done.files.items()
    }
    (done.staging / DATASET_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


LLAMAFACTORY = ExportFormat(
    name="llamafactory",
    summary="DIR/<split>.json (sharegpt messages + videos) and DIR/dataset_info.json registering each split",
    container=JsonArray(),
    record=record,
    finish=write_dataset_info,
)

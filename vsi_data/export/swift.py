"""ms-swift: one JSON line per question, for SFT and GRPO alike.

`{"messages": [user "<video>…", assistant answer], "videos": [path], "solution": answer, "question_type": …,
"answer_options": …, "id": …}` (ms-swift docs, Customization/Custom-dataset.md: the standard `messages` format,
`videos` for multimodal rows; under GRPO the last assistant turn is dropped and every extra column, such as
`solution`, reaches the reward functions as a keyword argument). With `--frames N`, `"videos": [[f1, …, fN]]`
(the same page: video frames instead of a file, for Qwen2/2.5/3-VL).
"""

from __future__ import annotations

from typing import Any

from vsi_data.export.spec import ExportFormat, ExportRow, JsonLines, chat_messages, video_media


def record(row: ExportRow) -> dict[str, Any]:
    return {
        "messages": chat_messages(row),
        "videos": [video_media(row)],
        "solution": row.answer,
        "question_type": row.question_type,
        "answer_options": row.options,  # not `options`: ms-swift 4.6 reserves that key for its decision task
        "id": row.id,
    }


SWIFT = ExportFormat(
    name="swift",
    summary="DIR/<split>.jsonl: ms-swift messages + videos, plus solution, question_type, answer_options for rewards",
    container=JsonLines(),
    record=record,
)

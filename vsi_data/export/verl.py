"""verl's RL parquet, with EasyR1's keys beside it.

verl (docs/preparation/prepare_data.rst; verl/utils/dataset/rl_dataset.py) reads `data_source`, `prompt`
(chat messages whose `<video>` placeholder is replaced by the row's video), `videos` (one dict per
placeholder, qwen-vl-utils style: `{"video": path}`, or `{"video": [frame, …]}` for pre-extracted frames),
`ability`, `reward_model: {"style": "rule", "ground_truth": …}` and `extra_info`, which a custom
`compute_score(data_source, solution_str, ground_truth, extra_info)` receives: here the question type,
options and id, so a reward can score numbers with MRA and options by letter.

EasyR1 (verl/utils/dataset.py) takes a string prompt and a list of video paths under configurable keys; the
same file carries them as `problem` (the prompt with its `<video>` placeholder), `answer` and `video_paths`,
selected with `data.prompt_key=problem data.answer_key=answer data.video_key=video_paths`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsi_data.export.spec import ExportFormat, ExportRow, Parquet, video_media

if TYPE_CHECKING:
    import pyarrow as pa

ABILITY = "spatial_reasoning"


def schema(frames: bool) -> pa.Schema:
    import pyarrow as pa

    video = pa.list_(pa.string()) if frames else pa.string()
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(message)),
            ("videos", pa.list_(pa.struct([("video", video)]))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("id", pa.string()),
                        ("split", pa.string()),
                        ("question_type", pa.string()),
                        ("options", pa.list_(pa.string())),
                        ("dataset", pa.string()),
                        ("scene_id", pa.string()),
                    ]
                ),
            ),
            ("problem", pa.string()),
            ("answer", pa.string()),
            ("video_paths", pa.list_(video)),
        ]
    )


def record(row: ExportRow) -> dict[str, Any]:
    problem = "<video>" + row.prompt
    video = video_media(row)
    return {
        "data_source": f"vsi_data/{row.dataset}",
        "prompt": [{"role": "user", "content": problem}],
        "videos": [{"video": video}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": row.answer},
        "extra_info": {
            "id": row.id,
            "split": row.split,
            "question_type": row.question_type,
            "options": row.options,
            "dataset": row.dataset,
            "scene_id": row.scene_id,
        },
        "problem": problem,
        "answer": row.answer,
        "video_paths": [video],
    }


VERL = ExportFormat(
    name="verl",
    summary="DIR/<split>.parquet: verl RL rows (data_source, prompt, videos, ability, reward_model, extra_info) "
    "plus EasyR1's problem/answer/video_paths",
    container=Parquet(schema),
    record=record,
)

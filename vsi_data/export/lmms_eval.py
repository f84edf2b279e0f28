"""An lmms-eval task folder over the `vsibench` parquet, so a build is evaluated as VSI-Bench is.

Written beside the `vsibench` files: `DIR/vsi_data_<name>/` holds one task YAML per split,
`vsi_data_<name>_<split>.yaml`, and `utils.py` (a copy of `lmms_eval_utils.py`: VSI-Bench's prompt,
answer extraction and MRA). The YAML follows lmms-eval's vsibench task (`lmms_eval/tasks/vsibench/
_default_template_yaml`: generate_until, 16 new tokens, greedy) and loads the split's parquet with the
`parquet` builder (`dataset_kwargs.data_files`, lmms-eval's docs/guides/task_guide.md). `lmms-eval --tasks
vsi_data_<name>_<split> --include_path DIR` finds it; its metrics are the tasks the split has, per
relative-direction level, and overall, each 0..100 like `vsi-data eval`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from vsi_data.export.spec import Finished
from vsi_data.export.vsibench import VSIBENCH

UTILS_TEMPLATE = Path(__file__).with_name("lmms_eval_utils.py")  # copied as the task's utils.py


def task_folder(name: str) -> str:
    return f"vsi_data_{name}"


def task_name(name: str, split: str) -> str:
    return f"vsi_data_{name}_{split}"


def task_yaml(task: str, data_file: Path, question_types: list[str]) -> str:
    """The task's YAML; `!function` tags point into the folder's utils.py."""
    from vsi_data.export import lmms_eval_utils  # numpy; loaded when a task is written, not with the registry

    present = {"overall", *question_types}
    if any(t in lmms_eval_utils.REL_DIRECTION_LEVELS for t in question_types):
        present.add(lmms_eval_utils.REL_DIRECTION)
    metrics = "".join(
        f"  - metric: {metric}\n    aggregation: !function utils.aggregate_{metric}\n    higher_is_better: true\n"
        for metric in lmms_eval_utils.METRICS
        if metric in present
    )
    return (
        f"# Written by `vsi-data export --format lmms-eval`: VSI-Bench's evaluation of a vsi-data build.\n"
        f"task: {task}\n"
        f"dataset_path: parquet\n"
        f"dataset_kwargs:\n"
        f"  data_files:\n"
        f"    test: {json.dumps(str(data_file))}\n"
        f"test_split: test\n"
        f"output_type: generate_until\n"
        f"doc_to_visual: !function utils.doc_to_visual\n"
        f"doc_to_text: !function utils.doc_to_text\n"
        f"doc_to_messages: !function utils.doc_to_messages\n"
        f"doc_to_target: ground_truth\n"
        f"generation_kwargs:\n"
        f"  max_new_tokens: 16\n"
        f"  temperature: 0\n"
        f"  top_p: 1.0\n"
        f"  num_beams: 1\n"
        f"  do_sample: false\n"
        f"process_results: !function utils.process_results\n"
        f"metric_list:\n{metrics}"
        f"lmms_eval_specific_kwargs:\n"
        f"  default:\n"
        f"    pre_prompt: {json.dumps(lmms_eval_utils.PRE_PROMPT)}\n"
        f"    mca_post_prompt: {json.dumps(lmms_eval_utils.LETTER_POST_PROMPT)}\n"
        f"    na_post_prompt: {json.dumps(lmms_eval_utils.NUMERIC_POST_PROMPT)}\n"
        f"metadata:\n"
        f"  - version: 0.0\n"
    )


def write_task_folder(done: Finished) -> None:
    folder = done.staging / task_folder(done.name)
    folder.mkdir()
    shutil.copyfile(UTILS_TEMPLATE, folder / "utils.py")
    for split, file_name in done.files.items():
        task = task_name(done.name, split)
        text = task_yaml(task, done.out / file_name, done.question_types[split])
        (folder / f"{task}.yaml").write_text(text, encoding="utf-8")


LMMS_EVAL = replace(
    VSIBENCH,
    name="lmms-eval",
    summary="the vsibench parquet plus DIR/vsi_data_<name>/ (task YAML per split + utils.py) for lmms-eval",
    finish=write_task_folder,
)

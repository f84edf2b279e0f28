"""An lmms-eval task folder over the `vsibench` parquet, so a build is evaluated as VSI-Bench is.

Written beside the `vsibench` files: `DIR/vsi_data_<name>/` holds one task YAML per split,
`vsi_data_<name>_<split>.yaml`, and `utils.py` (`lmms_eval_utils.py` with vsi-data's prompt and scoring
code written in: VSI-Bench's prompt, answer extraction and MRA). The YAML follows lmms-eval's vsibench
task (`lmms_eval/tasks/vsibench/_default_template_yaml`: generate_until, 16 new tokens, greedy) and loads
the split's parquet with the `parquet` builder (`dataset_kwargs.data_files`, lmms-eval's
docs/guides/task_guide.md). `lmms-eval --tasks vsi_data_<name>_<split> --include_path DIR` finds it; its
metrics are the tasks the split has, each relative-direction level, and overall, 0..100 like `vsi-data eval`.
"""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from vsi_data.export.spec import Finished
from vsi_data.export.vsibench import VSIBENCH

UTILS_TEMPLATE = Path(__file__).with_name("lmms_eval_utils.py")  # written as the task's utils.py


INLINE_BEGIN, INLINE_END = "# vsi-data: inline begin\n", "# vsi-data: inline end\n"


def utils_source() -> str:
    """The task's utils.py: the template, its vsi-data imports replaced by their source (see its docstring)."""
    from vsi_data.export import lmms_eval_utils as template

    head, rest = UTILS_TEMPLATE.read_text(encoding="utf-8").split(INLINE_BEGIN)
    block, tail = rest.split(INLINE_END)
    roots = [alias.name for node in ast.parse(block).body for alias in node.names]
    constants, functions = _closure({name: getattr(template, name) for name in roots})
    lines = [f"{name} = {_literal(value)}" for name, value in constants.items()]
    code = "\n\n".join(inspect.getsource(function) for function in functions.values())
    return head + "\n".join(lines) + "\n\n\n" + code + "\n\n" + tail


def _closure(roots: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`roots` and every module-level name their functions use (defaults included), split into constants
    and functions; modules (numpy) and builtins are left to the template's own imports."""
    constants, functions, pending = {}, {}, list(roots.items())
    while pending:
        name, value = pending.pop()
        if name in constants or name in functions or isinstance(value, ModuleType):
            continue
        if not inspect.isfunction(value):
            constants[name] = value
            continue
        functions[name] = value
        pending += [(n, value.__globals__[n]) for n in sorted(_names_used(value)) if n in value.__globals__]
    return dict(sorted(constants.items())), dict(sorted(functions.items()))


def _names_used(function: Any) -> set[str]:
    """Names a function's code and default values use; annotations are left out (never evaluated here)."""
    tree = ast.parse(inspect.getsource(function))
    for node in list(ast.walk(tree)):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.FunctionDef):
            node.returns = None
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _literal(value: Any) -> str:
    """Python source that rebuilds `value` exactly and the same on every run (sets sorted, floats repr'd)."""
    import numpy as np

    if isinstance(value, frozenset | set):
        return f"frozenset({sorted(value)!r})"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, str | int | float | tuple):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in sorted(value.items())) + "}"
    raise TypeError(f"cannot write {type(value).__name__} constants into utils.py")


def task_folder(name: str) -> str:
    return f"vsi_data_{name}"


def task_name(name: str, split: str) -> str:
    return f"vsi_data_{name}_{split}"


def task_yaml(task: str, data_file: Path, question_types: list[str]) -> str:
    """The task's YAML; `!function` tags point into the folder's utils.py."""
    from vsi_data.export import lmms_eval_utils  # numpy; loaded when a task is written, not with the registry

    present = {"overall", *question_types}
    if any(t in lmms_eval_utils.REL_DIRECTION_LEVELS for t in question_types):
        present.add(lmms_eval_utils.REL_DIRECTION_TASK)
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
        f"metadata:\n"
        f"  - version: 0.0\n"
    )


def write_task_folder(done: Finished) -> None:
    folder = done.staging / task_folder(done.name)
    folder.mkdir()
    (folder / "utils.py").write_text(utils_source(), encoding="utf-8")
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

"""A new source and a new question type take what docs/architecture.md says they take: a folder (a module) and
one registration line each, templates and recipe settings aside; the source's own option (`--min-objects`, a
field of its config) reaches `build --help` and its parser with nothing else edited. The registrations are made
at run time here, in a fresh process, exactly as the lines in `sources/registry.py` and `question_types.py` would
make them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from vsi_data.output.shards import read_rows

TESTS = Path(__file__).resolve().parent
REGISTERED = f"""
import json, sys
sys.path.insert(0, {str(TESTS)!r})
import toy_source
from vsi_data import question_types
from vsi_data.question_types import QuestionType
from vsi_data.sources import registry

registry.DATASETS = (*registry.DATASETS, toy_source.SPEC)  # the source's line
question_types.QUESTION_TYPES["toy_categories"] = QuestionType(  # the question type's
    answer="number", task="toy_categories", place=8, generator="toy_question:CategoryCount"
)

from vsi_data.cli import app
from vsi_data.eval.scoring import TASK_ORDER
from vsi_data.prompts import NUMERIC_TYPES

print(json.dumps({{"tasks": TASK_ORDER, "numeric": "toy_categories" in NUMERIC_TYPES}}))
app(sys.argv[1:], prog_name="vsi-data")
"""
ROOMS = {  # label, centre, size (metres)
    "scene1": [["chair", [1, 1, 0.4], [0.5, 0.5, 0.8]], ["chair", [2, 1, 0.4], [0.5, 0.5, 0.8]],
               ["table", [1.5, 2, 0.4], [1.2, 0.8, 0.8]], ["sofa", [3, 3, 0.4], [2, 0.9, 0.8]]],
    "scene2": [["bed", [1, 1, 0.3], [2, 1.6, 0.6]], ["lamp", [3, 1, 0.8], [0.3, 0.3, 1.6]]],
}  # fmt: skip


def vsi_data(*args: str) -> subprocess.CompletedProcess:
    wide = {**os.environ, "COLUMNS": "400"}  # --help on one line per option
    return subprocess.run(
        [sys.executable, "-c", REGISTERED, *args], capture_output=True, text=True, check=False, env=wide
    )


def test_a_toy_source_and_a_toy_question_type_build_with_one_registration_each(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for scene, objects in ROOMS.items():
        (scans / f"{scene}.json").write_text(json.dumps({"room_m2": 12.5, "objects": objects}))
    templates = tmp_path / "templates.yaml"
    templates.write_text(
        textwrap.dedent("""\
            toy_categories:
              - id: toy-kinds
                text: "How many different kinds of object are in this room?"
            object_counting:
              - id: toy-count
                text: "How many {category}(s) are in this room?"
            """)
    )
    recipe = tmp_path / "toy.yaml"
    recipe.write_text(
        f"name: toy\nvocabulary: vsibench\ntemplates: {templates}\noptions: letters\n"
        "types:\n  toy_categories: {per_scene: 1}\n  object_counting: {per_scene: 6, min_count: 2}\n"
    )
    help_text = vsi_data("build", "--help")
    assert "|toy|" in help_text.stdout, help_text.stderr  # a --source choice
    assert "toy: a folder of <scene>.json files." in help_text.stdout  # its --root
    own = help_text.stdout[help_text.stdout.index("Options of one source") :]
    assert re.search(r"--min-objects +<int range> \[x>=0\] +toy: scenes with fewer objects are not listed\.", own)
    out = tmp_path / "out"
    args = ["build", "--source", "toy", "--root", str(scans), "--out", str(out), "--recipe", str(recipe),
            "--workers", "0", "--no-video", "--quiet", "--min-objects", "3"]  # fmt: skip
    result = vsi_data(*args)
    assert result.returncode == 0, result.stderr
    registered = json.loads(result.stdout.splitlines()[0])
    assert registered["tasks"][-1] == "toy_categories"  # its place in the score table
    assert registered["numeric"]  # scored by mean relative accuracy
    rows = sorted(read_rows(out).to_pylist(), key=lambda row: (row["scene_id"], row["question_type"]))
    asked = [(row["scene_id"], row["question_type"], row["answer"]) for row in rows]
    assert asked == [  # scene2 holds 2 objects: with --min-objects 3 the parser does not list it
        ("scene1", "object_counting", "2"),  # two chairs; one table and one sofa are not counted (min_count 2)
        ("scene1", "toy_categories", "3"),
    ]
    assert {row["dataset"] for row in rows} == {"toy"}
    assert json.loads((out / ".parts/build.json").read_text())["fingerprint"]["min_objects"] == 3  # a re-run resumes
    assert vsi_data(*args).returncode == 0
    assert vsi_data(*args[:-1], "2").returncode == 1  # another value: another build, refused

    elsewhere = vsi_data("build", "--source", "synthetic", "--out", str(tmp_path / "o2"), "--min-objects", "3")
    assert elsewhere.returncode == 1
    assert "--source synthetic does not take --min-objects (an option of --source toy)" in elsewhere.stderr


def test_without_the_registration_the_source_is_unknown(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vsi_data.cli", "build", "--source", "toy", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "'toy' is not one of" in result.stderr

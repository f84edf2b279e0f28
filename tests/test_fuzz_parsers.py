"""Seeded fuzzing of every scene parser (issue 17): a hand-made scene in the real format, one of its files
mutated the way downloads, converters and annotation tools break files, then parsed and asked about.

Whatever the mutation, a case must end in one of two ways: a `SceneError` whose message is one line starting with
a file of the scene, or a scene whose every answer is finite and within the recipe's physical bounds. Each parser's
cases run in a child process under a CPU-time limit per case (the kernel ends the child when a case spends more,
however loaded the machine is), so a hang is reported as the case that hung instead of stalling the suite. The
seeds make any failure replayable (`python -m pytest tests/test_fuzz_parsers.py -k scannet`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import shutil
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CASES = {"scannet": 100, "arkitscenes": 100, "scannetpp": 100, "vsibench-meta": 160}  # ~0.1 CPU s a mesh case
CASE_CPU_SECONDS = 20  # a case that spends more has hung (these small scenes parse in a fraction of a second)
WALL_LIMIT_S = 1800  # and the whole child, however loaded the machine, never runs longer than this
WEIRD_NUMBERS = [0, -1, 1e-9, 1e200, -1e300, 2**63, 2**64 + 7, float("nan"), float("inf"), 123456789.0, 0.001]
WEIRD_VALUES = [None, True, False, "", "chair", [], {}, [1, 2], {"x": 1}, *WEIRD_NUMBERS]
SIZE_TYPES = {"object_size_estimation"}
DISTANCE_TYPES = {"object_abs_distance"}


# --- the pristine scenes ------------------------------------------------------------------------------------------


def write_scannet(root: Path) -> None:
    from handmade import HANDMADE_ROOM, sens_bytes, write_handmade_scene, write_label_table

    write_label_table(root / "scannetv2-labels.combined.tsv")
    folder = write_handmade_scene(root / "scans", "scene0001_00", HANDMADE_ROOM)
    (folder / "scene0001_00.sens").write_bytes(sens_bytes(3))
    (root / "scannetv2_train.txt").write_text("scene0001_00\n")


def write_arkitscenes(root: Path) -> None:
    import handmade_arkit as hm

    hm.write_video(root / "3dod" / "Validation", "41000001", "Left")
    hm.write_metadata(root / "3dod" / "metadata.csv", {"41000001": "Left"})
    hm.write_split_csv(root / "3dod_train_val_splits.csv", {"41000001": "Validation"})


def write_scannetpp(root: Path) -> None:
    from handmade_scannetpp import write_handmade_scene, write_handmade_stream

    folder = write_handmade_scene(root / "data", "0a1b2c3d4e")
    write_handmade_stream(folder)
    (root / "splits").mkdir()
    (root / "splits" / "nvs_sem_train.txt").write_text("0a1b2c3d4e\n")


def write_vsibench_meta(root: Path) -> None:
    from handmade import HANDMADE_ROOM

    boxes: dict[str, list[dict]] = {}
    for box in HANDMADE_ROOM.boxes:
        corners = box.corners()
        boxes.setdefault(box.label, []).append(
            {"centroid": list(box.center), "axesLengths": list(box.extents),
             "normalizedAxes": box.rotation.T.reshape(-1).tolist(),
             "min": corners.min(axis=0).tolist(), "max": corners.max(axis=0).tolist()}
        )  # fmt: skip
    entry = {"dataset": "scannet", "room_size": 24.0, "object_counts": {k: len(v) for k, v in boxes.items()},
             "object_bbox": boxes}  # fmt: skip
    (root / "scannet_meta_info_val.json").write_text(json.dumps({"scene0001_00": entry}))


SOURCES: dict[str, Callable[[Path], None]] = {
    "scannet": write_scannet,
    "arkitscenes": write_arkitscenes,
    "scannetpp": write_scannetpp,
    "vsibench-meta": write_vsibench_meta,
}


# --- mutations ----------------------------------------------------------------------------------------------------


def _json_paths(value, path=()):
    """Every (path, value) inside a JSON document, containers included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:40]):  # long lists (segment ids): their head is enough
            yield from _json_paths(item, (*path, i))


def mutate_json(path: Path, rng: np.random.Generator) -> str:
    data = json.loads(path.read_text())
    paths = [p for p, _ in _json_paths(data) if p]
    target = paths[int(rng.integers(len(paths)))]
    parent = data
    for key in target[:-1]:
        parent = parent[key]
    action = int(rng.integers(4))
    if action == 0 and isinstance(parent, dict):
        del parent[target[-1]]
        what = "deleted"
    elif action == 1 and isinstance(parent[target[-1]], list) and parent[target[-1]]:
        parent[target[-1]] = parent[target[-1]] * int(rng.integers(2, 4))  # repeated entries
        what = "repeated"
    elif action == 2 and isinstance(parent[target[-1]], int | float) and not isinstance(parent[target[-1]], bool):
        parent[target[-1]] = parent[target[-1]] * float(rng.choice([1000.0, 0.001, -1.0, 1e150]))
        what = "rescaled"
    else:
        parent[target[-1]] = WEIRD_VALUES[int(rng.integers(len(WEIRD_VALUES)))]
        what = f"set to {parent[target[-1]]!r}"
    path.write_text(json.dumps(data))  # NaN and Infinity as JSON writers in the wild emit them
    return f"{path.name}{list(target)} {what}"


def mutate_ply(path: Path, rng: np.random.Generator) -> str:
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    header, body = raw[:end].decode(), raw[end:]
    action = int(rng.integers(5))
    if action == 0:
        count = int(rng.choice([0, 1, 10**12, 2**40, len(body) // 3]))
        header = re.sub(r"element vertex \d+", f"element vertex {count}", header)
        what = f"vertex count {count}"
    elif action == 1:
        header = header.replace("property float x", "property double x")
        what = "x declared double"
    elif action == 2:
        header = header.replace("binary_little_endian", str(rng.choice(["ascii", "binary_big_endian"])))
        what = "format changed"
    elif action == 3:
        vertices = np.frombuffer(body, dtype=np.uint8).copy()
        stride = 16 if "alpha" in header else 15  # float xyz, then uchar rgb(a)
        at = int(rng.integers(0, 500)) * stride
        value = np.float32(rng.choice([1e30, -3e38, np.nan, np.inf, 1e6, 7e3]))
        vertices[at : at + 4] = np.frombuffer(value.tobytes(), dtype=np.uint8)
        body = vertices.tobytes()
        what = f"a vertex coordinate set to {value}"
    else:
        body = body[: int(rng.integers(0, len(body)))]
        what = "truncated"
    path.write_bytes(header.encode() + body)
    return f"{path.name}: {what}"


def mutate_text(path: Path, rng: np.random.Generator) -> str:
    text = path.read_text()
    tokens = list(re.finditer(r"-?\d+(\.\d+)?(e-?\d+)?", text))
    action = int(rng.integers(3))
    if action == 0 and tokens:
        token = tokens[int(rng.integers(len(tokens)))]
        value = str(rng.choice(["1e200", "nan", "-inf", "-1", "0", "99999999999999999999", "x", "1e-300"]))
        path.write_text(text[: token.start()] + value + text[token.end() :])
        return f"{path.name}: {token.group()!r} → {value}"
    if action == 1:
        lines = text.splitlines()
        if lines:
            del lines[int(rng.integers(len(lines)))]
        path.write_text("\n".join(lines))
        return f"{path.name}: a line deleted"
    path.write_bytes(text.encode()[: int(rng.integers(len(text) + 1))] + b"\xff\xfe")
    return f"{path.name}: truncated, not UTF-8"


def mutate_bytes(path: Path, rng: np.random.Generator) -> str:
    raw = bytearray(path.read_bytes())
    if rng.random() < 0.5 and raw:
        cut = int(rng.integers(len(raw)))
        path.write_bytes(bytes(raw[:cut]))
        return f"{path.name}: truncated at {cut}"
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.integers(min(len(raw), 600))) if raw else 0
        if raw:
            raw[at] = int(rng.integers(256))
    path.write_bytes(bytes(raw))
    return f"{path.name}: bytes flipped near the start"


def mutate(root: Path, rng: np.random.Generator) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        return "no file left to break"
    path = files[int(rng.integers(len(files)))]
    if rng.random() < 0.08:
        path.unlink()
        return f"{path.name}: deleted"
    suffix = path.suffix
    if suffix == ".json":
        return mutate_json(path, rng)
    if suffix == ".ply":
        return mutate_ply(path, rng)
    if suffix in {".txt", ".traj", ".pincam", ".csv", ".tsv"}:
        return mutate_text(path, rng)
    return mutate_bytes(path, rng)


# --- one parser's cases, in a child process -------------------------------------------------------------------------


def run_cases(source_name: str, base: Path, seed: int, count: int, conn) -> None:
    """Child process: the pristine scene once (it must parse, and it loads the libraries), then each case's
    description before it runs and its outcome after, each under the CPU-time limit."""
    import signal

    from vsi_data.qa import generate_questions, load_recipe
    from vsi_data.registry import open_source
    from vsi_data.sources import SceneError

    # vsibench-meta carries VSI-Bench's own category names, which only the vsibench vocabulary maps.
    recipes = [
        load_recipe(name) for name in (("vsibench",) if source_name == "vsibench-meta" else ("vsi100k", "vsibench"))
    ]
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the timer's signal ends the process

    def answers_of(root: Path, recipe) -> tuple[list[tuple[str, float | None]], int]:
        path = root / "scannet_meta_info_val.json" if source_name == "vsibench-meta" else root
        source = open_source(source_name, path)
        refs = source.list_scenes()
        answers = []
        for ref in refs:
            scene = source.load(ref, recipe.parse_options(seed=0))
            questions = generate_questions(scene, recipe, seed=0, exhaustive=True, video=False)
            answers += [(q.question_type, q.answer_value) for q in questions]
        return answers, len(refs)

    pristine = base / "pristine"
    pristine.mkdir()
    SOURCES[source_name](pristine)
    conn.send(("pristine", -1, [answers_of(pristine, recipe)[0] for recipe in recipes]))
    for case in range(count):
        rng = np.random.default_rng([seed, case])
        root = base / f"case{case}"
        shutil.copytree(pristine, root)
        described = "; ".join(mutate(root, rng) for _ in range(1 + int(rng.random() < 0.2)))
        conn.send(("start", case, described))
        signal.setitimer(signal.ITIMER_PROF, CASE_CPU_SECONDS)
        try:
            outcome = ("ok", *answers_of(root, recipes[case % len(recipes)]))
        except SceneError as exc:
            outcome = ("error", str(exc), str(exc.path))
        except Exception:
            outcome = ("crash", traceback.format_exc())
        signal.setitimer(signal.ITIMER_PROF, 0)
        conn.send(("done", case, outcome))
        shutil.rmtree(root)
    conn.send(("finished", count, None))


def outside_bounds(answers: list[tuple[str, float | None]], bounds) -> list[tuple[str, float | None]]:
    """Answers that are not finite or that no plausible scene could give."""
    bad = []
    for question_type, value in answers:
        if value is None:
            continue
        limit = math.inf
        if question_type in SIZE_TYPES:
            limit = 100 * bounds.max_object_extent_m
            if value < 100 * bounds.min_object_extent_m - 0.5:
                bad.append((question_type, value))
        elif question_type in DISTANCE_TYPES:
            limit = math.sqrt(3) * bounds.max_room_extent_m
        elif question_type == "room_size_estimation":
            limit = bounds.max_room_area_m2
        if not math.isfinite(value) or value < 0 or value > limit:
            bad.append((question_type, value))
    return bad


@pytest.mark.parametrize("source_name", sorted(CASES))
@pytest.mark.slow
def test_fuzzed_scenes_fail_in_one_line_naming_a_file_or_answer_within_bounds(source_name, tmp_path):
    from vsi_data.qa import load_recipe

    bounds = load_recipe("vsibench").bounds
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    worker = context.Process(target=run_cases, args=(source_name, tmp_path, 17, CASES[source_name], child))
    worker.start()
    outcomes: dict[int, tuple] = {}
    described: dict[int, str] = {}
    current = None
    started = time.monotonic()
    try:
        while True:
            if not parent.poll(1.0):
                if not worker.is_alive():
                    hung = worker.exitcode == -signal.SIGPROF
                    what = f"spent more than {CASE_CPU_SECONDS} CPU seconds" if hung else f"exit {worker.exitcode}"
                    pytest.fail(f"{source_name} case {current} {what}: {described.get(current, 'the pristine scene')}")
                if time.monotonic() - started > WALL_LIMIT_S:
                    pytest.fail(f"{source_name}: no result after {WALL_LIMIT_S} s (case {current})")
                continue
            kind, case, payload = parent.recv()
            if kind == "finished":
                break
            if kind == "pristine":
                assert all(payload), "the unbroken scene gives questions under every recipe"
            elif kind == "start":
                current, described[case] = case, payload
            else:
                outcomes[case] = payload
    finally:
        worker.kill()
        worker.join()
    problems = []
    errors = 0
    for case, outcome in outcomes.items():
        where = f"case {case} ({described[case]})"
        if outcome[0] == "crash":
            problems.append(f"{where}: not a one-line SceneError:\n{outcome[1]}")
        elif outcome[0] == "error":
            errors += 1
            message, path = outcome[1], outcome[2]
            if "\n" in message or not path.startswith(str(tmp_path / f"case{case}")):
                problems.append(f"{where}: the error does not name a file of the scene: {message}")
        elif bad := outside_bounds(outcome[1], bounds):
            problems.append(f"{where}: answers outside the physical bounds: {bad[:5]}")
    assert not problems, "\n".join(problems)
    assert len(outcomes) == CASES[source_name]
    assert 0 < errors < len(outcomes)  # the mutations reach both the failing and the surviving paths

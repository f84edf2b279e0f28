"""`vsi-data build` end to end: synthetic scenes with video, resume, refusals, broken scenes, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import get_args, get_type_hints

import av
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from handmade import HANDMADE_ROOM, write_handmade_scene, write_label_table
from vsi_data.cli import app
from vsi_data.output.shards import SCHEMA, read_rows, row_bytes
from vsi_data.pipeline import BuildConfig

runner = CliRunner()


def build(*args: str):
    """In this process unless a test asks for workers: spawning them per small build only slows the suite."""
    return runner.invoke(app, ["build", *args, *([] if "--workers" in args else ["--workers", "0"])])


@pytest.fixture(scope="module")
def synthetic_build(tmp_path_factory):
    base = tmp_path_factory.mktemp("synthetic")
    out, scans = base / "out", base / "scans"
    args = [
        "--source",
        "synthetic",
        "--root",
        str(scans),
        "--out",
        str(out),
        "--scenes",
        "2",
        "--frames",
        "12",
        "--quiet",
    ]
    result = build(*args)
    assert result.exit_code == 0, result.output
    return out, args


def test_build_writes_shards_manifest_card_and_videos(synthetic_build):
    out, _ = synthetic_build
    rows = read_rows(out)
    assert rows.schema.equals(SCHEMA)
    assert rows.num_rows > 20
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == rows.num_rows
    assert manifest["scenes"]["built"] == 2
    assert manifest["scenes"]["with_video"] == 2
    assert manifest["per_type"] == {t: rows.column("question_type").to_pylist().count(t) for t in manifest["per_type"]}
    assert manifest["recipe"]["name"] == "vsi100k"
    assert manifest["seed"] == 0
    assert (out / "failures.jsonl").read_text() == ""
    assert (out / "README.md").read_text().startswith("---\nconfigs:")
    for meta in rows.column("meta").to_pylist():
        assert "template" in json.loads(meta)
    ids = rows.column("id").to_pylist()
    assert len(set(ids)) == len(ids)


def test_videos_hold_every_frame_at_640x480_24fps(synthetic_build):
    out, _ = synthetic_build
    videos = set(read_rows(out).column("video").to_pylist())
    assert len(videos) == 2
    for video in videos:
        with av.open(str(out / video)) as container:
            stream = container.streams.video[0]
            frames = list(container.decode(stream))
            assert (len(frames), stream.width, stream.height, stream.average_rate) == (12, 640, 480, 24)
        decord = pytest.importorskip("decord")
        reader = decord.VideoReader(str(out / video))
        assert len(reader) == 12
        assert reader[5].shape == (480, 640, 3)


def test_load_dataset_reads_the_output(synthetic_build, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    out, _ = synthetic_build
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    total = sum(len(split) for split in loaded.values())
    assert total == read_rows(out).num_rows
    assert set(loaded["train"].column_names) >= {"id", "question", "answer", "objects", "meta", "video"}


def test_shard_rows_cuts_a_build_into_full_shards_in_row_order_that_every_reader_sees(
    synthetic_build, tmp_path, monkeypatch
):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out, args = synthetic_build
    rows = read_rows(out)
    assert len(json.loads((out / "manifest.json").read_text())["shards"]["train"]) == 1
    small = tmp_path / "small"
    shutil.copytree(out, small)
    result = build(*[str(small) if a == str(out) else a for a in args], "--shard-rows", "7")
    assert result.exit_code == 0, result.output
    shards = json.loads((small / "manifest.json").read_text())["shards"]["train"]
    full, rest = divmod(rows.num_rows, 7)
    assert [pq.ParquetFile(small / name).metadata.num_rows for name in shards] == [7] * full + [rest] * (rest > 0)
    assert sorted(str(p.relative_to(small)) for p in (small / "data").iterdir()) == sorted(shards)
    assert read_rows(small).equals(rows)  # the same rows, in the same order, across the shards
    loaded = datasets.load_dataset(str(small), cache_dir=str(tmp_path / "cache"))
    assert loaded["train"]["id"] == rows.column("id").to_pylist()
    stats = runner.invoke(app, ["stats", str(small), "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["rows"] == rows.num_rows


def test_shard_bytes_cuts_a_build_into_more_shards_with_the_same_rows(synthetic_build, tmp_path):
    out, args = synthetic_build
    rows = read_rows(out)
    limit = int(row_bytes(rows)[:10].sum())
    small = tmp_path / "small"
    shutil.copytree(out, small)
    result = build(*[str(small) if a == str(out) else a for a in args], "--shard-bytes", str(limit))
    assert result.exit_code == 0, result.output
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["scenes"]["resumed"] == 2  # the shard size changes no row: the scenes are reused
    shards = manifest["shards"]["train"]
    assert len(shards) >= rows.num_rows // 10
    assert all(row_bytes(pq.read_table(small / name)).sum() <= limit for name in shards)
    assert read_rows(small).equals(rows)
    assert sorted(p.name for p in (small / "data").iterdir()) == sorted(Path(name).name for name in shards)


def test_stats_json_counts_equal_the_shards(synthetic_build):
    out, _ = synthetic_build
    result = runner.invoke(app, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = read_rows(out)
    assert report["rows"] == rows.num_rows
    assert sum(report["per_type"].values()) == rows.num_rows
    assert report["per_source"] == {"synthetic": rows.num_rows}


def test_rerun_resumes_and_equals_the_first_build(synthetic_build):
    out, args = synthetic_build
    before = read_rows(out)
    result = build(*args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["resumed"] == 2
    assert read_rows(out).equals(before)
    # A scene whose part is lost (a build killed mid-way) is rebuilt to the same rows.
    next((out / ".parts").glob("*.parquet")).unlink()
    assert build(*args).exit_code == 0
    assert read_rows(out).equals(before)


def test_changed_settings_are_refused_and_overwrite_starts_afresh(synthetic_build, tmp_path):
    out, args = synthetic_build
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    args = [a if a != str(out) else str(copy) for a in args]
    refused = build(*args, "--seed", "7")
    assert refused.exit_code == 1
    assert "different settings (--seed: 0 there, 7 here)" in refused.output
    again = build(*args, "--seed", "7", "--overwrite")
    assert again.exit_code == 0, again.output
    assert json.loads((copy / "manifest.json").read_text())["seed"] == 7


def _scannet_root_with_broken_scenes(root):
    write_label_table(root / "scannetv2-labels.combined.tsv")
    for i in range(3):
        write_handmade_scene(root / "scans", f"scene000{i}_00", HANDMADE_ROOM)
    (root / "scans/scene0001_00/scene0001_00.aggregation.json").unlink()
    (root / "scans/scene0002_00/scene0002_00.txt").write_text("axisAlignment = 1 0 0\n")


def test_broken_scenes_are_reported_and_the_rest_is_built(tmp_path):
    root, out = tmp_path / "scannet", tmp_path / "out"
    _scannet_root_with_broken_scenes(root)
    result = build("--source", "scannet", "--root", str(root), "--out", str(out), "--recipe", "vsibench", "--quiet")
    assert result.exit_code == 2, result.output
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [(f["scene_id"], f["source"]) for f in failures] == [
        ("scene0001_00", "scannet"),
        ("scene0002_00", "scannet"),
    ]
    assert "scene0001_00.aggregation.json: file is missing" in failures[0]["error"]
    assert "scene0002_00.txt: axisAlignment has 3 numbers, expected 16" in failures[1]["error"]
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene0000_00"}
    assert json.loads((out / "manifest.json").read_text())["scenes"]["failed"] == 2
    # Without split lists every scene is "train"; the rows say so.
    assert set(read_rows(out).column("split").to_pylist()) == {"train"}


def test_nothing_usable_exits_1(tmp_path):
    root, out = tmp_path / "scannet", tmp_path / "out"
    write_label_table(root / "scannetv2-labels.combined.tsv")
    write_handmade_scene(root / "scans", "scene0000_00", HANDMADE_ROOM)
    (root / "scans/scene0000_00/scene0000_00_vh_clean_2.ply").write_bytes(b"ply\nformat ascii 1.0\n")
    result = build("--source", "scannet", "--root", str(root), "--out", str(out), "--quiet")
    assert result.exit_code == 1
    assert "unreadable PLY" in (out / "failures.jsonl").read_text()


def test_a_split_without_scenes_is_explained(tmp_path):
    root, out = tmp_path / "scannet", tmp_path / "out"
    _scannet_root_with_broken_scenes(root)
    (root / "scannetv2_train.txt").write_text("scene0000_00\nscene0001_00\nscene0002_00\n")
    result = build("--source", "scannet", "--root", str(root), "--out", str(out), "--split", "val", "--quiet")
    assert result.exit_code == 1
    assert "3 scenes found (3 in split train), none to build in split val" in result.output


def test_split_lists_select_scenes(tmp_path):
    root, out = tmp_path / "scannet", tmp_path / "out"
    _scannet_root_with_broken_scenes(root)
    (root / "scannetv2_val.txt").write_text("scene0000_00\n")
    (root / "scannetv2_train.txt").write_text("scene0001_00\nscene0002_00\n")
    result = build("--source", "scannet", "--root", str(root), "--out", str(out), "--split", "val", "--quiet")
    assert result.exit_code == 0, result.output
    assert set(read_rows(out).column("split").to_pylist()) == {"val"}
    assert next(iter((out / "data").glob("*.parquet"))).name == "val-00000-of-00001.parquet"
    assert pq.read_metadata(out / "data/val-00000-of-00001.parquet").row_group(0).column(0).compression == "ZSTD"


def test_other_scans_of_a_benchmark_room_are_left_out_with_it(tmp_path):
    """VSI-Bench evaluates on scene0025_01; ScanNet scanned that room three times (scene0025_00 and _02 are the
    same furniture in the same room, in the same val split), so training on them leaks the benchmark's answers."""
    root, out = tmp_path / "scannet", tmp_path / "out"
    write_label_table(root / "scannetv2-labels.combined.tsv")
    scans = ["scene0025_00", "scene0025_01", "scene0025_02", "scene0026_00"]
    for scene_id in scans:
        write_handmade_scene(root / "scans", scene_id, HANDMADE_ROOM)
    (root / "scannetv2_val.txt").write_text("\n".join(scans) + "\n")
    result = build("--source", "scannet", "--root", str(root), "--out", str(out), "--split", "val", "--quiet")
    assert result.exit_code == 0, result.output
    assert set(read_rows(out).column("scene_id").to_pylist()) == {"scene0026_00"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"]["excluded_benchmark"] == 3
    assert manifest["excluded_benchmark_scenes"] == [f"scannet/{s}" for s in scans[:3]]
    record = json.loads((out / ".parts/build.json").read_text())
    del record["fingerprint"]["rows_revision"]  # as a build begun before would have it: holding the rescans
    (out / ".parts/build.json").write_text(json.dumps(record))
    refused = build("--source", "scannet", "--root", str(root), "--out", str(out), "--split", "val", "--quiet")
    assert refused.exit_code == 1
    assert "other scans of a VSI-Bench room are left out" in " ".join(refused.output.split())
    kept = build("--source", "scannet", "--root", str(root), "--out", str(tmp_path / "all"), "--split", "val",
                 "--allow-benchmark-scenes", "--quiet")  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert set(read_rows(tmp_path / "all").column("scene_id").to_pylist()) == set(scans)


def test_the_shipped_other_scans_of_benchmark_rooms_are_scannets(realdata):
    """Every scan in ScanNet's split lists of a VSI-Bench room (sceneXXXX), and nothing else, is shipped."""
    from vsi_data.benchmark import benchmark_rescans, benchmark_scenes

    lists = [realdata / f"scannet/meta/scannetv2_{split}.txt" for split in ("train", "val", "test")]
    scans = {line.strip() for path in lists for line in path.read_text().splitlines() if line.strip()}
    benchmark = {scene for dataset, scene in benchmark_scenes() if dataset == "scannet"}
    rooms = {scene.rsplit("_", 1)[0] for scene in benchmark}
    others = {scan for scan in scans if scan.rsplit("_", 1)[0] in rooms} - benchmark
    assert {scene for dataset, scene in benchmark_rescans() if dataset == "scannet"} == others
    assert len(others) == 119


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "scannet", "--out", "{tmp}/o"], "--source scannet needs --root"),
        (["--source", "scannet", "--root", "{tmp}/missing", "--out", "{tmp}/o"], "ScanNet root not found"),
        (["--source", "scannet", "--root", "{tmp}", "--out", "{tmp}/o"], "no scenes found"),
        (["--source", "synthetic", "--out", "{tmp}/o", "--scene-list", "{tmp}/none.txt"], "cannot read the scene list"),
        (["--source", "arkitscenes", "--root", "{tmp}", "--out", "{tmp}/o"], "ARKitScenes root not found"),
        (["--source", "arkitscenes", "--out", "{tmp}/o"], "--source arkitscenes needs --root"),
        (["--source", "synthetic", "--out", "{tmp}/o", "--recipe", "nope"], "unknown recipe 'nope'"),
        (["--source", "synthetic", "--out", "{tmp}/o", "--shard-bytes", "5 lots"], "--shard-bytes: '5 lots' is not"),
    ],
)
def test_cli_errors_are_one_clear_line(tmp_path, args, message):
    result = build(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_synthetic_scans_default_into_the_output_and_are_reused(tmp_path):
    out = tmp_path / "o"
    args = ["--source", "synthetic", "--out", str(out), "--frames", "0", "--scenes", "1", "--quiet"]
    assert build(*args).exit_code == 0
    marker = out / ".synthetic/scans/scene9000_00/.complete"
    written = marker.stat().st_mtime_ns
    assert build(*args, "--overwrite").exit_code == 0
    assert marker.stat().st_mtime_ns == written  # same seed and frames: not rendered again
    assert build(*args, "--overwrite", "--seed", "1").exit_code == 0
    assert marker.read_text() == "seed=1 frames=0 revision=2\n"


def test_out_folder_holding_something_else_is_refused(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "thesis.tex").write_text("precious")
    result = build("--source", "synthetic", "--out", str(tmp_path / "o"), "--frames", "0", "--scenes", "1")
    assert result.exit_code == 1
    assert "holds no vsi-data build" in result.output
    assert (tmp_path / "o" / "thesis.tex").read_text() == "precious"


def test_overwrite_never_deletes_a_folder_that_is_not_a_build(tmp_path):
    out = tmp_path / "o"
    (out / "data").mkdir(parents=True)
    (out / "data" / "important.csv").write_text("1,2,3")
    (out / "README.md").write_text("my notes")
    result = build("--source", "synthetic", "--out", str(out), "--frames", "0", "--scenes", "1", "--overwrite")
    assert result.exit_code == 1
    assert "holds no vsi-data build" in result.output
    assert (out / "data" / "important.csv").read_text() == "1,2,3"
    assert (out / "README.md").read_text() == "my notes"


def test_edited_vocabulary_is_a_different_build(tmp_path):
    vocab = tmp_path / "vocab.yaml"
    recipe = tmp_path / "recipe.yaml"
    vocab.write_text("sources:\n  scannet:\n    - {column: category, map: {bed: bed, chair: chair}}\n")
    recipe.write_text(f"vocabulary: {vocab}\ntemplates: vsibench\ntypes: {{object_counting: {{}}}}\n")
    args = ["--source", "synthetic", "--out", str(tmp_path / "o"), "--frames", "0", "--scenes", "1", "--recipe"]
    assert build(*args, str(recipe), "--quiet").exit_code == 0
    vocab.write_text("sources:\n  scannet:\n    - {column: category, map: {bed: bed}}\n")
    refused = build(*args, str(recipe), "--quiet")
    assert refused.exit_code == 1
    assert "different settings (the recipe's vocabulary file)" in refused.output


def test_stats_on_a_folder_that_is_not_a_dataset(tmp_path):
    result = runner.invoke(app, ["stats", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a vsi-data build output" in result.output


def test_big_builds_put_videos_in_buckets_and_every_reader_finds_them(synthetic_build, tmp_path, monkeypatch):
    """Past FLAT_VIDEOS_MAX scenes of a dataset, videos go to videos/<dataset>/<2 hex>/; rows carry the path, so
    eval, training and export read them unchanged; a resume keeps the layout the build started with."""
    from vsi_data.eval.items import load_items
    from vsi_data.export.run import ExportConfig, run_export
    from vsi_data.output import folder
    from vsi_data.train.data import load_training_rows

    flat, args = synthetic_build
    monkeypatch.setattr(folder, "FLAT_VIDEOS_MAX", 1)
    out = tmp_path / "big"
    result = build(*[str(out) if a == str(flat) else a for a in args])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    videos = sorted(set(rows.column("video").to_pylist()))
    assert len(videos) == 2
    for video in videos:
        _, dataset, bucket, name = video.split("/")
        assert (dataset, len(bucket), name.endswith(".mp4")) == ("synthetic", 2, True)
        assert (out / video).is_file()
        assert (out / video).with_suffix(".frames.parquet").is_file()
        assert (out / video).read_bytes() == (flat / "videos/synthetic" / name).read_bytes()
    assert rows.drop_columns(["video"]).equals(read_rows(flat).drop_columns(["video"]))
    assert {item.video for item in load_items(out)} == {out / v for v in videos}
    assert load_training_rows(out).num_rows == rows.num_rows
    exported = run_export(ExportConfig(out, "llava", tmp_path / "llava"))
    assert exported.videos == 2
    monkeypatch.undo()  # the next run would choose flat folders for 2 scenes, but resumes the build as it began
    result = build(*[str(out) if a == str(flat) else a for a in args])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["scenes"]["resumed"] == 2
    assert read_rows(out).equals(rows)


def test_a_build_recorded_before_buckets_keeps_its_flat_videos(synthetic_build, tmp_path, monkeypatch):
    from vsi_data.output import folder

    flat, args = synthetic_build
    old = tmp_path / "old"
    shutil.copytree(flat, old)
    record = json.loads((old / ".parts/build.json").read_text())
    del record["bucketed_videos"]
    (old / ".parts/build.json").write_text(json.dumps(record))
    monkeypatch.setattr(folder, "FLAT_VIDEOS_MAX", 1)
    result = build(*[str(old) if a == str(flat) else a for a in args])
    assert result.exit_code == 0, result.output
    assert read_rows(old).equals(read_rows(flat))
    assert sorted(p.name for p in (old / "videos/synthetic").iterdir() if p.is_dir()) == []


def test_a_recorded_config_reads_back_with_its_paths_as_paths():
    config = BuildConfig(source="scannet", out=Path("/o"), root=Path("/r"), source_options={"label_table": Path("/l")})
    recorded = json.loads(json.dumps(config.record()))
    assert recorded["source_options"] == {"label_table": "/l"}
    assert BuildConfig.from_record({**recorded, "a_setting_of_a_later_version": 1}) == config
    path_fields = {name for name, hint in get_type_hints(BuildConfig).items() if Path in (get_args(hint) or (hint,))}
    assert set(BuildConfig.PATHS) == path_fields


def test_a_config_recorded_by_0_2_0_reads_back_with_its_source_options():
    """0.2.0 recorded every source option as a setting of its own, for every source (a ScanNet build's manifest
    says synthetic_format: scannet)."""
    legacy = {"source": "scannet", "out": "/o", "root": "/r", "label_table": "/l", "synthetic_frames": None,
              "synthetic_format": "scannet", "seed": 3}  # fmt: skip
    assert BuildConfig.from_record(legacy).source_options == {"label_table": Path("/l")}
    legacy |= {"source": "synthetic", "label_table": None, "synthetic_frames": 24, "synthetic_format": "arkitscenes"}
    assert BuildConfig.from_record(legacy).source_options == {"frames": 24, "format": "arkitscenes"}


def test_the_fingerprint_records_source_options_as_0_2_0_did(tmp_path):
    """A re-run of a 0.2.0 build resumes only if its fingerprint is the same: the built-in sources' options keep
    their keys, for every source (None where the source does not take one), defaults included."""
    from vsi_data.pipeline import _fingerprint
    from vsi_data.qa import load_recipe

    recipe = load_recipe("vsi100k")
    synthetic = _fingerprint(BuildConfig(source="synthetic", out=tmp_path, source_options={"frames": 4}), recipe, None)
    assert {k: synthetic[k] for k in ("label_table", "synthetic_frames", "synthetic_format")} == {
        "label_table": None, "synthetic_frames": 4, "synthetic_format": "scannet"}  # fmt: skip
    table = tmp_path / "labels.tsv"
    scannet = BuildConfig(source="scannet", out=tmp_path, root=tmp_path, source_options={"label_table": table})
    recorded = _fingerprint(scannet, recipe, None)
    assert {k: recorded[k] for k in ("label_table", "synthetic_frames", "synthetic_format")} == {
        "label_table": str(table), "synthetic_frames": None, "synthetic_format": None}  # fmt: skip
    assert recorded.keys() - {"rows_revision"} == synthetic.keys()  # ScanNet's rows changed since 0.2.0


def test_an_option_of_another_source_is_one_line_and_writes_nothing(tmp_path):
    """Before: ignored, and --label-table even entered a synthetic build's fingerprint."""
    out = tmp_path / "o"
    result = build(
        "--source", "synthetic", "--out", str(out), "--label-table", str(tmp_path / "t.tsv"), "--frames", "0"
    )
    assert result.exit_code == 1
    assert (
        result.output.strip() == "error: --source synthetic does not take --label-table (an option of --source scannet)"
    )
    assert not out.exists()
    result = build("--source", "scannet", "--root", str(tmp_path), "--out", str(out), "--frames", "3",
                   "--synthetic-format", "scannetpp")  # fmt: skip
    assert "does not take --frames, --synthetic-format (options of --source synthetic)" in result.output

"""A build over a folder of good and broken scenes, for every scan format: each broken scene is reported
with one line naming its file, and every good scene is built."""

from __future__ import annotations

import json

import pytest

from vsi_data.output.shards import read_rows
from vsi_data.pipeline import BuildConfig, run_build
from vsi_data.synthetic.source import synthetic_format


def _break(folder, scene_id, source, how):
    """Damage one file of a written scene; returns the file name the error must name."""
    targets = {
        ("scannet", "missing"): f"{scene_id}.aggregation.json",
        ("scannet", "corrupt"): f"{scene_id}_vh_clean_2.0.010000.segs.json",
        ("arkitscenes", "missing"): f"{scene_id}_3dod_annotation.json",
        ("arkitscenes", "corrupt"): f"{scene_id}_3dod_annotation.json",
        ("scannetpp", "missing"): "scans/segments_anno.json",
        ("scannetpp", "corrupt"): "scans/segments.json",
    }
    path = folder / targets[(source, how)]
    if how == "missing":
        path.unlink()
    else:
        path.write_text('{"truncated": ')
    return path.name


@pytest.mark.parametrize("source", ["scannet", "arkitscenes", "scannetpp"])
def test_broken_scenes_are_reported_and_the_rest_is_built(tmp_path, source):
    root = tmp_path / source
    writer = synthetic_format(source)
    ids = [writer.scene_id(i) for i in range(4)]
    writer.prepare(root, {"train": ids}, seed=0)
    folders = [writer.write_scene(root, scene_id, "train", seed=0, num_frames=0).folder for scene_id in ids]
    broken = {
        ids[1]: _break(folders[1], ids[1], source, "missing"),
        ids[3]: _break(folders[3], ids[3], source, "corrupt"),
    }
    out = tmp_path / "out"
    result = run_build(BuildConfig(source=source, root=root, out=out, recipe="vsibench", quiet=True))
    assert result.exit_code == 2
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["scene_id"] for f in failures] == [ids[1], ids[3]]
    for failure in failures:
        assert failure["source"] == source
        assert broken[failure["scene_id"]] in failure["error"]
        assert "\n" not in failure["error"]
        assert "unexpected" not in failure["error"]  # a diagnosed input problem, not a crash
    assert sorted(set(read_rows(out).column("scene_id").to_pylist())) == [ids[0], ids[2]]
    assert result.manifest["scenes"] | {"built": 2, "failed": 2} == result.manifest["scenes"]

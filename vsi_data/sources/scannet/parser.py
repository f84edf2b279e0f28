"""ScanNet v2 parser: `scans/<scene>/` files → one `Scene` in the axis-aligned frame.

Reads the mesh, `segs.json` and `aggregation.json` (instances = groups of over-segments), applies
`axisAlignment` from `<scene>.txt`, maps raw labels through the label table and the recipe's vocabulary,
fits one oriented box per instance, measures the room from every mesh vertex, and indexes the `.sens`
stream when present. Any inconsistency fails the scene with a one-line `SceneError` naming the file.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cached_property
from pathlib import Path

import numpy as np

from vsi_data.scene import DepthStream, FrameStream, Scene, SceneObject
from vsi_data.sources.base import ParseOptions, SceneError, SceneRef, SceneSource, SplitInfo
from vsi_data.sources.common import (
    LeftOut,
    checked_stream,
    fit_object_box,
    measure_scene_room,
    release_folder,
    require_files,
    screen_objects,
)
from vsi_data.sources.scannet import SPEC, ScanNetConfig, formats
from vsi_data.sources.scannet.sens import SensFile
from vsi_data.vocabulary import normalize_label

SCENE_ID = re.compile(r"^scene\d{4}_\d{2}$")
LABEL_TABLE_NAME = "scannetv2-labels.combined.tsv"


class ScanNetSource(SceneSource):
    name = SPEC.name
    label_namespace = SPEC.label_namespace

    def __init__(self, config: ScanNetConfig) -> None:
        self.config = config
        self.scans_dir = release_folder(config.root, "scans", "ScanNet")
        self._search_dirs = [self.scans_dir.parent, self.scans_dir.parent / "meta", self.scans_dir]

    @cached_property
    def label_table_path(self) -> Path:
        if self.config.label_table is not None:
            return Path(self.config.label_table)
        for folder in self._search_dirs:
            if (folder / LABEL_TABLE_NAME).is_file():
                return folder / LABEL_TABLE_NAME
        raise SceneError(self.scans_dir.parent / LABEL_TABLE_NAME, "label table not found (pass --label-table)")

    @cached_property
    def label_table(self) -> dict[str, dict[str, str]]:
        return formats.read_label_table(self.label_table_path)

    @cached_property
    def splits(self) -> SplitInfo:
        for folder in self._search_dirs:
            by_scene = formats.read_split_lists(folder)
            if by_scene:
                return SplitInfo(by_scene)
        return SplitInfo()

    def list_scenes(self) -> list[SceneRef]:
        scene_dirs = sorted(p for p in self.scans_dir.iterdir() if p.is_dir() and SCENE_ID.match(p.name))
        return [SceneRef(p.name, self.splits.split_of(p.name), p, self.name) for p in scene_dirs]

    def check(self, options: ParseOptions) -> None:
        """The label table: found, readable, and holding the columns the recipe's vocabulary reads."""
        missing = options.vocabulary.columns(self.label_namespace) - set(next(iter(self.label_table.values())))
        if missing:
            raise SceneError(
                self.label_table_path,
                f"label table lacks columns {sorted(missing)}, which vocabulary {options.vocabulary.name!r} reads",
            )

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        self.check(options)
        files = formats.scene_files(ref.path, ref.scene_id)
        require_files(ref.path, files["mesh"], files["segs"], files["aggregation"], files["meta"])
        stats: Counter[str] = Counter()
        alignment = formats.parse_axis_alignment(formats.read_meta(files["meta"]), files["meta"])
        if alignment is None:  # test scans: the benchmark scripts treat a missing alignment as identity
            alignment = np.eye(4)
            stats["scenes_without_axis_alignment"] += 1
        vertices, _ = formats.read_mesh_vertices(files["mesh"])
        vertices = vertices @ alignment[:3, :3].T + alignment[:3, 3]
        room = measure_scene_room(vertices, ref.scene_id, options, files["mesh"])
        seg_indices = formats.read_segments(files["segs"], len(vertices))
        groups = formats.read_aggregation(files["aggregation"])
        left_out = LeftOut(stats)
        objects = self._objects(vertices, seg_indices, groups, files["aggregation"], options, left_out)
        objects = screen_objects(objects, options.bounds, files["aggregation"], left_out)
        left_out.log()
        frames = None
        if options.frames and files["sens"].is_file():
            frames = checked_stream(_frames(files["sens"], alignment), options.bounds, files["sens"], stats)
        return Scene(
            scene_id=ref.scene_id,
            dataset=self.name,
            split=ref.split,
            objects=objects,
            room=room,
            frames=frames,
            unreliable_categories=left_out.unreliable,
            stats=stats,
        )

    def _objects(self, vertices, seg_indices, groups, aggregation_path, options, left_out) -> list[SceneObject]:
        stats = left_out.stats
        table = _SegmentTable(seg_indices)
        group_of_seg = np.full(table.size, -1, dtype=np.int64)
        for g, group in enumerate(groups):
            segments = np.asarray(group["segments"], dtype=np.int64)
            pos = table.positions(segments)
            if np.any(pos < 0):
                raise SceneError(
                    aggregation_path,
                    f"object {group['object_id']} ({group['label']!r}) refers to segment "
                    f"{int(segments[pos < 0][0])}, which no mesh vertex has in segs.json",
                )
            taken = group_of_seg[pos] >= 0
            stats["segments_claimed_twice"] += int(np.count_nonzero(taken))
            group_of_seg[pos[~taken]] = g
        vertex_group = group_of_seg[table.vertex_positions]
        # A stable argsort of small integers is a radix sort in numpy: linear in the vertices.
        small = np.int16 if len(groups) < np.iinfo(np.int16).max else np.int64
        order = np.argsort(vertex_group.astype(small), kind="stable")
        bounds = np.searchsorted(vertex_group[order], np.arange(len(groups) + 1))
        objects = []
        for g, group in enumerate(groups):
            table_row = self.label_table.get(normalize_label(group["label"]))
            stats["labels_not_in_label_table"] += table_row is None
            category = options.vocabulary.categorize(self.label_namespace, group["label"], table_row)
            if category is None:
                stats["objects_outside_vocabulary"] += 1
                continue
            points = vertices[order[bounds[g] : bounds[g + 1]]]
            box = fit_object_box(points, options, aggregation_path, group, category, left_out)
            if box is not None:
                objects.append(
                    SceneObject(group["object_id"], category, group["label"], box, points.astype(np.float32))
                )
        return objects


class _SegmentTable:
    """Segment ids as positions in a table. ScanNet's ids are vertex indices, so a table as long as the largest
    id needs no sort (the ids themselves are the positions); ids far beyond the vertex count are renumbered
    densely (one sort) instead."""

    def __init__(self, seg_indices: np.ndarray) -> None:
        self.ids: np.ndarray | None = None
        if seg_indices.size and int(seg_indices.max()) >= 8 * seg_indices.size + 1024:
            self.ids, seg_indices = np.unique(seg_indices, return_inverse=True)
        self.vertex_positions = seg_indices
        self.size = int(seg_indices.max(initial=-1)) + 1
        self._present = np.zeros(self.size, dtype=bool)
        self._present[seg_indices] = True

    def positions(self, segments: np.ndarray) -> np.ndarray:
        """Each segment id's position, or -1 where no vertex has that id."""
        if self.ids is not None:
            pos = np.clip(np.searchsorted(self.ids, segments), 0, len(self.ids) - 1)
            return np.where(self.ids[pos] == segments, pos, -1)
        inside = (segments >= 0) & (segments < self.size)
        pos = np.where(inside, segments, 0)
        return np.where(inside & self._present[pos], pos, -1)


def _frames(sens_path: Path, alignment: np.ndarray) -> FrameStream:
    """The `.sens` stream: its video runs at VSI-Bench's 24 fps (frame i at i/24 s, though the sensor records at
    30 Hz), and its depth maps are registered to the colour camera's pose."""
    sens = SensFile(sens_path)
    header = sens.header
    with np.errstate(invalid="ignore"):  # -inf poses stay non-finite, which marks them invalid
        poses = np.einsum("ij,njk->nik", alignment, sens.poses)
    return FrameStream(
        poses=poses,
        timestamps=sens.timestamps_us.astype(np.float64) / 1e6,
        intrinsics=header.intrinsic_color[:3, :3].copy(),
        width=header.color_width,
        height=header.color_height,
        read_color=sens.read_color,
        color_pass=sens.iter_color,
        depth=DepthStream(
            header.intrinsic_depth[:3, :3].copy(), header.depth_width, header.depth_height, sens.read_depth
        ),
    )

"""ScanNet++ parser: `data/<scene>/` files → one `Scene` in the release's aligned frame (metres, z up).

Instances are the `segGroups` of `segments_anno.json`; an instance's vertices are those whose segment
(`segments.json`) the group lists. Its box is the annotated `obb` when there is one (VSI-Bench's ScanNet++ boxes
are these), otherwise one fitted to its vertices. Groups may share vertices (ScanNet++ allows multi-label
vertices); that changes no box and is counted. Free-text labels map through the recipe's vocabulary. The room
is measured from every mesh vertex; the iPhone stream, where present, gives the frames and its LiDAR the depth.
Any inconsistency fails the scene with a one-line `SceneError` naming the file.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cached_property
from itertools import chain
from pathlib import Path

import numpy as np

from vsi_data.geometry.boxes import OrientedBox
from vsi_data.geometry.plausibility import PhysicalBounds
from vsi_data.geometry.visibility import scale_intrinsics
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
from vsi_data.sources.scannetpp import SPEC, ScannetppConfig, formats
from vsi_data.sources.scannetpp.depth import DEPTH_HEIGHT, DEPTH_WIDTH, DepthReader


class ScannetppSource(SceneSource):
    name = SPEC.name
    label_namespace = SPEC.label_namespace

    def __init__(self, config: ScannetppConfig) -> None:
        self.config = config
        self.data_dir = release_folder(config.root, "data", "ScanNet++")

    @cached_property
    def splits(self) -> SplitInfo:
        return SplitInfo(formats.read_split_lists(self.data_dir.parent / "splits"))

    def list_scenes(self) -> list[SceneRef]:
        scene_dirs = sorted(p for p in self.data_dir.iterdir() if p.is_dir() and formats.SCENE_ID.match(p.name))
        return [SceneRef(p.name, self.splits.split_of(p.name), p, self.name) for p in scene_dirs]

    def size_hint(self, ref: SceneRef) -> int:
        """A scene's files live in sub-folders: the mesh, the video and the depth stream decide its time."""
        files = formats.scene_files(ref.path)
        return sum(files[k].stat().st_size for k in ("mesh", "video", "depth") if files[k].is_file())

    def load(self, ref: SceneRef, options: ParseOptions) -> Scene:
        files = formats.scene_files(ref.path)
        require_files(ref.path, files["mesh"], files["segments"], files["anno"])
        stats: Counter[str] = Counter()
        vertices, _ = formats.read_mesh_vertices(files["mesh"])
        room = measure_scene_room(vertices, ref.scene_id, options, files["mesh"])
        seg_indices = formats.read_segments(files["segments"], len(vertices))
        groups = formats.read_segments_anno(files["anno"])
        members, bounds = _group_members(seg_indices, groups, files["anno"], stats)
        left_out = LeftOut(stats)
        objects = []
        for g, group in enumerate(groups):
            points = vertices[members[bounds[g] : bounds[g + 1]]]
            obj = self._object(group, points, files["anno"], options, left_out)
            if obj is not None:
                objects.append(obj)
        objects = screen_objects(objects, options.bounds, files["anno"], left_out)
        left_out.log()
        has_stream = files["poses"].is_file() or files["video"].is_file()
        frames = None
        if options.frames and has_stream:
            frames = checked_stream(_frames(files, stats), options.bounds, files["poses"], stats)
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

    def _object(
        self, group: dict, points: np.ndarray, anno_path: Path, options: ParseOptions, left_out: LeftOut
    ) -> SceneObject | None:
        """The instance, or None when the vocabulary drops it or it cannot be measured (left out, counted)."""
        category = options.vocabulary.categorize(self.label_namespace, group["label"])
        if category is None:
            left_out.stats["objects_outside_vocabulary"] += 1
            return None
        box = group["obb"]
        if box is not None:
            left_out.stats["boxes_from_obb"] += 1
            check_obb_encloses(box, points, group, anno_path, options.bounds, left_out.stats)
        else:
            box = fit_object_box(points, options, anno_path, group, category, left_out)
            if box is None:
                return None
            left_out.stats["boxes_fitted"] += 1
        return SceneObject(
            group["object_id"], category, group["label"], box, points.astype(np.float32) if len(points) else None
        )


def check_obb_encloses(
    box: OrientedBox, points: np.ndarray, group: dict, anno_path: Path, bounds: PhysicalBounds, stats: Counter[str]
) -> None:
    """An annotated box must hold most of its object's mesh vertices: a mesh shifted against `segments_anno.json`
    (or an annotation of another scan) still parses, and its boxes would answer about the wrong places. Per the
    recipe (`plausibility.obb_mismatch`) the scene fails, naming the annotation, or the object is counted."""
    if not len(points):
        return
    enclosed = float(np.mean(box.contains(points, tol=bounds.obb_tolerance_m)))
    if enclosed >= bounds.obb_min_enclosed:
        return
    if bounds.obb_mismatch == "count":
        stats["obb_encloses_few_vertices"] += 1
        return
    raise SceneError(
        anno_path,
        f"object {group['object_id']} ({group['label']!r}): its obb holds {enclosed:.0%} of its {len(points)} mesh "
        f"vertices, less than plausibility.obb_min_enclosed {bounds.obb_min_enclosed:g} (does the mesh belong to "
        "this annotation?)",
    )


def _group_members(
    seg_indices: np.ndarray, groups: list[dict], anno_path: Path, stats: Counter[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Every group's vertex indices, concatenated in group order, and where each group's run starts and ends.

    One argsort puts each segment's vertices in a contiguous run; a group's vertices are its segments' runs
    laid end to end, gathered for all groups at once. A vertex may appear in several groups."""
    order = np.argsort(seg_indices, kind="stable")
    seg_ids, starts, counts = np.unique(seg_indices[order], return_index=True, return_counts=True)
    lengths = np.array([len(group["segments"]) for group in groups], dtype=np.int64)
    listed = np.fromiter(chain.from_iterable(g["segments"] for g in groups), dtype=np.int64, count=int(lengths.sum()))
    owner = np.repeat(np.arange(len(groups)), lengths)
    pos = np.clip(np.searchsorted(seg_ids, listed), 0, len(seg_ids) - 1)
    unknown = np.flatnonzero(seg_ids[pos] != listed)
    if len(unknown):
        group = groups[owner[unknown[0]]]
        raise SceneError(
            anno_path,
            f"object {group['object_id']} ({group['label']!r}) refers to segment {int(listed[unknown[0]])}, "
            "which no mesh vertex has in segments.json",
        )
    pairs = np.unique(owner * len(seg_ids) + pos)  # (group, segment) once each, in group order
    owner, pos = pairs // len(seg_ids), pairs % len(seg_ids)
    run = counts[pos]
    first = np.cumsum(run) - run  # where each segment's run lands in the output
    members = order[np.repeat(starts[pos] - first, run) + np.arange(int(run.sum()))]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, weights=run, minlength=len(groups)))]).astype(np.int64)
    shared = int(np.count_nonzero(np.bincount(members, minlength=len(seg_indices)) > 1))
    if shared:
        stats["vertices_in_several_groups"] += shared
    return members, bounds


def _frames(files: dict[str, Path], stats: Counter[str]) -> FrameStream:
    """The iPhone stream: frame i is the video's i-th frame, `frame_%06d` i of the pose file and depth frame i of
    `depth.bin` where there is one; the scene's video is that video as is, at its own rate."""
    video = formats.probe_video(files["video"])
    table = formats.read_pose_file(files["poses"], files["video"], video.frames)
    for key, value in (
        ("frames_without_pose", table.missing_entries + table.missing_poses),
        ("frames_with_other_intrinsics", table.other_intrinsics),  # the first frame's intrinsic is kept
        ("pose_file_keys_ignored", table.ignored_keys),
    ):
        if value:
            stats[key] += value
    with np.errstate(invalid="ignore"):  # NaN poses stay NaN, which marks them invalid
        poses = table.aligned_poses @ formats.ALIGNED_POSE_TO_OPENCV
    return FrameStream(
        poses=poses,
        timestamps=table.timestamps,
        intrinsics=table.intrinsic,
        width=video.width,
        height=video.height,
        read_color=formats.VideoReader(files["video"]),
        fps=video.fps,
        depth=_depth(files, video, table.intrinsic, stats) if files["depth"].is_file() else None,
        source_video=files["video"],
    )


def _depth(
    files: dict[str, Path], video: formats.VideoInfo, intrinsic: np.ndarray, stats: Counter[str]
) -> DepthStream | None:
    """`depth.bin`, taken as registered to the colour camera as ARKit delivers it: the colour intrinsics scaled to
    256×192 (unverified, docs/sources.md). A video of another aspect ratio cannot be so registered, so it gets no
    depth (`depth_aspect_differs_from_video`)."""
    if not math.isclose(video.width / video.height, DEPTH_WIDTH / DEPTH_HEIGHT, rel_tol=0.01):
        stats["depth_aspect_differs_from_video"] += 1
        return None
    return DepthStream(
        scale_intrinsics(intrinsic, (video.width, video.height), (DEPTH_WIDTH, DEPTH_HEIGHT)),
        DEPTH_WIDTH,
        DEPTH_HEIGHT,
        DepthReader(files["depth"], video.frames, files["video"]),
    )

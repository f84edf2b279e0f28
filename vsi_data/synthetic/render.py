"""Render the scan's RGB-D stream on the CPU with open3d ray casting.

The camera stands near the middle of the room at eye height, looks slightly down, and turns a full
circle while drifting on a small loop, so the walls and the furniture along them come into view one
after another. Each frame is ray cast once at the depth camera's resolution; the colour image is that
render shaded by surface normal and resized to the colour camera's size, with the colour intrinsics
scaled to match. `Cameras` holds one device's pair (ScanNet's Structure sensor, an iPhone's LiDAR).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import open3d as o3d
import shapely

from vsi_data.synthetic.layout import Layout

FOCAL_DEPTH = 575.0  # pixels at 640×480; ScanNet's depth camera is ~571-578
EYE_HEIGHT = 1.45
PITCH_DEG = -12.0
_LIGHT = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])


@dataclass(frozen=True)
class Cameras:
    depth_intrinsics: np.ndarray  # 3×3
    color_intrinsics: np.ndarray  # 3×3
    depth_size: tuple[int, int]  # width, height
    color_size: tuple[int, int]

    @classmethod
    def pinhole(cls, depth_size: tuple[int, int], color_size: tuple[int, int], focal_at_640: float) -> Cameras:
        """A depth camera of `depth_size` (focal length given for a 640-wide image, principal point at the
        centre) and a colour camera with the same field of view at `color_size`."""
        (dw, dh), (cw, ch) = depth_size, color_size
        focal = focal_at_640 * dw / 640
        depth = np.array([[focal, 0, (dw - 1) / 2], [0, focal, (dh - 1) / 2], [0, 0, 1]])
        sx, sy = cw / dw, ch / dh
        color = np.array(
            [
                [depth[0, 0] * sx, 0, (depth[0, 2] + 0.5) * sx - 0.5],
                [0, depth[1, 1] * sy, (depth[1, 2] + 0.5) * sy - 0.5],
                [0, 0, 1],
            ]
        )
        return cls(depth, color, depth_size, color_size)

    @classmethod
    def scannet_like(cls) -> Cameras:
        """ScanNet's Structure sensor: 640×480 depth, 1296×968 colour."""
        return cls.pinhole((640, 480), (1296, 968), FOCAL_DEPTH)

    @classmethod
    def iphone_like(cls, color_size: tuple[int, int] = (256, 192)) -> Cameras:
        """An iPhone's LiDAR stream (ARKitScenes `lowres_wide`, ScanNet++ iPhone): 256×192 depth; the wide
        camera's field of view (fx ≈ 212 px at 256 wide) at `color_size`."""
        return cls.pinhole((256, 192), color_size, 212.0 * 640 / 256)


def look_pose(position: np.ndarray, yaw: float, pitch_deg: float = PITCH_DEG) -> np.ndarray:
    """Camera-to-world of a camera at `position` looking along `yaw` (x right, y down, z forward)."""
    pitch = math.radians(pitch_deg)
    forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.column_stack([right, down, forward])
    pose[:3, 3] = position
    return pose


def camera_path(
    layout: Layout, num_frames: int, rng: np.random.Generator, start_yaw: float | None = None
) -> np.ndarray:
    """(N, 4, 4) camera-to-world poses in the room frame: one full counter-clockwise turn from a spot inside the
    room, starting at `start_yaw` (default: drawn from `rng`). Objects thus enter the view one after another, in
    the order of their bearing from the camera counted counter-clockwise from the start."""
    poly = layout.polygon
    anchor = poly.centroid if poly.buffer(-0.6).contains(poly.centroid) else poly.buffer(-0.6).representative_point()
    center = np.array([anchor.x, anchor.y])
    start = rng.uniform(0, 2 * math.pi)
    start = start if start_yaw is None else start_yaw
    phases = np.linspace(0, 2 * math.pi, num_frames, endpoint=False)
    poses = []
    for phase in phases:
        wobble = 0.25 * np.array([math.cos(phase), math.sin(phase)])
        xy = center + wobble if shapely.contains_xy(poly.buffer(-0.3), *(center + wobble)) else center
        position = np.array([*xy, EYE_HEIGHT + 0.05 * math.sin(3 * phase)])
        poses.append(look_pose(position, start + phase))
    return np.stack(poses)


class Renderer:
    def __init__(self, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, cameras: Cameras) -> None:
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
        corners = vertices[faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        shade = 0.55 + 0.45 * np.abs(normals @ _LIGHT)
        self.face_rgb = np.clip(colors[faces].mean(axis=1) * shade[:, None], 0, 255).astype(np.uint8)
        self.cameras = cameras

    def render(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB at colour size (uint8) and depth in metres at depth size (0 where nothing is hit)."""
        width, height = self.cameras.depth_size
        rays = self.scene.create_rays_pinhole(
            o3d.core.Tensor(self.cameras.depth_intrinsics),
            o3d.core.Tensor(np.linalg.inv(pose)),
            width,
            height,
        )
        hit = self.scene.cast_rays(rays)
        depth = hit["t_hit"].numpy()  # rays have unit camera-z, so t_hit is z-depth
        primitive = hit["primitive_ids"].numpy()
        missed = ~np.isfinite(depth)
        rgb = self.face_rgb[np.where(missed, 0, primitive)]
        rgb[missed] = 0
        depth = np.where(missed, 0.0, depth).astype(np.float32)
        return cv2.resize(rgb, self.cameras.color_size, interpolation=cv2.INTER_LINEAR), depth

    def frames(self, poses: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for pose in poses:
            yield self.render(pose)

"""A stand-in for transformers' Qwen2-VL video processor, for CPU machines without torchvision (tests only).

transformers' `Qwen2VLVideoProcessor` imports torchvision, which has no CPU build here. Its layout is simple
for frames that need no resizing: pairs of consecutive frames fill the two temporal slots of each 14×14
patch, patches ordered as the image processor orders them. This stub builds exactly that from the PIL
image processor (which fills both slots with the same frame), so the video code paths run end to end on a
CPU; `test_video_stub_is_the_image_layout_for_a_still_video` checks it against the image processor.
"""

from __future__ import annotations

import numpy as np
from transformers import BatchFeature


class FramePairVideoProcessor:
    merge_size = 2
    temporal_patch_size = 2

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor
        self.calls: list[dict] = []  # the keyword arguments of each call, for tests to read

    def __call__(self, videos, return_tensors=None, **kwargs) -> BatchFeature:
        self.calls.append(kwargs)
        pixels, grids = [], []
        for video in videos:
            frames = list(video)
            if len(frames) % 2:  # as transformers does: repeat the last frame to fill the last temporal patch
                frames.append(frames[-1])
            encoded = self.image_processor(images=frames, do_resize=False, return_tensors="np")
            _, rows, cols = encoded["image_grid_thw"][0]
            patch = self.image_processor.patch_size
            per_frame = encoded["pixel_values"].reshape(len(frames), rows * cols, 3, 2, patch, patch)
            paired = np.stack([per_frame[0::2, :, :, 0], per_frame[1::2, :, :, 1]], axis=3)
            pixels.append(paired.reshape(-1, 3 * 2 * patch * patch))
            grids.append([len(frames) // 2, rows, cols])
        data = {"pixel_values_videos": np.concatenate(pixels), "video_grid_thw": np.array(grids, dtype=np.int64)}
        return BatchFeature(data, tensor_type=return_tensors)


def with_video_stub(load_processor):
    """`load_processor` whose processors carry the stub as their video processor."""

    def load(path, frames=None):
        from vsi_data.models import FrameInput

        processor = load_processor(path, FrameInput.images)
        processor.video_processor = FramePairVideoProcessor(processor.image_processor)
        return processor

    return load

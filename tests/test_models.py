"""The tiny local Qwen2-VL and the prompt builders that training and prediction share."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vsi_data.prompts import BENCH_LETTER_INSTRUCTION, benchmark_prompt, is_multiple_choice, training_prompt

pytest.importorskip("transformers")


def test_benchmark_prompt_is_vsibench_wording():
    assert benchmark_prompt("How many chairs are in the room?", None) == (
        "These are frames of a video.\nHow many chairs are in the room?\n"
        "Please answer the question using a single word or phrase."
    )
    assert benchmark_prompt("Which is closest to the bed?", ["A. sofa", "B. lamp"]) == (
        "These are frames of a video.\nWhich is closest to the bed?\nOptions:\nA. sofa\nB. lamp\n"
        "Answer with the option's letter from the given choices directly."
    )


def test_a_question_type_may_ask_for_its_answer_its_own_way():
    registered = """
import json
from vsi_data import question_types
question_types.QUESTION_TYPES["toy_kinds"] = question_types.QuestionType(  # its registration line
    answer="number", task="toy_kinds", place=8, post_prompt="Answer with a whole number."
)
from vsi_data.prompts import benchmark_prompt
print(json.dumps([benchmark_prompt("How many kinds?", None, "toy_kinds"),
                  benchmark_prompt("How many kinds?", ["A. 2", "B. 3"], "toy_kinds")]))
"""
    result = subprocess.run([sys.executable, "-c", registered], capture_output=True, text=True, check=True)
    plain, lettered = json.loads(result.stdout)
    assert plain == "These are frames of a video.\nHow many kinds?\nAnswer with a whole number."
    assert lettered.endswith("B. 3\n" + BENCH_LETTER_INSTRUCTION)  # a letter is asked for, whatever the type
    for vsibench_type in ("object_counting", "object_rel_distance", "unknown_type", None):
        asked = benchmark_prompt("Q?", None, vsibench_type)
        assert asked.endswith("\nPlease answer the question using a single word or phrase.")


def test_training_prompt_modes():
    assert training_prompt("How big is the room?", None) == (
        "How big is the room?\nPlease provide the short answer with one or two words or a number."
    )
    think = training_prompt("Q?", ["A. x"], mode="think")
    assert think.startswith("Q?\nOptions:\nA. x\nPlease think step by step")
    assert think.endswith("in <answer> </answer>.")
    with pytest.raises(ValueError, match="shout"):
        training_prompt("Q?", None, mode="shout")
    assert is_multiple_choice("object_rel_direction_hard")
    assert not is_multiple_choice("object_counting")


def test_tiny_model_loads_and_generates_deterministically(tiny_model_dir):
    import torch
    from PIL import Image

    from vsi_data.models import load_model, load_processor

    processor, model = load_processor(tiny_model_dir), load_model(tiny_model_dir)
    assert sum(p.numel() for p in model.parameters()) < 200_000
    images = [Image.fromarray(np.full((56, 84, 3), 40 * i, dtype=np.uint8)) for i in range(2)]
    content = [{"type": "image"}, {"type": "image"}, {"type": "text", "text": benchmark_prompt("Count?", None)}]
    text = processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )
    assert text.count("<|image_pad|>") == 2
    assert text.endswith("<|im_start|>assistant\n")
    inputs = processor(text=[text], images=images, return_tensors="pt")
    # a 56×84 frame is 2×3 cells of 28 px: 6 image tokens each
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 6], [1, 4, 6]]
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == 12
    with torch.no_grad():
        first = model.generate(**inputs, max_new_tokens=4, do_sample=False)
        second = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert torch.equal(first, second)


def test_same_seed_same_weights(tiny_model_dir, tmp_path):
    from safetensors.numpy import load_file

    from vsi_data.models import build_tiny_qwen2vl

    again = load_file(build_tiny_qwen2vl(tmp_path / "again") / "model.safetensors")
    original = load_file(tiny_model_dir / "model.safetensors")
    assert again.keys() == original.keys()
    assert all(np.array_equal(again[k], original[k]) for k in original)


def test_missing_model_folder_is_named(tmp_path):
    from vsi_data.models import ModelLoadError, load_model, load_processor

    with pytest.raises(ModelLoadError, match="nowhere: model folder not found"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_processor(tmp_path / "empty")


def test_image_only_processor_keeps_the_pixel_budget_and_saves(tiny_model_dir, tmp_path):
    """Checkpoints written during training hold the processor; it must save without a video processor and
    reload with the checkpoint's pixel budget (the tiny model's 4..16 cells of 28 px)."""
    import shutil

    from vsi_data.models import TINY_MAX_PIXELS, TINY_MIN_PIXELS, load_processor

    processor = load_processor(tiny_model_dir)
    assert (processor.image_processor.size.shortest_edge, processor.image_processor.size.longest_edge) == (
        TINY_MIN_PIXELS,
        TINY_MAX_PIXELS,
    )
    saved = tmp_path / "checkpoint"
    processor.save_pretrained(saved)
    shutil.copy(tiny_model_dir / "config.json", saved / "config.json")
    again = load_processor(saved)
    assert again.image_processor.size.longest_edge == TINY_MAX_PIXELS
    assert again.tokenizer.chat_template == processor.tokenizer.chat_template


def test_video_stub_is_the_image_layout_for_a_still_video():
    """The tests' CPU stand-in for transformers' video processor (video_stub.py) against the image processor:
    a video of one frame shown twice has exactly that frame's image patches (the image processor fills both
    temporal slots with the frame), and two frames fill the slots in order."""
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from video_stub import FramePairVideoProcessor

    rng = np.random.default_rng(0)
    first, second = (Image.fromarray(rng.integers(0, 255, (56, 84, 3), dtype=np.uint8)) for _ in range(2))
    image_processor = Qwen2VLImageProcessorPil()
    stub = FramePairVideoProcessor(image_processor)
    still = stub([[first, first]], return_tensors="np")
    image = image_processor(images=[first], return_tensors="np")
    assert still["video_grid_thw"].tolist() == [[1, 4, 6]]
    assert np.array_equal(still["pixel_values_videos"], image["pixel_values"])
    moving = stub([[first, second]], return_tensors="np")["pixel_values_videos"].reshape(24, 3, 2, 14, 14)
    second_alone = image_processor(images=[second], return_tensors="np")["pixel_values"].reshape(24, 3, 2, 14, 14)
    assert np.array_equal(moving[:, :, 0], image["pixel_values"].reshape(24, 3, 2, 14, 14)[:, :, 0])
    assert np.array_equal(moving[:, :, 1], second_alone[:, :, 1])
    assert stub([[first, second, first]])["video_grid_thw"].tolist() == [[2, 4, 6]]  # odd: last frame repeated

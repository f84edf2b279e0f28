"""`VsiGRPOTrainer`: TRL 1.16's GRPOTrainer with the few changes a vsGRPO run needs, each as small as it can be.

- **Native video** (`frames.as: video`). TRL 1.16 passes images only: its prompt tokenisation collects image
  blocks, its forward passes slice `pixel_values` per image, and `pixel_values_videos` never reaches the model
  (trl#5373). Rows carrying `video_frames` are encoded here once per generation batch with the processor
  (`text` + `videos`); generation gets the whole batch's video tensors, and the policy, reference and loss
  forward passes get each row's share. The per-row tensors travel in the batch dict as lists, so TRL's own
  shuffling and splitting across gradient-accumulation steps keeps them with their rows. Overridden:
  `_generate_and_score_completions` (encode), `_tokenize_prompts` (hand the encoding to generation),
  `_get_per_token_logps_and_entropies` and `_compute_loss` (forward with the row's video). Image rows go
  through TRL unchanged.
- **LoRA dropout as the recipe says.** TRL's `disable_dropout` zeroes every `nn.Dropout` after PEFT has wrapped
  the model, LoRA's own included; the adapter's configured dropout is put back.
- **Resuming full fine-tuning** loads the checkpoint through `from_pretrained` (see `_load_from_checkpoint`).
- **A model card that names what was trained**: base model, recipe and data (TRL's says "fine-tuned version of
  None" for a local base model).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from vsi_data.models import FrameInput
from vsi_data.train.data import FRAME_COLUMNS

VIDEO_COLUMN = FRAME_COLUMNS[FrameInput.video]
# Per-video processor outputs that travel with their row; the pixel rows are split by each video's grid.
_PIXELS, _GRID = "pixel_values_videos", "video_grid_thw"
_VIDEO_TYPE = 2  # transformers' mm_token_type_ids: 0 text, 1 image, 2 video


class VsiGRPOTrainer(GRPOTrainer):
    def __init__(self, *args: Any, model_card: str | None = None, **kwargs: Any) -> None:
        self._videos: dict[str, list[torch.Tensor]] | None = None  # the rows being forwarded, in video mode
        self._video_prompts: tuple[list[list[int]], dict[str, Any]] | None = None  # for generation
        self.model_card_text = model_card
        super().__init__(*args, **kwargs)
        if self.args.disable_dropout:
            restore_lora_dropout(self.model)

    # --- native video ------------------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if VIDEO_COLUMN not in inputs[0]:
            return super()._generate_and_score_completions(inputs)
        prompt_ids, generation_fields, per_row = self._encode_videos(inputs)
        self._video_prompts = (prompt_ids, generation_fields)
        try:
            with self._forwarding(per_row):
                output = super()._generate_and_score_completions(inputs)
        finally:
            self._video_prompts = None
        return {**output, **per_row}

    def _tokenize_prompts(self, prompts: list):
        if self._video_prompts is None:
            return super()._tokenize_prompts(prompts)
        prompt_ids, generation_fields = self._video_prompts
        return prompt_ids, None, generation_fields

    def _compute_loss(self, model, inputs):
        if _PIXELS not in inputs:
            return super()._compute_loss(model, inputs)
        with self._forwarding({key: inputs[key] for key in (_PIXELS, _GRID)}):
            return super()._compute_loss(model, inputs)

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **image_inputs: Any,
    ):
        if self._videos is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **image_inputs,
            )
        # Video tokens sit in the prompt only; the completion part is text (vision tokens are never generated).
        token_types = (input_ids == self._video_pad_token_id).long() * _VIDEO_TYPE
        token_types[:, -logits_to_keep:] = 0
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            rows = slice(start, start + batch_size)
            model_inputs = {
                "input_ids": input_ids[rows],
                "attention_mask": attention_mask[rows],
                "mm_token_type_ids": token_types[rows],
                **{key: torch.cat(values[rows]) for key, values in self._videos.items()},
            }
            labels = model_inputs["input_ids"].masked_fill(model_inputs["attention_mask"] == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(outputs.entropy[:, -logits_to_keep:])
        # Qwen-VL models are dense: no mixture-of-experts balancing loss to return.
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None

    @contextmanager
    def _forwarding(self, videos: dict[str, list[torch.Tensor]]) -> Iterator[None]:
        """The rows' videos for the forward passes TRL runs inside this block (its calls pass image inputs only)."""
        self._videos = videos
        try:
            yield
        finally:
            self._videos = None

    def _encode_videos(self, inputs: list[dict[str, Any]]):
        """One processor call for the batch: unpadded prompt ids and the generation inputs for
        `generate`, and each row's own video tensors (lists, one entry per row) for the forward passes."""
        texts = [
            self.processing_class.apply_chat_template(
                row["prompt"], add_generation_prompt=True, tokenize=False, **self.chat_template_kwargs
            )
            for row in inputs
        ]
        encoded = self.processing_class(
            text=texts,
            videos=[row[VIDEO_COLUMN] for row in inputs],
            padding=True,
            return_tensors="pt",
            do_resize=False,  # frames are already patch-aligned inside the recipe's pixel budget
            do_sample_frames=False,  # and already sampled
        )
        keep = encoded["attention_mask"].bool()
        prompt_ids = [ids[mask].tolist() for ids, mask in zip(encoded["input_ids"], keep, strict=True)]
        token_types = [[_VIDEO_TYPE if token == self._video_pad_token_id else 0 for token in ids] for ids in prompt_ids]
        device = self.accelerator.device
        pixels, grids = encoded[_PIXELS].to(device), encoded[_GRID].to(device)
        generation_fields = {_PIXELS: pixels, _GRID: grids, "mm_token_type_ids": token_types}
        per_row = {
            _PIXELS: list(torch.split(pixels, grids.prod(-1).tolist())),
            _GRID: list(torch.split(grids, 1)),
        }
        return prompt_ids, generation_fields, per_row

    # --- checkpoints and the model card -------------------------------------------------------------------

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        """transformers 5.23 writes Qwen2-VL checkpoints under the released key names (`model.layers…`,
        `visual…`) but its resume path loads them with a plain non-strict `load_state_dict`, so every key
        misses and the run silently goes on from the initial weights. Reading the checkpoint through
        `from_pretrained` applies the key conversion; strict loading then proves every weight arrived.
        DeepSpeed, FSDP and PEFT runs resume through their own loaders."""
        from peft import PeftModel
        from transformers import AutoModelForImageTextToText

        model = model if model is not None else self.model
        if self.is_deepspeed_enabled or self.is_fsdp_enabled or isinstance(model, PeftModel):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        saved = AutoModelForImageTextToText.from_pretrained(resume_from_checkpoint, dtype=model.dtype)
        model.load_state_dict(saved.state_dict(), strict=True)
        return None

    def create_model_card(self, model_name=None, dataset_name=None, tags=None) -> None:
        """Our card (base model, recipe, data) where TRL writes its own: OUTPUT/README.md at each save."""
        if self.model_card_text is None:
            return super().create_model_card(model_name, dataset_name, tags)
        if self.is_world_process_zero():
            Path(self.args.output_dir, "README.md").write_text(self.model_card_text, encoding="utf-8")
        return None


def restore_lora_dropout(model) -> None:
    """Give every LoRA layer back the dropout of its adapter's config (TRL's `disable_dropout` zeroes it)."""
    from peft.tuners.lora import LoraLayer

    configs = getattr(model, "peft_config", None)
    if not configs:
        return
    for module in model.modules():
        if not isinstance(module, LoraLayer):
            continue
        for adapter, dropout in module.lora_dropout.items():
            if isinstance(dropout, torch.nn.Dropout):
                dropout.p = configs[adapter].lora_dropout

"""Inference in length-sorted, token-budgeted batches; outputs are returned in feature order.

Under DDP every process predicts every ``world``-th batch and the outputs are gathered, so each process ends
with all of them (every rank then scores the same predictions: early-stopping decisions agree).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from xstilts.formats.base import Features, FormatHandler, feature_lengths
from xstilts.models.loading import inference_attention
from xstilts.models.task_model import MultiTaskModel
from xstilts.training.batching import sorted_batches


@torch.no_grad()
def predict_logits(
    model: MultiTaskModel,
    task: str,
    handler: FormatHandler,
    features: Features,
    pad_id: int,
    device: torch.device | str = "cpu",
    max_tokens: int = 4096,  # measured: 4k-token batches run ~25 % faster than 16k on a 2-core CPU (cache)
    max_batch: int = 256,
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
    rank: int = 0,
    world: int = 1,
) -> list[torch.Tensor]:
    """Per-feature logits (one tensor per feature row, CPU fp32), in the order of ``features``."""
    was_training = model.training
    model.eval()
    lengths = feature_lengths(features)
    out: list[torch.Tensor | None] = [None] * len(lengths)
    with inference_attention(model):
        for idx in sorted_batches(lengths, max_tokens, max_batch)[rank::world]:
            rows = [{k: col[i] for k, col in features.items()} for i in idx]
            batch = {k: v.to(device) for k, v in handler.collate(rows, pad_id).items()}
            with autocast() if autocast else contextlib.nullcontext():
                logits = model(task, batch).float().cpu()
            for j, i in enumerate(idx):
                # Token-level outputs (B, L, ...) are cut back to the row's own length: padding never leaks out.
                out[i] = logits[j, : len(features["input_ids"][i])] if logits.dim() >= 3 else logits[j]
    model.train(was_training)
    if world > 1:
        from accelerate.utils import gather_object

        mine = [(i, t) for i, t in enumerate(out) if t is not None]
        for i, t in gather_object(mine):
            out[i] = t
    return out  # type: ignore[return-value]

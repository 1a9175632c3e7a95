"""One shared encoder with one head per task (single-task training is the one-head case)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, heads: dict[str, nn.Module] | None = None):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads or {})

    def add_head(self, task: str, head: nn.Module) -> None:
        """Add a task head; a head with ``tie_to(encoder)`` (the MLM head) is first tied to this encoder."""
        tie = getattr(head, "tie_to", None)
        if callable(tie):
            tie(self.encoder)
        self.heads[task] = head

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        return self.heads[task](hidden, batch)


def save_encoder(encoder, folder: Path) -> None:
    """The encoder alone, as a ``save_pretrained`` folder (safetensors): what the target phase loads.

    Heads are deliberately not saved here: intermediate → target passes the encoder only (Phang et al.).
    """
    folder.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(folder, safe_serialization=True)


def save_heads(model: MultiTaskModel, path: Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.heads.state_dict().items()}
    save_file(state, str(path))


def load_heads(model: MultiTaskModel, path: Path) -> None:
    model.heads.load_state_dict(load_file(str(path)))

"""Resumable training state: everything that determines the rest of a run — trainable weights, optimizer,
scheduler, sampler and batch-order state, RNG, best-so-far snapshot and counters — in one file, replaced
atomically, so a job killed at any moment resumes to the same result as an uninterrupted run (CPU).

Only trainable parameters are stored: frozen ones are rebuilt identically from the stage's inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FILE = "train_state.pt"


def save_state(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{FILE}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, folder / FILE)  # a kill mid-write leaves the previous checkpoint intact


def load_state(folder: Path | None) -> dict | None:
    if folder is None or not (folder / FILE).exists():
        return None
    return torch.load(folder / FILE, map_location="cpu", weights_only=True)


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # Frozen parameters never change, so snapshots only need the trainable ones.
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def restore_parameters(model: torch.nn.Module, values: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = set(values) - set(params)
    if missing:
        raise RuntimeError(f"checkpoint holds parameters the model lacks: {sorted(missing)[:5]}")
    with torch.no_grad():
        for name, value in values.items():
            params[name].copy_(value)

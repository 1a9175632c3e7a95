"""Head building blocks shared by formats."""

from __future__ import annotations

import torch
from torch import nn


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sequence representation: the first token (``cls``) or the mask-weighted mean (``mean``)."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    raise ValueError(f"unknown pooling {pooling!r} (cls, mean)")


class PooledHead(nn.Module):
    """pool → dense → tanh → dropout → linear, as RoBERTa's classification head (and jiant's)."""

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float, pooling: str):
        super().__init__()
        self.pooling = pooling
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_outputs)

    def forward(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = pool(hidden, batch["attention_mask"], self.pooling)
        x = self.dropout(torch.tanh(self.dense(self.dropout(x))))
        return self.out(x)


def pad_sequences(seqs: list[list[int]], pad: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out

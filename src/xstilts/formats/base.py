"""The contract between the generic training/evaluation code and one task format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from xstilts.tasks.spec import TaskSpec


@dataclass(frozen=True)
class FeatureSettings:
    """Everything besides data and tokenizer that determines the features (part of the cache key)."""

    max_seq_length: int = 256
    doc_stride: int = 128  # span QA / long-input windows
    max_query_length: int = 64
    long_input: str = "truncate"
    extra: dict = field(default_factory=dict)

    def key(self) -> dict:
        return {
            "max_seq_length": self.max_seq_length,
            "doc_stride": self.doc_stride,
            "max_query_length": self.max_query_length,
            "long_input": self.long_input,
            **self.extra,
        }


Features = dict[str, list]  # column name -> one value per feature row (Arrow-storable: ints, lists of ints)


def feature_lengths(features: Features) -> list[int]:
    """Tokens per feature row, for length-grouped batching: the ``length`` column when a format stores one
    (multiple choice: the longest of its K sequences), else the length of ``input_ids``."""
    if "length" in features:
        return list(features["length"])
    return [len(x) for x in features["input_ids"]]


class FormatHandler(Protocol):
    name: str
    #: columns collate() pads as token sequences
    sequence_columns: tuple[str, ...]

    def featurize(self, examples: list, tokenizer, spec: TaskSpec, settings: FeatureSettings) -> Features:
        """Tokenise; every row has ``input_ids`` and ``example_index`` (the example it came from)."""

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        """A fresh head: ``head(hidden_states, batch) -> logits``."""

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]: ...

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def decode(self, logits: list[torch.Tensor], features: Features, examples: list, spec: TaskSpec) -> list:
        """Example-level predictions (one per example, in example order) from per-feature logits."""

    def score(self, predictions: list, examples: list, spec: TaskSpec, language: str) -> dict[str, float]:
        """Official metrics (0–100) for one language; only called when the examples carry gold."""

    def write_predictions(self, predictions: list, examples: list, path: Path) -> None:
        """The XTREME submission format for this format."""

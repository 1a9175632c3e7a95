"""Single-text and text-pair classification (XNLI, PAWS-X, MNLI, SST-2, ChemProt, ContractNLI, PubMedQA...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from xstilts.data.records import TextExample
from xstilts.errors import DataError
from xstilts.formats.base import Features, FeatureSettings
from xstilts.formats.heads import PooledHead, pad_sequences
from xstilts.tasks.spec import TaskSpec

IGNORE = -100


class ClassificationFormat:
    name = "classification"
    sequence_columns = ("input_ids",)

    def featurize(
        self, examples: list[TextExample], tokenizer, spec: TaskSpec, settings: FeatureSettings
    ) -> Features:
        label_ids = {label: i for i, label in enumerate(spec.labels)}
        labels = []
        for ex in examples:
            if ex.label is None:
                labels.append(IGNORE)
            elif ex.label in label_ids:
                labels.append(label_ids[ex.label])
            else:
                raise DataError(
                    ex.origin or spec.name, f"label {ex.label!r} not in {list(spec.labels)}", field="label"
                )
        texts_a = [ex.text_a for ex in examples]
        texts_b = [ex.text_b or "" for ex in examples] if spec.pair else None
        if settings.long_input == "window":
            # Long first texts (e.g. contracts) become several windows; decode() averages their logits.
            enc = tokenizer(
                texts_a,
                texts_b,
                truncation="only_first" if spec.pair else True,
                max_length=settings.max_seq_length,
                stride=settings.doc_stride,
                return_overflowing_tokens=True,
            )
            owners = enc["overflow_to_sample_mapping"]
        else:
            enc = tokenizer(texts_a, texts_b, truncation=True, max_length=settings.max_seq_length)
            owners = range(len(examples))
        return {
            "input_ids": enc["input_ids"],
            "labels": [labels[i] for i in owners],
            "example_index": list(owners),
        }

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        return PooledHead(hidden_size, len(spec.labels), dropout, pooling)

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
        return {
            "input_ids": ids,
            "attention_mask": (ids != pad_id).long(),
            "labels": torch.tensor([r["labels"] for r in rows], dtype=torch.long),
        }

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, batch["labels"], ignore_index=IGNORE)

    def decode(
        self, logits: list[torch.Tensor], features: Features, examples: list, spec: TaskSpec
    ) -> list[str]:
        stacked = torch.stack(logits).float()
        owners = torch.as_tensor(features["example_index"])
        summed = torch.zeros(len(examples), stacked.shape[1]).index_add_(0, owners, stacked)
        return [spec.labels[i] for i in summed.argmax(1).tolist()]

    def score(
        self, predictions: list[str], examples: list[TextExample], spec: TaskSpec, language: str
    ) -> dict:
        from xstilts.metrics import accuracy, label_f1_scores

        gold = [ex.label for ex in examples]
        metrics = accuracy(gold, predictions)
        if spec.metric in ("micro_f1", "macro_f1"):
            metrics |= label_f1_scores(gold, predictions, spec.labels, spec.negative_label)
        elif spec.metric == "f1":  # binary (QQP, Overruling): F1 of the class that is not negative_label
            metrics["f1"] = label_f1_scores(gold, predictions, spec.labels, spec.negative_label)["micro_f1"]
        return metrics

    def write_predictions(self, predictions: list[str], examples: list, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{p}\n" for p in predictions), encoding="utf-8")

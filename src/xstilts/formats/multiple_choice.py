"""Multiple choice (CommonsenseQA, Cosmos QA, HellaSwag, MedMCQA, HEAD-QA, CaseHOLD).

Each example becomes K sequences ``(context + question, choice_k)`` encoded by the shared encoder; a head
scores every sequence with one number and the K scores of an example are its logits. One feature row per
example stores the K token lists. K may differ between examples (HEAD-QA keeps every answer, so its
``num_choices`` is the usual count, not a guarantee): a choice mask turns missing choices into ``-inf``.
"""

from __future__ import annotations

from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xstilts.data.records import ChoiceExample
from xstilts.errors import DataError
from xstilts.formats.base import Features, FeatureSettings
from xstilts.formats.heads import PooledHead, pad_sequences
from xstilts.tasks.spec import TaskSpec

IGNORE = -100


def _where(ex: ChoiceExample) -> str:
    return ex.origin or f"example {ex.id}"


def _check(ex: ChoiceExample) -> None:
    where = _where(ex)
    if len(ex.choices) < 2:
        raise DataError(where, f"needs at least 2 choices, has {len(ex.choices)}", field="choices")
    if ex.label is not None and not 0 <= ex.label < len(ex.choices):
        raise DataError(
            where, f"label {ex.label} is not a choice index (0..{len(ex.choices) - 1})", field="label"
        )


def _first_segment(ex: ChoiceExample) -> str:
    return " ".join(part for part in (ex.context, ex.question) if part)


def _fit(ids: list[int], sequence_ids: list[int | None], max_length: int, where: str) -> list[int]:
    """Cut a sequence longer than ``max_length`` by dropping tokens from the *start* of its first segment.

    The start, because the end of the first segment is the question (HellaSwag: the start of the ending
    sentence; CaseHOLD: the ``<HOLDING>`` mask), the part nearest the choice. The choice is never cut.
    """
    excess = len(ids) - max_length
    first = [k for k, s in enumerate(sequence_ids) if s == 0]  # contiguous in a pair template
    if len(first) < excess:
        raise DataError(
            where,
            f"a choice needs {len(ids) - len(first)} tokens with special tokens, more than max_seq_length "
            f"{max_length} allows; raise max_seq_length",
            field="choices",
        )
    return ids[: first[0]] + ids[first[0] + excess :]


def _choice_logits(scores: torch.Tensor, choice_mask: torch.Tensor) -> torch.Tensor:
    """(N,) scores of the real choices → (B, K_max) logits, ``-inf`` where an example has fewer choices."""
    if scores.numel() == choice_mask.numel():  # every example has K_max choices: a plain reshape, no scatter
        return scores.view(choice_mask.shape)
    return scores.new_full(choice_mask.shape, float("-inf")).masked_scatter(choice_mask, scores)


class MultipleChoiceHead(PooledHead):
    """jiant's multiple-choice head: the RoBERTa classification head with one output, scored per choice."""

    def __init__(self, hidden_size: int, dropout: float, pooling: str):
        super().__init__(hidden_size, 1, dropout, pooling)

    def forward(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return _choice_logits(super().forward(hidden, batch).squeeze(-1), batch["choice_mask"])


class MultipleChoiceFormat:
    name = "multiple_choice"
    sequence_columns = ("input_ids",)

    def featurize(
        self, examples: list[ChoiceExample], tokenizer, spec: TaskSpec, settings: FeatureSettings
    ) -> Features:
        for ex in examples:
            _check(ex)
        owners = [i for i, ex in enumerate(examples) for _ in ex.choices]
        firsts = [_first_segment(examples[i]) for i in owners]
        choices = [choice for ex in examples for choice in ex.choices]
        # No tokenizer truncation: it cuts the end of the first segment (the question); _fit cuts its start.
        enc = tokenizer(firsts, choices, verbose=False)
        limit = settings.max_seq_length
        flat = [
            ids if len(ids) <= limit else _fit(ids, enc.sequence_ids(n), limit, _where(examples[owners[n]]))
            for n, ids in enumerate(enc["input_ids"])
        ]
        bounds = [0, *accumulate(len(ex.choices) for ex in examples)]
        grouped = [flat[a:b] for a, b in pairwise(bounds)]
        return {
            "input_ids": grouped,
            "labels": [IGNORE if ex.label is None else ex.label for ex in examples],
            "example_index": list(range(len(examples))),
            # Padded tokens the row costs: K sequences padded to its longest. Length grouping and the
            # inference token budget (length × rows) then count the B×K sequences actually encoded.
            "length": [len(seqs) * max(map(len, seqs)) for seqs in grouped],
        }

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        return MultipleChoiceHead(hidden_size, dropout, pooling)

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        """``input_ids``/``attention_mask`` (N, L) over the N = ΣK real choices; ``labels`` and
        ``choice_mask`` (B, K_max) per example."""
        seqs = [seq for r in rows for seq in r["input_ids"]]
        counts = torch.tensor([len(r["input_ids"]) for r in rows])
        lengths = torch.tensor([len(s) for s in seqs])
        ids = pad_sequences(seqs, pad_id)
        return {
            "input_ids": ids,
            "attention_mask": (torch.arange(ids.shape[1]) < lengths[:, None]).long(),
            "choice_mask": torch.arange(int(counts.max())) < counts[:, None],
            "labels": torch.tensor([r["labels"] for r in rows], dtype=torch.long),
        }

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, batch["labels"], ignore_index=IGNORE)

    def decode(
        self, logits: list[torch.Tensor], features: Features, examples: list, spec: TaskSpec
    ) -> list[int]:
        predictions: list[int] = [0] * len(examples)
        for row, (scores, index) in enumerate(zip(logits, features["example_index"], strict=True)):
            # A row batched with wider examples carries -inf beyond its own K: cut back to its choices.
            predictions[index] = int(scores[: len(features["input_ids"][row])].argmax())
        return predictions

    def score(
        self, predictions: list[int], examples: list[ChoiceExample], spec: TaskSpec, language: str
    ) -> dict:
        from xstilts.metrics import accuracy

        return accuracy([ex.label for ex in examples], predictions)

    def write_predictions(self, predictions: list[int], examples: list, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{p}\n" for p in predictions), encoding="utf-8")

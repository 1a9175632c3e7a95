"""Extractive span QA, SQuAD style (XQuAD, MLQA, TyDiQA-GoldP, SQuAD 1.1/2.0, COVID-QA, PolicyQA, CUAD).

Question and context go through the fast tokenizer as a pair; a context longer than the window always becomes
several overlapping windows (``doc_stride`` overlapping tokens, as ``transformers``' ``run_qa.py``;
``long_input`` does not apply). Every context token keeps the exact character span it covers in the original
context, so answers are cut from the original text.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from xstilts.data.records import QAExample
from xstilts.errors import ConfigError
from xstilts.formats.base import Features, FeatureSettings
from xstilts.formats.heads import pad_sequences
from xstilts.metrics.official import (
    EXACT_MATCH,
    F1,
    QaGold,
    mlqa_normalize,
    mlqa_scores,
    squad_normalize,
    squad_scores,
)
from xstilts.tasks.spec import TaskSpec

NO_CONTEXT = -1  # char offset marker of question, special and surface-less tokens: never part of an answer
CLS = 0  # target of windows without the answer and of unanswerable questions


def allows_null_answer(spec: TaskSpec) -> bool:
    """Whether decoding may answer "" (SQuAD 2.0 null score); SQuAD 1.1-style tasks always answer."""
    return spec.unanswerable


class SpanHead(nn.Module):
    """One linear layer → (start, end) logit per token, as ``*ForQuestionAnswering`` (no dropout there)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.out(hidden)


# --- featurisation -----------------------------------------------------------------------------------------------


def _truncated_questions(questions: list[str], tokenizer, max_tokens: int) -> list[str]:
    """Questions cut to their first ``max_tokens`` tokens (the fast tokenizer can only truncate one side)."""
    # Leading whitespace only wastes window room (some SQuAD questions start with many spaces).
    questions = [q.lstrip() for q in questions]
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [
        q[: offsets[max_tokens - 1][1]] if len(offsets) > max_tokens else q
        for q, offsets in zip(questions, enc["offset_mapping"], strict=True)
    ]


class _BlankChars:
    """Characters invisible to the tokenizer: whitespace, or normalised to it or to nothing (BOM, RLM)."""

    def __init__(self, tokenizer):
        self._normalizer = tokenizer.backend_tokenizer.normalizer
        self._known: dict[str, bool] = {}

    def _blank(self, ch: str) -> bool:
        if ch not in self._known:
            normalised = self._normalizer.normalize_str(ch) if self._normalizer else ch
            self._known[ch] = not normalised.strip()
        return self._known[ch]

    def of(self, text: str) -> frozenset[str]:
        """The blank characters occurring in ``text`` (a set lookup per character beats a call per token)."""
        return frozenset(ch for ch in set(text) if self._blank(ch))


def _metaspace_id(tokenizer) -> int | None:
    """Id of the bare sentencepiece word marker ``▁``; None for tokenizers without one."""
    token_id = tokenizer.convert_tokens_to_ids("▁")
    return None if token_id == tokenizer.unk_token_id else token_id


def _context_offsets(
    offsets: list[tuple[int, int]],
    sequence_ids: list[int | None],
    input_ids: list[int],
    context: str,
    blanks: frozenset[str],
    metaspace: int | None,
) -> tuple[list[int], list[int]]:
    """Per token, the character span of its visible surface in ``context`` (``NO_CONTEXT`` for other tokens).

    Sentencepiece offsets of a word-initial ``▁piece`` include the preceding space (or BOM/RLM); they are
    stripped so that ``context[start:end]`` is exactly the piece's text. A bare ``▁`` has no surface (at the
    start of a context its offsets even cover the first character of the next piece).
    """
    starts, ends = [], []
    for (s, e), seq, token_id in zip(offsets, sequence_ids, input_ids, strict=True):
        if seq == 1 and token_id != metaspace:
            while s < e and context[s] in blanks:
                s += 1
            while e > s and context[e - 1] in blanks:
                e -= 1
            if s < e:
                starts.append(s)
                ends.append(e)
                continue
        starts.append(NO_CONTEXT)
        ends.append(NO_CONTEXT)
    return starts, ends


def _answer_chars(ex: QAExample, blanks: frozenset[str]) -> tuple[int, int] | None:
    """Character span of the first answer without invisible edges (training uses the first answer only)."""
    if ex.is_impossible or not ex.answers:
        return None
    start, end = ex.answers[0].start, ex.answers[0].start + len(ex.answers[0].text)
    while start < end and ex.context[start] in blanks:
        start += 1
    while end > start and ex.context[end - 1] in blanks:
        end -= 1
    return (start, end) if start < end else None


def _target(starts: list[int], ends: list[int], answer: tuple[int, int] | None) -> tuple[int, int]:
    """Token positions of the answer in this window; CLS when it has none or the window does not hold it all."""
    if answer is None:
        return CLS, CLS
    positions = [i for i, s in enumerate(starts) if s != NO_CONTEXT]
    if not positions or not (starts[positions[0]] <= answer[0] and answer[1] <= ends[positions[-1]]):
        return CLS, CLS
    # Last token starting at or before the answer start; first token ending at or after the answer end.
    token_starts = [starts[i] for i in positions]
    token_ends = [ends[i] for i in positions]
    return (
        positions[bisect_right(token_starts, answer[0]) - 1],
        positions[bisect_left(token_ends, answer[1])],
    )


# --- decoding ----------------------------------------------------------------------------------------------------


def _context_mask(char_starts: Sequence[list[int]], width: int) -> torch.Tensor:
    """(N, width) bool: which positions are context tokens. Built from one flat array, because a tensor per
    row from Python lists dominates decoding time."""
    lengths = np.fromiter(map(len, char_starts), dtype=np.int64, count=len(char_starts))
    flat = np.fromiter(chain.from_iterable(char_starts), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    mask = np.zeros((len(lengths), width), dtype=bool)
    mask[rows, cols] = flat != NO_CONTEXT
    return torch.from_numpy(mask)


def best_spans(
    logits: Sequence[torch.Tensor], char_starts: Sequence[list[int]], n_best: int, max_answer_length: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per feature: the best span's score, start and end token, and the null (CLS) score.

    Candidates are the top ``n_best`` starts × top ``n_best`` ends over context tokens with end ≥ start and at
    most ``max_answer_length`` tokens; a feature without any valid span scores ``-inf``.
    """
    padded = pad_sequence(list(logits), batch_first=True, padding_value=float("-inf")).float()  # (N, L, 2)
    masked = padded.masked_fill(~_context_mask(char_starts, padded.shape[1]).unsqueeze(-1), float("-inf"))
    k = min(n_best, masked.shape[1])
    start_scores, start_idx = masked[..., 0].topk(k, dim=1)
    end_scores, end_idx = masked[..., 1].topk(k, dim=1)
    scores = start_scores[:, :, None] + end_scores[:, None, :]  # (N, k, k)
    length = end_idx[:, None, :] - start_idx[:, :, None]
    valid = (length >= 0) & (length < max_answer_length) & scores.isfinite()
    best, flat = scores.masked_fill(~valid, float("-inf")).flatten(1).max(dim=1)
    starts = start_idx.gather(1, (flat // k)[:, None]).squeeze(1)
    ends = end_idx.gather(1, (flat % k)[:, None]).squeeze(1)
    null = padded[:, CLS, 0] + padded[:, CLS, 1]
    return best, starts, ends, null


# --- the format --------------------------------------------------------------------------------------------------


def cap_negative_windows(features: Features, n: int) -> Features:
    """Training features with at most ``n`` answerless windows (target = position 0) per question, the first in
    document order; every window holding the answer is kept."""
    negatives: dict[int, int] = {}
    keep = []
    for row, (owner, start) in enumerate(
        zip(features["example_index"], features["start_positions"], strict=True)
    ):
        if start == 0:
            negatives[owner] = negatives.get(owner, 0) + 1
            if negatives[owner] > n:
                continue
        keep.append(row)
    return {column: [values[i] for i in keep] for column, values in features.items()}


class SpanQAFormat:
    name = "span_qa"
    sequence_columns = ("input_ids",)
    n_best = 20  # start and end candidates per window
    max_answer_length = 30  # tokens

    def featurize(
        self, examples: list[QAExample], tokenizer, spec: TaskSpec, settings: FeatureSettings
    ) -> Features:
        room = (
            settings.max_seq_length
            - tokenizer.num_special_tokens_to_add(pair=True)
            - settings.max_query_length
        )
        if room <= settings.doc_stride:
            # Otherwise the tokenizer cannot advance a window past a long question.
            raise ConfigError(
                f"{spec.name}: max_seq_length {settings.max_seq_length} leaves {room} context tokens after a "
                f"{settings.max_query_length}-token question: must exceed doc_stride {settings.doc_stride}"
            )
        questions = _truncated_questions(
            [ex.question for ex in examples], tokenizer, settings.max_query_length
        )
        enc = tokenizer(
            questions,
            [ex.context for ex in examples],
            truncation="only_second",
            max_length=settings.max_seq_length,
            stride=settings.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        blank_chars, metaspace = _BlankChars(tokenizer), _metaspace_id(tokenizer)
        blanks = [blank_chars.of(ex.context) for ex in examples]
        answers = [_answer_chars(ex, b) for ex, b in zip(examples, blanks, strict=True)]
        features: Features = {
            "input_ids": enc["input_ids"],
            "example_index": list(enc["overflow_to_sample_mapping"]),
            "char_start": [],
            "char_end": [],
            "start_positions": [],
            "end_positions": [],
        }
        for f, owner in enumerate(features["example_index"]):
            starts, ends = _context_offsets(
                enc["offset_mapping"][f],
                enc.sequence_ids(f),
                enc["input_ids"][f],
                examples[owner].context,
                blanks[owner],
                metaspace,
            )
            start, end = _target(starts, ends, answers[owner])
            features["char_start"].append(starts)
            features["char_end"].append(ends)
            features["start_positions"].append(start)
            features["end_positions"].append(end)
        return features

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        return SpanHead(hidden_size)

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
        return {
            "input_ids": ids,
            "attention_mask": (ids != pad_id).long(),
            "start_positions": torch.tensor([r["start_positions"] for r in rows], dtype=torch.long),
            "end_positions": torch.tensor([r["end_positions"] for r in rows], dtype=torch.long),
        }

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # Padding is masked so a row's loss does not depend on the batch it was padded with.
        padding = batch["attention_mask"].eq(0).unsqueeze(-1)
        logits = logits.masked_fill(padding, torch.finfo(logits.dtype).min)
        width = logits.shape[1]  # positions past the sequence are clamped to it and ignored (transformers)
        start = batch["start_positions"].clamp(0, width)
        end = batch["end_positions"].clamp(0, width)
        ce = partial(nn.functional.cross_entropy, ignore_index=width)
        return (ce(logits[..., 0], start) + ce(logits[..., 1], end)) / 2

    def decode(
        self, logits: list[torch.Tensor], features: Features, examples: list[QAExample], spec: TaskSpec
    ) -> list[str]:
        if not logits:
            return [""] * len(examples)
        best, starts, ends, null = (
            t.tolist()
            for t in best_spans(logits, features["char_start"], self.n_best, self.max_answer_length)
        )
        span: list[tuple[float, int]] = [(float("-inf"), -1)] * len(examples)  # (score, feature) per example
        min_null = [float("inf")] * len(examples)
        for f, owner in enumerate(features["example_index"]):
            if best[f] > span[owner][0]:
                span[owner] = (best[f], f)
            min_null[owner] = min(min_null[owner], null[f])
        with_null = allows_null_answer(spec)
        answers = []
        for i, ex in enumerate(examples):
            score, f = span[i]
            # SQuAD 2.0: the smallest null score over the windows competes with the best span anywhere.
            if f < 0 or (with_null and min_null[i] > score):
                answers.append("")
            else:
                char_start = features["char_start"][f][starts[f]]
                char_end = features["char_end"][f][ends[f]]
                answers.append(ex.context[char_start:char_end])
        return answers

    def score(
        self, predictions: list[str], examples: list[QAExample], spec: TaskSpec, language: str
    ) -> dict[str, float]:
        """SQuAD v1.1 EM/F1 (MLQA: the MLQA scorer for ``language``) over answerable questions; unanswerable
        ones score as in the SQuAD 2.0 script: EM = F1 = 1 iff the prediction normalises to ""."""
        preds = {ex.id: p for ex, p in zip(examples, predictions, strict=True)}
        gold = [QaGold(ex.id, tuple(a.text for a in ex.answers)) for ex in examples if ex.answers]
        if spec.name == "mlqa":
            scorer, normalize = partial(mlqa_scores, lang=language), partial(mlqa_normalize, lang=language)
        else:
            scorer, normalize = squad_scores, squad_normalize
        scores = scorer(gold, preds) if gold else {}
        # squad_scores rejects an empty gold tuple and, given (""), would score a correct null F1 = 0.
        null_hits = sum(100.0 for ex in examples if not ex.answers and not normalize(preds[ex.id]))
        return {
            metric: (scores.get(metric, 0.0) * len(gold) + null_hits) / len(examples)
            for metric in (EXACT_MATCH, F1)
        }

    def write_predictions(self, predictions: list[str], examples: list[QAExample], path: Path) -> None:
        answers = {ex.id: p for ex, p in zip(examples, predictions, strict=True)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(answers, ensure_ascii=False, indent=1), encoding="utf-8")

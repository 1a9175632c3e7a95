"""Word-level tagging (UD-POS, PAN-X, NCBI-disease, BC5CDR, CCG).

Each word's tag sits on its first sub-token; the other sub-tokens and the special tokens carry ``IGNORE``.

Long sentences are split, never truncated (PROTOCOL pitfall 1): a sentence whose sub-tokens exceed the window
becomes several rows of whole words. Consecutive windows overlap by up to ``min(doc_stride, window // 2)``
sub-tokens, and ``decode`` predicts each word from the window where it has the most context on its poorer
side (SQuAD's max-context rule; a sentence boundary counts as unlimited context). XTREME splits without
overlap, which leaves the words next to each cut nearly context-free; the overlap costs extra rows only for
the rare sentences longer than the window.

Feature columns (all ints or lists of ints, so Arrow can store them):

* ``input_ids``: special tokens + the window's sub-tokens;
* ``labels``: the tag id on first sub-tokens, ``IGNORE`` elsewhere (and everywhere for unlabelled data);
* ``word_index``: the sentence-level word index on first sub-tokens, -1 elsewhere;
* ``example_index``: the example the row comes from;
* ``first_word``: the index of the row's first word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xstilts.data.records import TaggingExample
from xstilts.errors import DataError, ModelError
from xstilts.formats.base import Features, FeatureSettings
from xstilts.formats.heads import pad_sequences
from xstilts.metrics.official import tagging_scores
from xstilts.tasks.spec import TaskSpec

IGNORE = -100
NO_WORD = -1


def label_vocabulary(examples: Iterable[TaggingExample], spec: TaskSpec) -> tuple[str, ...]:
    """The task's tag set: ``spec.labels`` when declared, else (open sets such as CCG) every tag the examples
    use, sorted so the head's output order does not depend on data order.

    For an open set, pass every labelled example the phase featurises (train and dev): featurize() rejects a
    tag outside the set, and a dev-only tag merely adds an output the model never learns to predict.
    """
    if spec.labels:
        return tuple(spec.labels)
    tags = sorted({tag for ex in examples if ex.tags is not None for tag in ex.tags})
    if not tags:
        raise DataError(spec.name, "open label set, but no tagged examples to derive it from", field="labels")
    return tuple(tags)


def windows(lengths: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Word spans ``[start, end)`` of at most ``budget`` sub-tokens each (every length must be ≤ budget).

    Each window takes as many words as fit; the next one starts early enough to re-read up to ``overlap``
    sub-tokens of it, but at least one word later and early enough to reach past its end, so the spans cover
    every word, each adds new words, and the loop terminates.
    """
    if not lengths:
        return []
    spans = []
    start = 0
    while True:
        end, used = start, 0
        while end < len(lengths) and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        spans.append((start, end))
        if end == len(lengths):
            return spans
        nxt, reread = end, 0
        limit = min(overlap, budget - lengths[end])  # the next window must still reach word `end`
        while nxt - 1 > start and reread + lengths[nxt - 1] <= limit:
            nxt -= 1
            reread += lengths[nxt]
        start = nxt


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after one sequence (XLM-R: ``<s>`` … ``</s>``)."""
    enc = tokenizer(["x"], is_split_into_words=True)
    word_ids = enc.word_ids()
    first = word_ids.index(0)
    last = len(word_ids) - 1 - word_ids[::-1].index(0)
    return enc["input_ids"][:first], enc["input_ids"][last + 1 :]


def _word_pieces(
    ids: list[int], word_ids: list[int | None], n_words: int, placeholder: int, budget: int
) -> list[list[int]]:
    """Sub-token ids per word. A word that tokenises to nothing (an empty string, a control character) gets
    the single ``placeholder`` (the unk id), so every word owns a first sub-token and gets a prediction. A
    word longer than a whole window keeps its first ``budget`` sub-tokens: only the first one is labelled."""
    pieces: list[list[int]] = [[] for _ in range(n_words)]
    for token, word in zip(ids, word_ids, strict=True):
        pieces[word].append(token)
    return [p[:budget] if p else [placeholder] for p in pieces]


def _tag_ids(ex: TaggingExample, label_ids: dict[str, int]) -> list[int]:
    if ex.tags is None:
        return [IGNORE] * len(ex.tokens)
    where = ex.origin or ex.id
    if len(ex.tags) != len(ex.tokens):
        raise DataError(where, f"{len(ex.tags)} tags for {len(ex.tokens)} words", field="tags")
    ids = []
    for word, tag in enumerate(ex.tags):
        if tag not in label_ids:
            known = list(label_ids)
            preview = known if len(known) <= 20 else [*known[:20], "..."]
            raise DataError(
                where, f"tag {tag!r} of word {word} is not in the label set {preview}", field="tags"
            )
        ids.append(label_ids[tag])
    return ids


class TokenHead(nn.Module):
    """dropout → linear on every token's hidden state."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.out(self.dropout(hidden))


class TaggingFormat:
    name = "tagging"
    sequence_columns = ("input_ids", "labels")

    @staticmethod
    def _labels(spec: TaskSpec) -> tuple[str, ...]:
        if not spec.labels:
            raise ValueError(
                f"task {spec.name!r} has an open label set: pass a spec whose labels come from "
                "label_vocabulary(training examples, spec)"
            )
        return tuple(spec.labels)

    def featurize(
        self, examples: list[TaggingExample], tokenizer, spec: TaskSpec, settings: FeatureSettings
    ) -> Features:
        label_ids = {label: i for i, label in enumerate(self._labels(spec))}
        prefix, suffix = _special_tokens(tokenizer)
        budget = settings.max_seq_length - len(prefix) - len(suffix)
        if budget < 1:
            raise ValueError(f"max_seq_length {settings.max_seq_length} leaves no room for words")
        if tokenizer.unk_token_id is None:
            raise ModelError("tagging needs a tokenizer with an unk token (placeholder for empty words)")
        overlap = min(settings.doc_stride, budget // 2)
        # verbose=False: sentences longer than the model limit are expected here, they are split below.
        enc = tokenizer(
            [list(ex.tokens) for ex in examples],
            is_split_into_words=True,
            add_special_tokens=False,
            verbose=False,
        )
        features: Features = {
            k: [] for k in ("input_ids", "labels", "word_index", "example_index", "first_word")
        }
        for i, ex in enumerate(examples):
            pieces = _word_pieces(
                enc["input_ids"][i], enc.word_ids(i), len(ex.tokens), tokenizer.unk_token_id, budget
            )
            tags = _tag_ids(ex, label_ids)
            for start, end in windows([len(p) for p in pieces], budget, overlap):
                ids, labels, word_index = list(prefix), [IGNORE] * len(prefix), [NO_WORD] * len(prefix)
                for w in range(start, end):
                    rest = len(pieces[w]) - 1
                    ids += pieces[w]
                    labels += [tags[w]] + [IGNORE] * rest
                    word_index += [w] + [NO_WORD] * rest
                features["input_ids"].append(ids + suffix)
                features["labels"].append(labels + [IGNORE] * len(suffix))
                features["word_index"].append(word_index + [NO_WORD] * len(suffix))
                features["example_index"].append(i)
                features["first_word"].append(start)
        return features

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        return TokenHead(hidden_size, len(self._labels(spec)), dropout)

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
        return {
            "input_ids": ids,
            "attention_mask": (ids != pad_id).long(),
            "labels": pad_sequences([r["labels"] for r in rows], IGNORE),
        }

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["labels"].reshape(-1)
        summed = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels, ignore_index=IGNORE, reduction="sum"
        )
        # The mean over labelled tokens, but 0 rather than NaN for a batch without any (unlabelled rows).
        return summed / (labels != IGNORE).sum().clamp(min=1)

    def decode(
        self, logits: list[torch.Tensor], features: Features, examples: list[TaggingExample], spec: TaskSpec
    ) -> list[list[str]]:
        labels = self._labels(spec)
        if len(logits) != len(features["input_ids"]):
            raise ValueError(f"{len(logits)} logit rows for {len(features['input_ids'])} feature rows")
        # Per word: (context of the window it was taken from, predicted label id).
        chosen: list[list[tuple[float, int] | None]] = [[None] * len(ex.tokens) for ex in examples]
        for row, row_logits in enumerate(logits):
            word_index = features["word_index"][row]
            example = features["example_index"][row]
            if len(row_logits) != len(word_index):
                raise ValueError(f"row {row}: {len(row_logits)} logits for {len(word_index)} tokens")
            _choose(
                chosen[example], word_index, features["first_word"][row] == 0, row_logits.argmax(-1).tolist()
            )
        return [_restitched(slots, ex, labels) for slots, ex in zip(chosen, examples, strict=True)]

    def score(
        self, predictions: list[list[str]], examples: list[TaggingExample], spec: TaskSpec, language: str
    ) -> dict[str, float]:
        return tagging_scores([ex.tags for ex in examples], predictions)

    def write_predictions(
        self, predictions: list[list[str]], examples: list[TaggingExample], path: Path
    ) -> None:
        """One tag per line, a blank line between sentences, none after the last (XTREME layout)."""
        for tags, ex in zip(predictions, examples, strict=True):
            if not tags:  # an empty sentence cannot be written: the file would silently lose it
                raise DataError(ex.origin or ex.id, "sentence without words cannot be written as tag lines")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join("\n".join(tags) for tags in predictions) + "\n", encoding="utf-8")


def _choose(
    slots: list[tuple[float, int] | None], word_index: list[int], at_start: bool, predicted: list[int]
) -> None:
    """Offer one row's predictions; a word keeps the one from the row where its poorer side has the most
    context (sub-tokens to the window edge; unlimited at a sentence boundary). Ties keep the earlier row."""
    positions = [p for p, w in enumerate(word_index) if w != NO_WORD]
    if not positions:
        return
    at_end = word_index[positions[-1]] == len(slots) - 1
    for p in positions:
        word = word_index[p]
        if not 0 <= word < len(slots):
            raise ValueError(f"feature word index {word} outside a sentence of {len(slots)} words")
        context = min(math.inf if at_start else p, math.inf if at_end else len(word_index) - 1 - p)
        if slots[word] is None or context > slots[word][0]:
            slots[word] = (context, predicted[p])


def _restitched(
    slots: list[tuple[float, int] | None], ex: TaggingExample, labels: Sequence[str]
) -> list[str]:
    missing = [w for w, slot in enumerate(slots) if slot is None]
    if missing:
        raise ValueError(
            f"example {ex.id!r} ({ex.origin or 'no origin'}): words {missing[:10]} of {len(slots)} got no "
            "prediction (features and examples out of step, e.g. a stale feature cache?)"
        )
    return [labels[label] for _, label in slots]  # type: ignore[misc]

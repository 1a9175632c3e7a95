"""Masked language modelling on unlabelled text: the paper's *+MLM* arm and domain-adaptive MLM (DAPT).

Features: each document (a ``TextExample``; ``text_b``, when present, is appended on a new line) is tokenised
whole and cut into consecutive chunks of ``max_seq_length`` tokens including the special tokens, which every
chunk gets (the tokenizer's overflow: nothing is dropped, nothing overlaps; documents are never packed together).

Masking (BERT, Devlin et al. 2019): ``max(1, round(15 %))`` of a row's maskable tokens are chosen; of those,
80 % become the mask token, 10 % a random non-special token, 10 % stay as they are. Special tokens (CLS/SEP,
``<s>``/``</s>``, pad, unk, mask) are never chosen. Masking happens in :meth:`MLMFormat.collate`, per row, with a
``torch.Generator`` seeded from ``(mask_seed, stream_epoch, stream_seed)``:

* ``mask_seed`` is stored in the features (the row's index), so masks are a pure function of the data;
* ``stream_epoch`` / ``stream_seed`` are added to each row by the training stream (``TaskStream.next_batch``
  for handlers with ``stream_state = True``): every epoch re-masks the text (RoBERTa's dynamic masking) and
  each run seed masks differently, while a run stays reproducible and resumable (the masks follow from the
  stream's checkpointed state, not from a global RNG);
* evaluation rows carry neither, so dev masks are the same at every validation (a stable selection metric).

Precomputing masks at featurisation would give one static mask per row for every epoch and seed (and would put
the seed into the feature cache key); masking at collation costs microseconds per row.

Head: dense → GELU → LayerNorm → decoder whose weight **is** the encoder's input word-embedding matrix (tied
by :meth:`MLMHead.tie_to`, which :meth:`MultiTaskModel.add_head` calls) plus a fresh output bias. Frozen word
embeddings stay frozen: the decoder then uses them as they are and only the bias, dense and LayerNorm learn.
Only masked positions are projected onto the vocabulary: in training the head returns ``(n_masked, vocab)``
logits; in eval mode a per-token summary ``(batch, length, 3)`` = (is masked, prediction correct, gold-token
negative log-likelihood), which is what :func:`~xstilts.evaluation.predict.predict_logits` stores per row —
never a (length × vocab) matrix per row.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from xstilts.data.records import TextExample
from xstilts.errors import DataError, ModelError
from xstilts.formats.base import Features, FeatureSettings
from xstilts.formats.heads import pad_sequences
from xstilts.metrics.official import MLM_ACCURACY
from xstilts.tasks.spec import TaskSpec

IGNORE = -100
MASK_PROBABILITY = 0.15
MASK_TOKEN_SHARE = 0.8  # of the chosen tokens: → mask token
RANDOM_TOKEN_SHARE = 0.1  # → a random token; the remaining 10 % keep their token
MLM_LOSS = "mlm_loss"
MLM_PERPLEXITY = "mlm_perplexity"
_EVAL_CHUNK = 256  # masked positions projected onto the vocabulary at a time in eval mode (memory bound)


def row_generator(mask_seed: int, epoch: int = 0, seed: int = 0) -> torch.Generator:
    """The generator that masks one row: a pure function of (row seed, stream epoch, run seed)."""
    state = np.random.SeedSequence([int(mask_seed), int(epoch), int(seed)]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def mask_tokens(
    ids: torch.Tensor,
    special_ids: list[int] | tuple[int, ...],
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator,
    probability: float = MASK_PROBABILITY,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input ids, labels) for one unpadded row; labels are the original ids at the chosen positions
    and ``IGNORE`` elsewhere. Deterministic given the generator's state."""
    ids = ids.clone()
    labels = torch.full_like(ids, IGNORE)
    special = torch.as_tensor(sorted(set(special_ids)), dtype=ids.dtype)
    candidates = torch.nonzero(~torch.isin(ids, special)).flatten()
    n = len(candidates)
    if n == 0:
        return ids, labels
    k = max(1, int(probability * n + 0.5))  # BERT: max(1, round(n × 15 %))
    chosen = candidates[torch.randperm(n, generator=generator)[:k]]
    labels[chosen] = ids[chosen]
    u = torch.rand(k, generator=generator)
    ids[chosen[u < MASK_TOKEN_SHARE]] = mask_token_id
    swap = chosen[(u >= MASK_TOKEN_SHARE) & (u < MASK_TOKEN_SHARE + RANDOM_TOKEN_SHARE)]
    if len(swap):
        ids[swap] = random_tokens(len(swap), special, vocab_size, generator).to(ids.dtype)
    return ids, labels


def random_tokens(n: int, special: torch.Tensor, vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` ids drawn uniformly from ``[0, vocab_size)`` minus the special ids."""
    below = special[special < vocab_size].tolist()
    draws = torch.randint(0, vocab_size - len(below), (n,), generator=generator)
    for s in below:  # ascending: shift every draw at or past a special id one up (the k-th non-special id)
        draws += (draws >= s).long()
    return draws


class MLMHead(nn.Module):
    """dense → GELU → LayerNorm → tied decoder (BERT/RoBERTa's LM head). Call :meth:`tie_to` before use."""

    def __init__(self, hidden_size: int, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.hidden_size = hidden_size
        self.dense = nn.Linear(hidden_size, hidden_size)
        # named LayerNorm as in BERT: the optimizer keeps it out of weight decay by that name
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.register_parameter("bias", None)  # vocabulary-sized; created by tie_to
        # The embedding module is held outside the module tree (a tuple), so the shared matrix is neither a head
        # parameter nor in the heads' state dict: the encoder owns and saves it, the optimizer sees it once.
        self._tied: tuple[nn.Embedding, ...] = ()

    def tie_to(self, encoder: nn.Module) -> None:
        embeddings = encoder.get_input_embeddings()
        if embeddings.embedding_dim != self.hidden_size:
            raise ModelError(
                f"MLM head of width {self.hidden_size} cannot tie to word embeddings of width "
                f"{embeddings.embedding_dim}"
            )
        self._tied = (embeddings,)
        eps = getattr(getattr(encoder, "config", None), "layer_norm_eps", None)
        if eps:
            self.LayerNorm.eps = eps  # the encoder's own (BERT 1e-12, XLM-R 1e-5)
        if self.bias is None or self.bias.shape[0] != embeddings.num_embeddings:
            self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings, device=embeddings.weight.device))

    @property
    def decoder_weight(self) -> torch.Tensor:
        """The encoder's word-embedding matrix itself (same Parameter, same storage)."""
        if not self._tied:
            raise ModelError(
                "the MLM head is not tied to an encoder: add it with MultiTaskModel.add_head (or call tie_to)"
            )
        return self._tied[0].weight

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.LayerNorm(nn.functional.gelu(self.dense(hidden)))
        weight = self.decoder_weight
        return nn.functional.linear(x.to(weight.dtype), weight, self.bias.to(weight.dtype))

    def forward(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["labels"]
        selected = labels != IGNORE
        if self.training:  # (n_masked, vocab), masked positions in row-major order (as loss() reads labels)
            return self._logits(hidden[selected])
        summary = torch.zeros(*labels.shape, 3, device=hidden.device)
        picked, gold = hidden[selected], labels[selected]
        rows = []
        for start in range(0, len(gold), _EVAL_CHUNK):
            logits = self._logits(picked[start : start + _EVAL_CHUNK]).float()
            g = gold[start : start + _EVAL_CHUNK]
            nll = nn.functional.cross_entropy(logits, g, reduction="none")
            rows.append(torch.stack([torch.ones_like(nll), (logits.argmax(-1) == g).float(), nll], dim=-1))
        if rows:
            summary[selected] = torch.cat(rows)
        return summary


class MaskedCounts(NamedTuple):
    """One document's evaluation: masked tokens, correctly predicted ones, summed negative log-likelihood."""

    masked: int
    correct: int
    nll: float


def _document(example, spec: TaskSpec) -> str:
    if not isinstance(example, TextExample):
        raise DataError(
            getattr(example, "origin", "") or spec.name,
            f"format mlm reads TextExample documents, got {type(example).__name__}; use the readers "
            "plain_text, text_from_reader or task_text",
        )
    return example.text_a if example.text_b is None else f"{example.text_a}\n{example.text_b}"


class MLMFormat:
    name = "mlm"
    sequence_columns = ("input_ids",)
    stream_state = True  # rows from a training stream carry stream_epoch / stream_seed (dynamic masking)

    def featurize(self, examples: list, tokenizer, spec: TaskSpec, settings: FeatureSettings) -> Features:
        if tokenizer.mask_token_id is None:
            raise ModelError("the tokenizer has no mask token: masked language modelling needs one")
        specials = sorted(set(tokenizer.all_special_ids))
        if settings.max_seq_length <= tokenizer.num_special_tokens_to_add():
            raise ValueError(f"max_seq_length {settings.max_seq_length} leaves no room for text")
        special_set = set(specials)
        out: Features = {"input_ids": [], "example_index": []}
        for start in range(0, len(examples), 1000):  # bounded memory for large corpora
            texts = [_document(ex, spec) for ex in examples[start : start + 1000]]
            enc = tokenizer(
                texts,
                truncation=True,
                max_length=settings.max_seq_length,
                stride=0,
                return_overflowing_tokens=True,
            )
            for ids, owner in zip(enc["input_ids"], enc["overflow_to_sample_mapping"], strict=True):
                if any(t not in special_set for t in ids):  # a row with nothing to mask is left out
                    out["input_ids"].append(ids)
                    out["example_index"].append(start + owner)
        n = len(out["input_ids"])
        out["mask_seed"] = list(range(n))
        out["mask_token_id"] = [tokenizer.mask_token_id] * n
        out["vocab_size"] = [len(tokenizer)] * n
        out["special_ids"] = [specials] * n
        return out

    def build_head(self, hidden_size: int, spec: TaskSpec, dropout: float, pooling: str) -> nn.Module:
        return MLMHead(hidden_size)

    def collate(self, rows: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
        lengths = torch.tensor([len(r["input_ids"]) for r in rows])
        # From the lengths, not from ids != pad: a random replacement may be any id.
        attention = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
        labels = torch.full_like(ids, IGNORE)
        for i, r in enumerate(rows):
            g = row_generator(r["mask_seed"], r.get("stream_epoch", 0), r.get("stream_seed", 0))
            n = int(lengths[i])
            ids[i, :n], labels[i, :n] = mask_tokens(
                ids[i, :n], r["special_ids"], r["mask_token_id"], r["vocab_size"], g
            )
        return {"input_ids": ids, "attention_mask": attention, "labels": labels}

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy over the masked tokens (training logits ``(n_masked, vocab)``; an eval-mode
        summary ``(batch, length, 3)`` gives the same number from its stored negative log-likelihoods)."""
        if logits.dim() == 3:
            masked = logits[..., 0] > 0
            return logits[..., 2][masked].mean() if masked.any() else logits.sum() * 0.0
        gold = batch["labels"][batch["labels"] != IGNORE]
        if gold.numel() == 0:
            return logits.sum() * 0.0
        return nn.functional.cross_entropy(logits.float(), gold)

    def decode(
        self, logits: list[torch.Tensor], features: Features, examples: list, spec: TaskSpec
    ) -> list[MaskedCounts]:
        """Per document: masked tokens, correct predictions and summed NLL over its chunks (eval-mode rows)."""
        masked, correct, nll = [0] * len(examples), [0] * len(examples), [0.0] * len(examples)
        for summary, owner in zip(logits, features["example_index"], strict=True):
            m = summary[:, 0] > 0
            masked[owner] += int(m.sum())
            correct[owner] += int(summary[:, 1][m].sum())
            nll[owner] += float(summary[:, 2][m].sum())
        return [MaskedCounts(*t) for t in zip(masked, correct, nll, strict=True)]

    def score(
        self, predictions: list[MaskedCounts], examples: list, spec: TaskSpec, language: str
    ) -> dict[str, float]:
        """Masked-token accuracy (0-100), mean loss and perplexity over every masked token of the split."""
        masked = sum(p.masked for p in predictions)
        if masked == 0:
            raise ValueError(f"{spec.name}/{language}: no masked tokens to score")
        loss = sum(p.nll for p in predictions) / masked
        return {
            MLM_ACCURACY: 100.0 * sum(p.correct for p in predictions) / masked,
            MLM_LOSS: loss,
            MLM_PERPLEXITY: math.exp(min(loss, 700.0)),
        }

    def write_predictions(self, predictions: list[MaskedCounts], examples: list, path: Path) -> None:
        """MLM has no XTREME submission format: a TSV ``id, masked, correct, accuracy`` per document instead."""
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["id\tmasked\tcorrect\taccuracy\n"]
        for p, ex in zip(predictions, examples, strict=True):
            acc = f"{100.0 * p.correct / p.masked:.2f}" if p.masked else ""
            lines.append(f"{ex.id}\t{p.masked}\t{p.correct}\t{acc}\n")
        path.write_text("".join(lines), encoding="utf-8")

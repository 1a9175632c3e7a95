"""Sentence embeddings for the retrieval targets: one hidden layer of the frozen encoder, pooled (PROTOCOL §6).

``layer`` is a ``hidden_states`` index (0 = the embedding output, i = after transformer block i). The reference
setting is 14 of XLM-R Large's 24 layers; :func:`middle_layer` carries that depth ratio over to smaller models,
so the default ``"middle"`` resolves to 14 there and to 7 for 12-layer models such as the embedded e5-small.
Every reported number must carry :meth:`RetrievalSettings.record`, which always holds the resolved integer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from xstilts.errors import ConfigError, ModelError
from xstilts.models.loading import inference_attention
from xstilts.training.batching import sorted_batches

# jiant / XTREME reference: hidden_states[14] of the 24-layer XLM-R Large.
REFERENCE_LAYER, REFERENCE_DEPTH = 14, 24

Pooling = Literal["mean", "cls"]
Similarity = Literal["cosine"]
Margin = Literal["ratio", "distance", "absolute"]
Mode = Literal["max", "fwd", "bwd", "intersect"]


def middle_layer(num_layers: int) -> int:
    """``num_layers × 14/24`` rounded half up (exact integer arithmetic): 24 → 14, 12 → 7, 6 → 4, 2 → 1."""
    return (2 * num_layers * REFERENCE_LAYER + REFERENCE_DEPTH) // (2 * REFERENCE_DEPTH)


def _check_choice(name: str, value: Any, kind: Any) -> None:
    if value not in get_args(kind):
        raise ConfigError(f"retrieval.{name}: {value!r} is not one of {', '.join(get_args(kind))}")


@dataclass(frozen=True)
class RetrievalSettings:
    """Every knob of the retrieval evaluation; defaults are the PROTOCOL §6 reference settings."""

    layer: int | Literal["middle"] = "middle"
    pooling: Pooling = "mean"
    pool_special_tokens: bool = True  # XTREME default; False = ``--pool_skip_special_token``
    max_seq_length: int = 512
    similarity: Similarity = "cosine"
    k: int = 4  # BUCC neighbourhood for the margin
    margin: Margin = "ratio"
    mode: Mode = "max"

    def __post_init__(self) -> None:
        if self.layer != "middle" and not (isinstance(self.layer, int) and self.layer >= 0):
            raise ConfigError(f"retrieval.layer: {self.layer!r} is neither 'middle' nor an integer >= 0")
        for name, kind in (
            ("pooling", Pooling),
            ("similarity", Similarity),
            ("margin", Margin),
            ("mode", Mode),
        ):
            _check_choice(name, getattr(self, name), kind)
        if self.pooling == "cls" and not self.pool_special_tokens:
            raise ConfigError(
                "retrieval: cls pooling reads a special token; pool_special_tokens=False contradicts it"
            )
        if self.k < 1:
            raise ConfigError(f"retrieval.k: {self.k} must be >= 1")
        if self.max_seq_length < 2:
            raise ConfigError(f"retrieval.max_seq_length: {self.max_seq_length} leaves no room for a token")

    def resolve_layer(self, num_layers: int) -> int:
        """The ``hidden_states`` index to pool for an encoder with ``num_layers`` blocks."""
        layer = middle_layer(num_layers) if self.layer == "middle" else self.layer
        if layer > num_layers:
            raise ConfigError(f"retrieval.layer: {layer} but the encoder has only {num_layers} layers")
        return layer

    def record(self, num_layers: int) -> dict[str, Any]:
        """The settings as stored next to every retrieval number, with the layer resolved."""
        return {
            "layer": self.resolve_layer(num_layers),
            "layer_setting": self.layer,
            "layer_index": "hidden_states (0 = embeddings)",
            "num_layers": num_layers,
            "pooling": self.pooling,
            "pool_special_tokens": self.pool_special_tokens,
            "max_seq_length": self.max_seq_length,
            "similarity": self.similarity,
            "k": self.k,
            "margin": self.margin,
            "mode": self.mode,
        }


def encoder_depth(encoder: nn.Module) -> int:
    return int(encoder.config.num_hidden_layers)


class _Stop(Exception):
    """Raised by the hook of the deepest needed layer: the blocks above it would compute unread states."""


def _layer_modules(encoder: nn.Module) -> list[nn.Module]:
    """Module i outputs ``hidden_states[i]`` (BERT / RoBERTa / XLM-R layout: ``embeddings``, ``encoder.layer``)."""
    try:
        return [encoder.embeddings, *encoder.encoder.layer]
    except AttributeError:
        raise ModelError(
            f"{type(encoder).__name__} has no `embeddings` + `encoder.layer` blocks; cannot read its layers"
        ) from None


@contextmanager
def _captured(encoder: nn.Module, layers: Sequence[int]) -> Iterator[dict[int, torch.Tensor]]:
    """Forward hooks that store the output of each requested layer and stop the forward pass after the deepest."""
    modules = _layer_modules(encoder)
    states: dict[int, torch.Tensor] = {}
    deepest = max(layers)

    def hook(index: int):
        def store(module: nn.Module, args: Any, output: Any) -> None:
            states[index] = output[0] if isinstance(output, tuple) else output
            if index == deepest:
                raise _Stop

        return store

    handles = [modules[i].register_forward_hook(hook(i)) for i in sorted(set(layers))]
    try:
        yield states
    finally:
        for handle in handles:
            handle.remove()


def _pool(hidden: torch.Tensor, attention: torch.Tensor, special: torch.Tensor, settings: RetrievalSettings):
    hidden = hidden.float()
    if settings.pooling == "cls":
        return hidden[:, 0]
    mask = attention if settings.pool_special_tokens else attention * (1 - special)
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    # clamp: a sentence of special tokens only would divide by zero; it pools to the zero vector instead.
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _padded(rows: list[list[int]], pad: int) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out


def _tokenized(
    tokenizer: Any, sentences: Sequence[str], max_length: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids (truncated to ``max_length``, specials included) and each row's special-token mask."""
    enc = tokenizer(
        list(sentences),
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_attention_mask=False,
    )
    return enc["input_ids"], enc["special_tokens_mask"]


@torch.no_grad()
def embed_layers(
    encoder: nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    settings: RetrievalSettings,
    layers: Sequence[int],
    *,
    batch_tokens: int = 8192,
    max_batch: int = 256,
) -> dict[int, np.ndarray]:
    """Pooled float32 embeddings ``[n, hidden]`` (input order) at each ``hidden_states`` index in ``layers``,
    from one forward pass per batch that stops after the deepest of them (a layer sweep costs one pass).

    Runs on the encoder's device, in fp32, in eval mode (restored afterwards); batches are length-sorted and
    packed to ``batch_tokens`` padded tokens.
    """
    depth = encoder_depth(encoder)
    if not layers or not all(0 <= layer <= depth for layer in layers):
        raise ConfigError(f"layers {list(layers)} must be hidden_states indices in 0..{depth}")
    ids, specials = _tokenized(tokenizer, sentences, settings.max_seq_length)
    device = next(encoder.parameters()).device
    out = {layer: np.zeros((len(ids), encoder.config.hidden_size), dtype=np.float32) for layer in layers}
    was_training = encoder.training
    encoder.eval()  # dropout off
    try:
        with _captured(encoder, layers) as states, inference_attention(encoder):
            for batch in sorted_batches([len(row) for row in ids], batch_tokens, max_batch):
                input_ids = _padded([ids[i] for i in batch], tokenizer.pad_token_id).to(device)
                special = _padded([specials[i] for i in batch], 1).to(device)
                attention = _padded([[1] * len(ids[i]) for i in batch], 0).to(device)
                with suppress(_Stop):
                    encoder(input_ids=input_ids, attention_mask=attention)
                for layer in layers:
                    out[layer][batch] = _pool(states[layer], attention, special, settings).cpu().numpy()
                states.clear()
    finally:
        encoder.train(was_training)
    return out


def embed_sentences(
    encoder: nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    settings: RetrievalSettings,
    *,
    batch_tokens: int = 8192,
) -> np.ndarray:
    """Float32 ``[n, hidden]`` embeddings at the settings' (resolved) layer."""
    layer = settings.resolve_layer(encoder_depth(encoder))
    return embed_layers(encoder, tokenizer, sentences, settings, [layer], batch_tokens=batch_tokens)[layer]

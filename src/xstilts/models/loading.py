"""Load any Hugging Face encoder (hub id or local folder), the embedded ``e5-small``, or a tiny random model.

Options every model takes: keep only the first N transformer layers (fast demos) and freeze the word
embeddings (saves the 250k-row embedding gradient and its optimizer state).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from xstilts.errors import ModelError

EMBEDDED = "e5-small"
# BERT/RoBERTa-family models build a pooler by default that no head of ours uses.
_HAS_UNUSED_POOLER = {"bert", "roberta", "xlm-roberta", "camembert", "electra"}
TINY = "tiny"


@dataclass(frozen=True)
class ModelSpec:
    """How to obtain an encoder. ``name`` is a hub id, a local path, ``e5-small`` or ``tiny``."""

    name: str = EMBEDDED
    num_layers: int | None = None
    freeze_word_embeddings: bool = False
    revision: str | None = None
    freeze_layers: int = 0  # also freeze all embeddings and the first N transformer blocks
    # auto: eager attention on CPU (measured ~10 % faster training at XNLI lengths), sdpa on GPUs
    attention: str = "auto"

    def key(self) -> dict:
        return {
            "name": self.name,
            "num_layers": self.num_layers,
            "freeze": self.freeze_word_embeddings,
            "freeze_layers": self.freeze_layers,
        }


def resolve_model_path(name: str) -> str:
    """Map the embedded alias to its converted cache folder; anything else passes through to transformers."""
    if name == EMBEDDED:
        from xstilts.models.embedded import ensure_e5_small

        return str(ensure_e5_small())
    return name


def _offline_hint(name: str) -> str:
    return (
        f"could not load model {name!r}: it is neither a local folder nor reachable on the Hugging Face hub.\n"
        f"To run offline: on a machine with internet run `huggingface-cli download {name}` (or "
        "`save_pretrained` it), copy the folder here and pass its path, then set HF_HUB_OFFLINE=1; "
        f"or use the embedded model {EMBEDDED!r}."
    )


def load_tokenizer(name: str):
    if name == TINY:
        name = (
            EMBEDDED  # the tiny model shares the real multilingual vocabulary (realistic sub-words, offsets)
        )
    path = resolve_model_path(name)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False, use_fast=True)
    except OSError as exc:
        raise ModelError(_offline_hint(name)) from exc
    if not tok.is_fast:
        raise ModelError(f"model {name!r} has no fast tokenizer; xstilts needs offsets (tokenizers backend)")
    return tok


@contextmanager
def _quiet_if(condition: bool):
    if not condition:
        yield
        return
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def tiny_config(vocab_size: int = 250_037, **overrides) -> BertConfig:
    """A 2-layer, 32-wide BERT: real enough to exercise every code path, fast enough for unit tests."""
    cfg = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=1,
    )
    cfg.update(overrides)
    return BertConfig(**cfg)


def attention_implementation(setting: str) -> str:
    if setting != "auto":
        return setting
    return "sdpa" if torch.cuda.is_available() else "eager"


# Set on encoders loaded with ``attention: auto`` that got eager attention (CPU): inference may switch to SDPA.
_AUTO_EAGER = "_xstilts_auto_eager"


@contextmanager
def inference_attention(model: torch.nn.Module) -> Iterator[None]:
    """SDPA attention for inference where ``attention: auto`` chose eager for training (CPU).

    On this 2-core CPU eager attention trains ~10 % faster at XNLI lengths, but SDPA runs the forward pass at
    81 % of the matmul peak against 63 % (bench/utilisation.py); outputs agree to float rounding.
    """
    encoder = getattr(model, "encoder", model)
    encoder = encoder if hasattr(encoder, "set_attn_implementation") else model
    if not getattr(encoder, _AUTO_EAGER, False):
        yield
        return
    encoder.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        encoder.set_attn_implementation("eager")


def load_encoder(spec: ModelSpec, seed: int = 0) -> PreTrainedModel:
    """The bare encoder (no task head), in fp32 on CPU; callers move it to their device."""
    attn = attention_implementation(spec.attention)
    if spec.name == TINY:
        torch.manual_seed(seed)  # random init must be reproducible
        model = BertModel(tiny_config(_attn_implementation=attn), add_pooling_layer=False)
    else:
        path = resolve_model_path(spec.name)
        try:
            config = AutoConfig.from_pretrained(path, revision=spec.revision, trust_remote_code=False)
            if spec.num_layers is not None:
                # A deeper config than the checkpoint would silently add randomly initialised layers.
                if spec.num_layers > config.num_hidden_layers:
                    raise ModelError(
                        f"model {spec.name!r} has {config.num_hidden_layers} layers; cannot keep {spec.num_layers}"
                    )
                config.num_hidden_layers = spec.num_layers
            extra = {"add_pooling_layer": False} if config.model_type in _HAS_UNUSED_POOLER else {}
            with _quiet_if(spec.num_layers is not None):  # the dropped layers are "unexpected keys" by design
                model = AutoModel.from_pretrained(
                    path,
                    config=config,
                    revision=spec.revision,
                    trust_remote_code=False,
                    attn_implementation=attn,
                    **extra,
                )
        except OSError as exc:
            raise ModelError(_offline_hint(spec.name)) from exc
    if spec.name == TINY and spec.num_layers is not None:
        model.encoder.layer = model.encoder.layer[: spec.num_layers]
        model.config.num_hidden_layers = spec.num_layers
    if spec.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if spec.freeze_layers:
        freeze_bottom(model, spec.freeze_layers, spec.name)
    model.config.use_cache = False
    setattr(model, _AUTO_EAGER, spec.attention == "auto" and attn == "eager")
    return model


def freeze_bottom(model: PreTrainedModel, n: int, name: str) -> None:
    """Freeze the embeddings and the first ``n`` blocks: backward then stops above them (cheaper), and the
    lower, most language-general layers keep their pretrained weights."""
    blocks = getattr(getattr(model, "encoder", None), "layer", None)
    if blocks is None or not hasattr(model, "embeddings"):
        raise ModelError(
            f"model {name!r}: freeze_layers needs a BERT-style encoder (embeddings + encoder.layer)"
        )
    if n > len(blocks):
        raise ModelError(f"model {name!r}: cannot freeze {n} of its {len(blocks)} layers")
    for module in [model.embeddings, *blocks[:n]]:
        module.requires_grad_(False)

"""Zero-shot retrieval targets (BUCC 2018, Tatoeba): the phase-1 encoder embeds sentences, no fine-tuning."""

from xstilts.retrieval.embed import RetrievalSettings, embed_layers, embed_sentences, middle_layer
from xstilts.retrieval.evaluate import bucc_layer_sweep, evaluate_bucc, evaluate_tatoeba, tatoeba_layer_sweep

__all__ = [
    "RetrievalSettings",
    "bucc_layer_sweep",
    "embed_layers",
    "embed_sentences",
    "evaluate_bucc",
    "evaluate_tatoeba",
    "middle_layer",
    "tatoeba_layer_sweep",
]

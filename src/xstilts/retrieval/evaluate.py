"""Entry points for the two retrieval targets: read the data, embed with the frozen encoder, write predictions
in the submission layout and return the metrics with the settings that produced them (PROTOCOL §6).

``root`` is the XTREME folder holding ``download/`` and ``labels/``. Prediction files go under ``out_dir``:
``tatoeba/test-{lg}.tsv`` (one integer per line) and ``bucc2018/{split}-{lg}.tsv`` (``src_id\\ttrg_id``).
BUCC's file is named ``test-{lg}.tsv`` only when the test split was mined; predictions from the dev split are
``dev-{lg}.tsv``, so they can never be scored as test predictions (the reference runner did, PROTOCOL pitfall 8).
Layer sweeps pool several layers from one forward pass and write no files; a Tatoeba sweep selects on test data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from xstilts.data.records import BitextCorpus
from xstilts.data.xtreme import read_bucc, read_bucc_files, read_tatoeba
from xstilts.errors import DataError
from xstilts.metrics.official import accuracy, bucc_scores
from xstilts.retrieval.bucc import (
    Candidate,
    apply_threshold,
    crossfit_scores,
    mine_candidates,
    tune_threshold,
)
from xstilts.retrieval.embed import RetrievalSettings, embed_layers, encoder_depth
from xstilts.retrieval.subset import head_bucc, head_tatoeba
from xstilts.retrieval.tatoeba import gold_indices, predict_indices

BATCH_TOKENS = 8192


def _embed_corpus(
    encoder: nn.Module,
    tokenizer: Any,
    corpus: BitextCorpus,
    settings: RetrievalSettings,
    layers: Sequence[int],
    batch_tokens: int,
) -> dict[int, tuple[Any, Any]]:
    """(source, English) embeddings per layer; both sides go through one call so batches pack across them."""
    n = len(corpus.source.sentences)
    sentences = [*corpus.source.sentences, *corpus.english.sentences]
    embedded = embed_layers(encoder, tokenizer, sentences, settings, layers, batch_tokens=batch_tokens)
    return {layer: (emb[:n], emb[n:]) for layer, emb in embedded.items()}


def _write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# --- Tatoeba ---------------------------------------------------------------------------------------------


def _tatoeba_corpus(root: Path, language: str, limit: int | None = None) -> BitextCorpus:
    gold = root / "labels" / "tatoeba" / f"test-{language}.tsv"
    corpus = read_tatoeba(root / "download" / "tatoeba", language, gold if gold.exists() else None)
    return corpus if limit is None else head_tatoeba(corpus, limit)


def _tatoeba_result(corpus: BitextCorpus, predictions: list[int]) -> dict[str, Any]:
    counts = {"source_sentences": len(corpus.source.sentences), "english_queries": len(predictions)}
    scores = accuracy(gold_indices(corpus), predictions) if corpus.gold is not None else {}
    return {**scores, "counts": counts}


def evaluate_tatoeba(
    encoder: nn.Module,
    tokenizer: Any,
    root: Path,
    language: str,
    settings: RetrievalSettings,
    out_dir: Path,
    *,
    batch_tokens: int = BATCH_TOKENS,
    limit: int | None = None,
) -> dict[str, Any]:
    """Writes ``tatoeba/test-{lg}.tsv``; returns ``accuracy`` (0-100, when ``labels/`` has the gold),
    ``settings`` (resolved layer), ``counts`` and the ``predictions`` path. ``limit``: the first N source
    sentences only (``subset.head_tatoeba``)."""
    corpus = _tatoeba_corpus(root, language, limit)
    depth = encoder_depth(encoder)
    layer = settings.resolve_layer(depth)
    source, english = _embed_corpus(encoder, tokenizer, corpus, settings, [layer], batch_tokens)[layer]
    predictions = predict_indices(source, english)
    path = _write_lines(out_dir / "tatoeba" / f"test-{language}.tsv", [str(i) for i in predictions])
    return {
        "task": "tatoeba",
        "language": language,
        "split": "test",
        **_tatoeba_result(corpus, predictions),
        "settings": settings.record(depth),
        "predictions": str(path),
    }


def tatoeba_layer_sweep(
    encoder: nn.Module,
    tokenizer: Any,
    root: Path,
    language: str,
    settings: RetrievalSettings,
    layers: Sequence[int],
    *,
    batch_tokens: int = BATCH_TOKENS,
    limit: int | None = None,
) -> dict[int, dict[str, Any]]:
    """Accuracy at each ``hidden_states`` index in ``layers`` (one forward pass; Tatoeba is test data)."""
    corpus = _tatoeba_corpus(root, language, limit)
    depth = encoder_depth(encoder)
    embedded = _embed_corpus(encoder, tokenizer, corpus, settings, layers, batch_tokens)
    return {
        layer: {
            **_tatoeba_result(corpus, predict_indices(source, english)),
            "settings": _with_layer(settings, layer).record(depth),
        }
        for layer, (source, english) in embedded.items()
    }


# --- BUCC ------------------------------------------------------------------------------------------------


def _bucc_test(root: Path, language: str, limit: int | None = None) -> BitextCorpus | None:
    """The test split ("training" in BUCC terms) when present, gold from ``labels/`` or ``….test.gold``."""
    folder = root / "download" / "bucc2018"
    if not (folder / f"{language}-en.test.{language}").exists():
        return None
    labels = root / "labels" / "bucc2018" / f"test-{language}.tsv"
    if labels.exists():
        test = read_bucc_files(folder / f"{language}-en.test", language=language, gold=labels)[0]
    else:
        test = read_bucc(folder, language, "test")
    return test if limit is None else head_bucc(test, limit)


def _bucc_dev(root: Path, language: str, limit: int | None = None) -> BitextCorpus:
    dev = read_bucc(root / "download" / "bucc2018", language, "dev")
    if dev.gold is None:
        raise DataError(dev.origin, "no dev gold (.gold file): the BUCC threshold is tuned on it")
    return dev if limit is None else head_bucc(dev, limit)


def _mine(
    encoder: nn.Module,
    tokenizer: Any,
    corpus: BitextCorpus,
    settings: RetrievalSettings,
    layers: Sequence[int],
    batch_tokens: int,
) -> dict[int, list[Candidate]]:
    embedded = _embed_corpus(encoder, tokenizer, corpus, settings, layers, batch_tokens)
    src, trg = corpus.source, corpus.english
    return {
        layer: mine_candidates(src.ids, src.sentences, x, trg.ids, trg.sentences, y, settings)
        for layer, (x, y) in embedded.items()
    }


def _with_layer(settings: RetrievalSettings, layer: int) -> RetrievalSettings:
    return replace(settings, layer=layer)


def _counts(corpus: BitextCorpus, candidates: list[Candidate], predicted: int) -> dict[str, int | None]:
    return {
        "source_sentences": len(corpus.source.sentences),
        "english_sentences": len(corpus.english.sentences),
        "candidates": len(candidates),
        "predicted_pairs": predicted,
        "gold_pairs": len(corpus.gold) if corpus.gold is not None else None,
    }


def _finite(value: float) -> float | None:
    """+inf (no dev gold pair was ever mined: extract nothing) is stored as None, which JSON can hold."""
    return value if math.isfinite(value) else None


def _dev_summary(dev: BitextCorpus, candidates: list[Candidate]) -> tuple[float, dict[str, Any]]:
    """The threshold tuned on all dev gold, and a summary: the (optimistic, in-sample) dev scores at it and
    the 2-fold cross-fitted ones."""
    threshold, _ = tune_threshold(candidates, dev.gold)
    predicted = apply_threshold(candidates, threshold)
    crossfit = crossfit_scores(candidates, dev.gold)
    return threshold, {
        "threshold": _finite(threshold),
        "dev": bucc_scores(dev.gold, predicted),
        "dev_crossfit": {**crossfit, "thresholds": [_finite(t) for t in crossfit["thresholds"]]},
        "dev_counts": _counts(dev, candidates, len(predicted)),
    }


def evaluate_bucc(
    encoder: nn.Module,
    tokenizer: Any,
    root: Path,
    language: str,
    settings: RetrievalSettings,
    out_dir: Path,
    *,
    batch_tokens: int = BATCH_TOKENS,
    limit: int | None = None,
) -> dict[str, Any]:
    """Mine dev, tune the threshold on dev gold, then mine test (when present) and apply the dev threshold.
    ``limit``: gold sentences plus the first N others per side only (``subset.head_bucc``).

    Returns ``split`` (the split the prediction file and ``f1``/``precision``/``recall`` come from: ``test``
    when present, else ``dev``, where the scores are in-sample at the tuned threshold), ``threshold``
    (``None``: no dev gold pair was ever mined), ``dev`` and ``dev_crossfit`` scores, ``settings``,
    ``counts`` and the ``predictions`` path. Test without gold gives no ``f1``.
    """
    depth = encoder_depth(encoder)
    layer = settings.resolve_layer(depth)
    dev = _bucc_dev(root, language, limit)
    dev_candidates = _mine(encoder, tokenizer, dev, settings, [layer], batch_tokens)[layer]
    threshold, summary = _dev_summary(dev, dev_candidates)
    test = _bucc_test(root, language, limit)
    corpus, split = (test, "test") if test is not None else (dev, "dev")
    candidates = (
        _mine(encoder, tokenizer, test, settings, [layer], batch_tokens)[layer]
        if test is not None
        else dev_candidates
    )
    predicted = apply_threshold(candidates, threshold)
    path = _write_lines(out_dir / "bucc2018" / f"{split}-{language}.tsv", [f"{s}\t{t}" for s, t in predicted])
    scores = bucc_scores(corpus.gold, predicted) if corpus.gold is not None else {}
    return {
        "task": "bucc2018",
        "language": language,
        "split": split,
        **scores,
        **summary,
        "threshold_split": "dev",
        "counts": _counts(corpus, candidates, len(predicted)),
        "settings": settings.record(depth),
        "predictions": str(path),
    }


def bucc_layer_sweep(
    encoder: nn.Module,
    tokenizer: Any,
    root: Path,
    language: str,
    settings: RetrievalSettings,
    layers: Sequence[int],
    *,
    batch_tokens: int = BATCH_TOKENS,
    limit: int | None = None,
) -> dict[int, dict[str, Any]]:
    """Dev scores (in-sample and cross-fitted) at each ``hidden_states`` index in ``layers``, from one
    forward pass: the legitimate way to choose a layer."""
    depth = encoder_depth(encoder)
    dev = _bucc_dev(root, language, limit)
    mined = _mine(encoder, tokenizer, dev, settings, layers, batch_tokens)
    return {
        layer: {**_dev_summary(dev, candidates)[1], "settings": _with_layer(settings, layer).record(depth)}
        for layer, candidates in mined.items()
    }

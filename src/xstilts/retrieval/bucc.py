"""BUCC 2018 bitext mining with a margin score, as XTREME's ``third_party/utils_retrieve.py`` (PROTOCOL §6).

1. Deduplicate identical sentences per side; L2-normalise; k-NN in both directions.
2. score(x, y) = margin(cos(x, y), (mean_kNN(x) + mean_kNN(y)) / 2); ratio margin = quotient.
3. ``max`` mode: forward-best and backward-best candidates pooled, sorted descending, kept one-to-one greedily.
4. Sentences mapped back to ids: a text carried by several ids is dropped; a repeated id pair keeps its max.
5. The threshold is tuned on dev gold (midpoint rule) and extracts pairs scoring >= it.
6. Test: mine the test split and apply the dev threshold.

Unlike the reference, ``max`` mode keeps candidates scoring <= 0 (its default mining threshold of 0); only
the tuned threshold filters, which makes a difference only for the distance/absolute margins.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from xstilts.metrics.official import bucc_scores
from xstilts.retrieval.embed import RetrievalSettings
from xstilts.retrieval.knn import knn, l2_normalized

Candidate = tuple[str, str, float]  # (source id, English id, margin score)
Pair = tuple[str, str]


def unique_sentences(ids: Sequence[str], sentences: Sequence[str]) -> tuple[list[int], list[list[str]]]:
    """The first row of each distinct (stripped) text and, per distinct text, every id that carries it."""
    slot: dict[str, int] = {}
    rows: list[int] = []
    owners: list[list[str]] = []
    for row, (sentence_id, text) in enumerate(zip(ids, sentences, strict=True)):
        key = text.strip()
        if key not in slot:
            slot[key] = len(rows)
            rows.append(row)
            owners.append([])
        owners[slot[key]].append(sentence_id)
    return rows, owners


def margin_scores(
    cos: np.ndarray, mean_query: np.ndarray, mean_neighbour: np.ndarray, margin: str
) -> np.ndarray:
    """Margin of each cosine given the mean k-NN similarity of its two sentences (broadcast elementwise)."""
    if margin == "absolute":
        return cos
    average = (mean_query + mean_neighbour) / 2
    return cos / average if margin == "ratio" else cos - average


def mine_pairs(x: np.ndarray, y: np.ndarray, settings: RetrievalSettings) -> list[tuple[int, int, float]]:
    """Candidate (row of ``x``, row of ``y``, score) over already-deduplicated embeddings (steps 1-3)."""
    x, y = l2_normalized(x), l2_normalized(y)
    fwd_cos, fwd_ind = knn(x, y, min(settings.k, len(y)))
    bwd_cos, bwd_ind = knn(y, x, min(settings.k, len(x)))
    fwd_mean, bwd_mean = fwd_cos.mean(axis=1), bwd_cos.mean(axis=1)
    fwd_scores = margin_scores(fwd_cos, fwd_mean[:, None], bwd_mean[fwd_ind], settings.margin)
    bwd_scores = margin_scores(bwd_cos, bwd_mean[:, None], fwd_mean[bwd_ind], settings.margin)
    # The best candidate by margin, which need not be the nearest by cosine.
    fwd_pick, bwd_pick = fwd_scores.argmax(axis=1), bwd_scores.argmax(axis=1)
    fwd_best, fwd_score = fwd_ind[np.arange(len(x)), fwd_pick], fwd_scores[np.arange(len(x)), fwd_pick]
    bwd_best, bwd_score = bwd_ind[np.arange(len(y)), bwd_pick], bwd_scores[np.arange(len(y)), bwd_pick]
    forward = [(i, int(j), float(s)) for i, (j, s) in enumerate(zip(fwd_best, fwd_score, strict=True))]
    backward = [(int(i), j, float(s)) for j, (i, s) in enumerate(zip(bwd_best, bwd_score, strict=True))]
    if settings.mode == "fwd":
        return forward
    if settings.mode == "bwd":
        return backward
    if settings.mode == "intersect":
        return [(i, j, s) for i, j, s in forward if bwd_best[j] == i]
    return _one_to_one(forward + backward)


def _one_to_one(pairs: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Greedy by descending score: a pair is kept when neither of its sentences is taken yet."""
    seen_x: set[int] = set()
    seen_y: set[int] = set()
    kept = []
    for i, j, score in sorted(pairs, key=lambda p: -p[2]):  # stable: forward before backward on ties
        if i not in seen_x and j not in seen_y:
            seen_x.add(i)
            seen_y.add(j)
            kept.append((i, j, score))
    return kept


def mine_candidates(
    src_ids: Sequence[str],
    src_sents: Sequence[str],
    src_emb: np.ndarray,
    trg_ids: Sequence[str],
    trg_sents: Sequence[str],
    trg_emb: np.ndarray,
    settings: RetrievalSettings,
) -> list[Candidate]:
    """Scored id pairs, best first (steps 1-4). Embeddings have one row per sentence (duplicates included:
    the first occurrence of a text stands for it)."""
    src_rows, src_owners = unique_sentences(src_ids, src_sents)
    trg_rows, trg_owners = unique_sentences(trg_ids, trg_sents)
    best: dict[Pair, float] = {}
    for i, j, score in mine_pairs(np.asarray(src_emb)[src_rows], np.asarray(trg_emb)[trg_rows], settings):
        if len(src_owners[i]) == 1 and len(trg_owners[j]) == 1:  # which id is meant is unknowable
            key = (src_owners[i][0], trg_owners[j][0])
            best[key] = max(score, best.get(key, score))
    return sorted(((s, t, score) for (s, t), score in best.items()), key=lambda c: -c[2])


def tune_threshold(candidates: Sequence[Candidate], gold: Collection[Pair]) -> tuple[float, float]:
    """(threshold, best F1 × 100): walk the candidates by descending score, computing the F1 of extracting
    each prefix against all of ``gold``; the threshold is the midpoint between the score of the first
    best-F1 candidate and the next one (that candidate's own score when it is the last). Without any gold
    hit the threshold is +inf: extract nothing."""
    gold = set(gold)
    ranked = sorted(candidates, key=lambda c: -c[2])
    threshold, best_f1, correct = math.inf, 0.0, 0
    for n, (src, trg, score) in enumerate(ranked, 1):
        correct += (src, trg) in gold
        f1 = 2 * correct / (n + len(gold))  # = 2PR / (P + R) with P = correct/n, R = correct/|gold|
        if f1 > best_f1:
            best_f1 = f1
            threshold = (score + ranked[n][2]) / 2 if n < len(ranked) else score
    return threshold, 100.0 * best_f1


def apply_threshold(candidates: Sequence[Candidate], threshold: float) -> list[Pair]:
    """The id pairs scoring at least ``threshold``."""
    return [(src, trg) for src, trg, score in candidates if score >= threshold]


def _fold(source_id: str) -> int:
    return zlib.crc32(source_id.encode()) % 2  # stable across runs and machines, unlike hash()


def crossfit_scores(candidates: Sequence[Candidate], gold: Collection[Pair]) -> dict[str, Any]:
    """Dev F1 whose threshold never saw the pairs it is scored on: source ids are split into two fixed folds
    (CRC32 parity); each fold's candidates are thresholded with the value tuned on the other fold's
    candidates and gold, and the pooled predictions are scored against all of ``gold``. The sample has
    only a dev split, so this is its honest estimate; the in-sample tuned F1 is optimistic."""
    predictions: list[Pair] = []
    thresholds: list[float] = []
    for held_out in (0, 1):
        tune = [c for c in candidates if _fold(c[0]) != held_out]
        threshold, _ = tune_threshold(tune, [g for g in gold if _fold(g[0]) != held_out])
        thresholds.append(threshold)
        predictions += apply_threshold([c for c in candidates if _fold(c[0]) == held_out], threshold)
    return {**bucc_scores(gold, predictions), "thresholds": thresholds}

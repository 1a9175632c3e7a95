"""BUCC mining (margin, modes, one-to-one, dedupe, id mapping) and threshold tuning on hand-made cases."""

import math

import numpy as np
import pytest

from xstilts.metrics.official import bucc_scores
from xstilts.retrieval.bucc import (
    _fold,
    apply_threshold,
    crossfit_scores,
    mine_candidates,
    mine_pairs,
    tune_threshold,
)
from xstilts.retrieval.embed import RetrievalSettings

# x = unit axes, so cos(x_i, y_j) = Y[j][i]:  C = [[1.0, 0.6, 0.0], [0.0, 0.8, 0.6], [0.0, 0.0, 0.8]].
X = np.eye(3, dtype=np.float32)
Y = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]], dtype=np.float32)
K2 = RetrievalSettings(k=2)


def test_ratio_margin_by_hand():
    # 2-NN means: rows (x) 0.8, 0.7, 0.4; columns (y) 0.5, 0.7, 0.7.
    # score(x0, y0) = 1.0 / ((0.8 + 0.5) / 2); score(x1, y1) = 0.8 / 0.7; score(x2, y2) = 0.8 / ((0.4 + 0.7) / 2).
    pairs = mine_pairs(X, Y, K2)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0), (2, 2), (1, 1)]  # sorted by score, descending
    np.testing.assert_allclose([s for *_, s in pairs], [1 / 0.65, 0.8 / 0.55, 0.8 / 0.7], rtol=1e-6)


def test_distance_and_absolute_margins_by_hand():
    distance = {(i, j): s for i, j, s in mine_pairs(X, Y, RetrievalSettings(k=2, margin="distance"))}
    assert distance[(0, 0)] == pytest.approx(1.0 - 0.65)
    assert distance[(2, 2)] == pytest.approx(0.8 - 0.55)
    absolute = {(i, j): s for i, j, s in mine_pairs(X, Y, RetrievalSettings(k=2, margin="absolute"))}
    assert absolute == pytest.approx({(0, 0): 1.0, (1, 1): 0.8, (2, 2): 0.8})


def test_margin_picks_against_a_hub():
    """y_h is close to every x (a hub): by cosine x1 would pick it, by margin x1 picks y_a.

    cos:      y_h   y_a   y_b     2-NN means: x0 0.45, x1 0.575, x2 0.3; y_h 0.6, y_a 0.275, y_b 0.2
      x0     0.60  0.00  0.30     x1-y_h: 0.6 / ((0.575 + 0.6) / 2) = 1.021
      x1     0.60  0.55  0.00     x1-y_a: 0.55 / ((0.575 + 0.275) / 2) = 1.294
      x2     0.50  0.00  0.10
    """
    x = np.eye(4, dtype=np.float32)[:3]
    y = np.array(
        [[0.6, 0.6, 0.5, 0.03**0.5], [0, 0.55, 0, (1 - 0.55**2) ** 0.5], [0.3, 0, 0.1, 0.9**0.5]],
        dtype=np.float32,
    )
    assert np.argmax(x[1] @ y.T) == 0
    fwd = {i: (j, s) for i, j, s in mine_pairs(x, y, RetrievalSettings(k=2, mode="fwd"))}
    assert fwd[1] == (1, pytest.approx(0.55 / 0.425, rel=1e-5))


def _reference_mine(x, y, k):
    """A loop port of utils_retrieve.mine_bitext (max mode, ratio margin) to compare against."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    sim = x @ y.T
    fwd_ind, bwd_ind = np.argsort(-sim, axis=1)[:, :k], np.argsort(-sim.T, axis=1)[:, :k]
    fwd_mean = np.take_along_axis(sim, fwd_ind, 1).mean(1)
    bwd_mean = np.take_along_axis(sim.T, bwd_ind, 1).mean(1)
    fwd = [
        max((sim[i, j] / ((fwd_mean[i] + bwd_mean[j]) / 2), i, j) for j in fwd_ind[i]) for i in range(len(x))
    ]
    bwd = [
        max((sim[i, j] / ((fwd_mean[i] + bwd_mean[j]) / 2), i, j) for i in bwd_ind[j]) for j in range(len(y))
    ]
    seen_x, seen_y, out = set(), set(), []
    for score, i, j in sorted(fwd + bwd, key=lambda c: -c[0]):
        if i not in seen_x and j not in seen_y:
            seen_x.add(i)
            seen_y.add(j)
            out.append((i, j, score))
    return out


def test_matches_a_loop_port_of_the_reference_on_random_embeddings():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 8)).astype(np.float32), rng.normal(size=(55, 8)).astype(np.float32)
    ours = mine_pairs(x, y, RetrievalSettings())
    reference = _reference_mine(x, y, 4)
    assert [(i, j) for i, j, _ in ours] == [(i, j) for i, j, _ in reference]
    np.testing.assert_allclose([s for *_, s in ours], [s for *_, s in reference], rtol=1e-5)


def test_max_mode_is_one_to_one_and_fwd_is_not():
    # x0 and x1 both lie nearest to y0; y1's best is x1.
    x = np.array([[1.0, 0.0], [0.9, 0.44]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert sorted((i, j) for i, j, _ in mine_pairs(x, y, RetrievalSettings(k=1, mode="fwd"))) == [
        (0, 0),
        (1, 0),
    ]
    assert sorted((i, j) for i, j, _ in mine_pairs(x, y, RetrievalSettings(k=1))) == [(0, 0), (1, 1)]
    assert [(i, j) for i, j, _ in mine_pairs(x, y, RetrievalSettings(k=1, mode="bwd"))] == [(0, 0), (1, 1)]
    assert [(i, j) for i, j, _ in mine_pairs(x, y, RetrievalSettings(k=1, mode="intersect"))] == [(0, 0)]


def test_duplicate_texts_are_mined_once_and_ids_sharing_a_text_are_dropped():
    # s1 and s3 carry the same text: mined as one sentence, then dropped (which id is meant is unknowable).
    src_ids, src_sents = ["s1", "s2", "s3"], ["A", "B", "A "]
    src_emb = np.array([X[0], X[1], X[0]])
    trg_ids, trg_sents = ["t1", "t2", "t3"], ["a", "b", "c"]
    candidates = mine_candidates(src_ids, src_sents, src_emb, trg_ids, trg_sents, Y, K2)
    # B's best is t3 by margin: 0.6 / ((0.7 + 0.3) / 2) = 1.2 beats t2's 0.8 / 0.7
    assert candidates == [("s2", "t3", pytest.approx(1.2))]
    # the duplicate row does not count twice in the k-NN means: same score as mining without it
    single = mine_candidates(["s1", "s2"], ["A", "B"], X[:2], trg_ids, trg_sents, Y, K2)
    assert candidates[0] in single


def test_a_repeated_id_pair_keeps_its_best_score():
    x = np.array([[1.0, 0.0], [0.8, 0.6]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    settings = RetrievalSettings(k=1, mode="fwd", margin="absolute")
    candidates = mine_candidates(["s", "s"], ["A", "B"], x, ["t", "u"], ["a", "b"], y, settings)
    assert candidates == [("s", "t", pytest.approx(1.0))]


CANDIDATES = [  # deliberately unsorted
    ("c", "3", 0.7),
    ("a", "1", 0.9),
    ("e", "5", 0.5),
    ("b", "2", 0.8),
    ("d", "4", 0.6),
]
GOLD = {("a", "1"), ("c", "3"), ("d", "4"), ("z", "9")}  # z-9 was never mined: it still counts for recall


def test_threshold_is_the_midpoint_after_the_best_f1_candidate():
    # prefix F1 = 2·correct / (n + |gold|): 2/5, 2/6, 4/7, 6/8, 6/9 -> best after d-4 (0.6); next is 0.5.
    threshold, best_f1 = tune_threshold(CANDIDATES, GOLD)
    assert threshold == pytest.approx(0.55) and best_f1 == pytest.approx(75.0)
    predicted = apply_threshold(CANDIDATES, threshold)
    assert sorted(predicted) == [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]
    assert bucc_scores(GOLD, predicted)["f1"] == pytest.approx(best_f1)


def test_threshold_edge_cases():
    # the best prefix is the whole list: its last score is the threshold (the reference would index past the end)
    assert tune_threshold([("a", "1", 0.9), ("b", "2", 0.4)], {("a", "1"), ("b", "2")}) == (0.4, 100.0)
    # ties on F1 keep the first (highest) threshold
    assert tune_threshold([("a", "1", 0.9), ("x", "x", 0.8), ("b", "2", 0.7), ("y", "y", 0.6)], {("a", "1")})[
        0
    ] == (pytest.approx(0.85))
    # no gold pair mined: extract nothing
    threshold, best_f1 = tune_threshold(CANDIDATES, {("q", "q")})
    assert math.isinf(threshold) and best_f1 == 0.0 and apply_threshold(CANDIDATES, threshold) == []


def test_crossfit_thresholds_come_from_the_other_fold():
    # gold pairs score high, noise low, in both folds: a threshold tuned on either fold separates the other.
    sources = [f"zh-{i:03d}" for i in range(40)]
    assert {_fold(s) for s in sources} == {0, 1}
    gold = {(s, f"en-{s}") for s in sources[::2]}
    candidates = [
        (s, f"en-{s}", 2.0 - i / 100) if (s, f"en-{s}") in gold else (s, "en-x" + s, 0.5)
        for i, s in enumerate(sources)
    ]
    result = crossfit_scores(candidates, gold)
    assert result["f1"] == pytest.approx(100.0) and len(result["thresholds"]) == 2
    # each fold's threshold equals the one tuned on the other fold alone
    for held_out, threshold in enumerate(result["thresholds"]):
        other = [c for c in candidates if _fold(c[0]) != held_out]
        assert threshold == tune_threshold(other, [g for g in gold if _fold(g[0]) != held_out])[0]

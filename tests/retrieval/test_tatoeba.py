"""Tatoeba direction and indices: English (sorted) lines query, the non-English file is the index."""

import numpy as np
import pytest

from xstilts.data.records import BitextCorpus, BitextSide
from xstilts.data.xtreme import BitextPair, tatoeba_from_pairs
from xstilts.errors import DataError
from xstilts.metrics.official import accuracy
from xstilts.retrieval.tatoeba import gold_indices, predict_indices

# English line i translates source line GOLD[i]: a 3-cycle, so the reversed direction gives its inverse.
GOLD = [2, 0, 1]
SOURCE = np.eye(3, dtype=np.float32)
ENGLISH = SOURCE[GOLD] + 0.1


def test_english_queries_the_source_index():
    assert predict_indices(SOURCE, ENGLISH) == GOLD
    assert accuracy(GOLD, predict_indices(SOURCE, ENGLISH))["accuracy"] == 100.0


def test_the_reversed_direction_fails():
    reversed_direction = predict_indices(ENGLISH, SOURCE)  # source queries, English index
    assert reversed_direction == [1, 2, 0]
    assert accuracy(GOLD, reversed_direction)["accuracy"] == 0.0


def test_a_hub_source_sentence_can_be_predicted_twice():
    source = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    english = np.array([[0.9, 0.1], [0.6, 0.4]], dtype=np.float32)
    assert predict_indices(source, english) == [0, 0]


def test_gold_indices_follow_the_sorted_english_file():
    pairs = [
        BitextPair(str(i), src, str(i), en)
        for i, (src, en) in enumerate([("c", "zeta"), ("a", "alpha"), ("b", "mu")])
    ]
    corpus = tatoeba_from_pairs(pairs, language="de")
    assert corpus.english.sentences == ("alpha", "mu", "zeta")
    assert gold_indices(corpus) == [1, 2, 0]


def test_gold_is_required():
    side = BitextSide(ids=("0",), sentences=("x",))
    with pytest.raises(DataError):
        gold_indices(BitextCorpus(language="de", source=side, english=side))

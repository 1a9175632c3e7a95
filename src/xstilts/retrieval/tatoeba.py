"""Tatoeba similarity search in the official direction (PROTOCOL §4).

The non-English sentences form the index and each line of the *sorted* English file is a query: prediction
line i is the 0-based position, in ``{lg}-en.{lg}``, of the nearest neighbour (cosine) of English line i.
Querying the other way gives a different, non-comparable number.
"""

from __future__ import annotations

import numpy as np

from xstilts.data.records import BitextCorpus
from xstilts.errors import DataError
from xstilts.retrieval.knn import knn, l2_normalized


def predict_indices(source_emb: np.ndarray, english_emb: np.ndarray) -> list[int]:
    """For each (sorted) English row, the source row most similar to it."""
    _, nearest = knn(l2_normalized(english_emb), l2_normalized(source_emb), 1)
    return nearest[:, 0].tolist()


def gold_indices(corpus: BitextCorpus) -> list[int]:
    """For each sorted English line, the source line of its translation (from the reader's
    ``(source line, English line)`` gold pairs)."""
    if corpus.gold is None:
        raise DataError(corpus.origin, "Tatoeba corpus read without gold indices")
    by_line = {int(english): int(source) for source, english in corpus.gold}
    return [by_line[line] for line in range(len(corpus.english.sentences))]

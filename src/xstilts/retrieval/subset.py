"""Deterministic subsets of retrieval corpora, for runs that cannot afford to embed every sentence
(``max_eval_examples`` of a BUCC or Tatoeba target).

The subsets keep the task well defined, but they are easier than the full corpus (fewer distractors), so
numbers from a subset are comparable only with numbers from the same subset: arms within one grid, not the
published tables. The sizes used are recorded with every result (``counts``).
"""

from __future__ import annotations

from xstilts.data.records import BitextCorpus, BitextSide


def _side(side: BitextSide, keep: list[int]) -> BitextSide:
    return BitextSide(ids=tuple(side.ids[i] for i in keep), sentences=tuple(side.sentences[i] for i in keep))


def head_tatoeba(corpus: BitextCorpus, n: int) -> BitextCorpus:
    """The first ``n`` source sentences (LASER order) and their English translations, still sorted; the gold
    is renumbered to the kept lines. Without gold, the first ``n`` lines of each side."""
    if n >= len(corpus.source.sentences):
        return corpus
    if corpus.gold is None:
        keep = list(range(n))
        return BitextCorpus(
            corpus.language, _side(corpus.source, keep), _side(corpus.english, keep), None, corpus.origin
        )
    source_of = {int(english): int(source) for source, english in corpus.gold}
    english_kept = [line for line in range(len(corpus.english.sentences)) if source_of[line] < n]
    ids = tuple(map(str, range(n)))
    return BitextCorpus(
        language=corpus.language,
        source=BitextSide(ids=ids, sentences=corpus.source.sentences[:n]),
        english=BitextSide(ids=ids, sentences=tuple(corpus.english.sentences[i] for i in english_kept)),
        gold=tuple((str(source_of[line]), str(new)) for new, line in enumerate(english_kept)),
        origin=corpus.origin,
    )


def head_bucc(corpus: BitextCorpus, n: int) -> BitextCorpus:
    """Every sentence of a gold pair plus the first ``n`` other sentences of each side as distractors, in file
    order; the gold is unchanged. Without gold, the first ``n`` sentences of each side."""
    in_gold = (
        ({s for s, _ in corpus.gold}, {e for _, e in corpus.gold})
        if corpus.gold is not None
        else (set(), set())
    )

    def keep(side: BitextSide, gold_ids: set[str]) -> BitextSide:
        kept, others = [], 0
        for i, sentence_id in enumerate(side.ids):
            if sentence_id in gold_ids:
                kept.append(i)
            elif others < n:
                kept.append(i)
                others += 1
        return _side(side, kept)

    return BitextCorpus(
        language=corpus.language,
        source=keep(corpus.source, in_gold[0]),
        english=keep(corpus.english, in_gold[1]),
        gold=corpus.gold,
        origin=corpus.origin,
    )

"""Retrieval subsets: the kept sentences still pair up with their gold, and nothing else changes."""

from xstilts.data.records import BitextCorpus, BitextSide
from xstilts.retrieval.subset import head_bucc, head_tatoeba


def _tatoeba(n: int) -> BitextCorpus:
    source = [f"s{i:02d} {chr(ord('z') - i)}" for i in range(n)]
    english = [f"{chr(ord('z') - i)} e{i:02d}" for i in range(n)]  # translation of source i
    order = sorted(range(n), key=lambda i: english[i])
    ids = tuple(map(str, range(n)))
    return BitextCorpus(
        language="de",
        source=BitextSide(ids, tuple(source)),
        english=BitextSide(ids, tuple(english[i] for i in order)),
        gold=tuple((str(source_line), str(line)) for line, source_line in enumerate(order)),
    )


def test_tatoeba_head_keeps_translations_sorted_and_renumbers_the_gold():
    corpus = _tatoeba(12)
    small = head_tatoeba(corpus, 5)
    assert small.source.sentences == corpus.source.sentences[:5]
    assert list(small.english.sentences) == sorted(small.english.sentences)
    assert len(small.english.sentences) == 5
    for source, english in small.gold:  # every gold pair is still a translation pair
        assert small.source.sentences[int(source)][4:] == small.english.sentences[int(english)][:1]
    assert head_tatoeba(corpus, 12) is corpus and head_tatoeba(corpus, 50) is corpus


def test_bucc_head_keeps_every_gold_sentence_and_the_first_distractors():
    src_ids = tuple(f"de-{i}" for i in range(10))
    en_ids = tuple(f"en-{i}" for i in range(10))
    gold = (("de-7", "en-2"), ("de-9", "en-8"))
    corpus = BitextCorpus(
        "de",
        BitextSide(src_ids, tuple(f"src {i}" for i in range(10))),
        BitextSide(en_ids, tuple(f"en {i}" for i in range(10))),
        gold,
    )
    small = head_bucc(corpus, 3)
    assert small.source.ids == ("de-0", "de-1", "de-2", "de-7", "de-9")
    assert small.english.ids == ("en-0", "en-1", "en-2", "en-3", "en-8")
    assert small.source.sentences[3] == "src 7" and small.gold == gold

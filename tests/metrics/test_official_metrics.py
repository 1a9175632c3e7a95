"""Per-language metrics against hand-computed values (PROTOCOL §4)."""

from __future__ import annotations

import pytest

from xstilts.errors import UnknownNameError
from xstilts.metrics import (
    QaGold,
    accuracy,
    bucc_scores,
    mlqa_normalize,
    mlqa_scores,
    squad_normalize,
    squad_scores,
    tagging_scores,
)

approx = pytest.approx


# --- accuracy ----------------------------------------------------------------------------------------------------


def test_accuracy_exact_line_match():
    # 3 of 4 lines equal -> 75.0
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == {"accuracy": approx(75.0)}


def test_accuracy_rejects_length_mismatch_and_empty_input():
    with pytest.raises(ValueError):
        accuracy(["a", "b"], ["a"])
    with pytest.raises(ValueError):
        accuracy([], [])


# --- tagging (seqeval) -------------------------------------------------------------------------------------------


def test_pos_quirk_seqeval_reads_pos_tags_as_chunks():
    # seqeval reads NOUN as prefix N + type OUN, so a run of NOUNs is one chunk.
    # gold NOUN NOUN VERB DET NOUN -> chunks OUN[0-1] ERB[2] ET[3] OUN[4]       = 4
    # pred NOUN ADJ  VERB DET NOUN -> chunks OUN[0] DJ[1] ERB[2] ET[3] OUN[4]   = 5
    # correct: ERB[2] ET[3] OUN[4] = 3 -> P 3/5 = 60, R 3/4 = 75, F1 = 2*.6*.75/1.35 = 66.67
    # token accuracy: 4 of 5 tokens = 80 (reported under its own name)
    scores = tagging_scores(
        [["NOUN", "NOUN", "VERB", "DET", "NOUN"]], [["NOUN", "ADJ", "VERB", "DET", "NOUN"]]
    )
    assert scores["f1"] == approx(200 / 3)
    assert scores["precision"] == approx(60.0)
    assert scores["recall"] == approx(75.0)
    assert scores["token_accuracy"] == approx(80.0)


def test_pos_quirk_sconj_and_cconj_share_a_type():
    # SCONJ and CCONJ both read as type CONJ: the confusion scores as correct (F1 100), token accuracy 2/3.
    scores = tagging_scores([["SCONJ", "PRON", "VERB"]], [["CCONJ", "PRON", "VERB"]])
    assert scores["f1"] == approx(100.0)
    assert scores["token_accuracy"] == approx(200 / 3)


def test_ner_micro_f1_over_sentences_needs_exact_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"], ["O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O", "O"], ["B-MISC", "O"]]
    # gold chunks PER LOC ORG[1-2] = 3; pred PER LOC ORG[1] MISC = 4; correct PER LOC = 2
    # P 2/4 = 50, R 2/3, F1 = 2*.5*(2/3)/(.5+2/3) = 4/7 = 57.14; tokens 8/10 correct = 80
    scores = tagging_scores(gold, pred)
    assert scores == {
        "f1": approx(400 / 7),
        "precision": approx(50.0),
        "recall": approx(200 / 3),
        "token_accuracy": approx(80.0),
    }


def test_ner_default_seqeval_mode_lets_i_tag_open_a_chunk():
    # evaluate.py calls seqeval without mode="strict": I-PER I-PER is the chunk PER[0-1], same as B-PER I-PER.
    assert tagging_scores([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])["f1"] == approx(100.0)


def test_tagging_without_predicted_chunks_scores_zero():
    assert tagging_scores([["B-PER", "O"]], [["O", "O"]])["f1"] == 0.0


def test_tagging_rejects_misaligned_sentences():
    with pytest.raises(ValueError):
        tagging_scores([["O", "O"]], [["O"]])


# --- BUCC ----------------------------------------------------------------------------------------------------------


def test_bucc_set_precision_recall_f1():
    gold = [("zh-1", "en-1"), ("zh-2", "en-2"), ("zh-3", "en-3"), ("zh-4", "en-4")]
    # 5 distinct predicted pairs (the repeated one counts once), 3 correct:
    # P 3/5 = 60, R 3/4 = 75, F1 = 2*.6*.75/1.35 = 66.67
    pred = [
        ("zh-1", "en-1"),
        ("zh-2", "en-2"),
        ("zh-3", "en-3"),
        ("zh-5", "en-5"),
        ("zh-6", "en-7"),
        ("zh-1", "en-1"),
    ]
    assert bucc_scores(gold, pred) == {
        "f1": approx(200 / 3),
        "precision": approx(60.0),
        "recall": approx(75.0),
    }


def test_bucc_no_overlap_is_zero_and_direction_matters():
    assert bucc_scores([("de-1", "en-1")], [("en-1", "de-1")]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


# --- SQuAD normaliser (XQuAD, TyDiQA) --------------------------------------------------------------------------


def test_squad_normalize():
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("Levi's Stadium") == "levis stadium"  # ASCII punctuation is deleted, not split on
    assert squad_normalize("«Paris»") == "«paris»"  # non-ASCII punctuation is kept


def test_squad_multi_answer_max_missing_and_extra_ids():
    gold = [
        QaGold("q1", ("Denver Broncos", "The Denver Broncos")),
        QaGold("q2", ("Santa Clara, California", "Levi's Stadium")),
        QaGold("q3", ("February 7, 2016",)),
    ]
    pred = {"q1": "the Denver Broncos!", "q2": "Levi's Stadium in Santa Clara", "extra": "ignored"}
    # q1: "denver broncos" == gold -> EM 1, F1 1
    # q2: pred tokens levis stadium in santa clara (5)
    #     vs "santa clara california": 2 common, P 2/5 R 2/3 -> F1 0.5
    #     vs "levis stadium":          2 common, P 2/5 R 1   -> F1 4/7   (max)
    # q3: unanswered -> 0; "extra" is ignored
    # EM = 1/3 = 33.33; F1 = (1 + 4/7 + 0)/3 = 11/21 = 52.38
    assert squad_scores(gold, pred) == {"exact_match": approx(100 / 3), "f1": approx(1100 / 21)}


def test_answer_that_normalises_to_nothing_scores_em_but_not_f1():
    # Official quirk: "The" normalises to "" on both sides, so EM holds but token F1 is 0 (no common token).
    assert squad_scores([QaGold("q", ("the",))], {"q": "The"}) == {"exact_match": 100.0, "f1": 0.0}


def test_squad_normaliser_is_not_language_aware():
    # zh without spaces is one token: a partial answer gets F1 0 under SQuAD but 2/3 under MLQA (below).
    gold = [QaGold("q", ("北京大学",))]
    assert squad_scores(gold, {"q": "北京"}) == {"exact_match": 0.0, "f1": 0.0}


# --- MLQA normaliser -----------------------------------------------------------------------------------------------


def test_mlqa_zh_character_tokens_and_unicode_punctuation():
    assert mlqa_normalize("北京大学", "zh") == "北 京 大 学"
    assert mlqa_normalize("电动势。", "zh") == "电 动 势"  # '。' is Unicode P*
    assert mlqa_normalize("iPhone手机", "zh") == "iphone 手 机"  # non-CJK runs split on whitespace only
    gold = [QaGold("q1", ("北京大学",)), QaGold("q2", ("电动势。",)), QaGold("q3", ("iPhone 手机",))]
    pred = {"q1": "北京", "q2": "电动势", "q3": "iphone手机"}
    # q1: 北 京 vs 北 京 大 学: 2 common, P 1, R 1/2 -> F1 2/3, EM 0; q2, q3: EM 1, F1 1
    # EM = 2/3 = 66.67; F1 = (2/3 + 1 + 1)/3 = 8/9 = 88.89
    assert mlqa_scores(gold, pred, "zh") == {"exact_match": approx(200 / 3), "f1": approx(800 / 9)}


def test_mlqa_arabic_al_quirk_removes_the_substring_inside_words():
    # Every 'ال' becomes a space: بالمدرسة -> "ب مدرسة" (2 tokens); مثال -> "مث".
    assert mlqa_normalize("بالمدرسة", "ar") == "ب مدرسة"
    assert mlqa_normalize("مثال", "ar") == "مث"
    gold = [QaGold("q1", ("بالمدرسة",)), QaGold("q2", ("مثال",))]
    pred = {"q1": "المدرسة", "q2": "مث"}
    # q1: [مدرسة] vs [ب, مدرسة]: P 1, R 1/2 -> F1 2/3, EM 0; q2: EM 1, F1 1
    # EM = 1/2 = 50; F1 = (2/3 + 1)/2 = 5/6 = 83.33
    assert mlqa_scores(gold, pred, "ar") == {"exact_match": approx(50.0), "f1": approx(250 / 3)}
    # The SQuAD normaliser keeps the article: the same q1 scores 0.
    assert squad_scores(gold[:1], pred)["f1"] == 0.0


def test_mlqa_german_articles():
    assert mlqa_normalize("Der Bundestag", "de") == "bundestag"
    assert mlqa_normalize("einem Haus", "de") == "haus"
    assert mlqa_normalize("Dieter", "de") == "dieter"  # word boundaries: no article inside a word
    gold = [QaGold("q1", ("der Bundestag",)), QaGold("q2", ("Berliner Mauer",)), QaGold("q3", ("1989",))]
    pred = {"q1": "Bundestag", "q2": "die Mauer"}
    # q1: EM 1; q2: [mauer] vs [berliner, mauer]: P 1, R 1/2 -> F1 2/3; q3 unanswered -> 0
    # EM = 1/3 = 33.33; F1 = (1 + 2/3 + 0)/3 = 5/9 = 55.56
    assert mlqa_scores(gold, pred, "de") == {"exact_match": approx(100 / 3), "f1": approx(500 / 9)}


@pytest.mark.parametrize(
    ("text", "lang", "normalised"),
    [
        ("The answer", "en", "answer"),
        ("los perros", "es", "perros"),
        ("những con mèo", "vi", "con mèo"),
        ("एक किताब", "hi", "एक किताब"),  # hi: no articles
        ("a$b+c", "en", "abc"),  # ASCII symbols are removed as in string.punctuation
    ],
)
def test_mlqa_articles_per_language(text, lang, normalised):
    assert mlqa_normalize(text, lang) == normalised


def test_mlqa_unknown_language_is_an_error():
    with pytest.raises(UnknownNameError, match="'fr'"):
        mlqa_normalize("le chat", "fr")
    with pytest.raises(UnknownNameError):
        mlqa_scores([QaGold("q", ("x",))], {"q": "x"}, "fr")

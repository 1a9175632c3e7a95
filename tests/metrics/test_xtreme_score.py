"""XTREME score, task scores, category means and partial-score reporting (PROTOCOL §5)."""

from __future__ import annotations

import pytest

from xstilts.errors import UnknownNameError
from xstilts.metrics import (
    CATEGORIES,
    TASK2LANGS,
    TASKS,
    task_score,
    task_score_from_averages,
    xtreme_score,
)

# XTREME Table 2 zero-shot test rows (QA as F1/EM), PROTOCOL §5.
TABLE2 = {
    "mBERT": {
        "xnli": 65.4,
        "pawsx": 81.9,
        "udpos": 70.3,
        "panx": 62.2,
        "xquad": (64.5, 49.4),
        "mlqa": (61.4, 44.2),
        "tydiqa": (59.7, 43.9),
        "bucc2018": 56.7,
        "tatoeba": 38.7,
    },
    "XLM-R": {
        "xnli": 79.2,
        "pawsx": 86.4,
        "udpos": 73.8,
        "panx": 65.4,
        "xquad": (76.6, 60.8),
        "mlqa": (71.6, 53.2),
        "tydiqa": (65.1, 45.0),
        "bucc2018": 66.0,
        "tatoeba": 57.3,
    },
}


def _task_scores(row: dict) -> dict[str, float]:
    scores = {}
    for task, value in row.items():
        if isinstance(value, tuple):
            scores[task] = task_score_from_averages(task, {"f1": value[0], "exact_match": value[1]})
        else:
            key = "accuracy" if task in ("xnli", "pawsx", "tatoeba") else "f1"
            scores[task] = task_score_from_averages(task, {key: value})
    return scores


@pytest.mark.parametrize(
    ("model", "expected", "category_mean"),
    [
        # mBERT: QA (64.5+49.4)/2=56.95, (61.4+44.2)/2=52.8, (59.7+43.9)/2=51.8;
        #   (65.4+81.9+70.3+62.2+56.95+52.8+51.8+56.7+38.7)/9 = 536.75/9 = 59.639
        #   categories: cls 73.65, tag 66.25, qa 161.55/3 = 53.85, retrieval 47.7 -> 241.45/4 = 60.36 (≈ 60.4)
        ("mBERT", 536.75 / 9, 241.45 / 4),
        # XLM-R: QA 68.7, 62.4, 55.05; (79.2+86.4+73.8+65.4+68.7+62.4+55.05+66.0+57.3)/9 = 614.25/9 = 68.25
        #   categories: cls 82.8, tag 69.6, qa 62.05, retrieval 61.65 -> 276.1/4 = 69.025 (≈ 69.0)
        ("XLM-R", 614.25 / 9, 276.1 / 4),
    ],
)
def test_table2_scores_are_reproduced_and_differ_from_the_category_mean(model, expected, category_mean):
    result = xtreme_score(_task_scores(TABLE2[model]))
    assert result.complete
    assert abs(result.value - {"mBERT": 59.639, "XLM-R": 68.250}[model]) < 0.01
    assert result.value == pytest.approx(expected)
    # Negative control: the mean of the four category means is a different number.
    mean_of_categories = sum(result.category_means.values()) / len(CATEGORIES)
    assert mean_of_categories == pytest.approx(category_mean)
    assert abs(mean_of_categories - {"mBERT": 60.4, "XLM-R": 69.0}[model]) < 0.05
    assert abs(mean_of_categories - result.value) > 0.5


def test_mbert_retrieval_category():
    # (56.7 + 38.7)/2 = 47.7
    assert xtreme_score(_task_scores(TABLE2["mBERT"])).category_means["retrieval"] == pytest.approx(47.7)


def test_xlmr_pos_value_matters():
    # With POS 72.6 instead of 73.8 the score drops by 1.2/9 to 68.117.
    scores = _task_scores(TABLE2["XLM-R"]) | {"udpos": 72.6}
    assert abs(xtreme_score(scores).value - 68.25) > 0.1


def test_missing_tasks_make_the_score_partial():
    scores = _task_scores(TABLE2["XLM-R"])
    del scores["bucc2018"], scores["tatoeba"]
    result = xtreme_score(scores)
    assert not result.complete
    assert result.missing_tasks == ("bucc2018", "tatoeba")
    # mean of the 7 trained tasks: (614.25 - 66.0 - 57.3)/7 = 490.95/7 = 70.136
    assert result.value == pytest.approx(490.95 / 7)
    assert "retrieval" not in result.category_means  # a category needs all of its tasks
    assert set(result.category_means) == {"classification", "tagging", "qa"}
    assert "PARTIAL" in result.describe() and "bucc2018, tatoeba" in result.describe()
    assert result.to_dict()["complete"] is False


def test_missing_languages_make_the_score_partial():
    scores = _task_scores(TABLE2["XLM-R"])
    result = xtreme_score(scores, {"xnli": ["ur"], "panx": []})
    assert not result.complete
    assert result.missing_tasks == ()
    assert result.missing_languages == {"xnli": ("ur",)}
    assert result.partial_categories == ("classification",)
    assert "xnli 1/15" in result.describe()


def test_no_task_at_all():
    result = xtreme_score({})
    assert result.value is None and not result.complete and result.missing_tasks == TASKS
    assert "no XTREME score" in result.describe()


def test_unknown_task_is_an_error():
    with pytest.raises(UnknownNameError, match="xnlii"):
        xtreme_score({"xnlii": 50.0})


def test_task_score_averages_official_languages_only():
    # QA: (mean F1 + mean EM)/2 over en, de; "fr" is not an MLQA language, so it is reported but not averaged.
    # mean F1 = (80+60)/2 = 70, mean EM = (60+40)/2 = 50 -> (70+50)/2 = 60
    per_language = {
        "en": {"f1": 80.0, "exact_match": 60.0},
        "de": {"f1": 60.0, "exact_match": 40.0},
        "fr": {"f1": 0.0, "exact_match": 0.0},
    }
    ts = task_score("mlqa", per_language)
    assert ts.value == pytest.approx(60.0)
    assert ts.languages == ("en", "de")
    assert ts.unofficial_languages == ("fr",)
    assert ts.missing_languages == ("es", "ar", "hi", "vi", "zh")
    assert not ts.complete


def test_task_score_uses_f1_not_token_accuracy_for_tagging():
    # F1 (66.67 + 100)/2 = 83.33; token accuracy (80 + 66.67)/2 would be 73.33 and must not be the score.
    ts = task_score(
        "udpos",
        {"en": {"f1": 200 / 3, "token_accuracy": 80.0}, "de": {"f1": 100.0, "token_accuracy": 200 / 3}},
    )
    assert ts.value == pytest.approx(250 / 3)
    assert ts.averages["token_accuracy"] == pytest.approx(220 / 3)


def test_task_score_complete_and_empty():
    langs = TASK2LANGS["bucc2018"]
    assert task_score("bucc2018", {lang: {"f1": 50.0} for lang in langs}).complete
    assert task_score("bucc2018", {"xx": {"f1": 50.0}}).value is None

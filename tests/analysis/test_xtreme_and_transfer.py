"""XTREME table, Δ and transfer matrix on a table small enough to compute by hand (see the comments)."""

import math

import pandas as pd
import pytest

from xstilts.analysis.deltas import deltas
from xstilts.analysis.table import main_scores, results_frame
from xstilts.analysis.transfer import transfer_by_language, transfer_matrix
from xstilts.analysis.xtreme_table import XTREME, xtreme_table
from xstilts.results.db import ResultRow

# arm -> seed -> target -> language -> metric values
DATA = {
    "base": {
        1: {"xnli": {"en": 80, "de": 70}, "xquad": {"en": (80, 70), "es": (60, 50)}},  # 75, (70+60)/2 = 65
        2: {"xnli": {"en": 82, "de": 72}, "xquad": {"en": (82, 72), "es": (62, 52)}},  # 77, 67
    },
    "a": {
        1: {"xnli": {"en": 81, "de": 74}, "xquad": {"en": (84, 74), "es": (60, 50)}},  # 77.5, 67
        2: {"xnli": {"en": 83, "de": 75}, "xquad": {"en": (84, 74), "es": (64, 54)}},  # 79, 69
    },
}


def rows():
    out = []
    for arm, seeds in DATA.items():
        for seed, targets in seeds.items():
            for target, langs in targets.items():
                for lang, v in langs.items():
                    metrics = {"f1": v[0], "exact_match": v[1]} if target == "xquad" else {"accuracy": v}
                    out += [ResultRow("m", arm, target, lang, m, seed, "h", "test", float(x), "r", "target")
                            for m, x in metrics.items()]  # fmt: skip
            # noise the table must ignore: a reference metric and a language outside XNLI's official list
            out.append(
                ResultRow("m", arm, "xnli", "de", "majority_accuracy", seed, "h", "test", 33.0, "r", "target")
            )
            out.append(ResultRow("m", arm, "xnli", "az", "accuracy", seed, "h", "test", 0.0, "r", "target"))
    return results_frame(out)


@pytest.fixture
def results():
    return rows()


def test_xtreme_table_by_hand(results):
    table = xtreme_table(results, {"xnli": "test", "xquad": "test"}, ["base", "a"], "base")
    mean, sd = table.wide("mean"), table.wide("sd")
    assert mean.loc["base", "xnli"] == pytest.approx(76.0)
    assert mean.loc["base", "xquad"] == pytest.approx(66.0)
    assert mean.loc["base", XTREME] == pytest.approx(71.0)  # seeds 70 and 72
    assert sd.loc["base", XTREME] == pytest.approx(math.sqrt(2))
    assert mean.loc["a", XTREME] == pytest.approx((72.25 + 74.0) / 2)
    delta, dsd = table.wide("delta_mean"), table.wide("delta_sd")
    assert delta.loc["a", "xnli"] == pytest.approx(2.25)
    assert delta.loc["a", "xquad"] == pytest.approx(2.0)
    assert delta.loc["a", XTREME] == pytest.approx(2.125)  # seed-paired: 2.25 and 2.0
    assert dsd.loc["a", XTREME] == pytest.approx(0.25 / math.sqrt(2))
    assert delta.loc["base", XTREME] == 0.0
    assert "PARTIAL" in table.coverage["a"] and "missing tasks" in table.coverage["a"]
    # category means only where all of a category's tasks have a score (metrics.xtreme_score)
    assert list(mean.columns) == ["xnli", "xquad", XTREME]


def test_category_means_when_a_category_is_complete(results):
    pawsx = results[results["target"] == "xnli"].assign(target="pawsx")
    pawsx = pawsx[pawsx["language"] == "de"]  # pawsx de: base 70/72, a 74/75
    both = pd.concat([results, pawsx], ignore_index=True)
    table = xtreme_table(both, {"xnli": "test", "xquad": "test", "pawsx": "test"}, ["base", "a"], "base")
    mean = table.wide("mean")
    assert mean.loc["a", "classification"] == pytest.approx((78.25 + 74.5) / 2)
    assert "qa" not in mean.columns


def test_deltas_are_seed_paired(results):
    d = deltas(main_scores(results), "base").set_index(["target", "language", "seed"])
    assert d.loc[("xnli", "de", 1), "delta"] == 4.0
    assert d.loc[("xquad", "en", 1), "delta"] == 4.0  # (84+74)/2 - (80+70)/2
    assert d.loc[("xquad", "es", 2), "baseline"] == 57.0
    assert set(d["arm"]) == {"a"}


def test_deltas_fall_back_to_the_baseline_mean_for_a_missing_seed(results):
    scores = main_scores(results)
    scores = scores[~((scores["arm"] == "base") & (scores["seed"] == 2))]
    d = deltas(scores, "base").set_index(["target", "language", "seed"])
    assert d.loc[("xnli", "de", 2), "delta"] == 75 - 70


def test_transfer_matrix_by_hand(results):
    d = deltas(main_scores(results), "base")
    m = transfer_matrix(d, ["base", "a"], ["xnli", "xquad"])
    assert list(m.index) == ["a"] and list(m.columns) == ["xnli", "xquad", "mean"]
    assert m.loc["a", "xnli"] == pytest.approx(2.25)  # az (not official) left out
    assert m.loc["a", "xquad"] == pytest.approx(2.0)
    assert m.loc["a", "mean"] == pytest.approx(2.125)
    all_langs = transfer_matrix(d, official_only=False)
    assert all_langs.loc["a", "xnli"] == pytest.approx((5 / 3 + 4 / 3) / 2)  # az Δ 0 joins the average
    by_lang = transfer_by_language(d, "xnli")
    assert list(by_lang.columns) == ["de", "en", "az", "mean"]  # official order, then the rest
    assert by_lang.loc["a", "de"] == pytest.approx(3.5) and by_lang.loc["a", "en"] == pytest.approx(1.0)

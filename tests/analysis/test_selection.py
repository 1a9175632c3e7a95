import pytest

from xstilts.analysis.selection import select_best_arms
from xstilts.analysis.table import main_scores, report_splits, results_frame
from xstilts.results.db import ResultRow


def r(arm, target, lang, metric, value, split="test", seed=1):
    return ResultRow("m", arm, target, lang, metric, seed, "h", split, value, "run", "target")


def results():
    rows = []
    # XNLI: arm b wins English dev although arm a is better in the target languages (never looked at)
    for arm, dev_en, test_de in (("base", 80.0, 60.0), ("a", 81.0, 70.0), ("b", 83.0, 65.0)):
        rows += [r(arm, "xnli", "en", "accuracy", dev_en, "dev"), r(arm, "xnli", "de", "accuracy", test_de)]
        rows.append(r(arm, "xnli", "en", "accuracy", dev_en - 1))
    # XQuAD: English only on test (PROTOCOL §3); BUCC: no English at all
    for arm, f1 in (("base", 70.0), ("a", 74.0), ("b", 72.0)):
        rows += [r(arm, "xquad", "en", "f1", f1), r(arm, "xquad", "en", "exact_match", f1 - 10)]
        rows.append(r(arm, "bucc2018", "de", "f1", 50.0 + (arm == "a") * 10, "dev"))
    return results_frame(rows)


def test_best_arm_is_chosen_on_english_only_with_warnings():
    res = results()
    scores = main_scores(res)
    sel = select_best_arms(scores, res, report_splits(scores), ["base", "a", "b"], "base")
    assert sel.choice == {"xnli": "b", "xquad": "a", "bucc2018": "base"}
    text = " ".join(sel.warnings)
    assert "xquad: its only English evaluation is test data" in text
    assert "bucc2018: no English result" in text and "baseline arm 'base'" in text
    assert not any(w.startswith("xnli") for w in sel.warnings)  # chosen on English dev: nothing to warn
    english = sel.english.set_index(["target", "arm"])
    assert english.loc[("xnli", "b"), "split"] == "dev" and english.loc[("xnli", "b"), "chosen"]
    # XTREME score of the choice: xnli b (test: en 82, de 65 -> 73.5), xquad a 69, bucc base 50
    assert sel.score[0] == pytest.approx((73.5 + 69 + 50) / 3)
    # baseline: xnli 69.5, xquad 65, bucc 50
    assert sel.delta[0] == pytest.approx((73.5 + 69 + 50) / 3 - (69.5 + 65 + 50) / 3)
    assert "PARTIAL" in sel.coverage and "bucc2018" in sel.coverage  # bucc scored on dev data


def test_selection_is_cross_fitted_over_seeds():
    """Seed 1's English favours arm a, seed 2's favours b: each seed is scored with the other's choice."""
    rows = []
    for seed, en in ((1, {"base": 80.0, "a": 90.0, "b": 85.0}), (2, {"base": 80.0, "a": 84.0, "b": 88.0})):
        for arm, v in en.items():
            rows += [
                r(arm, "xnli", "en", "accuracy", v, "dev", seed),
                r(arm, "xnli", "de", "accuracy", v, "test", seed),
            ]
            rows.append(r(arm, "xnli", "en", "accuracy", v, "test", seed))
    res = results_frame(rows)
    scores = main_scores(res)
    sel = select_best_arms(scores, res, report_splits(scores), ["base", "a", "b"], "base")
    assert sel.seed_choice == {1: {"xnli": "b"}, 2: {"xnli": "a"}}
    assert sel.per_seed == {1: pytest.approx(85.0), 2: pytest.approx(84.0)}  # not the optimistic 90 / 88

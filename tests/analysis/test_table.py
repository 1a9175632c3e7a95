import json
import time

import pandas as pd
import pytest
import yaml

from xstilts.analysis.table import (
    arm_formats,
    arm_groups,
    baseline_arm,
    load_results,
    load_run_config,
    main_scores,
    report_splits,
    results_frame,
)
from xstilts.config import ArmConfig, RunConfig, TargetConfig
from xstilts.errors import XstiltsError
from xstilts.results.db import ResultRow, record_results


def row(arm="a", target="xnli", language="de", metric="accuracy", seed=1, value=50.0, split="test", h="h"):
    return ResultRow("m", arm, target, language, metric, seed, h, split, value, "run", "target")


def test_main_score_is_the_official_metric_and_qa_averages_f1_and_em():
    df = results_frame(
        [
            row(value=70.0),
            row(metric="majority_accuracy", value=33.3),  # a reference row, never the main score
            row(target="xquad", metric="f1", value=80.0),
            row(target="xquad", metric="exact_match", value=60.0),
            row(target="xquad", language="es", metric="f1", value=50.0),  # no EM: no score
            row(target="udpos", metric="f1", value=90.0),
            row(target="udpos", metric="token_accuracy", value=95.0),
            row(target="pawsx", value=None),  # not computable: no score
        ]
    )
    scores = main_scores(df).set_index(["target", "language"])["score"]
    assert scores.to_dict() == {("xnli", "de"): 70.0, ("xquad", "de"): 70.0, ("udpos", "de"): 90.0}


def test_arm_groups_and_formats_come_from_the_registry():
    cfg = RunConfig(
        name="x",
        arms=[
            ArmConfig(name="base"),
            ArmConfig(name="mnli", tasks=["mnli"]),
            ArmConfig(name="sst2", tasks=["sst2"]),
            ArmConfig(name="pubmedqa", tasks=["pubmedqa"]),
            ArmConfig(name="covid", tasks=["covid_qa"]),
            ArmConfig(name="cnli", tasks=["contract_nli"]),
            ArmConfig(name="mix", tasks=["mnli", "pubmedqa"]),
            ArmConfig(name="xnli_de", tasks=["xnli_de"]),  # a per-language variant id
        ],
        targets=[TargetConfig(task="xnli")],
    )
    assert baseline_arm(cfg) == "base"
    assert arm_groups(cfg) == {
        "base": "baseline", "mnli": "general", "sst2": "general", "pubmedqa": "biomedical",
        "covid": "biomedical", "cnli": "legal", "mix": "mixed", "xnli_de": "general",
    }  # fmt: skip
    formats = arm_formats(cfg)
    assert formats["mnli"] == formats["cnli"] == ("nli",)  # NLI is matched apart from other classification
    assert formats["sst2"] == formats["pubmedqa"] == ("classification",)
    assert formats["covid"] == ("span_qa",) and formats["base"] == ()
    assert formats["mix"] == ("classification", "nli")
    assert formats["xnli_de"] == ("nli",)


def test_report_split_prefers_test_then_dev():
    scores = pd.DataFrame(
        {"target": ["xnli", "xnli", "bucc2018"], "split": ["dev", "test", "dev"], "score": [1.0, 2.0, 3.0]}
    )
    assert report_splits(scores) == {"xnli": "test", "bucc2018": "dev"}


def test_load_results_keeps_only_the_newest_settings(tmp_path):
    db = tmp_path / "results.sqlite"
    record_results(db, [row(h="old", value=10.0), row(language="fr", h="old", value=11.0)])
    time.sleep(0.01)
    record_results(db, [row(h="new", value=20.0), row(target="pawsx", h="p", value=5.0)])
    df = load_results(tmp_path)
    assert sorted(zip(df["target"], df["settings_hash"], df["value"], strict=True)) == [
        ("pawsx", "p", 5.0),
        ("xnli", "new", 20.0),
    ]
    assert "2 rows from superseded settings" in df.attrs["notes"][0] and "a→xnli" in df.attrs["notes"][0]


def test_load_errors_and_config(tmp_path):
    with pytest.raises(XstiltsError, match="no results database"):
        load_results(tmp_path)
    cfg = RunConfig(name="r", targets=[TargetConfig(task="xnli")])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(json.loads(cfg.model_dump_json())))
    assert load_run_config(tmp_path).name == "r"


def test_bucc_on_dev_is_scored_with_the_cross_fitted_f1():
    from xstilts.analysis.table import honest_bucc, main_scores, results_frame
    from xstilts.results.db import ResultRow

    def row(metric, value, split="dev", lang="de"):
        return ResultRow("m", "a", "bucc2018", lang, metric, 1, "h", split, value, "run", "target")

    res = results_frame([row("f1", 90.0), row("f1_crossfit", 70.0), row("precision", 95.0),
                         row("f1", 80.0, "test", "fr"), row("f1_crossfit", 60.0, "test", "fr")])  # fmt: skip
    scores = main_scores(honest_bucc(res)).set_index("language")["score"]
    assert scores["de"] == 70.0  # cross-fitted, not the in-sample 90
    assert scores["fr"] == 80.0  # test: its threshold came from dev already
    assert "cross-fitted" in honest_bucc(res).attrs["notes"][-1]


def test_arms_older_than_the_baselines_current_settings_are_flagged(tmp_path):
    from xstilts.analysis.table import stale_arms
    from xstilts.results.db import ResultRow, connect, record_results

    db = tmp_path / "results.sqlite"

    def rows(arm, h):
        return [ResultRow("m", arm, "xnli", "de", "accuracy", 1, h, "test", 50.0, "run", "target")]

    record_results(db, rows("base", "old") + rows("a", "a-old") + rows("b", "b-old") + rows("base", "new")
                   + rows("b", "b-new"))  # fmt: skip
    con = connect(db)
    for h, t in (("old", 1.0), ("a-old", 2.0), ("b-old", 2.0), ("new", 3.0), ("b-new", 4.0)):
        con.execute("UPDATE results SET created = ? WHERE settings_hash = ?", (t, h))
    con.close()
    warnings = stale_arms(tmp_path, "base")
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: xnli: the rows of a predate the baseline")
    assert stale_arms(tmp_path, None) == []

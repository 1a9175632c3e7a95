"""End to end: the recipe on real sample data, its outputs, idempotent re-runs and config errors."""

import json
from pathlib import Path

import pytest
import yaml

from xstilts.config import load_config
from xstilts.errors import ConfigError
from xstilts.pipeline import Pipeline
from xstilts.results.db import read_results

STEPS = {
    "max_steps": 3,
    "eval_every": 3,
    "eval_examples": 16,
    "batch_size": 8,
    "per_device_batch_size": 8,
    "max_seq_length": 64,
}


def make_config(tmp_path: Path, model: dict, **extra) -> Path:
    cfg = {
        "name": "e2e",
        "output_dir": str(tmp_path / "runs"),
        "model": model,
        "intermediate": STEPS,
        "target_training": STEPS,
        "arms": [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"], "max_train_examples": 64}],
        "targets": [
            {
                "task": "xnli",
                "train": {"task": "mnli", "max_examples": 64},
                "languages": ["de", "zh"],
                "max_eval_examples": 12,
            },
            {
                "task": "pawsx",
                "train": {"split": "dev", "language": "en", "max_examples": 60},
                "gold_only": True,
                "max_eval_examples": 10,
            },
        ],
        **extra,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_embedded_model_end_to_end_on_sample_data(tmp_path):
    cfg = load_config(
        make_config(tmp_path, {"name": "e5-small", "num_layers": 2, "freeze_word_embeddings": True})
    )
    lines = []
    rows = Pipeline(cfg, echo=lines.append).run()
    acc = {(r.arm, r.target, r.language): r.value for r in rows if r.metric == "accuracy"}
    assert set(acc) == {(a, t, lg) for a in ("baseline", "mnli") for t, lg in
                        [("xnli", "de"), ("xnli", "zh"), ("pawsx", "de"), ("pawsx", "zh")]}  # fmt: skip
    assert all(0 <= v <= 100 for v in acc.values())
    run_dir = tmp_path / "runs" / "e2e"
    # predictions in the submission format, one label per evaluated example
    preds = sorted(run_dir.glob("targets/*/xnli/*/predictions/xnli/test-de.tsv"))
    assert len(preds) == 2
    labels = preds[0].read_text().splitlines()
    assert len(labels) == 12 and set(labels) <= {"contradiction", "entailment", "neutral"}
    # the intermediate encoder is saved once, without heads, and reused by both targets
    encoders = list(run_dir.glob("intermediate/mnli-s1-*/encoder/model.safetensors"))
    assert len(encoders) == 1
    summaries = [json.loads(p.read_text()) for p in run_dir.glob("targets/mnli/*/*/summary.json")]
    assert {s["encoder"] for s in summaries} == {str(encoders[0].parent)}
    # the database holds one row per key, including the intermediate dev metric
    db_rows = read_results(run_dir / "results.sqlite")
    intermediate = {r.metric: r.value for r in db_rows if r.stage == "intermediate" and r.target == "mnli"}
    assert {"accuracy", "majority_accuracy"} <= set(intermediate)  # the floor the dev metric must beat
    assert 0 < intermediate["majority_accuracy"] < 100
    assert len([r for r in db_rows if r.stage == "target"]) == len([r for r in rows if r.stage == "target"])

    # a second run does nothing new and duplicates nothing
    lines2 = []
    Pipeline(cfg, echo=lines2.append).run()
    assert not [line for line in lines2 if line.startswith("[")]  # no stage ran
    assert "stages: prepare 3 (3 done); intermediate 1 (1 done); target 4 (4 done)" in lines2
    assert len(read_results(run_dir / "results.sqlite")) == len(db_rows)


def test_unknown_task_and_language_name_the_field(tmp_path):
    path = make_config(tmp_path, {"name": "tiny"}, arms=[{"name": "x", "tasks": ["mnlii"]}])
    with pytest.raises(ConfigError, match=r"arms\.0\.tasks\.0: unknown task 'mnlii'; did you mean 'mnli'"):
        Pipeline(load_config(path))
    path = make_config(tmp_path, {"name": "tiny"})
    cfg = load_config(path)
    cfg.targets[0].languages = ["de", "xx"]
    with pytest.raises(ConfigError, match=r"targets\.0\.languages: \['xx'\]"):
        Pipeline(cfg)


def test_tiny_model_run_records_every_language(tmp_path):
    cfg = load_config(make_config(tmp_path, {"name": "tiny", "freeze_word_embeddings": True}))
    rows = Pipeline(cfg, echo=lambda s: None).run()
    langs = {(r.arm, r.target, r.language) for r in rows if r.stage == "target"}
    assert len(langs) == 8


def test_constant_floor_is_the_best_single_label_score():
    from xstilts.data.records import TextExample
    from xstilts.pipeline import constant_floor
    from xstilts.tasks import get_registry

    spec = get_registry().get("overruling")  # binary F1 of "Yes"; the majority class here is "No"
    gold = [TextExample(str(i), "x", None, "Yes" if i < 3 else "No") for i in range(10)]
    name, value = constant_floor(spec, gold, "en")
    # always "No" scores F1 0; always "Yes": precision 3/10, recall 1 -> F1 = 2·0.3 / 1.3
    assert name == "constant_f1" and value == pytest.approx(100 * 0.6 / 1.3)

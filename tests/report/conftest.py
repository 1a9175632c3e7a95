"""A synthetic run folder (config.yaml + results.sqlite) with a planted answer, and its report written once.

Biomedical arms score 3 points above the general arms of the same format; the legal arm scores exactly what
the general NLI arm scores, so its contrast must read "no detectable difference".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from xstilts.config import ArmConfig, RunConfig, TargetConfig
from xstilts.metrics.xtreme_score import TASK2LANGS
from xstilts.results.db import ResultRow, record_results, record_run

_ARMS = {
    "baseline": [],
    "mnli": ["mnli"],
    "squad": ["squad_v1"],
    "contract_nli": ["contract_nli"],
    "covid_qa": ["covid_qa"],
    "scitail": ["scitail"],
}
EFFECT = {"baseline": 0.0, "mnli": 1.0, "squad": 1.5, "contract_nli": 1.0, "covid_qa": 4.5, "scitail": 4.0}
TARGETS = {"xnli": 60.0, "pawsx": 70.0, "xquad": 55.0}
_SEEDS = [1, 2, 3]


def result(arm, target, lang, metric, seed, split, value) -> ResultRow:
    return ResultRow(
        "tiny", arm, target, lang, metric, seed, f"h-{arm}-{target}", split, value, "synthetic", "target"
    )


def build_run(root: Path, arms: dict | None = None, seeds: list[int] | None = None) -> Path:
    """The synthetic run; ``arms`` / ``seeds`` pick a subset (e.g. the demo's shape: one seed, one task per
    group)."""
    ARMS = {n: t for n, t in _ARMS.items() if arms is None or n in arms}
    SEEDS = seeds or _SEEDS
    cfg = RunConfig(
        name="synthetic",
        output_dir=root,
        seeds=SEEDS,
        arms=[ArmConfig(name=n, tasks=t) for n, t in ARMS.items()],
        targets=[TargetConfig(task=t) for t in TARGETS],
    )
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True)
    config = json.loads(cfg.model_dump_json())
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    db = run_dir / "results.sqlite"
    record_run(db, cfg.name, config, {"xstilts": "test", "git_revision": None})
    rng = np.random.default_rng(7)
    rows = []
    for target, level in TARGETS.items():
        langs = TASK2LANGS[target][:6]
        lang_offset = dict(zip(langs, rng.normal(0, 5, len(langs)), strict=True))
        noise = {(lg, s): rng.normal(0, 0.5, len(_ARMS)) for lg in langs for s in SEEDS}
        for arm in ARMS:
            for lg in langs:
                for s in SEEDS:
                    # the legal arm shares the general NLI arm's noise: their difference is exactly 0
                    eps = noise[(lg, s)][list(_ARMS).index("mnli" if arm == "contract_nli" else arm)]
                    v = level + lang_offset[lg] + EFFECT[arm] + eps
                    metrics = {"f1": v + 5, "exact_match": v - 5} if target == "xquad" else {"accuracy": v}
                    if target != "xquad":
                        metrics["majority_accuracy"] = 33.3
                    rows += [result(arm, target, lg, m, s, "test", val) for m, val in metrics.items()]
                    if lg == "en":  # an English dev result to choose on
                        rows.append(
                            result(arm, target, lg, "f1" if target == "xquad" else "accuracy", s, "dev", v)
                        )
    rows = [r for r in rows if not (r.target == "xquad" and r.split == "dev")]  # XQuAD has no dev
    record_results(db, rows)
    return run_dir


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def written_report(synthetic_run: Path) -> dict[str, Path]:
    from xstilts.report.write import write_report

    return write_report(synthetic_run, synthetic_run / "report", n_boot=500, n_perm=2000)


@pytest.fixture
def run_builder():
    """``build_run`` itself, for tests that need another shape of run."""
    return build_run

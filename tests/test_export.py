"""``export_submission`` on hand-built run folders: which files count as complete test predictions, which of
several finished settings is exported, and the errors for an arm or seed the run does not have."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xstilts import stages
from xstilts.errors import XstiltsError
from xstilts.export import export_submission


def finished_target(
    run_dir: Path, arm: str, task: str, seed: int, key: str, languages: dict, at: float
) -> Path:
    """A committed target stage: summary, DONE marker (finished at ``at``) and one prediction file per language."""
    folder = run_dir / "targets" / arm / task / f"s{seed}-{key}"
    for lang in languages:
        path = folder / "predictions" / task / f"test-{lang}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{key}\n", encoding="utf-8")
    summary = {"arm": arm, "target": task, "seed": seed, "languages": languages}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / stages.DONE).write_text("", encoding="utf-8")
    os.utime(folder / stages.DONE, (at, at))
    return folder


def test_retrieval_results_count_only_when_recorded_complete(tmp_path):
    run = tmp_path / "run"
    finished_target(run, "base", "tatoeba", 1, "k", {"de": {"complete": True}, "fr": {"complete": False},
                                                     "sw": {"accuracy": 50.0}}, at=1000)  # fmt: skip
    report = export_submission(run, tmp_path / "out")
    assert report.copied["tatoeba"] == ["de"]
    # a subset, and a result from before completeness was recorded (it may be a subset): never exported
    assert report.subsets["tatoeba"] == ["fr", "sw"]
    assert not (tmp_path / "out" / "tatoeba" / "test-fr.tsv").exists()
    assert not (tmp_path / "out" / "tatoeba" / "test-sw.tsv").exists()


def test_trained_target_subsets_are_not_exported(tmp_path):
    run = tmp_path / "run"
    finished_target(
        run, "base", "xnli", 1, "k", {"de": {"complete": False}, "fr": {"complete": True}}, at=1000
    )
    report = export_submission(run, tmp_path / "out")
    assert report.copied["xnli"] == ["fr"] and report.subsets["xnli"] == ["de"]


def test_several_settings_of_one_cell_export_the_latest_and_say_so(tmp_path):
    run = tmp_path / "run"
    old = finished_target(run, "base", "xnli", 1, "zzz-old", {"de": {"complete": True}}, at=1000)
    new = finished_target(run, "base", "xnli", 1, "aaa-new", {"de": {"complete": True}}, at=2000)
    report = export_submission(run, tmp_path / "out")
    assert (tmp_path / "out" / "xnli" / "test-de.tsv").read_text() == "aaa-new\n"
    assert report.ignored["xnli"] == (new, [old])


def test_unknown_seed_or_arm_names_what_the_run_has(tmp_path):
    run = tmp_path / "run"
    for seed in (1, 2, 3):
        finished_target(run, "base", "xnli", seed, f"k{seed}", {"de": {"complete": True}}, at=1000)
    with pytest.raises(XstiltsError, match=r"unknown seed 9; the run has seeds 1, 2, 3$"):
        export_submission(run, tmp_path / "out", seed=9)
    with pytest.raises(XstiltsError, match=r"unknown arm 'mnli'; the run has arms base$"):
        export_submission(run, tmp_path / "out", seed=1, arm="mnli")
    with pytest.raises(XstiltsError, match=r"--seed \(one of 1, 2, 3\)"):
        export_submission(run, tmp_path / "out")
    assert export_submission(run, tmp_path / "out", seed=2).copied == {"xnli": ["de"]}

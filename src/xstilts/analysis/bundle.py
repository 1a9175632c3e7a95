"""Every analysis of one run, computed once, for the report writers to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xstilts.analysis.deltas import deltas as compute_deltas
from xstilts.analysis.language_view import grouped, language_deltas
from xstilts.analysis.selection import Selection, select_best_arms
from xstilts.analysis.table import (
    arm_formats,
    arm_groups,
    baseline_arm,
    db_path,
    honest_bucc,
    load_results,
    load_run_config,
    load_runs,
    main_scores,
    on_report_split,
    registry_for,
    report_splits,
    stale_arms,
)
from xstilts.analysis.task_answer import (
    TaskAnswer,
    answer,
    contrast_members,
    floor_flags,
    floor_notes,
    intermediate_floors,
)
from xstilts.analysis.transfer import official, transfer_matrix
from xstilts.analysis.xtreme_table import XtremeTable, xtreme_table
from xstilts.config import RunConfig


@dataclass
class RunAnalysis:
    run_dir: Path
    config: RunConfig
    runs: list[dict]  # the db's runs table: config + provenance
    results: pd.DataFrame  # tidy rows, newest settings
    scores: pd.DataFrame  # main score per (arm, target, language, seed, split), every split
    splits: dict[str, str]  # target -> reporting split
    baseline: str | None
    arms: list[str]
    groups: dict[str, str]
    formats: dict[str, tuple[str, ...]]
    deltas: pd.DataFrame  # reporting split, with a ``group`` column
    xtreme: XtremeTable
    transfer: pd.DataFrame
    answer: TaskAnswer  # domain vs general with the task as the unit
    language: pd.DataFrame  # per arm × language
    families: pd.DataFrame
    scripts: pd.DataFrame
    selection: Selection
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [t.task for t in self.config.targets if t.task in self.splits]


def pilot_cells(run_dir: Path | str) -> tuple[RunConfig, pd.DataFrame]:
    """A run's configuration and its Δ cells (official languages, reporting split): what ``plan --pilot``
    estimates variance components from, without the report's bootstraps."""
    cfg = load_run_config(run_dir)
    scores = main_scores(honest_bucc(load_results(run_dir)), registry_for(cfg))
    return cfg, official(compute_deltas(on_report_split(scores, report_splits(scores)), baseline_arm(cfg)))


def analyse_run(run_dir: Path | str, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0) -> RunAnalysis:
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    registry = registry_for(cfg)
    results = honest_bucc(load_results(run_dir))
    notes = list(results.attrs.get("notes", []))
    notes += stale_arms(run_dir, baseline_arm(cfg))
    notes += floor_notes(intermediate_floors(results))
    scores = main_scores(results, registry)
    splits = report_splits(scores)
    base = baseline_arm(cfg)
    arms = [a.name for a in cfg.arms]
    groups, formats = arm_groups(cfg, registry), arm_formats(cfg, registry)
    d = compute_deltas(on_report_split(scores, splits), base)
    d["group"] = d["arm"].map(groups)
    if base is None:
        notes.append("The configuration has no baseline arm (an arm without tasks): no Δ can be computed.")
    elif len(arms) == 1:
        notes.append(f"The run has only the baseline arm {base!r}: nothing to compare.")
    elif d.empty:
        notes.append(f"The baseline arm {base!r} and the other arms share no result: no Δ can be computed.")
    d_official = official(d)
    lang = language_deltas(d)
    transfer = transfer_matrix(d, arms, [t.task for t in cfg.targets])
    members, mixtures = contrast_members(cfg, groups, formats)
    task_answer = answer(
        transfer.drop(columns="mean"),
        groups,
        members,
        mixtures,
        n_seeds=int(d["seed"].nunique()) if not d.empty else len(cfg.seeds),
        contrasts=[tuple(c) for c in cfg.analysis.primary_contrasts],
        cells=d_official,
        floors=floor_flags(on_report_split(scores, splits), results, base),
        exclude_floor=cfg.analysis.exclude_floor_targets,
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
    )
    return RunAnalysis(
        run_dir=run_dir,
        config=cfg,
        runs=load_runs(db_path(run_dir)),
        results=results,
        scores=scores,
        splits=splits,
        baseline=base,
        arms=arms,
        groups=groups,
        formats=formats,
        deltas=d,
        xtreme=xtreme_table(results, splits, arms, base),
        transfer=transfer,
        answer=task_answer,
        language=lang,
        families=grouped(lang, "family"),
        scripts=grouped(lang, "script"),
        selection=select_best_arms(scores, results, splits, arms, base),
        notes=notes,
    )

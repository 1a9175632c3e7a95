"""Every analysis of one run, computed once, for the report writers to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xstilts.analysis.deltas import deltas as compute_deltas
from xstilts.analysis.language_view import baseline_correlation, grouped, language_deltas
from xstilts.analysis.selection import Selection, select_best_arms
from xstilts.analysis.stats import domain_vs_general, format_matched
from xstilts.analysis.table import (
    arm_formats,
    arm_groups,
    baseline_arm,
    db_path,
    load_results,
    load_run_config,
    load_runs,
    main_scores,
    on_report_split,
    registry_for,
    report_splits,
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
    comparisons: pd.DataFrame  # domain vs general, all formats
    format_comparisons: pd.DataFrame
    language: pd.DataFrame  # per arm × language
    families: pd.DataFrame
    scripts: pd.DataFrame
    correlations: pd.DataFrame
    selection: Selection
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [t.task for t in self.config.targets if t.task in self.splits]


def analyse_run(run_dir: Path | str, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0) -> RunAnalysis:
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    registry = registry_for(cfg)
    results = load_results(run_dir)
    notes = list(results.attrs.get("notes", []))
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
    stats_kw = {"n_boot": n_boot, "n_perm": n_perm, "seed": seed}
    d_official = official(d)
    lang = language_deltas(d)
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
        transfer=transfer_matrix(d, arms, [t.task for t in cfg.targets]),
        comparisons=domain_vs_general(d_official, groups, formats, **stats_kw),
        format_comparisons=format_matched(d_official, groups, formats, **stats_kw),
        language=lang,
        families=grouped(lang, "family"),
        scripts=grouped(lang, "script"),
        correlations=baseline_correlation(d),
        selection=select_best_arms(scores, results, splits, arms, base),
        notes=notes,
    )

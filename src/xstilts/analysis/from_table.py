"""The task-level answer from a committed table instead of a run folder.

Two inputs are understood: the tidy cell table every report writes (``tables/results.csv``: arm, target,
language, seed, delta, ...), from which everything task-level is recomputed, and an arm × target matrix of
mean Δ (``tables/transfer.csv``, index ``arm``, one column per target, an optional ``mean`` column), from
which only what task means allow is (the rest is listed in ``TaskAnswer.missing``). The configuration supplies
the arms' groups, the mixtures, the declared contrasts and, for a matrix, the number of seeds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xstilts.analysis.table import arm_formats, arm_groups, registry_for
from xstilts.analysis.task_answer import TaskAnswer, answer, contrast_members
from xstilts.analysis.tasklevel import cell_task_means
from xstilts.analysis.transfer import official
from xstilts.config import load_config
from xstilts.errors import XstiltsError

CELL_REQUIRED = {"arm", "target", "language", "seed", "delta"}


def read_table(path: Path | str) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(cells or None, arm × target matrix) from a cell table or a transfer matrix CSV."""
    path = Path(path)
    if not path.is_file():
        raise XstiltsError(f"{path}: no such table")
    df = pd.read_csv(path)
    if set(df.columns) >= CELL_REQUIRED:
        bad = df[pd.to_numeric(df["delta"], errors="coerce").isna()]
        if not bad.empty:
            raise XstiltsError(f"{path}: line {bad.index[0] + 2}: field 'delta' is not a number")
        cells = official(df)
        return cells, cell_task_means(cells)
    if "arm" not in df.columns:
        raise XstiltsError(
            f"{path}: neither a cell table (columns {', '.join(sorted(CELL_REQUIRED))}) nor an arm × target "
            "matrix (an 'arm' column and one column per target)"
        )
    matrix = df.set_index("arm").drop(columns=["mean"], errors="ignore")
    for col in matrix.columns:
        values = pd.to_numeric(matrix[col], errors="coerce")
        bad = values.isna() & matrix[col].notna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise XstiltsError(f"{path}: line {line}: field {col!r} is not a number")
        matrix[col] = values
    return None, matrix


def analyse_table(
    table: Path | str, config: Path | str, n_boot: int = 2000, n_perm: int = 20000, seed: int = 0
) -> tuple[TaskAnswer, str]:
    """The TaskAnswer of a committed table, and a line describing the input."""
    cfg = load_config(config)
    cells, matrix = read_table(table)
    known = {a.name for a in cfg.arms}
    unknown = sorted(set(matrix.index) - known)
    if unknown:
        raise XstiltsError(f"{table}: arms not in {config}: {', '.join(unknown)}")
    registry = registry_for(cfg)
    groups = arm_groups(cfg, registry)
    members, mixtures = contrast_members(cfg, groups, arm_formats(cfg, registry))
    n_seeds = int(cells["seed"].nunique()) if cells is not None else len(cfg.seeds)
    ans = answer(
        matrix,
        groups,
        members,
        mixtures,
        n_seeds=n_seeds,
        contrasts=[tuple(c) for c in cfg.analysis.primary_contrasts],
        cells=cells,
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
    )
    kind = "a cell table" if cells is not None else "an arm × target matrix of mean Δ, no cell table"
    describe = (
        f"Recomputed from {table} ({kind}) with the configuration {config}: {len(matrix.index)} arms × "
        f"{len(matrix.columns)} targets; {n_seeds} seed{'s' * (n_seeds != 1)}"
    )
    if cells is not None and "split" in cells:
        splits = cells.groupby("target")["split"].agg(lambda s: "/".join(sorted(set(map(str, s)))))
        describe += "; splits as evaluated: " + ", ".join(f"{t} ({s})" for t, s in splits.items())
    describe += "."
    return ans, describe

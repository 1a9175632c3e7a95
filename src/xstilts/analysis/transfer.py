"""The transfer matrix: arms × targets of the mean Δ against the baseline (the paper's 9 × 9 view).

Δ is averaged over languages within each seed, then over seeds, so a target's cell equals the Δ of its task
score. For XTREME targets only the official languages count (``official_only``), matching the XTREME table.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xstilts.metrics.xtreme_score import TASK2LANGS

MEAN = "mean"


def official(deltas: pd.DataFrame) -> pd.DataFrame:
    """Drop languages outside an XTREME target's official list (other targets keep every language)."""
    keep = [
        lang in TASK2LANGS[t] if t in TASK2LANGS else True
        for t, lang in zip(deltas["target"], deltas["language"], strict=True)
    ]
    return deltas[pd.Series(keep, index=deltas.index, dtype=bool)]


def transfer_matrix(
    deltas: pd.DataFrame,
    arms: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    official_only: bool = True,
) -> pd.DataFrame:
    """arms × targets of mean Δ, plus a ``mean`` column (unweighted over the targets present)."""
    d = official(deltas) if official_only else deltas
    per_seed = d.groupby(["arm", "target", "seed"], as_index=False)["delta"].mean()
    matrix = per_seed.groupby(["arm", "target"])["delta"].mean().unstack("target")
    matrix = _order(matrix, arms, targets)
    matrix[MEAN] = matrix.mean(axis=1)
    return matrix


def transfer_by_language(
    deltas: pd.DataFrame, target: str, arms: Sequence[str] | None = None
) -> pd.DataFrame:
    """arms × languages of one target's mean Δ over seeds, plus a ``mean`` column."""
    d = deltas[deltas["target"] == target]
    matrix = d.groupby(["arm", "language"])["delta"].mean().unstack("language")
    order = list(TASK2LANGS.get(target, ()))
    langs = [lg for lg in order if lg in matrix.columns] + sorted(set(matrix.columns) - set(order))
    matrix = _order(matrix, arms, langs)
    matrix[MEAN] = matrix.mean(axis=1)
    return matrix


def _order(matrix: pd.DataFrame, rows: Sequence[str] | None, cols: Sequence[str] | None) -> pd.DataFrame:
    if rows is not None:
        matrix = matrix.reindex(index=[r for r in rows if r in matrix.index])
    if cols is not None:
        matrix = matrix.reindex(columns=[c for c in cols if c in matrix.columns])
    matrix.columns.name = None
    matrix.index.name = "arm"
    return matrix

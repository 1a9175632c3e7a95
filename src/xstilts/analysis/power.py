"""Minimum detectable effect of a task-level contrast, before the GPU-days are spent (Card et al. 2020).

A task's mean Δ varies between tasks of one group (τ²), between seeds of one task (σ²_seed, one checkpoint
per seed) and between languages (σ²_cell, averaged over languages and targets), so for a grid with S seeds,
L languages and T targets

    Var(task mean) = τ² + σ²_seed / S + σ²_cell / (S · L · T).

The components come from a pilot's cells (``components_from_cells``) or, with task means only (a committed
``transfer.csv``), the observed between-task variance as a whole (``components_from_matrix``: no split, so
more seeds or languages are not credited: conservative). The MDE is the smallest true difference the
two-sided t-test on task means (df = n_a + n_b − 2) detects with the given power; the exact permutation test
has about the same power when it can reject at all (``tasklevel.min_p``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from xstilts.analysis.tasklevel import cell_task_means, task_means


@dataclass(frozen=True)
class Components:
    var_task: float  # τ²: between tasks of a group (with the pilot's noise removed where possible)
    var_seed: float  # σ²_seed on a task's all-target mean; 0 when not separable
    var_cell: float  # σ²_cell of one (target, language) cell around its arm × seed × target mean
    source: str

    def var_task_mean(self, n_seeds: int, n_cells: int) -> float:
        """Var of one task's mean Δ with ``n_seeds`` seeds and ``n_cells`` = languages × targets."""
        return self.var_task + self.var_seed / n_seeds + self.var_cell / (n_seeds * max(n_cells, 1))


def _within(means: pd.Series, members: Mapping[str, Sequence[str]]) -> float:
    groups = [[float(means[a]) for a in arms if a in means.index] for arms in members.values()]
    groups = [g for g in groups if len(g) > 1]
    if not groups:
        return float("nan")
    ss = sum(((np.array(g) - np.mean(g)) ** 2).sum() for g in groups)
    return float(ss / sum(len(g) - 1 for g in groups))


def components_from_matrix(
    matrix: pd.DataFrame, members: Mapping[str, Sequence[str]], source: str
) -> Components:
    """Task means only: all variance counts as between-task variance."""
    return Components(_within(task_means(matrix), members), 0.0, 0.0, source + " (task means only)")


def components_from_cells(
    cells: pd.DataFrame, members: Mapping[str, Sequence[str]], source: str
) -> Components:
    arms = {a for m in members.values() for a in m}
    d = cells[cells["arm"].isin(arms)]
    # cell noise: residual of a (target, language) cell after its arm × target × seed mean and the
    # (target, language) offset shared by all arms
    r = d["delta"] - d.groupby(["arm", "target", "seed"])["delta"].transform("mean")
    r = r - r.groupby([d["target"], d["language"]]).transform("mean")
    var_cell = float(np.var(r, ddof=1)) if len(r) > 1 else 0.0
    per_seed = d.groupby(["arm", "target", "seed"])["delta"].mean().groupby(["arm", "seed"]).mean()
    n_seeds = d["seed"].nunique()
    n_cells = d.groupby("target")["language"].nunique().sum()
    var_arm_seed = float(per_seed.groupby("arm").var(ddof=1).mean()) if n_seeds > 1 else 0.0
    var_seed = max(0.0, var_arm_seed - var_cell / max(n_cells, 1))
    observed = _within(task_means(cell_task_means(d)), members)
    var_task = max(0.0, observed - var_arm_seed / n_seeds)
    return Components(var_task, var_seed, var_cell, source)


def mde(var_task_mean: float, n_a: int, n_b: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |difference| the two-sided t-test on task means detects with ``power`` (noncentral t)."""
    if n_a < 2 or n_b < 2 or not math.isfinite(var_task_mean):
        return float("nan")
    df = n_a + n_b - 2
    se = math.sqrt(var_task_mean * (1 / n_a + 1 / n_b))
    crit = sps.t.ppf(1 - alpha / 2, df)

    def gap(ncp: float) -> float:
        lower = np.nan_to_num(sps.nct.cdf(-crit, df, ncp))  # NaN far in the tail: it is 0 there
        return sps.nct.sf(crit, df, ncp) + lower - power

    return float(optimize.brentq(gap, 0.0, 30.0) * se)


def mde_lines(
    comp: Components,
    members: Mapping[str, Sequence[str]],
    contrasts: Sequence[tuple[str, str]],
    n_seeds: int,
    n_cells: int,
) -> list[str]:
    """One line per primary contrast of the grid: tasks per group and the MDE (80 % power, α 0.05)."""
    v = comp.var_task_mean(n_seeds, n_cells)
    lines = [
        f"variance components from {comp.source}: between tasks {comp.var_task:.3f}, seed {comp.var_seed:.3f}, "
        f"cell {comp.var_cell:.3f} (points²); a task mean's sd with {n_seeds} seeds: {math.sqrt(v):.2f}"
    ]
    for group, ref in contrasts:
        n_a, n_b = len(members.get(group, ())), len(members.get(ref, ()))
        m = mde(v, n_a, n_b)
        text = f"{m:.2f} points" if math.isfinite(m) else "not estimable (fewer than two tasks in a group)"
        lines.append(
            f"{group} − {ref}: {n_a} vs {n_b} tasks; minimum detectable effect (80 % power, α 0.05): {text}"
        )
    return lines


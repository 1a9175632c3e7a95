"""Domain vs general with the intermediate *task* as the unit of inference.

The question is about kinds of intermediate tasks, so a group's effect is the mean over its single-task arms
of each arm's mean Δ (first over languages within a target and seed, then over seeds, then over the targets
in scope: the transfer matrix's ``mean`` column). All (target, language, seed) cells of one arm and seed come
from one checkpoint, so cells are not independent replicates; the tasks are.

* Estimate: mean over the domain's tasks minus mean over the general tasks, with the number of tasks per
  group and the between-task sd (pooled within groups) next to it.
* Test: exact permutation of the group labels across the single-task arms (all C(n_a + n_b, n_a) splits when
  they are at most ``EXACT_MAX_SPLITS``, Monte Carlo otherwise). With 3 vs 3 tasks the smallest two-sided p is
  2/20 = 0.1: such a design can never reject at 0.05, and the report says so.
* Interval: Welch's t interval on the task means (Welch–Satterthwaite df). Chosen by simulation
  (``python -m xstilts.analysis.simulate 400``; the coverage and error checks are kept as tests in
  tests/analysis/test_task_level.py). Over 400 null studies per design (sd task 1.0, task × target 0.5,
  seed 0.5, cell 0.5; 3 targets × 6 languages × 3 seeds) it covered 0 in 95.3 / 94.3 / 96.5 % of studies
  with 3 / 4 / 6 tasks per group; a percentile bootstrap over tasks covered 75.5 / 82.8 / 89.5 %, the nested
  bootstrap 78.5 / 84.5 / 91.7 %, and the old cell-level interval 30.5 % (4 tasks; its sign-flip test
  rejected in 85 %). The permutation test rejected in 0 / 3.3 / 3.7 % (3 vs 3 cannot reject at all). Power
  (interval excludes 0 / permutation p ≤ 0.05) at a true effect of 1.5 points: 21 / 0 % (3 tasks),
  36 / 28 % (4), 56 / 57 % (6); at 3 points: 62 / 0 %, 86 / 76 %, 99.3 / 99.8 %. The sign was right in
  93.5-100 % of studies with a planted effect.
* The nested bootstrap (tasks within group, seeds within task, languages within target) is reported next to
  it as a description of the spread, when the cell table is at hand.
* Multiplicity: Holm across the configuration's primary contrasts; per-target contrasts are exploratory and
  get Benjamini–Hochberg q-values.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

EXACT_MAX_SPLITS = 20000
LEVEL = 0.95
ALL_TARGETS = "all targets"
CONTRAST_COLUMNS = [
    "group", "reference", "scope", "estimate", "ci_low", "ci_high", "df", "p_perm", "p_exact", "p_adjusted",
    "n_tasks", "n_reference_tasks", "sd_between", "n_seeds", "estimable", "reason", "arms", "reference_arms",
]  # fmt: skip


def cell_task_means(deltas: pd.DataFrame, targets: Sequence[str] | None = None) -> pd.DataFrame:
    """arm × target mean Δ (languages within seed, then seeds) from a cell table; ``targets`` limits scope."""
    d = deltas if targets is None else deltas[deltas["target"].isin(targets)]
    per_seed = d.groupby(["arm", "target", "seed"], as_index=False)["delta"].mean()
    return per_seed.groupby(["arm", "target"])["delta"].mean().unstack("target")


def task_means(matrix: pd.DataFrame, targets: Sequence[str] | None = None) -> pd.Series:
    """arm → mean Δ over the targets in scope (unweighted, as the XTREME score weighs tasks)."""
    cols = [c for c in matrix.columns if targets is None or c in targets]
    return matrix[cols].mean(axis=1)


def permutation_p(
    a: Sequence[float], b: Sequence[float], n_perm: int = 20000, seed: int = 0
) -> tuple[float, bool]:
    """Two-sided p of mean(a) − mean(b) under random relabelling of the tasks; (p, exact?)."""
    values = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    n, k = len(values), len(a)
    observed = abs(np.mean(a) - np.mean(b))
    tol = 1e-9 * max(1.0, observed)
    total = values.sum()
    if math.comb(n, k) <= EXACT_MAX_SPLITS:
        idx = np.array(list(itertools.combinations(range(n), k)))
        sums = values[idx].sum(axis=1)
        diffs = sums / k - (total - sums) / (n - k)
        return float(np.mean(np.abs(diffs) >= observed - tol)), True
    rng = np.random.default_rng(seed)
    keys = rng.random((n_perm, n))
    chosen = np.argsort(keys, axis=1)[:, :k]  # a uniform random k-subset per row
    sums = values[chosen].sum(axis=1)
    diffs = sums / k - (total - sums) / (n - k)
    return float((1 + np.sum(np.abs(diffs) >= observed - tol)) / (1 + n_perm)), False


def welch_interval(
    a: Sequence[float], b: Sequence[float], level: float = LEVEL
) -> tuple[float, float, float]:
    """(low, high, Welch–Satterthwaite df) for mean(a) − mean(b)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    diff = a.mean() - b.mean()
    if se == 0:
        return diff, diff, float("inf")
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = sps.t.ppf(0.5 + level / 2, df)
    return diff - t * se, diff + t * se, float(df)


def pooled_sd(a: Sequence[float], b: Sequence[float]) -> float:
    """Between-task sd within groups (pooled); NaN when neither group has two tasks."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    dof = max(len(a) - 1, 0) + max(len(b) - 1, 0)
    if dof == 0:
        return float("nan")
    ss = (((a - a.mean()) ** 2).sum() if len(a) else 0.0) + (((b - b.mean()) ** 2).sum() if len(b) else 0.0)
    return math.sqrt(ss / dof)


def not_estimable_reason(n_a: int, n_b: int, n_seeds: int, group: str, reference: str) -> str:
    if n_a < 2 or n_b < 2:
        return (
            f"{n_a} {group} vs {n_b} {reference} single-task arm{'s' * (n_b != 1)}: with fewer than two tasks "
            "in a group the between-task variation cannot be estimated"
        )
    if n_seeds < 2:
        return "one seed: a task's Δ cannot be told apart from that seed's luck"
    return ""


def contrast(
    a: Mapping[str, float],
    b: Mapping[str, float],
    group: str,
    reference: str,
    n_seeds: int,
    scope: str = ALL_TARGETS,
    level: float = LEVEL,
    n_perm: int = 20000,
    seed: int = 0,
) -> dict:
    """One task-level contrast (domain arms ``a`` vs reference arms ``b``, arm → mean Δ) as a row."""
    av = np.array([v for v in a.values() if np.isfinite(v)], float)
    bv = np.array([v for v in b.values() if np.isfinite(v)], float)
    reason = not_estimable_reason(len(av), len(bv), n_seeds, group, reference)
    row = {
        "group": group, "reference": reference, "scope": scope,
        "estimate": float(av.mean() - bv.mean()) if len(av) and len(bv) else float("nan"),
        "ci_low": float("nan"), "ci_high": float("nan"), "df": float("nan"),
        "p_perm": float("nan"), "p_exact": False, "p_adjusted": float("nan"),
        "n_tasks": len(av), "n_reference_tasks": len(bv), "sd_between": pooled_sd(av, bv),
        "n_seeds": n_seeds, "estimable": not reason, "reason": reason,
        "arms": ", ".join(a), "reference_arms": ", ".join(b),
    }  # fmt: skip
    if not reason:
        row["ci_low"], row["ci_high"], row["df"] = welch_interval(av, bv, level)
        row["p_perm"], row["p_exact"] = permutation_p(av, bv, n_perm, seed)
    return row


def min_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p an exact label permutation can give (a symmetric split counts twice)."""
    splits = math.comb(n_a + n_b, n_a)
    return (2 if n_a == n_b else 1) / splits


def adjust(p: pd.Series, method: str) -> pd.Series:
    """Holm / BH adjusted p over the finite entries (NaN stays NaN)."""
    out = pd.Series(np.nan, index=p.index, dtype=float)
    ok = p.notna()
    if ok.any():
        out[ok] = multipletests(p[ok].to_numpy(float), method=method)[1]
    return out


def primary_contrasts(
    matrix: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    contrasts: Sequence[tuple[str, str]],
    n_seeds: int,
    targets: Sequence[str] | None = None,
    **kw,
) -> pd.DataFrame:
    """Each declared (group, reference) contrast over the targets in scope, Holm-adjusted across them.

    ``matrix``: arm × target mean Δ; ``members``: group → its single-task arms (mixtures left out)."""
    means = task_means(matrix, targets)
    rows = []
    for group, ref in contrasts:
        a = {arm: float(means[arm]) for arm in members.get(group, ()) if arm in means.index}
        b = {arm: float(means[arm]) for arm in members.get(ref, ()) if arm in means.index}
        rows.append(contrast(a, b, group, ref, n_seeds, **kw))
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adjusted"] = adjust(out["p_perm"], "holm")
    return out


def per_target_contrasts(
    matrix: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    contrasts: Sequence[tuple[str, str]],
    n_seeds: int,
    **kw,
) -> pd.DataFrame:
    """Exploratory: each contrast on each target alone; BH q-values over all of them."""
    rows = []
    for target in matrix.columns:
        for group, ref in contrasts:
            col = matrix[target]
            a = {arm: float(col[arm]) for arm in members.get(group, ()) if arm in col.index}
            b = {arm: float(col[arm]) for arm in members.get(ref, ()) if arm in col.index}
            rows.append(contrast(a, b, group, ref, n_seeds, scope=str(target), **kw))
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adjusted"] = adjust(out["p_perm"], "fdr_bh")
    return out


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _arrays(
    deltas: pd.DataFrame, arms: Sequence[str], targets: Sequence[str]
) -> tuple[list[np.ndarray], int]:
    """Per target an arms × languages × seeds array of Δ (NaN where missing), seeds aligned across targets."""
    seeds = sorted(int(s) for s in deltas["seed"].unique())
    spos = {s: i for i, s in enumerate(seeds)}
    apos = {a: i for i, a in enumerate(arms)}
    out = []
    for t in targets:
        d = deltas[(deltas["target"] == t) & deltas["arm"].isin(arms)]
        if d.empty:
            continue
        lcode, langs = pd.factorize(d["language"], sort=True)
        arr = np.full((len(arms), len(langs), len(seeds)), np.nan)
        arr[d["arm"].map(apos).to_numpy(), lcode, d["seed"].map(spos).to_numpy()] = d["delta"].to_numpy(float)
        out.append(arr)
    return out, len(seeds)


def nested_bootstrap(
    deltas: pd.DataFrame,
    arms: Sequence[str],
    reference_arms: Sequence[str],
    targets: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """Replicates of the task-level contrast: resample arms within each group, seeds within each arm (shared
    by all targets: one checkpoint per arm and seed) and languages within each target (shared by all arms,
    which keeps arms paired on a language)."""
    targets = list(targets) if targets is not None else sorted(deltas["target"].unique())
    all_arms = [*arms, *reference_arms]
    arrays, n_seeds = _arrays(deltas, all_arms, targets)
    if not arrays or not arms or not reference_arms:
        return np.full(n_boot, np.nan)
    rng = np.random.default_rng(seed)
    na = len(arms)
    pick_a = rng.integers(0, na, size=(n_boot, na))
    pick_b = na + rng.integers(0, len(reference_arms), size=(n_boot, len(reference_arms)))
    picks = np.concatenate([pick_a, pick_b], axis=1)  # n_boot × arms
    seed_idx = rng.integers(0, n_seeds, size=(n_boot, picks.shape[1], n_seeds))
    per_target = []
    for arr in arrays:
        li = rng.integers(0, arr.shape[1], size=(n_boot, arr.shape[1]))
        sample = arr[picks[:, :, None, None], li[:, None, :, None], seed_idx[:, :, None, :]]
        lang_mean = _nanmean(sample, axis=2)  # boot × arms × seeds
        per_target.append(_nanmean(lang_mean, axis=2))  # boot × arms
    arm_means = _nanmean(np.stack(per_target), axis=0)
    return _nanmean(arm_means[:, :na], axis=1) - _nanmean(arm_means[:, na:], axis=1)


def percentile(boots: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    if not np.isfinite(boots).any():
        return float("nan"), float("nan")
    lo, hi = np.nanquantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)

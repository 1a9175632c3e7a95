"""The superseded cell-level domain-vs-general analysis, kept only so that ``analysis.simulate`` (and its test)
can show why the unit of inference matters: the report now uses ``analysis.tasklevel``. On synthetic studies
with task-level random effects and no domain effect its interval covers 0 in about 30 % of studies.

The unit is a cell (target, language, seed): ``diff`` = mean Δ of the domain group's arms minus mean Δ of
the general arms in that cell. Per target the effect is the mean over its cells; pooled, the unweighted mean
of the per-target effects (each target weighs the same, as in the XTREME score).

* 95% CI: a two-way bootstrap that resamples seeds (shared by all targets: one intermediate checkpoint per
  arm and seed serves every target) and, within each target, languages, both with replacement, so the
  interval speaks about other seeds *and* other languages. In simulation (3 targets × 8 languages) it covers
  a null effect 91-93% of the time with 5 seeds, but only 84-89% with 3 seeds when seed-to-seed variation is
  as large as the noise (a percentile bootstrap over 3 units is too narrow), and 99% when all the noise is
  cell-level. With fewer than ``MIN_CELLS_FOR_CI`` cells there is no interval (NaN; counts as covering 0).
  Vectorised with numpy; deterministic given ``seed``.
* p-value: a paired sign-flip permutation test over the cells (pairs = same target, language, seed), exact
  for at most 16 cells. It treats cells as independent: when languages or seeds have effects of their own,
  it is far too small (about half of null datasets reach p < 0.05 in that simulation). Every verdict in
  the report therefore rests on the interval; p is shown next to it, never alone.
* Format-matched comparisons pair arms of one format only (span QA: SQuAD vs COVID-QA vs PolicyQA), so a
  difference there is about the domain, not about the format.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from xstilts.analysis.table import DOMAIN_GROUPS

POOLED = "pooled"
MLM = "mlm"  # the format of masked-language-modelling arms (DAPT)
ALL_FORMATS = "all"
EXACT_MAX_CELLS = 16
MIN_CELLS_FOR_CI = 5  # fewer cells have too few distinct resamples for a percentile interval to mean anything
COLUMNS = [
    "group", "reference", "format", "scope", "estimate", "ci_low", "ci_high", "p_value", "covers_zero",
    "n_cells", "n_languages", "n_seeds", "arms", "reference_arms",
]  # fmt: skip


def pair_cells(deltas: pd.DataFrame, arms: Sequence[str], reference_arms: Sequence[str]) -> pd.DataFrame:
    """target, language, seed, diff: mean Δ of ``arms`` minus mean Δ of ``reference_arms`` per cell."""
    keys = ["target", "language", "seed"]
    group = deltas[deltas["arm"].isin(arms)].groupby(keys)["delta"].mean()
    ref = deltas[deltas["arm"].isin(reference_arms)].groupby(keys)["delta"].mean()
    both = pd.concat({"g": group, "r": ref}, axis=1, join="inner")
    return (both["g"] - both["r"]).rename("diff").reset_index()


def _grids(cells: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[int]]:
    """target → languages × seeds matrix of ``diff`` (NaN where missing), over the union of seeds."""
    seeds = sorted(int(s) for s in cells["seed"].unique())
    seed_pos = {s: i for i, s in enumerate(seeds)}
    grids = {}
    for target, g in cells.groupby("target", sort=True):
        lang_codes, langs = pd.factorize(g["language"], sort=True)
        grid = np.full((len(langs), len(seeds)), np.nan)
        grid[lang_codes, [seed_pos[int(s)] for s in g["seed"]]] = g["diff"].to_numpy(float)
        grids[str(target)] = grid
    return grids, seeds


def _nanmean(a: np.ndarray, axis) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN resample is NaN, and says so
        return np.nanmean(a, axis=axis)


def bootstrap(
    cells: pd.DataFrame, n_boot: int = 2000, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Bootstrap replicates of each target's effect and of the pooled effect (arrays of length ``n_boot``)."""
    grids, seeds = _grids(cells)
    rng = np.random.default_rng(seed)
    si = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
    per_target = {}
    for target, grid in grids.items():
        li = rng.integers(0, grid.shape[0], size=(n_boot, grid.shape[0]))
        sample = grid[li[:, :, None], si[:, None, :]]  # n_boot × languages × seeds
        per_target[target] = _nanmean(sample.reshape(n_boot, -1), axis=1)
    pooled = _nanmean(np.vstack(list(per_target.values())), axis=0) if per_target else np.full(n_boot, np.nan)
    return per_target, pooled


def sign_flip_p(values: np.ndarray, weights: np.ndarray, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided p of ``sum(weights * values)`` under random sign flips of the paired differences."""
    wv = np.asarray(weights, float) * np.asarray(values, float)
    observed = abs(wv.sum())
    tol = 1e-12 * max(1.0, observed)
    n = len(wv)
    if n == 0:
        return float("nan")
    if n <= EXACT_MAX_CELLS:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ wv) >= observed - tol))
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < n_perm:
        k = min(4096, n_perm - done)
        signs = rng.integers(0, 2, size=(k, n), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ wv) >= observed - tol))
        done += k
    return (1 + hits) / (1 + n_perm)


def compare(
    cells: pd.DataFrame, n_boot: int = 2000, n_perm: int = 10000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """scope (each target, then ``pooled``), estimate, ci_low, ci_high, p_value and counts for one contrast."""
    cells = cells.dropna(subset=["diff"])
    if cells.empty:
        return pd.DataFrame(columns=COLUMNS[3:10])
    boots, pooled_boots = bootstrap(cells, n_boot, seed)
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    rows = []
    for target, g in cells.groupby("target", sort=True):
        lo, hi = _interval(boots[str(target)], q, len(g))
        p = sign_flip_p(g["diff"].to_numpy(), np.full(len(g), 1 / len(g)), n_perm, seed)
        rows.append(_row(str(target), g["diff"].mean(), lo, hi, p, g))
    n_targets = len(rows)
    weights = 1 / (n_targets * cells.groupby("target")["diff"].transform("size").to_numpy())
    pooled = float(np.mean([r["estimate"] for r in rows]))
    lo, hi = _interval(pooled_boots, q, len(cells))
    p = sign_flip_p(cells["diff"].to_numpy(), weights, n_perm, seed)
    rows.append(_row(POOLED, pooled, lo, hi, p, cells))
    return pd.DataFrame(rows)


def _interval(boots: np.ndarray, q: list[float], n_cells: int) -> tuple[float, float]:
    if n_cells < MIN_CELLS_FOR_CI or not np.isfinite(boots).any():
        return float("nan"), float("nan")
    lo, hi = np.nanquantile(boots, q)
    return float(lo), float(hi)


def _row(scope: str, estimate: float, lo: float, hi: float, p: float, cells: pd.DataFrame) -> dict:
    return {
        "scope": scope,
        "estimate": float(estimate),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": float(p),
        "covers_zero": not (lo > 0 or hi < 0),  # a missing (NaN) interval detects nothing
        "n_cells": len(cells),
        "n_languages": cells["language"].nunique(),
        "n_seeds": cells["seed"].nunique(),
    }


def _contrast(deltas, group, arms, reference, ref_arms, fmt, **kw) -> pd.DataFrame:
    present = set(deltas["arm"])
    arms, ref_arms = [a for a in arms if a in present], [a for a in ref_arms if a in present]
    if not arms or not ref_arms:
        return pd.DataFrame(columns=COLUMNS)
    out = compare(pair_cells(deltas, arms, ref_arms), **kw)
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    out.insert(0, "format", fmt)
    out.insert(0, "reference", reference)
    out.insert(0, "group", group)
    out["arms"] = ", ".join(arms)
    out["reference_arms"] = ", ".join(ref_arms)
    return out[COLUMNS]


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def domain_vs_general(
    deltas: pd.DataFrame,
    groups: Mapping[str, str],
    formats: Mapping[str, Sequence[str]] | None = None,
    reference: str = "general",
    **kw,
) -> pd.DataFrame:
    """Each domain group (and both together, when there are two) minus the general group, any format.

    Arms that only do masked language modelling (DAPT, plain MLM) are not intermediate *tasks*: with
    ``formats`` given they are left out here and compared among themselves by ``format_matched``."""
    tasks_only = {a: g for a, g in groups.items() if tuple((formats or {}).get(a, ())) != (MLM,)}
    ref_arms = [a for a, g in tasks_only.items() if g == reference]
    sets = {g: [a for a, gg in tasks_only.items() if gg == g] for g in DOMAIN_GROUPS}
    sets = {g: arms for g, arms in sets.items() if arms}
    if len(sets) > 1:
        sets["domain"] = [a for arms in sets.values() for a in arms]
    return _concat(
        [_contrast(deltas, g, arms, reference, ref_arms, ALL_FORMATS, **kw) for g, arms in sets.items()]
    )


def format_matched(
    deltas: pd.DataFrame,
    groups: Mapping[str, str],
    formats: Mapping[str, Sequence[str]],
    reference: str = "general",
    **kw,
) -> pd.DataFrame:
    """Domain minus general among single-format arms of the same format (mixed-format arms are left out)."""
    single = {a: f[0] for a, f in formats.items() if len(f) == 1}
    parts = []
    for fmt in sorted(set(single.values())):
        same = [a for a, f in single.items() if f == fmt]
        ref_arms = [a for a in same if groups.get(a) == reference]
        for g in DOMAIN_GROUPS:
            arms = [a for a in same if groups.get(a) == g]
            parts.append(_contrast(deltas, g, arms, reference, ref_arms, fmt, **kw))
    return _concat(parts)

"""The domain answer at the level of tasks, from a cell table (a run, or a committed ``results.csv``) or from
an arm × target matrix of mean Δ alone (a committed ``transfer.csv``).

With the matrix alone the point estimates, the Welch interval and the exact permutation test are exact (they
only need each task's mean Δ per target); the nested bootstrap, the mixed model, per-task intervals over seeds
and languages, and the floor flags need the cells, and ``missing`` says which were left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xstilts.analysis.tasklevel import (
    _arrays,
    _nanmean,
    nested_bootstrap,
    per_target_contrasts,
    percentile,
    primary_contrasts,
)
from xstilts.config import RunConfig

MLM = "mlm"
CELL_COLUMNS = ["arm", "group", "target", "language", "split", "seed", "score", "baseline", "delta"]


@dataclass
class TaskAnswer:
    matrix: pd.DataFrame  # arm × target mean Δ, every target
    groups: dict[str, str]
    members: dict[str, list[str]]  # group → single-task arms in the contrasts
    mixtures: list[str]  # multi-task arms: reported, never members
    n_seeds: int
    scope: list[str]  # targets of the primary contrasts
    excluded: dict[str, str]  # target → why it left the primary scope
    primary: pd.DataFrame
    exploratory: pd.DataFrame
    arm_intervals: pd.DataFrame | None = None  # arm, group, delta, ci_low, ci_high (over seeds × languages)
    mixed: pd.DataFrame | None = None  # group, reference, coef, se, p, converged
    floors: pd.DataFrame | None = None  # target, baseline, floor, above
    transfer_gap: pd.DataFrame | None = None  # arm, english, non_english, gap
    missing: list[str] = field(default_factory=list)


def contrast_members(
    cfg: RunConfig, groups: Mapping[str, str], formats: Mapping[str, Sequence[str]] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """group → its single-task arms (MLM-only arms are not tasks); and the mixture arms (several tasks)."""
    members: dict[str, list[str]] = {}
    mixtures = []
    for arm in cfg.arms:
        if not arm.tasks:
            continue
        if len(arm.tasks) > 1:
            mixtures.append(arm.name)
            continue
        if tuple((formats or {}).get(arm.name, ())) == (MLM,):
            continue
        members.setdefault(groups[arm.name], []).append(arm.name)
    return members, mixtures


def floor_flags(scores: pd.DataFrame, results: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """target, baseline (mean main score), floor (mean majority / constant score where recorded), above."""
    if baseline is None:
        return pd.DataFrame(columns=["target", "baseline", "floor", "above"])
    base = scores[scores["arm"] == baseline].groupby("target")["score"].mean()
    maj = results[(results["metric"] == "majority_accuracy") & (results["arm"] == baseline)]
    floor = maj.groupby("target")["value"].mean()
    out = pd.DataFrame({"baseline": base, "floor": floor.reindex(base.index)})
    # True / False where the floor is known, None where the run recorded none
    out["above"] = [None if pd.isna(f) else bool(b > f) for b, f in zip(out["baseline"], out["floor"], strict=True)]
    return out.rename_axis("target").reset_index()


def intermediate_floors(results: pd.DataFrame) -> pd.DataFrame:
    """arm, task, accuracy, majority (English intermediate dev, means over seeds), above: did the intermediate
    task learn anything beyond always predicting its most frequent label? (Labelled formats only.)"""
    r = results[(results["stage"] == "intermediate") & results["value"].notna()]
    acc = r[r["metric"] == "accuracy"].groupby(["arm", "target"])["value"].mean().rename("accuracy")
    maj = r[r["metric"] == "majority_accuracy"].groupby(["arm", "target"])["value"].mean().rename("majority")
    out = pd.concat([acc, maj], axis=1, join="inner").reset_index().rename(columns={"target": "task"})
    out["above"] = out["accuracy"] > out["majority"] + 1e-9
    return out[["arm", "task", "accuracy", "majority", "above"]]


def floor_notes(floors: pd.DataFrame) -> list[str]:
    below = floors[~floors["above"].astype(bool)]
    if below.empty:
        return []
    parts = ", ".join(
        f"{r.arm} ({r.task}: {r.accuracy:.1f} vs majority {r.majority:.1f})" for r in below.itertuples()
    )
    return [
        f"Intermediate tasks not above their majority-class floor on English dev: {parts}. Such an arm's Δ "
        "measures what training on an unlearned task does to the encoder, not what the task teaches."
    ]


def arm_intervals(
    cells: pd.DataFrame, arms: Sequence[str], targets: Sequence[str], n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Each arm's mean Δ over the targets in scope with a percentile interval over seeds × languages (the
    spread one task would show on other seeds and languages; it says nothing about other tasks)."""
    arrays, n_seeds = _arrays(cells, list(arms), list(targets))
    rng = np.random.default_rng(seed)
    si = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    per_target, point = [], []
    for arr in arrays:
        li = rng.integers(0, arr.shape[1], size=(n_boot, arr.shape[1]))
        sample = arr[:, li[:, :, None], si[:, None, :]]  # arms × boot × languages × seeds
        per_target.append(_nanmean(_nanmean(sample, axis=2), axis=2))
        point.append(_nanmean(_nanmean(arr, axis=1), axis=1))
    boots = _nanmean(np.stack(per_target), axis=0)  # arms × boot
    est = _nanmean(np.stack(point), axis=0)
    rows = []
    for i, arm in enumerate(arms):
        lo, hi = percentile(boots[i]) if n_seeds > 1 else (float("nan"), float("nan"))
        rows.append({"arm": arm, "delta": float(est[i]), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def mixed_model(
    cells: pd.DataFrame, members: Mapping[str, Sequence[str]], contrasts: Sequence[tuple[str, str]],
    targets: Sequence[str],
) -> pd.DataFrame:  # fmt: skip
    """Cross-check: MixedLM Δ ~ group + target, random intercepts for arm and arm:seed, on the (arm, target,
    seed) means over languages. Its p is a Wald z (normal reference, no small-sample df): with k tasks per
    group the honest df is about 2k − 2, so it is optimistic at these sizes."""
    import statsmodels.formula.api as smf

    rows = []
    for group, ref in contrasts:
        arms = {a: group for a in members.get(group, ())} | {a: ref for a in members.get(ref, ())}
        row = {"group": group, "reference": ref, "coef": np.nan, "se": np.nan, "p": np.nan, "converged": False}
        if sum(g == group for g in arms.values()) < 2 or sum(g == ref for g in arms.values()) < 2:
            rows.append(row)
            continue
        d = cells[cells["arm"].isin(arms) & cells["target"].isin(targets)]
        d = d.groupby(["arm", "target", "seed"], as_index=False)["delta"].mean()
        d["is_domain"] = (d["arm"].map(arms) == group).astype(float)
        if d["seed"].nunique() < 2:
            rows.append(row)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            formula = "delta ~ is_domain" + (" + C(target)" if d["target"].nunique() > 1 else "")
            model = smf.mixedlm(formula, d, groups="arm", vc_formula={"seed": "0 + C(seed)"})
            try:
                fit = model.fit(reml=True)
                row |= {"coef": fit.params["is_domain"], "se": fit.bse["is_domain"],
                        "p": fit.pvalues["is_domain"], "converged": bool(fit.converged)}  # fmt: skip
            except (np.linalg.LinAlgError, ValueError):
                pass
        rows.append(row)
    return pd.DataFrame(rows)


def transfer_gap(cells: pd.DataFrame) -> pd.DataFrame:
    """arm, English Δ, non-English Δ (mean over targets with English, seeds and languages), and the gap."""
    with_en = set(cells.loc[cells["language"] == "en", "target"])
    d = cells[cells["target"].isin(with_en)].assign(english=lambda x: x["language"] == "en")
    per = d.groupby(["arm", "english", "target"])["delta"].mean().groupby(["arm", "english"]).mean().unstack()
    per = per.rename(columns={True: "english", False: "non_english"})
    if "english" not in per or "non_english" not in per:
        return pd.DataFrame(columns=["arm", "english", "non_english", "gap"])
    per["gap"] = per["english"] - per["non_english"]
    return per.reset_index()[["arm", "english", "non_english", "gap"]]


def answer(
    matrix: pd.DataFrame,
    groups: Mapping[str, str],
    members: Mapping[str, Sequence[str]],
    mixtures: Sequence[str],
    n_seeds: int,
    contrasts: Sequence[tuple[str, str]],
    cells: pd.DataFrame | None = None,
    floors: pd.DataFrame | None = None,
    exclude_floor: bool = True,
    n_boot: int = 2000,
    n_perm: int = 20000,
    seed: int = 0,
) -> TaskAnswer:
    """Primary (Holm) and exploratory per-target (BH) task-level contrasts, plus what the cells allow."""
    excluded: dict[str, str] = {}
    if floors is not None and exclude_floor:
        for r in floors.itertuples():
            if r.above is not None and not pd.isna(r.above) and not r.above:
                excluded[str(r.target)] = f"baseline {r.baseline:.1f} not above its floor {r.floor:.1f}"
    scope = [t for t in matrix.columns if t not in excluded]
    kw = {"n_perm": n_perm, "seed": seed}
    primary = primary_contrasts(matrix, members, contrasts, n_seeds, targets=scope, **kw)
    exploratory = per_target_contrasts(matrix, members, contrasts, n_seeds, **kw)
    out = TaskAnswer(
        matrix, dict(groups), {g: list(a) for g, a in members.items()}, list(mixtures), n_seeds, scope,
        excluded, primary, exploratory, floors=floors,
    )  # fmt: skip
    if cells is None or cells.empty:
        out.missing = [
            "the nested bootstrap over tasks, seeds and languages",
            "the mixed-model cross-check",
            "per-task intervals over seeds × languages (the forest plot shows points only)",
            "the English vs non-English transfer gap and the per-language tables",
            "the floor flags (each target's baseline against its majority / constant floor)",
            "BUCC's cross-fitted threshold F1 where BUCC was scored on dev (a matrix written before this version "
            "holds the in-sample tuned F1)",
        ]
        return out
    lows, highs = [], []
    for row in primary.itertuples():
        arms, ref = members.get(row.group, []), members.get(row.reference, [])
        if row.estimable:
            lo, hi = percentile(nested_bootstrap(cells, arms, ref, scope, n_boot=n_boot, seed=seed))
        else:
            lo, hi = float("nan"), float("nan")
        lows.append(lo)
        highs.append(hi)
    primary["nested_low"], primary["nested_high"] = lows, highs
    shown = [a for a in matrix.index if a in groups]
    out.arm_intervals = arm_intervals(cells, shown, scope, n_boot=min(n_boot, 1000), seed=seed)
    out.arm_intervals["group"] = out.arm_intervals["arm"].map(groups)
    out.mixed = mixed_model(cells, members, contrasts, scope)
    out.transfer_gap = transfer_gap(cells)
    return out

"""Synthetic studies with task-level random effects, to measure the task-level methods before trusting them.

A study has ``n_tasks`` single-task arms per group (general, biomedical), ``n_targets`` targets with
``n_languages`` languages each and ``n_seeds`` seeds. Δ of arm a, target t, language l, seed s is

    effect·[a is biomedical] + u_a + v_at + w_as + e_atls,   u ~ N(0, sd_task²), v ~ N(0, sd_task_target²),
                                                            w ~ N(0, sd_seed²) (one checkpoint per arm × seed),
                                                            e ~ N(0, sd_cell²)

plus a (target, language) offset shared by every arm, which a paired analysis must cancel. Run as a script to
print the measurement that chose the interval in ``tasklevel`` (coverage and rejection rates per design):

    python -m xstilts.analysis.simulate [n_studies]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xstilts.analysis.stats import compare, pair_cells
from xstilts.analysis.tasklevel import (
    cell_task_means,
    nested_bootstrap,
    percentile,
    permutation_p,
    task_means,
    welch_interval,
)

DOMAIN, REFERENCE = "biomedical", "general"


@dataclass(frozen=True)
class Design:
    n_tasks: int = 4
    n_seeds: int = 3
    n_targets: int = 3
    n_languages: int = 6
    sd_task: float = 1.0
    sd_task_target: float = 0.5
    sd_seed: float = 0.5
    sd_cell: float = 0.5
    effect: float = 0.0


def simulate_cells(design: Design, rng: np.random.Generator) -> pd.DataFrame:
    """A tidy Δ table: arm, group, target, language, seed, delta."""
    d = design
    n_arms = 2 * d.n_tasks
    shape = (n_arms, d.n_targets, d.n_languages, d.n_seeds)
    is_domain = np.arange(n_arms) >= d.n_tasks
    delta = (
        d.effect * is_domain[:, None, None, None]
        + rng.normal(0, d.sd_task, n_arms)[:, None, None, None]
        + rng.normal(0, d.sd_task_target, (n_arms, d.n_targets))[:, :, None, None]
        + rng.normal(0, d.sd_seed, (n_arms, d.n_seeds))[:, None, None, :]
        + rng.normal(0, 3.0, (d.n_targets, d.n_languages))[None, :, :, None]
        + rng.normal(0, d.sd_cell, shape)
    )
    a, t, lg, s = (x.ravel() for x in np.indices(shape))
    names = np.array([f"{'d' if dom else 'g'}{i}" for i, dom in enumerate(is_domain)])
    return pd.DataFrame(
        {
            "arm": names[a],
            "group": np.where(is_domain[a], DOMAIN, REFERENCE),
            "target": np.array([f"t{i}" for i in range(d.n_targets)])[t],
            "language": np.array([f"l{i}" for i in range(d.n_languages)])[lg],
            "seed": s + 1,
            "delta": delta.ravel(),
        }
    )


def arms_of(cells: pd.DataFrame) -> tuple[list[str], list[str]]:
    first = cells.drop_duplicates("arm")
    return (
        list(first.loc[first["group"] == DOMAIN, "arm"]),
        list(first.loc[first["group"] == REFERENCE, "arm"]),
    )


def analyse(cells: pd.DataFrame, n_boot: int = 200, seed: int = 0, cell_level: bool = False) -> dict:
    """Every candidate's interval and p for one synthetic study (task-level; optionally today's cell level)."""
    dom, ref = arms_of(cells)
    means = task_means(cell_task_means(cells))
    a, b = means[dom].to_numpy(), means[ref].to_numpy()
    out = {"estimate": a.mean() - b.mean()}
    out["welch"] = welch_interval(a, b)[:2]
    out["p_perm"] = permutation_p(a, b, seed=seed)[0]
    rng = np.random.default_rng(seed)
    boots = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1) - b[
        rng.integers(0, len(b), (n_boot, len(b)))
    ].mean(1)
    out["task_bootstrap"] = percentile(boots)
    out["nested_bootstrap"] = percentile(nested_bootstrap(cells, dom, ref, n_boot=n_boot, seed=seed))
    if cell_level:
        deltas = cells.assign(split="test")
        row = compare(pair_cells(deltas, dom, ref), n_boot=n_boot, n_perm=n_boot, seed=seed).iloc[-1]
        out["cell_level"] = (row["ci_low"], row["ci_high"])
        out["p_cell"] = row["p_value"]
    return out


INTERVALS = ("welch", "task_bootstrap", "nested_bootstrap")


def measure(design: Design, n_studies: int = 200, seed: int = 0, cell_level: bool = False, **kw) -> dict:
    """Rates over ``n_studies``: each interval's coverage of the true effect and exclusion of 0 (power when
    the effect is not 0), the permutation test's rejection rate at 0.05 and the sign agreement."""
    rng = np.random.default_rng(seed)
    names = INTERVALS + (("cell_level",) if cell_level else ())
    covered = {n: 0 for n in names}
    excludes0 = {n: 0 for n in names}
    rejects = cell_rejects = right_sign = 0
    for i in range(n_studies):
        r = analyse(simulate_cells(design, rng), seed=i, cell_level=cell_level, **kw)
        for n in names:
            lo, hi = r[n]
            covered[n] += lo <= design.effect <= hi
            excludes0[n] += not (lo <= 0 <= hi)
        rejects += r["p_perm"] <= 0.05
        cell_rejects += cell_level and r["p_cell"] <= 0.05
        right_sign += np.sign(r["estimate"]) == np.sign(design.effect)
    out = {f"coverage_{n}": covered[n] / n_studies for n in names}
    out |= {f"excludes0_{n}": excludes0[n] / n_studies for n in names}
    out["reject_perm"] = rejects / n_studies
    if cell_level:
        out["reject_cell"] = cell_rejects / n_studies
    out["right_sign"] = right_sign / n_studies
    return out


def main(n_studies: int = 400) -> None:
    print(f"{n_studies} studies per row; 3 targets × 6 languages × 3 seeds; sd task 1.0, task×target 0.5, "
          "seed 0.5, cell 0.5")  # fmt: skip
    for effect in (0.0, 1.5, 3.0):
        for k in (3, 4, 6):
            m = measure(Design(n_tasks=k, effect=effect), n_studies, cell_level=effect == 0 and k == 4)
            cells = ", ".join(f"{key} {v:.3f}" for key, v in m.items())
            print(f"effect {effect:+.1f}, {k} vs {k} tasks: {cells}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)

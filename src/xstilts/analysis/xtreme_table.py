"""Per arm: the nine XTREME task scores, the (partial) XTREME score and category means, mean ± sd over seeds,
and each one's Δ against the baseline arm.

Scores come from ``metrics.xtreme_score`` per seed (official languages only, QA as (F1 + EM) / 2), so the
table can never disagree with ``xstilts score``; the seed statistics are taken over those per-seed scores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from xstilts.analysis.table import main_metrics, on_report_split
from xstilts.metrics.xtreme_score import CATEGORIES, TASKS, XtremeScore, task_score, xtreme_score_from_tasks

XTREME = "XTREME"
COLUMNS: tuple[str, ...] = (*TASKS, XTREME, *CATEGORIES)
PerLanguage = dict[str, dict[str, dict[str, float]]]  # task -> language -> metric -> value


@dataclass(frozen=True)
class XtremeTable:
    per_seed: pd.DataFrame  # arm, seed, column, value
    summary: pd.DataFrame  # arm, column, mean, sd, n, delta_mean, delta_sd
    coverage: dict[str, str]  # arm -> XtremeScore.describe() of the seed-mean table (+ dev-split note)

    def wide(self, value: str = "mean") -> pd.DataFrame:
        """arms × columns of one summary field (``mean``, ``sd``, ``delta_mean``...), in table order."""
        wide = self.summary.pivot(index="arm", columns="column", values=value)
        arms = list(dict.fromkeys(self.summary["arm"]))
        return wide.reindex(index=arms, columns=[c for c in COLUMNS if c in wide.columns])


def xtreme_rows(results: pd.DataFrame, splits: Mapping[str, str]) -> pd.DataFrame:
    """Target-stage rows of XTREME tasks that enter a task score: main metrics, reporting split, computable."""
    rows = results[(results["stage"] == "target") & results["target"].isin(TASKS) & results["value"].notna()]
    rows = on_report_split(rows, dict(splits))
    wanted = rows["metric"] == ""
    for task in set(rows["target"]):
        wanted |= (rows["target"] == task) & rows["metric"].isin(main_metrics(task))
    return rows[wanted]


def _per_language(rows: pd.DataFrame) -> PerLanguage:
    out: PerLanguage = defaultdict(lambda: defaultdict(dict))
    means = rows.groupby(["target", "language", "metric"])["value"].mean()
    for (task, lang, metric), value in means.items():
        out[task][lang][metric] = float(value)
    return out


def score_of(per_language: PerLanguage) -> XtremeScore:
    return xtreme_score_from_tasks([task_score(t, langs) for t, langs in per_language.items()])


def chosen_rows(rows: pd.DataFrame, choice: Mapping[str, str]) -> pd.DataFrame:
    """The rows of ``choice[task]``'s arm for each task (task → arm)."""
    return rows[rows["arm"] == rows["target"].map(dict(choice))]


def seed_scores(rows: pd.DataFrame) -> dict[int, XtremeScore]:
    """The XTREME score of each seed of already-chosen rows."""
    return {int(s): score_of(_per_language(g)) for s, g in rows.groupby("seed")}


def score_values(score: XtremeScore) -> dict[str, float]:
    """Column → value of one XtremeScore (task scores, XTREME, category means)."""
    values: dict[str, float] = dict(score.task_scores)
    if score.value is not None:
        values[XTREME] = score.value
    values.update(score.category_means)
    return values


def describe_coverage(rows: pd.DataFrame, splits: Mapping[str, str]) -> str:
    """What the seed-mean score covers, naming tasks that were scored on a non-test split."""
    text = score_of(_per_language(rows)).describe()
    not_test = sorted(t for t in set(rows["target"]) if splits.get(t) != "test")
    named = ", ".join(f"{t} ({splits.get(t)})" for t in not_test)  # the split as evaluated: train is not dev
    return text + (f"; scored on non-test splits: {named}" if not_test else "")


def summarise(per_seed: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """mean ± sd over seeds and the seed-paired Δ against the baseline (baseline mean where it lacks a seed)."""
    stats = per_seed.groupby(["arm", "column"], sort=False)["value"].agg(mean="mean", sd="std", n="count")
    stats = stats.reset_index()
    if baseline is not None and baseline in set(per_seed["arm"]):
        base = per_seed[per_seed["arm"] == baseline]
        paired = per_seed.merge(
            base[["seed", "column", "value"]].rename(columns={"value": "b"}),
            on=["seed", "column"],
            how="left",
        )
        b_mean = base.groupby("column")["value"].mean()
        paired["b"] = paired["b"].fillna(paired["column"].map(b_mean))
        paired["delta"] = paired["value"] - paired["b"]
        d = paired.groupby(["arm", "column"], sort=False)["delta"].agg(delta_mean="mean", delta_sd="std")
        stats = stats.merge(d.reset_index(), on=["arm", "column"], how="left")
    else:
        stats["delta_mean"] = float("nan")
        stats["delta_sd"] = float("nan")
    return stats


def xtreme_table(
    results: pd.DataFrame, splits: Mapping[str, str], arms: Sequence[str], baseline: str | None
) -> XtremeTable:
    rows = xtreme_rows(results, splits)
    records, coverage = [], {}
    for arm in arms:
        arm_rows = rows[rows["arm"] == arm]
        if arm_rows.empty:
            continue
        for seed, score in seed_scores(arm_rows).items():
            records += [
                {"arm": arm, "seed": seed, "column": c, "value": v} for c, v in score_values(score).items()
            ]
        coverage[arm] = describe_coverage(arm_rows, splits)
    per_seed = pd.DataFrame(records, columns=["arm", "seed", "column", "value"])
    per_seed["value"] = per_seed["value"].astype(float)
    return XtremeTable(per_seed=per_seed, summary=summarise(per_seed, baseline), coverage=coverage)

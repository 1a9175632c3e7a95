"""End-of-run tables: the main metric per arm × language for each target, with Δ against the baseline arm."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from rich.table import Table

from xstilts.config import RunConfig, baseline_arm
from xstilts.results.db import ResultRow

MAIN_METRICS = ("accuracy", "f1")


def _cells(rows: list[ResultRow], target: str) -> tuple[str | None, dict[tuple[str, str], float]]:
    """(metric, {(arm, language): mean over seeds}) for one target's main metric."""
    present = {r.metric for r in rows if r.target == target and r.stage == "target"}
    metric = next((m for m in MAIN_METRICS if m in present), None)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r.stage == "target" and r.target == target and r.metric == metric and r.value is not None:
            values[(r.arm, r.language)].append(r.value)
    return metric, {k: mean(v) for k, v in values.items()}


def _majority(rows: list[ResultRow], target: str, langs: list[str]) -> float | None:
    """Average accuracy of always predicting the most frequent training label: what 'above chance' means."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.target == target and r.metric == "majority_accuracy" and r.value is not None:
            values[r.language].append(r.value)
    if not langs or any(lg not in values for lg in langs):
        return None
    return mean(mean(values[lg]) for lg in langs)


def _fmt(value: float | None, base: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" + (f" ({value - base:+.1f})" if base is not None else "")


def results_tables(rows: list[ResultRow], cfg: RunConfig) -> list[Table]:
    """One table per target: a row per language (and the average), a column per arm."""
    base = baseline_arm(cfg)
    tables = []
    for target in cfg.targets:
        metric, cells = _cells(rows, target.task)
        if metric is None:
            continue
        langs = sorted({lg for (_, lg) in cells})
        seeds = len(cfg.seeds)
        table = Table(
            title=f"{target.task}: zero-shot {metric}, mean of {seeds} seed{'s' * (seeds > 1)} (Δ vs {base})"
        )
        table.add_column("lang")
        for arm in cfg.arms:
            table.add_column(arm.name, justify="right")
        for lg in langs:
            b = cells.get((base, lg))
            table.add_row(
                lg, *(_fmt(cells.get((a.name, lg)), b if a.name != base else None) for a in cfg.arms)
            )
        averages = {}
        for arm in cfg.arms:
            vals = [cells.get((arm.name, lg)) for lg in langs]
            averages[arm.name] = mean(vals) if vals and all(v is not None for v in vals) else None
        b = averages.get(base) if base else None
        table.add_row(
            "avg",
            *(_fmt(averages[a.name], b if a.name != base else None) for a in cfg.arms),
            end_section=True,
        )
        majority = _majority(rows, target.task, langs)
        if majority is not None:
            table.add_row("[dim]majority class[/]", *[f"[dim]{majority:.1f}[/]"] * len(cfg.arms))
        tables.append(table)
    return tables


def xtreme_scores(rows: list[ResultRow], cfg: RunConfig) -> dict[str, str]:
    """Per arm, the (partial) XTREME score over the XTREME targets the run evaluated (mean over seeds first)."""
    from xstilts.metrics.xtreme_score import TASKS, task_score, xtreme_score_from_tasks

    values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    splits: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if (
            r.stage == "target"
            and r.target in TASKS
            and r.value is not None
            and r.metric != "majority_accuracy"
        ):
            values[(r.arm, r.target, r.language, r.metric)].append(r.value)
            splits[r.target].add(r.split)
    out = {}
    for arm in cfg.arms:
        per_task: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for (a, task, lang, metric), vs in values.items():
            if a == arm.name:
                per_task[task][lang][metric] = mean(vs)
        if not per_task:
            continue
        score = xtreme_score_from_tasks([task_score(t, langs) for t, langs in per_task.items()])
        not_test = sorted(t for t in per_task if splits[t] != {"test"})
        named = ", ".join(f"{t} ({'/'.join(sorted(splits[t]))})" for t in not_test)  # as evaluated
        note = f"; scored on non-test splits: {named}" if not_test else ""
        out[arm.name] = score.describe() + note
    return out

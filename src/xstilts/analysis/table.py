"""The tidy results table, the arms' metadata and each target's main score per language.

Everything downstream works on DataFrames with one row per measurement, so each analysis is a groupby and
tests can build tiny tables by hand. Loading keeps only the newest settings of each (arm, target): a re-run
with changed settings adds rows under a new settings hash, and averaging old and new would mix two setups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import yaml
from pydantic import ValidationError

from xstilts.config import RunConfig, baseline_arm  # noqa: F401  (part of this module's API)
from xstilts.errors import ConfigError, XstiltsError
from xstilts.metrics.official import EM_F1, EXACT_MATCH, F1
from xstilts.metrics.xtreme_score import MAIN_METRIC, QA_TASKS
from xstilts.results.db import ResultRow, connect, read_results
from xstilts.tasks import TaskRegistry, TaskSpec, get_registry

COLUMNS = [f for f in ResultRow.__dataclass_fields__]
SCORE_KEYS = ["model", "arm", "target", "language", "seed", "split"]
GROUPS = ("baseline", "general", "biomedical", "legal", "mixed")
DOMAIN_GROUPS = ("biomedical", "legal")
SPLIT_PREFERENCE = ("test", "dev")  # the split a target is reported on, when the table has several


def db_path(run_dir: Path | str) -> Path:
    """``results.sqlite`` of a run folder (or the path itself when it is the database file)."""
    path = Path(run_dir)
    db = path if path.is_file() else path / "results.sqlite"
    if not db.is_file():
        raise XstiltsError(f"{db}: no results database (is {path} a run folder?)")
    return db


def results_frame(rows: Iterable[ResultRow]) -> pd.DataFrame:
    """ResultRows as the tidy table; a not-computable value (None) becomes NaN."""
    df = pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    df["seed"] = df["seed"].astype(int)
    return df


def _newest_settings(db: Path) -> pd.DataFrame:
    """Per (model, arm, target, split, stage): the settings hash written last."""
    con = connect(db)
    try:
        rows = con.execute(
            "SELECT model, arm, target, split, stage, settings_hash, MAX(created) FROM results "
            "GROUP BY model, arm, target, split, stage, settings_hash"
        ).fetchall()
    finally:
        con.close()
    df = pd.DataFrame(rows, columns=["model", "arm", "target", "split", "stage", "settings_hash", "created"])
    keys = ["model", "arm", "target", "split", "stage"]
    return df.sort_values("created").groupby(keys, as_index=False).tail(1)[[*keys, "settings_hash"]]


def stale_arms(run_dir: Path | str, baseline: str | None) -> list[str]:
    """Loud warnings for arms whose kept rows of a target predate the baseline's current settings there.

    When the baseline's rows of a target were superseded (its settings hash changed: the target's settings,
    the model or the tokenizer changed), every arm re-run since then has newer rows; an arm whose newest rows
    are older than the baseline's current ones was computed under the old settings, and its Δ would compare
    two setups."""
    if baseline is None:
        return []
    con = connect(db_path(run_dir))
    try:
        rows = con.execute(
            "SELECT arm, target, settings_hash, MIN(created), MAX(created) FROM results WHERE stage = 'target' "
            "GROUP BY arm, target, settings_hash"
        ).fetchall()
    finally:
        con.close()
    df = pd.DataFrame(rows, columns=["arm", "target", "hash", "first", "last"])
    newest = df.sort_values("last").groupby(["arm", "target"]).tail(1).set_index(["arm", "target"])
    out = []
    for target, g in df[df["arm"] == baseline].groupby("target"):
        if len(g) < 2:  # the baseline's settings never changed for this target
            continue
        since = newest.loc[(baseline, target), "first"]
        stale = sorted(a for (a, t), r in newest.iterrows() if t == target and a != baseline and r["last"] < since)
        if stale:
            out.append(
                f"WARNING: {target}: the rows of {', '.join(stale)} predate the baseline's current {target} "
                "settings (the baseline was re-run with other settings since): their Δ compares two setups. "
                "Re-run those arms, or read their Δ on this target as unreliable."
            )
    return out


def load_results(run_dir: Path | str) -> pd.DataFrame:
    """The run's results, newest settings only; ``df.attrs['notes']`` says what older rows were left out."""
    db = db_path(run_dir)
    df = results_frame(read_results(db))
    newest = _newest_settings(db)
    kept = df.merge(newest, on=[*newest.columns], how="inner")
    notes = []
    if len(kept) < len(df):
        old = df.merge(newest, on=[*newest.columns], how="left", indicator=True)
        old = old[old["_merge"] == "left_only"]
        pairs = sorted({f"{a}→{t}" for a, t in zip(old["arm"], old["target"], strict=True)})
        notes.append(
            f"{len(old)} rows from superseded settings left out (newest settings kept): {', '.join(pairs)}."
        )
    kept.attrs["notes"] = notes
    return kept.reset_index(drop=True)


BUCC = "bucc2018"
F1_CROSSFIT = "f1_crossfit"


def honest_bucc(results: pd.DataFrame) -> pd.DataFrame:
    """BUCC scored on dev: its ``f1`` is taken at a threshold tuned on that same dev gold (in-sample, so
    optimistic); the pipeline records the 2-fold cross-fitted F1 (``f1_crossfit``) next to it, and the
    analysis scores BUCC with that one (renamed ``f1``; the in-sample row is dropped). Test scores, whose
    threshold comes from dev, are kept as they are."""
    keys = ["model", "arm", "target", "language", "seed", "split"]
    bucc_dev = (results["target"] == BUCC) & (results["split"] != "test")
    cf = results[bucc_dev & (results["metric"] == F1_CROSSFIT)]
    if cf.empty:
        return results
    have = pd.MultiIndex.from_frame(cf[keys])
    in_sample = bucc_dev & (results["metric"] == F1) & pd.MultiIndex.from_frame(results[keys]).isin(have)
    out = results[~in_sample].copy()
    out.loc[out.index.isin(cf.index), "metric"] = F1
    out.attrs = dict(results.attrs)
    out.attrs["notes"] = [
        *results.attrs.get("notes", []),
        f"{BUCC} on a non-test split: scored with the cross-fitted threshold's F1, not the in-sample tuned F1.",
    ]
    return out.reset_index(drop=True)


def load_run_config(run_dir: Path | str) -> RunConfig:
    """The run's ``config.yaml`` (written by the pipeline), else the newest config in the ``runs`` table."""
    path = Path(run_dir)
    file = path / "config.yaml"
    if file.is_file():
        raw, where = yaml.safe_load(file.read_text(encoding="utf-8")), str(file)
    else:
        runs = load_runs(db_path(path))
        if not runs:
            raise XstiltsError(f"{path}: neither config.yaml nor a recorded run configuration")
        raw, where = runs[-1]["config"], f"{path} (runs table)"
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: not a valid run configuration for this xstilts version:\n{exc}") from exc


def load_runs(db: Path) -> list[dict]:
    """The ``runs`` table (config + provenance of each run that wrote to the database), oldest first."""
    con = connect(db)
    try:
        rows = con.execute("SELECT run_id, created, config, provenance FROM runs ORDER BY created").fetchall()
    finally:
        con.close()
    return [
        {"run_id": r, "created": c, "config": json.loads(cfg), "provenance": json.loads(prov)}
        for r, c, cfg, prov in rows
    ]


def registry_for(cfg: RunConfig) -> TaskRegistry:
    return get_registry(tuple(str(p) for p in cfg.data.task_dirs))


def task_format(spec: TaskSpec) -> str:
    """The format used to match arms: the spec's format, with entailment-labelled pair classification
    split out as ``nli`` (MNLI and ContractNLI are one format, SST-2 and ChemProt another)."""
    if spec.format == "classification" and spec.pair and "entailment" in {x.lower() for x in spec.labels}:
        return "nli"
    return spec.format


def _spec(registry: TaskRegistry, task_id: str) -> TaskSpec:
    """The spec of an arm task id, including per-language variants (``mlm_de``, translated ``mnli_de``)."""
    return registry.resolve_variant(task_id)[0]


def arm_groups(cfg: RunConfig, registry: TaskRegistry | None = None) -> dict[str, str]:
    """arm → baseline / general / biomedical / legal / mixed (tasks from several groups).

    An XTREME task used as an intermediate task counts as general-domain."""
    registry = registry or registry_for(cfg)
    out = {}
    for arm in cfg.arms:
        groups = {_spec(registry, t).group for t in arm.tasks}
        groups = {"general" if g == "xtreme" else g for g in groups}
        out[arm.name] = "baseline" if not groups else groups.pop() if len(groups) == 1 else "mixed"
    return out


def arm_formats(cfg: RunConfig, registry: TaskRegistry | None = None) -> dict[str, tuple[str, ...]]:
    """arm → the sorted formats of its tasks (empty for the baseline)."""
    registry = registry or registry_for(cfg)
    return {arm.name: tuple(sorted({task_format(_spec(registry, t)) for t in arm.tasks})) for arm in cfg.arms}


def main_metrics(target: str, registry: TaskRegistry | None = None) -> tuple[str, ...]:
    """The metrics whose mean is a target's per-language main score, as the official task score uses:
    (F1 + EM) / 2 for QA, the scorer's main metric otherwise; non-XTREME targets use their spec's metric
    (none for a task the registry does not know: it is left out of the analysis)."""
    if target in QA_TASKS:
        return (F1, EXACT_MATCH)
    if target in MAIN_METRIC:
        return (MAIN_METRIC[target],)
    registry = registry or get_registry()
    if target not in registry:
        return ()
    metric = registry.get(target).metric
    return (F1, EXACT_MATCH) if metric == EM_F1 else (metric,)


def main_scores(results: pd.DataFrame, registry: TaskRegistry | None = None) -> pd.DataFrame:
    """One main score per (model, arm, target, language, seed, split) of the target stage.

    A language lacking one of the metrics (or with a not-computable value) gets no score."""
    target_rows = results[(results["stage"] == "target") & results["value"].notna()]
    parts = []
    for target, rows in target_rows.groupby("target", sort=False):
        metrics = main_metrics(str(target), registry)
        if not metrics:
            continue
        wide = rows[rows["metric"].isin(metrics)].pivot_table(
            index=SCORE_KEYS, columns="metric", values="value", aggfunc="mean"
        )
        if not set(metrics) <= set(wide.columns):
            continue
        wide = wide[list(metrics)].dropna()
        parts.append(wide.mean(axis=1).rename("score").reset_index())
    if not parts:
        return pd.DataFrame(columns=[*SCORE_KEYS, "score"])
    return pd.concat(parts, ignore_index=True)


def report_splits(scores: pd.DataFrame) -> dict[str, str]:
    """target → the split it is reported on: test when the table has it, else dev, else what there is."""
    out = {}
    for target, rows in scores.groupby("target", sort=False):
        have = set(rows["split"])
        out[str(target)] = next((s for s in SPLIT_PREFERENCE if s in have), sorted(have)[0])
    return out


def on_report_split(frame: pd.DataFrame, splits: dict[str, str]) -> pd.DataFrame:
    """Rows of ``frame`` on each target's reporting split."""
    keep = frame["split"] == frame["target"].map(splits)
    return frame[keep.fillna(False).astype(bool)]

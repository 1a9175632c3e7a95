"""Who gains: Δ by language, grouped by family and script, and whether gains shrink where the baseline is
already strong (Pearson and Spearman correlation of Δ with the baseline score).

Spearman is the Pearson correlation of average ranks (ties share a rank), so no SciPy dependency is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xstilts.data.languages import LANGUAGES

ALL = "all"


def language_info(code: str) -> dict[str, str]:
    lang = LANGUAGES.get(code)
    if lang is None:
        return {"name": code, "family": "unknown", "genus": "unknown", "script": "unknown"}
    return {"name": lang.name, "family": lang.family, "genus": lang.genus, "script": lang.script}


def language_deltas(deltas: pd.DataFrame, by: str = "arm") -> pd.DataFrame:
    """``by`` (arm or group), language, mean Δ over targets and seeds, target count, family, genus, script."""
    per_target = deltas.groupby([by, "language", "target"], as_index=False)["delta"].mean()
    out = per_target.groupby([by, "language"], as_index=False).agg(
        delta=("delta", "mean"), n_targets=("target", "nunique")
    )
    info = pd.DataFrame([{"language": c, **language_info(c)} for c in out["language"].unique()])
    if info.empty:
        return out.assign(name=[], family=[], genus=[], script=[])
    out = out.merge(info, on="language", how="left")
    return out.sort_values([by, "family", "language"]).reset_index(drop=True)


def grouped(lang_deltas: pd.DataFrame, key: str, by: str = "arm") -> pd.DataFrame:
    """Mean Δ per ``by`` × ``key`` (family, genus or script) over its languages, with their list."""
    return (
        lang_deltas.groupby([by, key], as_index=False)
        .agg(
            delta=("delta", "mean"),
            n_languages=("language", "nunique"),
            languages=("language", lambda s: " ".join(sorted(s))),
        )
        .sort_values([by, key])
        .reset_index(drop=True)
    )


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy())


def baseline_correlation(deltas: pd.DataFrame, by: str = "arm") -> pd.DataFrame:
    """Per ``by`` and scope (each target, then ``all``): correlation over languages of mean Δ with the mean
    baseline score. Pooled over targets it mixes metric scales, so read the per-target rows next to it."""
    cells = deltas.groupby([by, "target", "language"], as_index=False)[["delta", "baseline"]].mean()
    rows = []
    for key, g in cells.groupby(by, sort=False):
        scopes = [(str(t), gt) for t, gt in g.groupby("target", sort=True)] + [(ALL, g)]
        for scope, s in scopes:
            rows.append(
                {
                    by: key,
                    "scope": scope,
                    "pearson": pearson(s["baseline"], s["delta"]),
                    "spearman": spearman(s["baseline"], s["delta"]),
                    "n": len(s),
                }
            )
    return pd.DataFrame(rows, columns=[by, "scope", "pearson", "spearman", "n"])

"""Who gains: Δ by language, grouped by family and script.

(The correlation of Δ with the baseline score over languages was removed: with Δ = arm − baseline on the same
seeds, a noisy baseline makes it negative by construction — regression to the mean, not a finding.)
"""

from __future__ import annotations

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

"""Δ against the baseline arm per (target, language, seed): the unit every comparison is built from.

Arm and baseline are paired by seed (same target-training seed); where the baseline lacks a seed, the arm is
compared with the baseline's mean over its seeds, so a missing baseline seed costs precision, not data.
"""

from __future__ import annotations

import pandas as pd

CELL = ["target", "language", "split"]
DELTA_COLUMNS = ["arm", "target", "language", "split", "seed", "score", "baseline", "delta"]


def deltas(scores: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """Every non-baseline score with its baseline score and ``delta = score - baseline``."""
    if baseline is None or scores.empty or baseline not in set(scores["arm"]):
        return pd.DataFrame(columns=DELTA_COLUMNS)
    base = scores[scores["arm"] == baseline]
    by_seed = (
        base.groupby([*CELL, "seed"], as_index=False)["score"].mean().rename(columns={"score": "b_seed"})
    )
    by_cell = base.groupby(CELL, as_index=False)["score"].mean().rename(columns={"score": "b_mean"})
    arms = scores[scores["arm"] != baseline][["arm", *CELL, "seed", "score"]]
    out = arms.merge(by_seed, on=[*CELL, "seed"], how="left").merge(by_cell, on=CELL, how="inner")
    out["baseline"] = out["b_seed"].fillna(out["b_mean"])
    out["delta"] = out["score"] - out["baseline"]
    return out[DELTA_COLUMNS].reset_index(drop=True)

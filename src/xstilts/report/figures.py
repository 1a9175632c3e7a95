"""The report's figures: transfer-matrix heatmap, per-language Δ, forest plot of every task's mean Δ.

Built with matplotlib's object API (``Figure`` + Agg) rather than pyplot: no global state, no display needed,
safe in tests and on headless machines. Each function returns None when there is nothing to draw.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from xstilts.analysis.bundle import RunAnalysis
from xstilts.analysis.table import GROUPS

MAX_ARM_SERIES = 8  # beyond this, the per-language plot shows groups instead of arms


def transfer_heatmap(matrix: pd.DataFrame, title: str = "Δ vs baseline") -> Figure | None:
    if matrix.empty:
        return None
    values = matrix.to_numpy(float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    bound = bound or 1.0
    fig = Figure(figsize=(1.2 + 0.8 * matrix.shape[1], 1.0 + 0.45 * matrix.shape[0]), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(values, cmap="RdBu", norm=TwoSlopeNorm(0.0, -bound, bound), aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    for (i, j), v in np.ndenumerate(values):
        if math.isfinite(v):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * bound else "black")  # fmt: skip
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="Δ (points)")
    return fig


def language_plot(lang: pd.DataFrame, by: str = "arm", order: Sequence[str] = ()) -> Figure | None:
    """Δ per language, languages ordered by family (labelled above the axis), one series per arm or group."""
    if lang.empty:
        return None
    langs = lang.drop_duplicates("language").sort_values(["family", "language"])
    codes = list(langs["language"])
    x = {c: i for i, c in enumerate(codes)}
    fig = Figure(figsize=(max(6.0, 0.32 * len(codes) + 2), 4.0), layout="constrained")
    ax = fig.subplots()
    rank = {k: i for i, k in enumerate(order)}
    series = sorted(lang.groupby(by, sort=False), key=lambda kv: rank.get(kv[0], len(rank)))
    # side-by-side offsets, so that series at one language do not hide each other
    width = min(0.6, 0.12 * len(series))
    for i, (key, g) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * (width / max(1, len(series) - 1)) if len(series) > 1 else 0.0
        ax.plot(g["language"].map(x) + offset, g["delta"], ls="none", marker="o", ms=5, label=str(key),
                color=f"C{i % 10}")  # fmt: skip
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(codes)), codes, fontsize=8)
    ax.set_ylabel("Δ vs baseline (points)")
    edges = langs["family"].ne(langs["family"].shift()).to_numpy().nonzero()[0]
    for k, start in enumerate(edges):
        end = edges[k + 1] if k + 1 < len(edges) else len(codes)
        if start:
            ax.axvline(start - 0.5, color="grey", lw=0.5, ls=":")
        ax.text((start + end - 1) / 2, 1.01, langs["family"].iloc[start], transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7, rotation=30)  # fmt: skip
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


GROUP_COLOURS = {"general": "C0", "biomedical": "C3", "legal": "C2", "mixed": "C4"}


def task_forest(means: pd.DataFrame) -> Figure | None:
    """Every task's mean Δ (interval over seeds × languages where known), coloured by group; mixtures hollow.

    ``means``: arm, group, delta, ci_low, ci_high, mixture (bool)."""
    if means.empty:
        return None
    df = means.sort_values(["group", "delta"]).reset_index(drop=True)
    y = np.arange(len(df))[::-1]
    fig = Figure(figsize=(6.5, 0.9 + 0.3 * len(df)), layout="constrained")
    ax = fig.subplots()
    err = np.vstack([df["delta"] - df["ci_low"], df["ci_high"] - df["delta"]]).astype(float)
    err = np.nan_to_num(err, nan=0.0)  # no interval (no cell table, one seed): the point alone
    for i, r in df.iterrows():
        colour = GROUP_COLOURS.get(r["group"], "C7")
        ax.errorbar(r["delta"], y[i], xerr=err[:, [i]], fmt="o", color=colour, capsize=3, ms=5,
                    mfc="white" if r["mixture"] else colour)  # fmt: skip
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{a} ({g})" for a, g in zip(df["arm"], df["group"], strict=True)], fontsize=8)
    ax.set_xlabel("mean Δ vs baseline (points); hollow: mixture")
    return fig


def answer_forest(ans) -> Figure | None:
    means = (
        ans.arm_intervals.copy()
        if ans.arm_intervals is not None
        else pd.DataFrame({"arm": ans.matrix.index, "delta": ans.matrix[ans.scope].mean(axis=1).to_numpy()})
    )
    if "ci_low" not in means:
        means["ci_low"] = means["ci_high"] = np.nan
    means["group"] = means["arm"].map(ans.groups).fillna("")
    means["mixture"] = means["arm"].isin(ans.mixtures)
    return task_forest(means.dropna(subset=["delta"]))


def report_figures(a: RunAnalysis) -> dict[str, Figure]:
    """name → figure, only those with data."""
    by = "arm" if len(a.arms) <= MAX_ARM_SERIES else "group"
    lang = a.language if by == "arm" else _by_group(a)
    figures = {
        "transfer_matrix": transfer_heatmap(a.transfer, f"Mean Δ vs {a.baseline}"),
        "language_delta": language_plot(lang, by, a.arms if by == "arm" else GROUPS),
        "task_forest": answer_forest(a.answer),
    }
    return {k: v for k, v in figures.items() if v is not None}


def _by_group(a: RunAnalysis) -> pd.DataFrame:
    from xstilts.analysis.language_view import language_deltas

    return language_deltas(a.deltas, by="group")


def save_figure(fig: Figure, folder: Path, name: str, dpi: int = 130) -> tuple[Path, Path, bytes]:
    """``name.png`` and ``name.pdf`` (no creation date, so re-running gives the same PDF), plus the PNG bytes
    for embedding. The layout is computed once, on the PNG render, and reused for the PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    fig.set_layout_engine("none")
    png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
    png.write_bytes(buf.getvalue())
    fig.savefig(pdf, format="pdf", metadata={"CreationDate": None})
    return png, pdf, buf.getvalue()

"""The report's tables, each twice: numeric (CSV, for further analysis) and formatted (Markdown, HTML, LaTeX),
so every output shows the same rounding and the same "mean ± sd" convention."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from xstilts.analysis.bundle import RunAnalysis
from xstilts.analysis.xtreme_table import XTREME

DASH = "–"


@dataclass(frozen=True)
class ReportTable:
    name: str  # file stem
    title: str
    numeric: pd.DataFrame  # written to CSV as is
    display: pd.DataFrame  # strings; index shown as the first column
    note: str = ""


def fmt(x, digits: int = 1, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def mean_sd(mean, sd, digits: int = 1, signed: bool = False) -> str:
    text = fmt(mean, digits, signed)
    if text == DASH or sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return text
    return f"{text} ± {sd:.{digits}f}"


def fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _frame(df: pd.DataFrame, fn) -> pd.DataFrame:
    return df.apply(lambda col: col.map(fn)) if not df.empty else df.astype(object)


def coverage_gaps(describe: str) -> str:
    """The part of ``XtremeScore.describe()`` after the value: what the score lacks ('' when complete)."""
    rest = describe.split(" ", 1)[1] if " " in describe else ""
    return rest.strip("()").strip("; ").replace("PARTIAL, not the XTREME score: ", "PARTIAL: ")


def xtreme_tables(a: RunAnalysis) -> list[ReportTable]:
    summary = a.xtreme.summary
    if summary.empty:
        return []
    mean, sd = a.xtreme.wide("mean"), a.xtreme.wide("sd")
    dmean, dsd = a.xtreme.wide("delta_mean"), a.xtreme.wide("delta_sd")
    shown = mean.copy().astype(object)
    delta = dmean.copy().astype(object)
    for c in mean.columns:
        shown[c] = [mean_sd(m, s) for m, s in zip(mean[c], sd[c], strict=True)]
        delta[c] = [mean_sd(m, s, signed=True) for m, s in zip(dmean[c], dsd[c], strict=True)]
    if XTREME in dmean.columns:
        shown[f"Δ {XTREME}"] = [
            DASH if arm == a.baseline else d for arm, d in zip(delta.index, delta[XTREME], strict=True)
        ]
    note = (
        "Task scores average the official languages with a result; QA is (F1 + EM) / 2. "
        "A PARTIAL score lacks tasks or languages and is not the XTREME score."
    )
    gaps = {arm: coverage_gaps(a.xtreme.coverage.get(arm, "")) for arm in shown.index}
    if len(set(gaps.values())) == 1:
        note += f" Every arm: {next(iter(gaps.values()))}." if next(iter(gaps.values())) else ""
    else:
        shown["coverage"] = [gaps[arm] or "complete" for arm in shown.index]
    base = a.baseline or "the baseline"
    return [
        ReportTable("xtreme", "XTREME task scores per arm (mean ± sd over seeds)", summary, shown, note),
        ReportTable(
            "xtreme_delta",
            f"Δ vs {base} (seed-paired, mean ± sd)",
            summary[["arm", "column", "delta_mean", "delta_sd"]],
            delta.drop(index=[a.baseline], errors="ignore"),
        ),
    ]


def transfer_table(a: RunAnalysis) -> list[ReportTable]:
    if a.transfer.empty:
        return []
    return [
        ReportTable(
            "transfer",
            f"Transfer matrix: mean Δ vs {a.baseline} per arm × target",
            a.transfer,
            _frame(a.transfer, lambda x: fmt(x, signed=True)),
            "Δ averaged over the target's official languages within each seed, then over seeds.",
        )
    ]


def selection_table(a: RunAnalysis) -> list[ReportTable]:
    eng = a.selection.english
    if not a.selection.choice:
        return []
    rows = []
    for target, arm in a.selection.choice.items():
        chosen = eng[(eng["target"] == target) & (eng["arm"] == arm)]
        rows.append(
            {
                "target": target,
                "chosen arm": arm,
                "English split": chosen["split"].iloc[0] if len(chosen) else DASH,
                "English score": fmt(chosen["score"].iloc[0]) if len(chosen) else DASH,
            }
        )
    display = pd.DataFrame(rows).set_index("target")
    return [ReportTable("selection", "Best arm per target, chosen on English results only", eng, display)]


def per_target_language_table(a: RunAnalysis) -> list[ReportTable]:
    """target × language rows, one column per arm: mean Δ over seeds (English included, marked)."""
    if a.deltas.empty:
        return []
    cells = a.deltas.groupby(["target", "language", "arm"])["delta"].mean().unstack("arm")
    cells = cells[[arm for arm in a.arms if arm in cells.columns]]
    order = {t: i for i, t in enumerate(a.targets)}
    cells = cells.sort_index(key=lambda idx: idx.map(order) if idx.name == "target" else idx)
    shown = _frame(cells, lambda x: fmt(x, signed=True))
    shown.index = [f"{t} / {lg}" for t, lg in cells.index]
    shown.index.name = "target / language"
    return [
        ReportTable(
            "language_by_target",
            "Δ per language for each target (mean over seeds)",
            cells,
            shown,
            "Every evaluated language, English included; the contrasts use each target's official languages.",
        )
    ]


def language_tables(a: RunAnalysis) -> list[ReportTable]:
    if a.language.empty:
        return []
    lang = a.language
    pivot = lang.pivot(index="language", columns="arm", values="delta")
    pivot = pivot[[arm for arm in a.arms if arm in pivot.columns]]
    info = lang.drop_duplicates("language").set_index("language")[["family", "script"]]
    shown = info.join(_frame(pivot, lambda x: fmt(x, signed=True))).sort_values(["family", "script"])
    out = [
        ReportTable(
            "languages",
            "Δ per language (mean over targets and seeds)",
            lang,
            shown,
            "All evaluated languages, including non-official ones and English.",
        )
    ]
    for name, df in (("family", a.families), ("script", a.scripts)):
        p = df.pivot(index=name, columns="arm", values="delta")
        p = p[[arm for arm in a.arms if arm in p.columns]]
        n = df.drop_duplicates(name).set_index(name)["n_languages"].rename("languages")
        shown = pd.concat([n, _frame(p, lambda x: fmt(x, signed=True))], axis=1)
        out.append(ReportTable(f"by_{name}", f"Δ by language {name} (mean over its languages)", df, shown))
    return out


def report_tables(a: RunAnalysis) -> list[ReportTable]:
    """Every table of the report, in reading order."""
    return [
        *xtreme_tables(a),
        *transfer_table(a),
        *selection_table(a),
        *language_tables(a),
        *per_target_language_table(a),
    ]

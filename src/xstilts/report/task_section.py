"""The task-level answer in words and tables: the summary's lead lines, the primary / exploratory tables,
the task means (mixtures apart) and what could not be computed."""

from __future__ import annotations

import math

import pandas as pd

from xstilts.analysis.power import mde
from xstilts.analysis.task_answer import TaskAnswer
from xstilts.analysis.tasklevel import min_p, task_means
from xstilts.report.tables import DASH, ReportTable, fmt, fmt_p

METHOD = (
    "The unit is the intermediate task. Each single-task arm's Δ is averaged over languages within a target "
    "and seed, then over seeds, then over the targets in scope; a contrast is the mean over the domain's tasks "
    "minus the mean over the general tasks. Mixture arms are not members of a group and are shown apart. "
    "Interval: Welch's t on the task means (Welch–Satterthwaite df): in simulation it covered a null effect "
    "in 95.3 / 94.3 / 96.5 % of studies with 3 / 4 / 6 tasks per group, where a percentile bootstrap over "
    "tasks covered 75.5 / 82.8 / 89.5 % and the nested one 78.5 / 84.5 / 91.7 % "
    "(`python -m xstilts.analysis.simulate`). Test: exact permutation of the group labels across the tasks "
    "(all splits enumerated when at most 20,000, else Monte Carlo), Holm-adjusted across the primary contrasts. Per-target contrasts are "
    "exploratory (Benjamini–Hochberg q). With fewer than two tasks in a group, or one seed, a contrast is not "
    "estimated and no direction is claimed."
)


def _sd(x: float) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _arms_means(ans: TaskAnswer) -> pd.Series:
    return task_means(ans.matrix, ans.scope)


def contrast_line(ans: TaskAnswer, row) -> str:
    means = _arms_means(ans)
    head = f"{row.group.capitalize()} − {row.reference}, {row.n_tasks} vs {row.n_reference_tasks} tasks"
    if not row.estimable:
        arms = [a for a in f"{row.arms}, {row.reference_arms}".split(", ") if a in means.index]
        described = ", ".join(f"{a} {fmt(means[a], 2, True)}" for a in arms)
        return f"{head}: cannot be estimated at the task level ({row.reason}); no directional claim. " + (
            f"Descriptive mean Δ per arm: {described}." if described else ""
        )
    verdict = (
        "no detectable domain effect"
        if row.ci_low <= 0 <= row.ci_high
        else f"{row.group} tasks help {'more' if row.estimate > 0 else 'less'} than {row.reference} tasks"
    )
    line = (
        f"{head} (between-task sd {_sd(row.sd_between)}): {verdict}; {fmt(row.estimate, 2, True)} points "
        f"(95% CI {fmt(row.ci_low, 2, True)} to {fmt(row.ci_high, 2, True)}, Welch df {row.df:.1f}; "
        f"{'exact' if row.p_exact else 'Monte Carlo'} task-label permutation p {fmt_p(row.p_perm)}, "
        f"Holm {fmt_p(row.p_adjusted)})."
    )
    detectable = mde(row.sd_between**2, row.n_tasks, row.n_reference_tasks)
    if math.isfinite(detectable):
        line += (
            f" At this between-task sd the design detects (80 % power, α 0.05) only differences of about "
            f"{detectable:.2f} points or more."
        )
    floor = min_p(row.n_tasks, row.n_reference_tasks)
    if floor > 0.05:
        line += f" With these numbers of tasks the smallest possible p is {floor:.2f}: the test cannot reject at 0.05."
    return line + influence_line(ans, row)


def influence_line(ans: TaskAnswer, row) -> str:
    """The task that moves the contrast most, and the contrast without it."""
    means = _arms_means(ans)
    a = [x for x in row.arms.split(", ") if x in means.index]
    b = [x for x in row.reference_arms.split(", ") if x in means.index]
    if len(a) < 3 and len(b) < 3:
        return ""
    best, best_est = None, row.estimate
    for arm in a + b:
        rest_a, rest_b = [x for x in a if x != arm], [x for x in b if x != arm]
        if not rest_a or not rest_b:
            continue
        est = means[rest_a].mean() - means[rest_b].mean()
        if best is None or abs(est - row.estimate) > abs(best_est - row.estimate):
            best, best_est = arm, est
    if best is None:
        return ""
    return (
        f" Most influential task: {best} (mean Δ {fmt(means[best], 2, True)}); without it the contrast is "
        f"{fmt(best_est, 2, True)}."
    )


def mixed_model_line(ans: TaskAnswer, row) -> str:
    """The mixed model's verdict next to the permutation test's, and whether they agree at 0.05."""
    if ans.mixed is None or not row.estimable:
        return ""
    m = ans.mixed[(ans.mixed["group"] == row.group) & (ans.mixed["reference"] == row.reference)]
    if m.empty or pd.isna(m["p"].iloc[0]):
        return "  Mixed-model cross-check: did not fit."
    coef, p = m["coef"].iloc[0], m["p"].iloc[0]
    agree = (p <= 0.05) == (row.p_perm <= 0.05)
    text = (
        f"  Mixed-model cross-check: {fmt(coef, 2, True)} (Wald p {fmt_p(p)}, normal reference; with "
        f"{row.n_tasks + row.n_reference_tasks} tasks the honest df is about {row.n_tasks + row.n_reference_tasks - 2})"
    )
    if agree:
        return text + "; it agrees with the permutation test at 0.05."
    return (
        text
        + "; it DISAGREES with the permutation test at 0.05 — the Wald test is optimistic with few tasks."
    )


def summary_lines(ans: TaskAnswer) -> list[str]:
    lines = []
    for r in ans.primary.itertuples():
        lines.append(contrast_line(ans, r))
        mixed = mixed_model_line(ans, r)
        if mixed:
            lines.append(mixed)
    if ans.mixtures:
        means = _arms_means(ans)
        mixed = ", ".join(f"{m} {fmt(means[m], 2, True)}" for m in ans.mixtures if m in means.index)
        lines.append(f"Mixture arms (not in the contrasts), mean Δ: {mixed}.")
    if ans.excluded:
        parts = "; ".join(f"{t}: {why}" for t, why in ans.excluded.items())
        lines.append(f"Left out of the primary contrasts (floor): {parts}.")
    if ans.missing:
        lines.append(
            "Not recomputable from the input (it has no cell table): " + "; ".join(ans.missing) + ". Reports "
            "now commit their cell table (tables/results.csv), so a later study can be re-analysed in full."
        )
    return lines


def _contrast_table(df: pd.DataFrame, adjusted: str) -> pd.DataFrame:
    rows = {
        "contrast": [f"{g} − {r}" for g, r in zip(df["group"], df["reference"], strict=True)],
        "scope": df["scope"],
        "tasks": [f"{a} vs {b}" for a, b in zip(df["n_tasks"], df["n_reference_tasks"], strict=True)],
        "Δ difference": [fmt(x, 2, True) for x in df["estimate"]],
        "between-task sd": [_sd(x) for x in df["sd_between"]],
        "95% CI (Welch)": [
            f"[{fmt(lo, 2, True)}, {fmt(hi, 2, True)}]"
            for lo, hi in zip(df["ci_low"], df["ci_high"], strict=True)
        ],
        "p (task labels)": [fmt_p(p) for p in df["p_perm"]],
        adjusted: [fmt_p(p) for p in df["p_adjusted"]],
    }
    if "nested_low" in df:
        rows["nested bootstrap"] = [
            f"[{fmt(lo, 2, True)}, {fmt(hi, 2, True)}]"
            for lo, hi in zip(df["nested_low"], df["nested_high"], strict=True)
        ]
    rows["note"] = [r or "" for r in df["reason"]]
    return pd.DataFrame(rows).set_index("contrast")


def task_tables(ans: TaskAnswer) -> list[ReportTable]:
    out = [
        ReportTable(
            "primary",
            "Primary contrasts at the task level",
            ans.primary,
            _contrast_table(ans.primary, "Holm p"),
            f"Scope: {', '.join(ans.scope)}. The nested bootstrap (tasks, then seeds, then languages) is shown "
            "for its spread; it under-covers with few tasks, so the verdict uses the Welch interval.",
        )
    ]
    means = ans.matrix.copy()
    means["mean (scope)"] = _arms_means(ans)
    means.insert(0, "group", [ans.groups.get(a, "") for a in means.index])
    means.insert(1, "kind", ["mixture" if a in ans.mixtures else "task" for a in means.index])
    shown = means.copy().astype(object)
    for c in means.columns[2:]:
        shown[c] = [fmt(x, 2, True) for x in means[c]]
    out.append(ReportTable("task_means", "Mean Δ per arm and target (task means)", means, shown))
    if not ans.exploratory.empty:
        out.append(
            ReportTable(
                "exploratory_targets",
                "Exploratory: each contrast on each target alone",
                ans.exploratory,
                _contrast_table(ans.exploratory, "BH q"),
                "Exploratory: q-values are Benjamini–Hochberg over all rows of this table.",
            )
        )
    if ans.mixed is not None and not ans.mixed.empty:
        shown = ans.mixed.assign(
            coef=ans.mixed["coef"].map(lambda x: fmt(x, 2, True)),
            se=ans.mixed["se"].map(lambda x: fmt(x, 2)),
            p=ans.mixed["p"].map(fmt_p),
        ).set_index("group")
        out.append(
            ReportTable(
                "mixed_model",
                "Cross-check: mixed model Δ ~ group + target, random intercepts for arm and arm:seed",
                ans.mixed,
                shown,
                "Wald z p-value (normal reference): no small-sample df, so it is optimistic with few tasks; "
                "the exact permutation p is the test of record.",
            )
        )
    if ans.floors is not None and not ans.floors.empty:
        f = ans.floors
        shown = pd.DataFrame(
            {
                "baseline": [fmt(x) for x in f["baseline"]],
                "floor": [fmt(x) for x in f["floor"]],
                "above floor": ["?" if pd.isna(x) else ("yes" if x else "NO") for x in f["above"]],
            },
            index=f["target"],
        )
        out.append(ReportTable("floors", "Each target's baseline against its majority / constant floor", f, shown,
                               "Floor unknown ('?') where the run recorded no majority score."))  # fmt: skip
    if ans.transfer_gap is not None and not ans.transfer_gap.empty:
        g = ans.transfer_gap
        shown = g.set_index("arm").map(lambda x: fmt(x, 2, True))
        out.append(ReportTable("transfer_gap", "English vs non-English Δ (the transfer gap)", g, shown,
                               "Targets with an English evaluation only."))  # fmt: skip
    return out

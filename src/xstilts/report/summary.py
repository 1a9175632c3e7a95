"""The report's answer in plain words, with the numbers behind each sentence.

A contrast whose confidence interval covers 0 is called "no detectable difference", never a win or a loss,
whatever its point estimate; everything partial (tasks, languages, dev data, few seeds) is said out loud.
"""

from __future__ import annotations

from xstilts.analysis.bundle import RunAnalysis
from xstilts.analysis.xtreme_table import XTREME
from xstilts.report.tables import mean_sd
from xstilts.report.task_section import summary_lines as task_summary_lines


def describe_run(a: RunAnalysis) -> str:
    cfg = a.config
    groups = ", ".join(f"{arm} ({a.groups.get(arm, '?')})" for arm in a.arms)
    seeds = len(cfg.seeds)
    return (
        f"Run {cfg.name!r}: model {cfg.model.name}; arms {groups}; targets "
        f"{', '.join(f'{t} ({a.splits[t]})' for t in a.targets) or 'none with results'}; "
        f"{seeds} seed{'s' * (seeds != 1)} ({', '.join(map(str, cfg.seeds))})."
    )


def xtreme_lines(a: RunAnalysis) -> list[str]:
    s = a.xtreme.summary
    rows = s[(s["column"] == XTREME) & (s["arm"] != a.baseline)].dropna(subset=["delta_mean"])
    if rows.empty:
        return []
    best = rows.loc[rows["delta_mean"].idxmax()]
    worst = rows.loc[rows["delta_mean"].idxmin()]
    partial = "(partial) " if any("PARTIAL" in c for c in a.xtreme.coverage.values()) else ""
    line = (
        f"Largest {partial}XTREME-score change vs {a.baseline}: {best['arm']} "
        f"{mean_sd(best['delta_mean'], best['delta_sd'], 2, True)}"
    )
    if worst["arm"] != best["arm"]:
        line += f"; smallest: {worst['arm']} {mean_sd(worst['delta_mean'], worst['delta_sd'], 2, True)}"
    return [line + "."]


def selection_lines(a: RunAnalysis) -> list[str]:
    sel = a.selection
    mean, sd = sel.score
    if mean is None:
        return []
    dm, dsd = sel.delta
    picks = ", ".join(f"{t} ← {arm}" for t, arm in sel.choice.items())
    how = (
        "cross-fitted: each seed scored with the arms chosen on the other seeds"
        if len(sel.per_seed) > 1
        else "not cross-fitted: one seed"
    )
    line = (
        f"Choosing the best arm per target on English results ({picks} on all seeds; {how}) "
        f"gives an XTREME score of {mean_sd(mean, sd, 2)}"
    )
    if dm is not None:
        line += f" ({mean_sd(dm, dsd, 2, True)} vs {a.baseline})"
    return [line + f"; coverage: {sel.coverage}."] + [f"  Warning: {w}" for w in sel.warnings]


def caveat_lines(a: RunAnalysis) -> list[str]:
    lines = []
    seeds = a.deltas["seed"].nunique() if not a.deltas.empty else len(a.config.seeds)
    if seeds < 3:
        lines.append(
            f"Only {seeds} seed{'s' * (seeds != 1)}: the intervals cannot see seed-to-seed variation "
            "(PROTOCOL §7 asks for at least 3)."
        )
    not_test = {t: s for t, s in a.splits.items() if s != "test"}
    if not_test:
        named = ", ".join(f"{t} ({s} split)" for t, s in sorted(not_test.items()))
        lines.append(f"Scored on a split other than test (named as evaluated): {named}.")
    return lines + list(a.notes)


def unanswered_reason(a: RunAnalysis) -> str:
    have = set(a.groups.values())
    if a.baseline is None:
        return "the run has no baseline arm (an arm without tasks) to take Δ against"
    missing = [g for g in ("general", "biomedical or legal") if not (set(g.split(" or ")) & have)]
    if missing:
        return f"the run has no {' and no '.join(missing)} arm"
    return "the domain and general arms share no (target, language, seed) result with the baseline"


def summary_lines(a: RunAnalysis) -> list[str]:
    """The plain-words summary: the run, the answer to domain vs general, gains, selection, caveats."""
    lines = [describe_run(a)]
    if a.baseline is None or a.deltas.empty:
        lines.append(f"Domain vs general cannot be answered from this run: {unanswered_reason(a)}.")
    else:
        lines += task_summary_lines(a.answer)
    lines += xtreme_lines(a)
    lines += selection_lines(a)
    return lines + caveat_lines(a)

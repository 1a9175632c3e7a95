"""Official XTREME language lists, task scores, the XTREME score and category means (PROTOCOL §5).

The XTREME score is the unweighted mean of the nine task scores, each averaged over the task's *official*
language list. Anything less (a task or an official language without a result) is still computed, but
flagged as partial together with what is missing, so a partial average is never mistaken for the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from xstilts.errors import UnknownNameError
from xstilts.metrics.official import ACCURACY, EXACT_MATCH, F1


def _langs(spaced: str) -> tuple[str, ...]:
    return tuple(spaced.split())


# `TASK2LANGS` of google-research/xtreme evaluate.py, in its language order.
TASK2LANGS: dict[str, tuple[str, ...]] = {
    "udpos": _langs(
        "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh"
    ),
    "panx": _langs(
        "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my zh kk tr et fi hu"
    ),
    "xnli": _langs("ar bg de el en es fr hi ru sw th tr ur vi zh"),
    "pawsx": _langs("de en es fr ja ko zh"),
    "xquad": _langs("en es de el ru tr ar vi th zh hi"),
    "mlqa": _langs("en es de ar hi vi zh"),
    "tydiqa": _langs("en ar bn fi id ko ru sw te"),
    "bucc2018": _langs("de fr ru zh"),
    "tatoeba": _langs(
        "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw zh kk tr et fi hu"
    ),
}
TASKS: tuple[str, ...] = tuple(TASK2LANGS)

# `GROUP2TASK` of evaluate.py. Category means are extra outputs, never the XTREME score.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "classification": ("pawsx", "xnli"),
    "tagging": ("udpos", "panx"),
    "qa": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("bucc2018", "tatoeba"),
}
QA_TASKS: tuple[str, ...] = CATEGORIES["qa"]
# The metric a non-QA task is scored by; QA tasks use (mean F1 + mean EM) / 2.
MAIN_METRIC: dict[str, str] = {
    "udpos": F1,
    "panx": F1,
    "xnli": ACCURACY,
    "pawsx": ACCURACY,
    "bucc2018": F1,
    "tatoeba": ACCURACY,
}


def check_task(task: str) -> str:
    if task not in TASK2LANGS:
        raise UnknownNameError("XTREME task", task, TASKS)
    return task


def task_score_from_averages(task: str, averages: Mapping[str, float]) -> float:
    """A task's score from its language-averaged metrics: (F1 + EM) / 2 for QA, the main metric otherwise."""
    if check_task(task) in QA_TASKS:
        return (averages[F1] + averages[EXACT_MATCH]) / 2
    return averages[MAIN_METRIC[task]]


@dataclass(frozen=True)
class TaskScore:
    """One task's score over the official languages that have a result."""

    task: str
    value: float | None  # None when no official language has a result
    averages: dict[str, float]  # each metric averaged over `languages`
    languages: tuple[str, ...]  # official languages averaged, in official order
    missing_languages: tuple[str, ...]  # official languages without a result
    unofficial_languages: tuple[
        str, ...
    ]  # scored and reported, but outside the official list: never averaged

    @property
    def complete(self) -> bool:
        return not self.missing_languages


def task_score(task: str, per_language: Mapping[str, Mapping[str, float]]) -> TaskScore:
    """Average every metric over the task's official languages present in ``per_language``."""
    official = TASK2LANGS[check_task(task)]
    languages = tuple(lang for lang in official if lang in per_language)
    metrics = sorted({m for lang in languages for m in per_language[lang]})
    averages = {m: fmean(per_language[lang][m] for lang in languages) for m in metrics}
    return TaskScore(
        task=task,
        value=task_score_from_averages(task, averages) if languages else None,
        averages=averages,
        languages=languages,
        missing_languages=tuple(lang for lang in official if lang not in per_language),
        unofficial_languages=tuple(sorted(set(per_language) - set(official))),
    )


@dataclass(frozen=True)
class XtremeScore:
    """The XTREME score, or a partial one: ``complete`` is False whenever a task or an official language lacks a result."""

    value: float | None  # mean over the task scores present; None when there is none
    complete: bool
    task_scores: dict[str, float]
    missing_tasks: tuple[str, ...]
    missing_languages: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # only tasks that have a score
    category_means: dict[str, float] = field(default_factory=dict)  # categories whose tasks all have a score
    partial_categories: tuple[str, ...] = ()  # categories in `category_means` built on language-partial tasks

    def describe(self) -> str:
        """One line for people: the value, and for a partial score, what it lacks."""
        if self.value is None:
            return "no XTREME score (no task has a result)"
        if self.complete:
            return f"{self.value:.2f}"
        gaps = [f"{len(self.task_scores)}/{len(TASKS)} tasks"]
        if self.missing_tasks:
            gaps.append("missing tasks: " + ", ".join(self.missing_tasks))
        if self.missing_languages:
            gaps.append(
                "missing languages: "
                + ", ".join(
                    f"{t} {len(langs)}/{len(TASK2LANGS[t])}" for t, langs in self.missing_languages.items()
                )
            )
        return f"{self.value:.2f} (PARTIAL, not the XTREME score: {'; '.join(gaps)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "complete": self.complete,
            "task_scores": dict(self.task_scores),
            "missing_tasks": list(self.missing_tasks),
            "missing_languages": {t: list(langs) for t, langs in self.missing_languages.items()},
            "category_means": dict(self.category_means),
            "partial_categories": list(self.partial_categories),
        }


def xtreme_score(
    task_scores: Mapping[str, float], missing_languages: Mapping[str, Sequence[str]] | None = None
) -> XtremeScore:
    """Combine task scores into the XTREME score; tasks absent from ``task_scores`` make it partial.

    ``missing_languages`` names, per task, official languages that the task score was computed without.
    """
    for task in [*task_scores, *(missing_languages or {})]:
        check_task(task)
    gaps = {t: tuple(langs) for t, langs in (missing_languages or {}).items() if langs and t in task_scores}
    scores = {t: float(task_scores[t]) for t in TASKS if t in task_scores}
    missing_tasks = tuple(t for t in TASKS if t not in scores)
    categories = {c: tasks for c, tasks in CATEGORIES.items() if all(t in scores for t in tasks)}
    return XtremeScore(
        value=fmean(scores.values()) if scores else None,
        complete=not missing_tasks and not gaps,
        task_scores=scores,
        missing_tasks=missing_tasks,
        missing_languages=gaps,
        category_means={c: fmean(scores[t] for t in tasks) for c, tasks in categories.items()},
        partial_categories=tuple(c for c, tasks in categories.items() if any(t in gaps for t in tasks)),
    )


def xtreme_score_from_tasks(scores: Sequence[TaskScore]) -> XtremeScore:
    """The XTREME score of per-task results; a task with no official language counts as missing."""
    return xtreme_score(
        {s.task: s.value for s in scores if s.value is not None},
        {s.task: s.missing_languages for s in scores if s.value is not None},
    )

"""Collect a run's test predictions into the XTREME leaderboard submission layout:
``<out>/<task>/test-<lang>.<tsv|json>`` for the nine tasks, and say exactly what is missing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from xstilts import stages
from xstilts.errors import XstiltsError
from xstilts.metrics.submission import file_suffix
from xstilts.metrics.xtreme_score import TASK2LANGS, TASKS

# Retrieval targets evaluate a corpus, not a list of rows: their per-language result says ``complete`` only
# since the pipeline records it, so an older result without the flag may be a subset and is never exported.
RETRIEVAL_TASKS = ("bucc2018", "tatoeba")


@dataclass
class ExportReport:
    arm: str
    seed: int
    copied: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    subsets: dict[str, list[str]] = field(default_factory=dict)  # evaluated on a prefix only: not exportable
    # task -> (the folder exported, the other finished folders of the same arm/target/seed, older settings)
    ignored: dict[str, tuple[Path, list[Path]]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing


def _target_folders(run_dir: Path) -> list[tuple[dict, Path]]:
    out = []
    for folder in sorted(run_dir.glob("targets/*/*/*")):
        if stages.is_done(folder):
            out.append((stages.read_summary(folder), folder))
    return out


def _finished_at(folder: Path) -> float:
    return (folder / stages.DONE).stat().st_mtime


def _listed(values: list) -> str:
    return ", ".join(map(str, values))


def _is_complete(task: str, result: dict) -> bool:
    """Whether a language's predictions cover its whole evaluation split."""
    return bool(result.get("complete", task not in RETRIEVAL_TASKS))


def export_submission(
    run_dir: Path, out_dir: Path, arm: str | None = None, seed: int | None = None
) -> ExportReport:
    """Copy the test predictions of one (arm, seed) of a finished run into ``out_dir``.

    Without ``arm``/``seed`` the run must have exactly one of each (a leaderboard entry is one system).
    When one arm/target/seed was run under several settings (the configuration changed between runs), the
    most recently finished one is exported and the others are listed in ``ExportReport.ignored``.
    """
    done = _target_folders(run_dir)
    if not done:
        raise XstiltsError(f"{run_dir}: no finished target stages (is this an xstilts run folder?)")
    arms = sorted({s["arm"] for s, _ in done})
    seeds = sorted({s["seed"] for s, _ in done})
    if arm is not None and arm not in arms:
        raise XstiltsError(f"{run_dir}: unknown arm {arm!r}; the run has arms {_listed(arms)}")
    if seed is not None and seed not in seeds:
        raise XstiltsError(f"{run_dir}: unknown seed {seed}; the run has seeds {_listed(seeds)}")
    arm = arm or (arms[0] if len(arms) == 1 else None)
    seed = seed if seed is not None else (seeds[0] if len(seeds) == 1 else None)
    if arm is None or seed is None:
        raise XstiltsError(
            f"{run_dir}: choose one system with --arm (one of {_listed(arms)}) and --seed (one of {_listed(seeds)})"
        )
    report = ExportReport(arm, seed)
    candidates: dict[str, list[tuple[dict, Path]]] = {}
    for s, f in done:
        if s["arm"] == arm and s["seed"] == seed:
            candidates.setdefault(s["target"], []).append((s, f))
    chosen = {}
    for task, found in candidates.items():
        found.sort(key=lambda sf: _finished_at(sf[1]))
        chosen[task] = found[-1]
        if len(found) > 1:
            report.ignored[task] = (found[-1][1], [f for _, f in found[:-1]])
    for task in TASKS:
        suffix = file_suffix(task)
        summary, src = chosen.get(task, ({}, None))
        for lang in TASK2LANGS[task]:
            path = src / "predictions" / task / f"test-{lang}.{suffix}" if src else None
            if path is None or not path.exists():
                report.missing.setdefault(task, []).append(lang)
                continue
            if not _is_complete(task, summary.get("languages", {}).get(lang, {})):
                report.subsets.setdefault(task, []).append(lang)
                report.missing.setdefault(task, []).append(lang)
                continue
            dest = out_dir / task / f"test-{lang}.{suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            report.copied.setdefault(task, []).append(lang)
    return report

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


@dataclass
class ExportReport:
    arm: str
    seed: int
    copied: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    subsets: dict[str, list[str]] = field(default_factory=dict)  # evaluated on a prefix only: not exportable

    @property
    def complete(self) -> bool:
        return not self.missing


def _target_folders(run_dir: Path) -> list[tuple[dict, Path]]:
    out = []
    for folder in sorted(run_dir.glob("targets/*/*/*")):
        if stages.is_done(folder):
            out.append((stages.read_summary(folder), folder))
    return out


def export_submission(
    run_dir: Path, out_dir: Path, arm: str | None = None, seed: int | None = None
) -> ExportReport:
    """Copy the test predictions of one (arm, seed) of a finished run into ``out_dir``.

    Without ``arm``/``seed`` the run must have exactly one of each (a leaderboard entry is one system).
    """
    done = _target_folders(run_dir)
    if not done:
        raise XstiltsError(f"{run_dir}: no finished target stages (is this an xstilts run folder?)")
    arms = sorted({s["arm"] for s, _ in done})
    seeds = sorted({s["seed"] for s, _ in done})
    arm = arm or (arms[0] if len(arms) == 1 else None)
    seed = seed if seed is not None else (seeds[0] if len(seeds) == 1 else None)
    if arm is None or seed is None:
        raise XstiltsError(f"{run_dir}: choose one system with --arm {arms} and --seed {seeds}")
    if arm not in arms:
        raise XstiltsError(f"{run_dir}: no finished stages for arm {arm!r}; arms here: {arms}")
    report = ExportReport(arm, seed)
    chosen = {s["target"]: (s, f) for s, f in done if s["arm"] == arm and s["seed"] == seed}
    for task in TASKS:
        suffix = file_suffix(task)
        summary, src = chosen.get(task, ({}, None))
        for lang in TASK2LANGS[task]:
            path = src / "predictions" / task / f"test-{lang}.{suffix}" if src else None
            if path is None or not path.exists():
                report.missing.setdefault(task, []).append(lang)
                continue
            if not summary.get("languages", {}).get(lang, {}).get("complete", True):
                report.subsets.setdefault(task, []).append(lang)
                report.missing.setdefault(task, []).append(lang)
                continue
            dest = out_dir / task / f"test-{lang}.{suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            report.copied.setdefault(task, []).append(lang)
    return report

"""Stage folders: named by a hash of everything that determines them, built in a work folder next to them
and renamed into place when complete, with a DONE marker — so a re-run skips finished work and a crash never
leaves a half result where a finished one belongs.

A stage is claimed under an exclusive file lock (``.<name>.lock``): two runs of the same grid started at once
never build the same stage together — the second waits, then finds it done. The work folder keeps its name
across attempts so an interrupted stage resumes from the checkpoint it left there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from xstilts import faults

DONE = "DONE"


def is_done(folder: Path) -> bool:
    return (folder / DONE).exists()


def work_folder(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.work")


def is_started(folder: Path) -> bool:
    """Begun by an earlier (interrupted or still running) attempt."""
    return work_folder(folder).exists()


def is_running(folder: Path) -> bool:
    """Another process holds the stage's lock right now."""
    lock = folder.with_name(f".{folder.name}.lock")
    if not lock.exists():
        return False
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def claim(folder: Path) -> Iterator[Path | None]:
    """Hold the stage's lock; yield its work folder, or ``None`` when the stage is already done."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{folder.name}.lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released by the OS if this process dies, however it dies
        try:
            if is_done(folder):
                yield None
                return
            work = work_folder(folder)
            work.mkdir(parents=True, exist_ok=True)
            yield work
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def commit(work: Path, folder: Path, summary: dict, drop: tuple[str, ...] = ("checkpoint",)) -> None:
    """Write the summary and the marker into ``work``, drop resume-only files, atomically move it into place."""
    for name in drop:
        shutil.rmtree(work / name, ignore_errors=True)
    (work / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=str), encoding="utf-8"
    )
    (work / DONE).write_text("", encoding="utf-8")
    faults.point("commit")
    if folder.exists():  # an incomplete folder from an older layout: replace it
        shutil.rmtree(folder)
    os.replace(work, folder)


def read_summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))

"""Stage folders: named by a hash of everything that determines them, written under a temporary name and
renamed when complete, with a DONE marker — so a re-run skips finished work and a crash leaves no half
result behind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

DONE = "DONE"


def is_done(folder: Path) -> bool:
    return (folder / DONE).exists()


def begin(folder: Path) -> Path:
    """A fresh temporary folder next to ``folder`` (leftovers of a crashed attempt are discarded)."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit(tmp: Path, folder: Path, summary: dict) -> None:
    """Write the summary and the marker into ``tmp`` then atomically move it into place."""
    (tmp / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=str), encoding="utf-8"
    )
    (tmp / DONE).write_text("", encoding="utf-8")
    if folder.exists():  # an incomplete folder from an older layout or a crashed rename: replace it
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def read_summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))

"""Named intermediate-task mixtures (``general-all``, ``biomedical-all``, ``legal-all``, ``domain-all``): an arm
may name one in its ``tasks``; it expands, in place, to the listed tasks before anything is hashed or run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

FILE = Path(__file__).resolve().parent / "mixtures.yaml"


@lru_cache(maxsize=1)
def mixtures() -> dict[str, tuple[str, ...]]:
    raw = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    return {name: tuple(tasks) for name, tasks in raw.items()}


def expand(tasks: list[str]) -> list[str]:
    """Task ids with mixture names replaced by their members; duplicates kept once, order preserved."""
    out: list[str] = []
    for name in tasks:
        for task in mixtures().get(name, (name,)):
            if task not in out:
                out.append(task)
    return out

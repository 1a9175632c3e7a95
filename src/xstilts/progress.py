"""Progress bars (rich) that turn themselves off when stderr is not a terminal or XSTILTS_QUIET is set."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("XSTILTS_QUIET")


class _Null:
    def update(self, advance: int = 1, **_) -> None:
        pass


class _Bar:
    def __init__(self, progress: Progress, task_id):
        self._p, self._id = progress, task_id

    def update(self, advance: int = 1, **fields) -> None:
        self._p.update(self._id, advance=advance, **fields)


@contextmanager
def bar(description: str, total: int | None):
    if not enabled():
        yield _Null()
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        transient=True,
    ) as p:
        yield _Bar(p, p.add_task(description, total=total, info=""))

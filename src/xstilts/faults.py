"""Deterministic crash injection for the crash-safety tests: ``XSTILTS_KILL_AT=point[:n]`` makes the process
SIGKILL itself the n-th time (default 1st) it passes the named point. Points: ``tokenize`` (features built, not
yet cached), ``train_step`` (after an optimizer step), ``evaluate`` (after a language is scored), ``record``
(inside the results transaction, before it commits), ``commit`` (stage complete, not yet renamed).

A real SIGKILL (not an exception) is the point: nothing in the process gets to clean up, exactly as when a
cluster pre-empts a job or the machine runs out of memory.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "XSTILTS_KILL_AT"
_hits: Counter[str] = Counter()


def point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _hits[name] += 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

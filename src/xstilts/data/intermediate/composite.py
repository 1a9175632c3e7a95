"""Composite tasks: one task whose examples are the union of other tasks' examples, trained with ONE head
(ANLI+ = SNLI + MNLI + ANLI R1-R3 with a single NLI head, as in Nie et al. 2020 / Phang et al. 2020) — unlike a
multi-task arm, which gives every task its own head."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from xstilts.data.readers import derived_reader
from xstilts.data.records import SplitData
from xstilts.errors import DataError


@derived_reader("concat_tasks")
def read_concat_tasks(
    *, split: str, language: str, load: Callable[[str, str], SplitData], tasks: Sequence[str],
    source_split: str | None = None,
) -> list:  # fmt: skip
    """The examples of ``tasks`` (their ``source_split``, default the same split), in order, ids prefixed with
    the source task so they stay unique. Sources must share the composite's label set (checked by the format)."""
    if isinstance(tasks, str) or not tasks:
        raise DataError(None, "concat_tasks: option 'tasks' must be a non-empty list of task names")
    out = []
    for task in tasks:
        data = load(task, source_split or split)
        out += [dataclasses.replace(e, id=f"{task}/{e.id}") for e in data.examples]
    return out

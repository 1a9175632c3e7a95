"""Registries of file readers and hub row mappers, looked up by name from declarative task specs.

A *reader* turns one local file into records::

    @reader("xtreme_pair_tsv")
    def read_pair_tsv(path: Path, *, language: str, gold: Path | None = None, **options) -> list[Example]

``gold`` is the matching file of the ``labels/`` folder when the split's own file is blanked. Readers raise
:class:`~xstilts.errors.DataError` naming file and line; they never drop rows silently.

A *hub mapper* turns one row of a Hugging Face ``datasets`` split into a record::

    @hub_mapper("xnli")
    def map_xnli(row: dict, *, index: int, language: str, origin: str) -> Example | list[Example]

A *derived reader* builds records from other tasks' data instead of a file (DAPT text from the biomedical
tasks)::

    @derived_reader("task_text")
    def task_text(*, split: str, language: str, load: Callable[[str, str], SplitData], **options) -> list

``load(task_name, split)`` returns that task's split (in its own training language) through the same loading
layer, so local files, the hub fallback and gating apply to the sources as to any task.

Modules that define readers register them on import; :func:`get_reader` imports them all first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from xstilts.errors import UnknownNameError

READERS: dict[str, Callable[..., Any]] = {}
HUB_MAPPERS: dict[str, Callable[..., Any]] = {}
DERIVED_READERS: dict[str, Callable[..., Any]] = {}

# Modules holding @reader / @hub_mapper definitions; imported lazily so the registry has no import cycle.
_READER_MODULES = ("xstilts.data.xtreme", "xstilts.data.intermediate")


def reader(name: str):
    def register(fn):
        if name in READERS and READERS[name] is not fn:
            raise ValueError(f"reader {name!r} registered twice")
        READERS[name] = fn
        return fn

    return register


def hub_mapper(name: str):
    def register(fn):
        if name in HUB_MAPPERS and HUB_MAPPERS[name] is not fn:
            raise ValueError(f"hub mapper {name!r} registered twice")
        HUB_MAPPERS[name] = fn
        return fn

    return register


def derived_reader(name: str):
    def register(fn):
        if name in DERIVED_READERS and DERIVED_READERS[name] is not fn:
            raise ValueError(f"derived reader {name!r} registered twice")
        DERIVED_READERS[name] = fn
        return fn

    return register


def _load_all() -> None:
    for mod in _READER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a module not written yet must not hide the others
            if exc.name != mod:
                raise


def get_reader(name: str) -> Callable[..., Any]:
    _load_all()
    if name not in READERS:
        raise UnknownNameError("reader", name, list(READERS))
    return READERS[name]


def get_hub_mapper(name: str) -> Callable[..., Any]:
    _load_all()
    if name not in HUB_MAPPERS:
        raise UnknownNameError("hub mapper", name, list(HUB_MAPPERS))
    return HUB_MAPPERS[name]


def get_derived_reader(name: str) -> Callable[..., Any]:
    _load_all()
    if name not in DERIVED_READERS:
        raise UnknownNameError("derived reader", name, list(DERIVED_READERS))
    return DERIVED_READERS[name]

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


def _registrar(table: dict[str, Callable[..., Any]], kind: str):
    """A decorator factory registering functions by name in ``table``; a name may be taken only once."""

    def decorator(name: str):
        def register(fn):
            if name in table and table[name] is not fn:
                raise ValueError(f"{kind} {name!r} registered twice")
            table[name] = fn
            return fn

        return register

    return decorator


reader = _registrar(READERS, "reader")
hub_mapper = _registrar(HUB_MAPPERS, "hub mapper")
derived_reader = _registrar(DERIVED_READERS, "derived reader")


def _load_all() -> None:
    for mod in _READER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a module not written yet must not hide the others
            if exc.name != mod:
                raise


def _lookup(table: dict[str, Callable[..., Any]], kind: str, name: str) -> Callable[..., Any]:
    _load_all()
    if name not in table:
        raise UnknownNameError(kind, name, list(table))
    return table[name]


def get_reader(name: str) -> Callable[..., Any]:
    return _lookup(READERS, "reader", name)


def get_hub_mapper(name: str) -> Callable[..., Any]:
    return _lookup(HUB_MAPPERS, "hub mapper", name)


def get_derived_reader(name: str) -> Callable[..., Any]:
    return _lookup(DERIVED_READERS, "derived reader", name)

"""Resolve a task spec to examples: local original files first, the Hugging Face hub when allowed.

Both paths yield the same record types, so everything downstream is source-agnostic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from xstilts.data.readers import get_derived_reader, get_hub_mapper, get_reader
from xstilts.data.records import SplitData
from xstilts.errors import DataError, XstiltsError
from xstilts.tasks.spec import LocalSource, TaskSpec

if TYPE_CHECKING:
    from xstilts.tasks.registry import TaskRegistry

SourcePreference = Literal["auto", "local", "hub"]


@dataclass(frozen=True)
class DataRoots:
    """The two local data folders: an XTREME ``download/``+``labels/`` root and the intermediate-task root."""

    xtreme: Path | None = None
    intermediate: Path | None = None

    def root_for(self, spec: TaskSpec) -> Path | None:
        assert spec.local is not None
        return self.root_of(spec.local)

    def root_of(self, source: LocalSource) -> Path | None:
        return self.xtreme if source.root == "xtreme" else self.intermediate


def file_checksum(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def is_translated(spec: TaskSpec, split: str, language: str) -> bool:
    """Whether (split, language) is served by the spec's ``translated`` files (``mnli`` train in ``de``)."""
    t = spec.translated
    return t is not None and language in t.languages and split in t.files


def local_source(spec: TaskSpec, split: str, language: str) -> LocalSource | None:
    """The file source of (split, language): the translated files when they cover it, else ``local``."""
    if is_translated(spec, split, language):
        return spec.translated
    return spec.local


def local_path(spec: TaskSpec, split: str, language: str, roots: DataRoots) -> Path | None:
    """The local file of (split, language), or None when the spec has no such template or root."""
    source = local_source(spec, split, language)
    if source is None or split not in source.files:
        return None
    root = roots.root_of(source)
    if root is None:
        return None
    return root / source.files[split].format(lang=language)


def gold_path(spec: TaskSpec, split: str, language: str, roots: DataRoots) -> Path | None:
    source = local_source(spec, split, language)
    if source is None or split not in source.gold:
        return None
    root = roots.root_of(source)
    return None if root is None else root / source.gold[split].format(lang=language)


def local_languages(spec: TaskSpec, split: str, roots: DataRoots) -> list[str]:
    """Languages of the task whose local file for ``split`` exists (in the task's official order)."""
    langs = spec.languages if "{lang}" in (spec.local.files.get(split, "") if spec.local else "") else ()
    if not langs:
        p = local_path(spec, split, spec.train_language, roots)
        return [spec.train_language] if p is not None and p.exists() else []
    return [lg for lg in langs if (p := local_path(spec, split, lg, roots)) is not None and p.exists()]


def gold_languages(spec: TaskSpec, split: str, roots: DataRoots) -> list[str]:
    """Languages of ``split`` that have gold labels locally: the file itself is labelled or a gold file exists."""
    out = []
    for lg in local_languages(spec, split, roots):
        g = gold_path(spec, split, lg, roots)
        if g is None or g.exists():
            out.append(lg)
    return out


def _offline_error(spec: TaskSpec, split: str, language: str, roots: DataRoots, reason: str) -> XstiltsError:
    """The hub cannot be used: name the task and where its local files go instead."""
    path = local_path(spec, split, language, roots)
    source = local_source(spec, split, language)
    if path is not None:
        where = f"put its file at {path}"
    elif source is not None and split in source.files:
        env = "XSTILTS_DATA_DIR" if source.root == "xtreme" else "XSTILTS_INTERMEDIATE_DIR"
        where = (f"put its file at <{source.root} data dir>/{source.files[split].format(lang=language)} "
                 f"(data.{source.root}_dir in the configuration, or {env})")  # fmt: skip
    else:
        where = "it has no local layout: add a local source to its task spec (or a task folder via XSTILTS_TASK_DIRS)"
    hub = f"{spec.hub.dataset}" if spec.hub is not None else "the hub"
    return XstiltsError(
        f"task {spec.name!r} split {split!r} language {language!r}: no local file and the Hugging Face hub "
        f"cannot be used ({reason}). To run offline, {where}; or load {hub} once where the hub is reachable."
    )


def load_local(spec: TaskSpec, split: str, language: str, roots: DataRoots) -> SplitData:
    path = local_path(spec, split, language, roots)
    source = local_source(spec, split, language)
    assert path is not None and source is not None
    gold = gold_path(spec, split, language, roots)
    has_gold = gold is None or gold.exists()
    read = get_reader(source.reader)
    options = source.reader_options(split)
    if spec.labels and spec.format in ("classification", "tagging"):
        options.setdefault("labels", list(spec.labels))
    examples = read(path, language=language, gold=gold if has_gold else None, **options)
    if not examples:
        raise DataError(path, f"no examples for task {spec.name!r}, split {split!r}, language {language!r}")
    checksum = file_checksum(path, *([gold] if gold is not None and has_gold else []))
    return SplitData(spec.name, split, language, examples, str(path), checksum, has_gold)


def load_hub(spec: TaskSpec, split: str, language: str, roots: DataRoots | None = None) -> SplitData:
    from xstilts.data.hub_access import is_connection_error, mark_offline
    from xstilts.data.languages import template_values

    assert spec.hub is not None
    hub = spec.hub
    if split not in hub.splits:
        raise XstiltsError(f"task {spec.name!r} has no split {split!r} on the hub ({hub.dataset})")
    config = hub.config.format(**template_values(language)) if hub.config else None
    try:
        import datasets

        ds = datasets.load_dataset(hub.dataset, config, split=hub.splits[split])
    except Exception as exc:  # connection errors surface as many types; one clear message for all
        if is_connection_error(exc):
            reason = f"{type(exc).__name__} while loading {hub.dataset}"
            mark_offline(reason)  # no later load in this process waits for the network again
            raise _offline_error(spec, split, language, roots or DataRoots(), reason) from exc
        raise XstiltsError(
            f"could not load {hub.dataset} (config {config}, split {hub.splits[split]}) from the Hugging Face hub: "
            f"{exc}\nTo run offline, point xstilts at local files (data.xtreme_dir / data.intermediate_dir, or "
            "XSTILTS_DATA_DIR / XSTILTS_INTERMEDIATE_DIR) or pre-download the dataset and set HF_DATASETS_OFFLINE=1."
        ) from exc
    mapper = get_hub_mapper(hub.mapper)
    origin = f"hub:{hub.dataset}/{config}/{hub.splits[split]}"
    examples = []
    for i, row in enumerate(ds):
        ex = mapper(
            row, index=i, language=language, origin=f"{origin}#{i}", features=ds.features, **hub.options
        )
        if ex is not None:
            examples.extend(ex if isinstance(ex, list) else [ex])
    fingerprint = getattr(ds, "_fingerprint", "") or hashlib.sha256(origin.encode()).hexdigest()
    has_gold = all(_has_label(e) for e in examples[:50])
    return SplitData(spec.name, split, language, examples, origin, fingerprint, has_gold)


def _has_label(example) -> bool:
    for attr in ("label", "tags", "answers"):
        if hasattr(example, attr):
            value = getattr(example, attr)
            return value is not None and value != ()
    return True


def load_derived(
    spec: TaskSpec,
    split: str,
    language: str,
    roots: DataRoots,
    prefer: SourcePreference = "auto",
    registry: TaskRegistry | None = None,
) -> SplitData:
    """A task built from other tasks' data (``derived``: DAPT text). The sources load through
    :func:`load_split` with the same roots and preference, each in its own training language; the checksum
    covers the reader, its options and every source's checksum."""
    derived = spec.derived
    assert derived is not None
    if split not in derived.splits:
        raise XstiltsError(f"task {spec.name!r} has no split {split!r} (it has {list(derived.splits)})")
    if registry is None:
        from xstilts.tasks.registry import get_registry

        registry = get_registry()
    sources: list[SplitData] = []

    def load(task: str, source_split: str) -> SplitData:
        src = registry.get(task)
        if src.derived is not None:
            raise XstiltsError(
                f"task {spec.name!r}: source task {task!r} is itself derived; name original tasks"
            )
        data = load_split(src, source_split, src.train_language, roots, prefer, registry)
        sources.append(data)
        return data

    options = derived.reader_options(split)
    examples = get_derived_reader(derived.reader)(split=split, language=language, load=load, **options)
    if not examples:
        raise XstiltsError(f"task {spec.name!r}, split {split!r}: {derived.reader} yielded no examples")
    blob = json.dumps(
        [
            derived.reader,
            options,
            [(s.task, s.split, s.language, s.checksum, len(s.examples)) for s in sources],
        ],
        sort_keys=True,
        default=str,
    )
    origin = f"{derived.reader}(" + ", ".join(f"{s.task}/{s.split}/{s.language}" for s in sources) + ")"
    return SplitData(
        spec.name, split, language, examples, origin, hashlib.sha256(blob.encode()).hexdigest(), True
    )


def load_split(
    spec: TaskSpec,
    split: str,
    language: str,
    roots: DataRoots,
    prefer: SourcePreference = "auto",
    registry: TaskRegistry | None = None,
) -> SplitData:
    """Examples of (task, split, language). ``auto``: the local file when present, else the hub when online.

    ``language`` may be one of the spec's ``translated`` languages (the variant ``mnli_de``): its translated
    files are read, never the hub's original-language data. ``registry`` resolves the source tasks of a
    ``derived`` task (default: the built-in registry plus ``XSTILTS_TASK_DIRS``).
    """
    if spec.derived is not None:
        return load_derived(spec, split, language, roots, prefer, registry)
    path = local_path(spec, split, language, roots)
    if prefer != "hub" and path is not None and path.exists():
        return load_local(spec, split, language, roots)
    if is_translated(spec, split, language):
        assert spec.translated is not None
        where = str(path) if path is not None else "a file under the data root"
        raise XstiltsError(
            f"task {spec.name!r}: no translated {split!r} data for language {language!r} at {where} "
            f"({spec.translated.translation or 'translated files'}; they are never downloaded)"
        )
    if spec.gated:
        where = str(path) if path is not None else "a local file (set data.intermediate_dir)"
        raise XstiltsError(
            f"task {spec.name!r} is gated and is never downloaded: place its files at {where}. {spec.notes}".strip()
        )
    if prefer != "local" and spec.hub is not None and split in spec.hub.splits:
        from xstilts.data.hub_access import hub_offline_reason

        reason = hub_offline_reason()
        if reason is not None:
            raise _offline_error(spec, split, language, roots, reason)
        return load_hub(spec, split, language, roots)
    looked = f" (looked for {path})" if path is not None else ""
    raise XstiltsError(f"task {spec.name!r} has no data for split {split!r}, language {language!r}{looked}")

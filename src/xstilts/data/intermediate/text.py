"""Unlabelled text for masked language modelling (the MLM and DAPT arms): documents as ``TextExample`` records
(``text_a`` = the document, ``text_b`` and ``label`` = None), tagged with their language.

* ``plain_text`` -- a user's text file: one document per line (``unit: line``) or blank-line-separated
  paragraphs (``unit: paragraph``, the CC-100 / WikiExtractor layout);
* ``text_from_reader`` -- the text fields of another reader's records on the same file (the PAWS-X sentences
  of ``mlm_xtreme_text``);
* ``task_text`` (derived reader, no file) -- the passages of other tasks' examples (DAPT corpora).

Text fields taken by default (``fields`` overrides them for every record type):
``TextExample`` text_a, text_b; ``QAExample`` context; ``ChoiceExample`` context, question;
``TaggingExample`` tokens (joined with ``token_separator``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from xstilts.data.intermediate._common import decode_utf8, split_lines
from xstilts.data.readers import derived_reader, get_reader, reader
from xstilts.data.records import ChoiceExample, QAExample, SplitData, TaggingExample, TextExample
from xstilts.errors import DataError

DEFAULT_FIELDS: dict[type, tuple[str, ...]] = {
    TextExample: ("text_a", "text_b"),
    QAExample: ("context",),
    ChoiceExample: ("context", "question"),
    TaggingExample: ("tokens",),
}


def _document(text: str, language: str, index: int, origin: str, id_: str | None = None) -> TextExample:
    return TextExample(
        id=id_ if id_ is not None else str(index),
        text_a=text,
        text_b=None,
        label=None,
        language=language,
        origin=origin,
    )


# ---------------------------------------------------------------------------------------------------------------
# plain_text


def _decode(path: Path) -> str:
    """UTF-8 text (a BOM is dropped). Unreadable, non-UTF-8, binary (NUL bytes) and empty files are DataErrors
    naming the file and line."""
    text = decode_utf8(path)
    nul = text.find("\x00")
    if nul >= 0:
        raise DataError(path, "NUL byte: this is binary data, not text", line=text[:nul].count("\n") + 1)
    if not text.strip():
        what = "the file is empty" if not text else "the file holds only blank lines"
        raise DataError(path, f"no text: {what}", line=1)
    return text


@reader("plain_text")
def read_plain_text(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    unit: Literal["line", "paragraph"] = "line",
) -> list[TextExample]:
    """A UTF-8 text file as documents of ``language``.

    ``unit: line`` -- every non-blank line is one document; ``unit: paragraph`` -- every run of non-blank lines
    (separated by one or more blank lines) is one document, its lines joined with newlines. Leading and trailing
    whitespace is stripped. Ids are the 0-based document index; origins ``path:first line``.
    """
    if unit not in ("line", "paragraph"):
        raise DataError(path, f"option unit must be 'line' or 'paragraph', got {unit!r}")
    lines = split_lines(_decode(path))
    docs: list[TextExample] = []
    if unit == "line":
        for number, line in enumerate(lines, start=1):
            if line.strip():
                docs.append(_document(line.strip(), language, len(docs), f"{path}:{number}"))
        return docs
    block: list[str] = []
    first = 0
    for number, line in enumerate([*lines, ""], start=1):  # a sentinel blank line closes the last block
        if line.strip():
            if not block:
                first = number
            block.append(line.strip())
        elif block:
            docs.append(_document("\n".join(block), language, len(docs), f"{path}:{first}"))
            block = []
    return docs


# ---------------------------------------------------------------------------------------------------------------
# text of other records


def example_texts(
    example, fields: Sequence[str] | None = None, token_separator: str = " "
) -> list[tuple[str, str]]:
    """``(field, text)`` for each non-empty text field of a record (defaults: :data:`DEFAULT_FIELDS`)."""
    names = tuple(fields) if fields else DEFAULT_FIELDS.get(type(example))
    if names is None:
        raise DataError(
            getattr(example, "origin", "") or None,
            f"{type(example).__name__} records carry no text fields to take; give the option 'fields'",
        )
    out = []
    for name in names:
        if not hasattr(example, name):
            raise DataError(
                example.origin or None,
                f"{type(example).__name__} has no field {name!r}; it has "
                f"{[f for f in example.__slots__ if f not in ('language', 'origin')]}",
                field=name,
            )
        value = getattr(example, name)
        if value is None:
            continue
        if isinstance(value, (tuple, list)):
            if not all(isinstance(v, str) for v in value):
                raise DataError(example.origin or None, "expected a list of strings", field=name)
            value = token_separator.join(value)
        if not isinstance(value, str):
            raise DataError(example.origin or None, f"expected text, got {type(value).__name__}", field=name)
        out.append((name, value))
    return out


class _Cleaner:
    """Delete regex matches (ChemProt's entity markers ``<< ``, `` >>``, ``[[ ``, `` ]]`` with the space they
    add, so a marked sentence becomes its unmarked original), then collapse whitespace."""

    def __init__(self, drop_patterns: Sequence[str]):
        try:
            self.patterns = [re.compile(p) for p in drop_patterns]
        except re.error as exc:
            raise DataError(None, f"option drop_patterns: invalid regular expression: {exc}") from exc

    def __call__(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub("", text)
        return " ".join(text.split())


def _documents_of(
    examples: Sequence,
    *,
    fields: Sequence[str] | None,
    clean: _Cleaner,
    token_separator: str,
    seen: set[str],
    min_chars: int,
    id_prefix: str = "",
) -> list[TextExample]:
    """Distinct cleaned texts of ``examples`` (first occurrence wins, ``seen`` is shared across calls)."""
    docs = []
    for ex in examples:
        for name, raw in example_texts(ex, fields, token_separator):
            text = clean(raw)
            if len(text) < min_chars or text in seen:
                continue
            seen.add(text)
            docs.append(_document(text, ex.language, len(docs), ex.origin, f"{id_prefix}{ex.id}/{name}"))
    return docs


@reader("text_from_reader")
def read_text_from_reader(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    source_reader: str,
    source_options: Mapping | None = None,
    fields: Sequence[str] | None = None,
    drop_patterns: Sequence[str] = (),
    token_separator: str = " ",
    min_chars: int = 1,
) -> list[TextExample]:
    """The distinct texts of the records that ``source_reader`` (with ``source_options``) reads from ``path``,
    one document each, in file order (PAWS-X ``dev-de.tsv`` -> its German sentences). Labels are discarded."""
    records = get_reader(source_reader)(path, language=language, **dict(source_options or {}))
    return _documents_of(
        records,
        fields=fields,
        clean=_Cleaner(drop_patterns),
        token_separator=token_separator,
        seen=set(),
        min_chars=min_chars,
    )


def interleave(groups: Sequence[Sequence]) -> list:
    """Merge lists so that every prefix and suffix holds each list in proportion to its size: item j of a list of
    n goes to position (j + 0.5) / n. A size cap (first N rows) and the held-out validation rows (last N) thus
    mix all sources instead of taking one."""
    keyed = [((j + 0.5) / len(g), k, j) for k, g in enumerate(groups) for j in range(len(g))]
    return [groups[k][j] for _, k, j in sorted(keyed)]


@derived_reader("task_text")
def read_task_text(
    *,
    split: str,
    language: str,
    load: Callable[[str, str], SplitData],
    tasks: Sequence[str],
    source_split: str | None = None,
    fields: Sequence[str] | None = None,
    drop_patterns: Sequence[str] = (),
    token_separator: str = " ",
    min_chars: int = 20,
) -> list[TextExample]:
    """Domain text for DAPT: the passages of other tasks' examples, one document per distinct text.

    ``tasks`` -- source task names; ``source_split`` -- their split to read (default: the same split as asked
    for, normally ``train``: never a source's dev/test, so DAPT does not see what those tasks validate on);
    ``fields`` / ``token_separator`` -- see :func:`example_texts`; ``drop_patterns`` -- regexes removed from
    the text; ``min_chars`` -- shorter texts are skipped. Exact duplicates (after cleaning) are kept once
    (COVID-QA's article repeats for each question, ContractNLI's 17 hypotheses for each contract). The
    sources are interleaved in proportion (:func:`interleave`). Ids ``task/example-id/field``; each document
    keeps its source's language and origin.
    """
    if isinstance(tasks, str) or not tasks:
        raise DataError(None, "task_text: option 'tasks' must be a non-empty list of task names")
    clean, seen = _Cleaner(drop_patterns), set()
    groups = []
    for task in tasks:
        data = load(task, source_split or split)
        docs = _documents_of(
            data.examples,
            fields=fields,
            clean=clean,
            token_separator=token_separator,
            seen=seen,
            min_chars=min_chars,
            id_prefix=f"{task}/",
        )
        if not docs:
            raise DataError(data.source, f"task_text: task {task!r} yielded no text (fields {fields})")
        groups.append(docs)
    return interleave(groups)

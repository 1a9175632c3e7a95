"""CoNLL-style word tagging: one token per line, columns split by tabs or whitespace, blank line between
sentences (NCBI-disease and BC5CDR in the SciBERT layout ``token POS O tag``; CCG ``token supertag``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from xstilts.data.intermediate._common import check_label, read_text, split_lines
from xstilts.data.readers import reader
from xstilts.data.records import TaggingExample
from xstilts.errors import DataError


def _columns(line: str, delimiter: Literal["tab", "whitespace"]) -> list[str]:
    return line.split("\t") if delimiter == "tab" else line.split()


def _is_docstart(line: str) -> bool:
    """CoNLL-2003 and SciBERT's files open each document with ``-DOCSTART-`` (``-DOCSTART- -X- -X- O``,
    ``-DOCSTART- (PMID)``): a boundary, never a token."""
    return line.split(maxsplit=1)[0] == DOCSTART


DOCSTART = "-DOCSTART-"


@reader("conll_tags")
def read_conll_tags(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    token_column: int = 0,
    tag_column: int = -1,
    delimiter: Literal["tab", "whitespace"] = "tab",
    labels: Sequence[str] = (),
) -> list[TaggingExample]:
    """Sentences of (token, tag) read from the chosen columns (``tag_column=-1``: the last one).

    Runs of blank lines count as one sentence break; a ``-DOCSTART-`` line is a break too. ``labels`` (the task's tag set) is checked when given;
    CCG's supertag set is open, so its spec gives none. Ids are 0-based sentence indices; origins point at
    each sentence's first line.
    """
    examples: list[TaggingExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    needed = max(token_column, tag_column) + 1 if tag_column >= 0 else max(token_column + 1, -tag_column)

    def flush() -> None:
        examples.append(
            TaggingExample(
                str(len(examples)), tuple(tokens), tuple(tags), language=language, origin=f"{path}:{start}"
            )
        )
        tokens.clear()
        tags.clear()

    for lineno, line in enumerate(split_lines(read_text(path)), start=1):
        if not line.strip() or _is_docstart(line):
            if tokens:
                flush()
            continue
        columns = _columns(line, delimiter)
        if len(columns) < needed:
            raise DataError(path, f"expected at least {needed} columns, got {len(columns)}", line=lineno)
        if not tokens:
            start = lineno
        tokens.append(columns[token_column])
        tags.append(
            check_label(
                columns[tag_column], labels=labels, label_map=None, path=path, line=lineno, where="tag"
            )
        )
    if tokens:
        flush()
    return examples
